"""What a page or API route takes from the app while it answers: the database engine, the clock
(`CLOCK`, injected so that tests decide the time) and the request's one read transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date

from flask import Flask, abort, current_app, g
from flask_babel import gettext as _

from domain.clock import TimeInputError, parse_day
from sync_server.db import reading

FIRST_DAY, LAST_DAY = date(2000, 1, 3), date(2099, 12, 25)  # weeks to show: far from the calendar's ends


def engine():
    return current_app.extensions["refectory.engine"]


def now():
    return current_app.config["CLOCK"]()


@contextmanager
def request_reading() -> Iterator:
    """The request's one read transaction, opened on first use and ended with the request: the
    session check and the page read one snapshot, in one transaction rather than two. A page that
    writes reads what it wrote in its writing transaction (or after a redirect), not here."""
    if "reader" not in g:
        g.reader_stack = ExitStack()
        g.reader = g.reader_stack.enter_context(reading(engine()))
    yield g.reader


def _end_reading(_error) -> None:
    stack = g.pop("reader_stack", None)
    if stack is not None:
        g.pop("reader")
        stack.close()


def day_asked(text: str) -> date:
    """A date typed or sent by the browser, within the years the pages can show; else a 400 that
    says why."""
    try:
        day = parse_day(text[:40])
    except TimeInputError as error:
        abort(400, error.render(_))
    if not FIRST_DAY <= day <= LAST_DAY:
        abort(400, _("Choose a date between {first} and {last}.").format(first=FIRST_DAY.isoformat(),
                                                                          last=LAST_DAY.isoformat()))
    return day


def init_app(app: Flask) -> None:
    app.teardown_request(_end_reading)
