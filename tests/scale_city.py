"""A small city on several app servers: the stack of `refectory.testing.server_stack` (Redis, two
gunicorn app servers, nginx) on a PostgreSQL database of the suite's cluster, with families who
have portal logins, kiosks enrolled through nginx, and the clients that drive them as parents'
browsers and kiosks do, retrying what a dying app server cut.

One city serves every test file that drives it (the `city` fixture in conftest.py, made once per
test session and xdist worker): its stack is most of what those files cost. Each file keeps to its
own families, pupils and kiosks (`FAMILIES` below), and checks only what they did; a test that
kills a part of the stack starts it again, or runs last.

The app servers read a fixed clock (`CLOCK` in the instance's config.py: Monday 30 November 2026,
12:00 in Zurich), so the days parents reserve are open whatever the date the suite runs.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Connection, Engine, select, update

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from kiosk import sync_store
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent, SyncError
from refectory.testing.server_stack import Stack, server_stack
from sync_server.admin import canteen_settings, roster_import
from sync_server.db import make_engine, reading, writing
from sync_server.families import accounts
from sync_server.families.accounts import Letter
from sync_server.sync import kiosks, ledger
from sync_server.tables import entries, families, reservations

from .conftest import MONDAY_NOON

SECRET_KEY = "a-key-every-app-server-of-the-city-shares-0123456789"  # as server.env gives each machine
LOGIN_LIMIT = "5 per 10 minutes"  # per address and per account
RESERVED_DAYS = tuple(date(2026, 12, 1) + timedelta(days=n) for n in range(4))  # Tuesday to Friday
INSTANCE_CONFIG = f"""\
from datetime import UTC, datetime

LOGIN_LIMIT_PER_ADDRESS = {LOGIN_LIMIT!r}
LOGIN_LIMIT_PER_ACCOUNT = {LOGIN_LIMIT!r}


def CLOCK():
    return datetime({MONDAY_NOON.year}, {MONDAY_NOON.month}, {MONDAY_NOON.day}, {MONDAY_NOON.hour}, tzinfo=UTC)
"""
# Each test file's own families (family n has the one child P<n>), from the city's `FAMILY_COUNT`.
RUSH_FAMILIES = range(0, 27)  # the rush's parents, then the throttles' accounts (tests/test_scale_rush.py)
FAILOVER_FAMILIES = range(27, 37)  # tests/test_scale_failover.py
FAMILY_COUNT = 37
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
RETRIES = 20
RETRY_PAUSE_S = 0.1


def family_id(n: int) -> str:
    return f"F{n:03d}"


def pupil_id(n: int) -> str:
    return f"P{n:03d}"


@dataclass
class City:
    stack: Stack
    engine: Engine  # the database, as a machine beside the app servers sees it
    folder: Path
    letters: dict[str, Letter]  # by family id

    def kiosk(self, kiosk_id: str) -> Kiosk:
        """A kiosk enrolled through nginx."""
        store = Store.open(self.folder / kiosk_id, create=True)
        store.initialize(kiosk_id)
        with writing(self.engine) as conn:
            code = kiosks.issue_code(conn, kiosk_id, MONDAY_NOON)
        agent = SyncAgent(store, clock=lambda: MONDAY_NOON)
        agent.enroll(self.stack.url, code)
        kiosk = Kiosk(store, agent)
        kiosk.sync()  # the roster, before it serves anyone
        return kiosk

    def parent(self, number: int, *, address: str | None = None) -> Parent:
        """Family `number`'s browser, connecting from its own loopback address (the throttle's key)."""
        return Parent(self.letters[family_id(number)], pupil_id(number), address or f"127.0.1.{number + 1}")


@contextmanager
def city(folder: Path, database_url: str, families: int) -> Iterator[City]:
    """The city's database filled (`families` families of one child each, with logins), then the
    stack on it; everything stopped on exit."""
    engine = make_engine(database_url)
    try:
        with writing(engine) as conn:
            header = ["pupil_id", "first_name", "last_name", "class", "category", "badge_uid", "diet", "family_id",
                      "parent_email"]
            rows = [(n + 2, {"pupil_id": pupil_id(n), "first_name": "Léa", "last_name": f"Nom{n}", "class": "5A",
                             "category": "primary", "badge_uid": f"04C0{n:04X}", "diet": "",
                             "family_id": family_id(n), "parent_email": f"parent{n}@example.ch"})
                    for n in range(families)]
            roster_import.import_pupils(conn, header, rows, MONDAY_NOON)
            canteen_settings.set_setting(conn, "price.primary", "7.50", MONDAY_NOON)
            letters = _logins(conn, families)
        instance = folder / "instance"
        instance.mkdir(parents=True)
        (instance / "config.py").write_text(INSTANCE_CONFIG)
        # Two app servers of one worker and a few threads: starting a worker (importing the app) is
        # most of a stack's start.
        with server_stack(instance, database_url=database_url, workers=1, worker_class="gthread", threads=4,
                          settings={"REFECTORY_SECRET_KEY": SECRET_KEY}) as stack:
            yield City(stack, engine, folder, letters)
    finally:
        engine.dispose()


@contextmanager
def city_on_postgres(name: str, families: int, postgres, server_templates, tmp_path_factory) -> Iterator[City]:
    """A city in a fresh copy of the migrated PostgreSQL template, given back afterwards (for a
    session-scoped fixture)."""
    folder = tmp_path_factory.mktemp(name)
    database = server_templates.copy("postgresql", folder, seeded=False, postgres=postgres)
    try:
        with city(folder, database.url, families) as made:
            yield made
    finally:
        server_templates.give_back(database)


def _logins(conn: Connection, count: int) -> dict[str, Letter]:
    """The families' letters: the first issued as the manager would, the others given the same
    password's hash (argon2 costs some 60 ms a hash; the server still checks each login)."""
    first = accounts.issue_login(conn, family_id(0), MONDAY_NOON)
    letters = {first.family_id: first}
    for n in range(1, count):
        letters[family_id(n)] = Letter(family_id(n), f"city-{n:03d}", first.password, None)
        conn.execute(update(families).where(families.c.family_id == family_id(n)).values(
            login=f"city-{n:03d}", password_hash=select(families.c.password_hash)
            .where(families.c.family_id == family_id(0)).scalar_subquery(), password_changed_at=to_text(MONDAY_NOON)))
    return letters


def on_server(city: City, pupils: set[str], kiosks: list[Kiosk]) -> tuple[set[tuple[str, str, str]], list[str]]:
    """What the server holds of one test's doing: the reservations of `pupils` (ids) and the ids of
    the entries `kiosks` sent; every balance of the city checked against its entries first."""
    with reading(city.engine) as conn:
        assert ledger.verify_balances(conn) == []
        booked = {row for row in conn.execute(select(reservations.c.pupil_id, reservations.c.service_date,
                                                     reservations.c.kind)) if row[0] in pupils}
        sent = conn.execute(select(entries.c.id).where(
            entries.c.origin.in_([kiosk.store.kiosk_id for kiosk in kiosks]))).scalars().all()
    return booked, sent


def retried(call: Callable[[], requests.Response], cut: list[int]) -> requests.Response:
    """`call` again while an app server dying under it makes nginx answer 502 (or the connection
    drop); each 5xx seen goes to `cut`, the last answer is returned."""
    for _attempt in range(RETRIES):
        try:
            response = call()
        except requests.ConnectionError:
            cut.append(0)
        else:
            if response.status_code < 500:
                return response
            cut.append(response.status_code)
        time.sleep(RETRY_PAUSE_S)
    return response


@dataclass
class Parent:
    letter: Letter
    child: str
    address: str
    session: requests.Session = field(default_factory=requests.Session)
    cut: list[int] = field(default_factory=list)  # the 5xx answers (0: a dropped connection) it retried

    def __post_init__(self) -> None:
        self.session.mount("http://", FromAddress(self.address))

    def get(self, url: str) -> requests.Response:
        return retried(lambda: self.session.get(url, allow_redirects=False, timeout=30), self.cut)

    def submit(self, url: str, form_page: str, data: dict) -> requests.Response:
        found = TOKEN.search(self.get(form_page).text)
        assert found, f"no form on {form_page}"
        return retried(lambda: self.session.post(url, data={"csrf_token": found.group(1), **data},
                                                 allow_redirects=False, timeout=30), self.cut)

    def log_in(self, base: str, password: str | None = None, *, login: str | None = None) -> requests.Response:
        return self.submit(f"{base}/login", f"{base}/login",
                           {"login": login or self.letter.login, "password": password or self.letter.password})

    def reserve(self, base: str, day: date, choice: str = "normal") -> requests.Response:
        agenda = f"{base}/children/{self.child}/agenda"
        return self.submit(agenda, f"{agenda}?week={day.isoformat()}", {"day": day.isoformat(), "choice": choice})


class FromAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.0.0/8 is all this machine's)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **{**kwargs, "source_address": (self.address, 0)})


@dataclass
class Kiosk:
    store: Store
    agent: SyncAgent
    made: list[str] = field(default_factory=list)  # the ids of the entries it recorded
    failed_rounds: int = 0

    def serve(self, pupils: range, count: int, at: datetime = MONDAY_NOON) -> None:
        """`count` meals recorded at this kiosk for `pupils` in turn (by number), as its counter would."""
        served = [pupils[n % len(pupils)] for n in range(count)]
        batch = [LedgerEntry(new_entry_id(), pupil_id(n), -7_50, EntryKind.MEAL, at, self.store.kiosk_id,
                             reference=f"04C0{n:04X}", service_date=at.date()) for n in served]
        with self.store.transaction():
            for entry in batch:
                self.store.append(entry)
        self.made += [entry.id for entry in batch]

    def sync(self) -> None:
        """A round (push, pull, heartbeat), again until one finishes, as the scheduler does."""
        for _attempt in range(RETRIES):
            try:
                self.agent.run_round()
                return
            except SyncError:
                self.failed_rounds += 1
                time.sleep(RETRY_PAUSE_S)
        raise AssertionError(f"kiosk {self.store.kiosk_id} could not sync in {RETRIES} tries")

    def reservations(self, pupils: set[str]) -> set[tuple[str, str, str]]:
        """What the kiosk's own database holds for `pupils` (ids), read as the counter would."""
        with sqlite3.connect(self.store.path) as conn:
            return {row for row in conn.execute("SELECT pupil_id, service_date, kind FROM reservations")
                    if row[0] in pupils}


class FeedReader:
    """Reads a kiosk's change feed as the kiosk's pull does (pages from its cursor, with its token)
    and keeps every change it was given, so a test can count them."""

    def __init__(self, city: City, kiosk: Kiosk) -> None:
        self.url = f"{city.stack.url}/api/v1/sync/pull"
        self.token = sync_store.sync_state(kiosk.store).token
        self.cursor = "0"
        self.seen: list[dict] = []
        self.cut: list[int] = []

    def drain(self) -> None:
        while True:
            page = retried(lambda: requests.get(self.url, params={"since": self.cursor, "limit": 200}, timeout=30,
                                                headers={"Authorization": f"Bearer {self.token}"}), self.cut)
            assert page.status_code == 200, page.text
            body = page.json()
            self.seen += body["changes"]
            self.cursor = body["next"]
            if not body["more"]:
                return

    def keys(self, change_type: str, keep=lambda key: True) -> list[str]:
        """The keys of the changes of `change_type` it was given (those `keep` accepts), sorted."""
        return sorted(change["key"] for change in self.seen if change["type"] == change_type and keep(change["key"]))
