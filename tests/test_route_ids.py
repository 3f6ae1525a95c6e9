"""Ids in URLs, on the portal and the back office, on SQLite and PostgreSQL: a number no row can
have (past a 32-bit integer column, past 64 bits, or in digits that are not ASCII) is a page not
found, never a server error, and it changes nothing. Every route with an `<int:...>` part is
tried, so a new one is too."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from sync_server.admin import managers
from sync_server.families import accounts
from sync_server.tables import audit_log, refund_requests
from sync_server.web.routing import DatabaseIdConverter

from .conftest import MONDAY_NOON
from .live_server import Clock, start_school_server
from .portal_client import Browser, School

INT_PART = re.compile(r"<int(?:\([^)]*\))?:[a-z_]+>")
BEYOND_ANY_ROW = ["2147483648", "9223372036854775808", "99999999999999999999", "١٢", "²"]


@pytest.fixture
def school(database_url, tmp_path):
    clock = Clock()
    live = start_school_server(database_url, tmp_path / "instance", clock=clock)
    school = School(live, clock)
    with live.write() as conn:
        school.letters["F01"] = accounts.issue_login(conn, "F01", MONDAY_NOON)
        school.manager_password = managers.set_manager(conn, "sandra", "Sandra Morel", MONDAY_NOON)
    yield school
    live.stop()


def id_routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every route that takes an integer id."""
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules()
                  if any(isinstance(c, IntegerConverter) for c in rule._converters.values())
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def signed_in(school: School, rule: str) -> tuple[Browser, str]:
    """A browser signed in as who may use `rule` (a family, or the manager), and its CSRF token."""
    if rule.startswith("/manage/"):
        browser, home = school.manager(), "/manage/"
    else:
        browser, home = school.logged_in("F01"), "/"
    return browser, browser.token(home)


def test_every_integer_id_in_a_route_is_bounded_to_what_a_database_holds(school):
    routes = id_routes(school.app)
    assert {("GET", "/documents/<int:document_id>"), ("POST", "/manage/refunds/<int:request_id>/approve"),
            ("POST", "/manage/refunds/<int:request_id>/refuse"),
            ("POST", "/manage/refunds/<int:request_id>/paid")} <= set(routes)
    assert all(isinstance(c, DatabaseIdConverter) for rule in school.app.url_map.iter_rules()
               for c in rule._converters.values() if isinstance(c, IntegerConverter))


def actions_and_requests(school) -> tuple[int, int]:
    """Manager actions in the journal (logins aside) and refund requests."""
    with school.live.write() as conn:
        return (conn.execute(select(func.count()).where(audit_log.c.action != "manager.login")).scalar_one(),
                conn.execute(select(func.count()).select_from(refund_requests)).scalar_one())


def test_an_id_no_row_can_have_is_404_on_every_route_that_takes_one(school):
    before = actions_and_requests(school)
    for method, rule in id_routes(school.app):
        browser, token = signed_in(school, rule)
        for number in BEYOND_ANY_ROW:
            path = INT_PART.sub(number, rule)
            if method == "GET":
                response = browser.get(path)
            else:
                response = browser.post(path, {"csrf_token": token, "reason": "Trop tard"})
            assert response.status_code == 404, (method, path, response.status_code)
    assert actions_and_requests(school) == before


def test_the_largest_row_id_is_looked_up_and_not_found(school):
    browser, _ = signed_in(school, "/documents/1")
    assert browser.get("/documents/2147483647").status_code == 404
