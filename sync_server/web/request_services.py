"""What a page or API route takes from the app while it answers: the database engine, the clock
(`CLOCK`, injected so that tests decide the time), the request's one read transaction and its write
transaction; and the answer when no database connection comes free in time (503, try again shortly)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date

from flask import Flask, abort, current_app, g, request
from flask_babel import gettext as _
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import ServiceUnavailable

from domain.agenda import day_in_words
from domain.clock import TimeInputError, parse_day
from sync_server.db import reading, writing
from sync_server.families import letters

FIRST_DAY, LAST_DAY = date(2000, 1, 3), date(2099, 12, 25)  # weeks to show: far from the calendar's ends
RETRY_AFTER_S = 5  # a busy pool's 503 tells clients to come back after this


def engine():
    return current_app.extensions["refectory.engine"]


def now():
    return current_app.config["CLOCK"]()


def mail_details() -> dict:
    """What a mail written while answering says of the canteen, and where the portal is."""
    return letters.mail_details(current_app.config)


@contextmanager
def request_reading() -> Iterator:
    """The request's one read transaction, opened on first use and ended with the request: the
    session check and the page read one snapshot, in one transaction rather than two. A page that
    writes reads what it wrote in its writing transaction (or after a redirect), not here."""
    if "reader" not in g:
        stack = ExitStack()
        g.reader = stack.enter_context(reading(engine()))  # nothing is kept when no connection comes
        g.reader_stack = stack
    yield g.reader


@contextmanager
def request_writing() -> Iterator:
    """The request's write transaction. Its read transaction ends first, so that a request never
    holds two pooled connections: with every connection held by a request waiting for its second,
    none would come free (and on SQLite the writer lock's holder would wait on those waiting for it)."""
    _end_reading(None)
    with writing(engine()) as conn:
        yield conn


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
        abort(400, error_text(error))
    if not FIRST_DAY <= day <= LAST_DAY:
        abort(400, _("Choose a date between {first} and {last}.").format(first=day_words(FIRST_DAY, year=True),
                                                                          last=day_words(LAST_DAY, year=True)))
    return day


def day_words(day: date, *, year: bool = False) -> str:
    """A day in words in the page's language ("mardi 8 décembre"): the domain's words, so that a
    refusal the domain wrote and the page around it say a day the same way."""
    return day_in_words(day, year=year).render(_)


def error_text(error) -> str:
    """A domain error (or message) as a page says it: in the page's language, its days in words;
    a bare date it carries, which may lie in another year, with its year."""
    return error.render(_, day=lambda day: day_words(day, year=True))


def database_busy() -> bool:
    """Whether this request already waited in vain for a connection: its error page is then made
    without the database (the signed-in user is not loaded again), or it would wait a second time."""
    return g.get("database_busy", False)


def _no_connection_free(error: PoolTimeout):
    """Every pooled connection stayed busy for the pool's whole timeout (a rush): a quick 503 with
    Retry-After, as a problem under /api/ and a page elsewhere, and one warning line, no traceback."""
    g.database_busy = True
    current_app.logger.warning("no database connection came free in time for %s %s, answered 503 (%s)",
                               request.method, request.path, engine().pool.status())
    busy = ServiceUnavailable("No database connection came free in time: the server is busy. Try again in a "
                              "moment.", retry_after=RETRY_AFTER_S)
    return current_app.handle_http_exception(busy)


def init_app(app: Flask) -> None:
    app.teardown_request(_end_reading)
    app.register_error_handler(PoolTimeout, _no_connection_free)
