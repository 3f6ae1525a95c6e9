"""What a page or API route takes from the app while it answers: the database engine, the clock
(`CLOCK`, injected so that tests decide the time) and the request's one read transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from flask import Flask, current_app, g

from sync_server.db import reading


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


def init_app(app: Flask) -> None:
    app.teardown_request(_end_reading)
