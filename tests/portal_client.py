"""Driving the portal over HTTP with Flask's test client, as a browser would: HTTPS, a Referer,
the CSRF token taken from the page's form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sync_server.admin import managers
from tests.live_server import Clock, LiveServer, start_server
from tests.server_databases import ServerDatabase

BASE = "https://portal.test"
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@dataclass
class School:
    """The test school's server with two families who have portal logins, and manager `sandra`."""

    live: LiveServer
    clock: Clock
    letters: dict = field(default_factory=dict)
    manager_password: str | None = None

    @property
    def app(self):
        return self.live.app

    def browser(self) -> Browser:
        return Browser(self.app.test_client())

    def logged_in(self, family_id: str) -> Browser:
        browser = self.browser()
        letter = self.letters[family_id]
        response = browser.submit("/login", {"login": letter.login, "password": letter.password})
        assert response.status_code == 302, response.text
        return browser

    def manager(self) -> Browser:
        """A browser logged in to the back office as manager `sandra`."""
        return self._back_office("sandra", self.manager_password)

    def staff(self, role: str) -> Browser:
        """A browser logged in to the back office with a login of this role (made on first use)."""
        with self.live.write() as conn:
            password = managers.set_manager(conn, role, f"Staff {role}", self.clock.now, role)
        return self._back_office(role, password)

    def _back_office(self, login: str, password: str | None) -> Browser:
        browser = self.browser()
        response = browser.submit("/manage/login", {"login": login, "password": password})
        assert response.status_code == 302 and response.headers["Location"] == "/manage/", response.text
        return browser


def start_school(database: ServerDatabase, tmp_path: Path, **config) -> School:
    """The server on the test's own copy of the test school (the `school_database` fixture)."""
    clock = Clock()
    live = start_server(database.url, tmp_path / "instance", clock=clock, migrate=False)
    live.app.config.update({"CANTEEN_NAME": "Réfectoire scolaire de Leysin", "CANTEEN_PHONE": "079 000 00 00",
                            "CANTEEN_EMAIL": "cantine@example.ch", **config})
    return School(live, clock, dict(database.letters), database.manager_password)


class Browser:
    def __init__(self, client) -> None:
        self.client = client
        self.last = None

    def get(self, path: str, **kwargs):
        self.last = self.client.get(path, base_url=BASE, **kwargs)
        return self.last

    def token(self, path: str) -> str:
        found = TOKEN.search(self.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(self, path: str, data: dict, **kwargs):
        self.last = self.client.post(path, data=data, base_url=BASE, headers={"Referer": BASE + path}, **kwargs)
        return self.last

    def submit(self, path: str, data: dict, *, form_page: str | None = None):
        """Post `data` with the CSRF token of the form on `form_page` (default: `path`)."""
        return self.post(path, {"csrf_token": self.token(form_page or path), **data})


def text_of(response) -> str:
    """The page's visible text, on one line."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.text, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&amp;", "&").strip()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)
