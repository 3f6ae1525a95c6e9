"""Shared fixtures: a kiosk with a small roster and a cashier, the CLI runner, fixed instants."""

from __future__ import annotations

import gc
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

os.environ.pop("REFECTORY_LANG", None)  # tests expect the default language (French)

from kiosk import pins
from kiosk.roster_import import import_roster
from kiosk.service import KioskService
from kiosk.store import Store
from refectory.cli import cli
from refectory.payment_standin import PaymentStandIn
from sync_server.admin import passwords

from .url_builders import compile_each_rule_once

compile_each_rule_once()

# Passwords and PINs are hashed with argon2id at its lowest cost in the tests' own processes: the
# same algorithm and hash format, checked the same way, at a small fraction of the cost (the tests'
# logins and PIN checks were about a sixth of their processes' CPU). What the tests start as
# processes of their own (the CLI, gunicorn, the demo) keeps the product's cost; a hash carries its
# parameters, so either side checks the other's.
passwords._HASHER = pins._HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# Monday 30 November 2026, 12:00 in Zurich (UTC+1 in winter).
MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)

ROSTER = """pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id
P001,Léa,Müller,5A,primary,04A1B2C3,,F01
P002,Noé,Favre,9B,secondary,04:11:22:33:44:55:66,Sans gluten,F02
P003,Zoé,Rochat,5A,primary,0A0B0C0D,,F01
S001,Anne,Berset,Staff,staff,DEADBEEF,,
"""


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    path = tmp_path / "pupils.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def kiosk_template(tmp_path_factory) -> Path:
    """The kiosk every `kiosk_dir` starts as, made once per test session (per xdist worker): the
    cashier's PIN hash alone (argon2) is most of what making one costs."""
    folder = tmp_path_factory.mktemp("kiosk-template")
    roster = folder / "pupils.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    data = folder / "kiosk"
    with Store.open(data, create=True) as store:
        store.initialize("K1")
        import_roster(store, roster, MONDAY_NOON)
        KioskService(store).add_cashier("anne", "Anne Roch", "1234")
    return data


@pytest.fixture
def kiosk_dir(tmp_path: Path, roster_file: Path, kiosk_template: Path) -> Path:
    """An initialised kiosk K1 with four pupils (no money yet) and cashier `anne` (PIN 1234): the
    test's own copy of `kiosk_template`."""
    data = tmp_path / "kiosk"
    shutil.copytree(kiosk_template, data)
    return data


@pytest.fixture
def printer(kiosk_dir):
    """`kiosk_dir`'s receipt printer: an ESC/POS printer on a loopback TCP port that keeps every
    job it is sent (tests/escpos_capture.py), named in the kiosk's `kiosk.toml`."""
    from .escpos_capture import CaptureServer

    server = CaptureServer()
    (kiosk_dir / "kiosk.toml").write_text(
        f'[canteen]\nname = "Réfectoire des Pâquis"\n[printer]\nconnection = "{server.connection}"\n',
        encoding="utf-8")
    yield server
    server.close()


@pytest.fixture
def store(kiosk_dir: Path):
    with Store.open(kiosk_dir) as opened:
        yield opened


@pytest.fixture
def service(store: Store) -> KioskService:
    return KioskService(store, clock=lambda: MONDAY_NOON)


@pytest.fixture
def cashier(service: KioskService):
    return service.login("anne", "1234")


@pytest.fixture
def run():
    """Invoke `refectory ...` in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def fund_and_open_all_day(kiosk_dir: Path, pupil_id: str, cents: int) -> None:
    """Credit a pupil and open the service every day, all day: for the loops that tap at the real
    time of day (`kiosk listen`)."""
    with Store.open(kiosk_dir) as store:
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        service.cash_topup(service.login("anne", "1234"), pupil_id, cents)
        service.set_setting("service.days", "mon,tue,wed,thu,fri,sat,sun")
        service.set_setting("service.start", "00:00")
        service.set_setting("service.end", "23:59")


class Listener:
    """`refectory kiosk listen` seen from a test: its JSON event lines, each awaited with a deadline
    (a line that never comes fails the test instead of hanging it)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def next(self, event: str | None = None, timeout: float = 60.0) -> dict:
        """The next line (of this event kind, if given), waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {event or 'event'} line from kiosk listen within {timeout} s") from None
            if line is None:
                raise AssertionError(f"kiosk listen ended (exit code {self.process.poll()}) before a {event} line")
            parsed = json.loads(line)
            if event is None or parsed["event"] == event:
                return parsed

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


@contextmanager
def listening(kiosk_dir: Path, *, env: dict[str, str] | None = None, stderr=None) -> Iterator[Listener]:
    """`refectory kiosk listen` running on the kiosk; its stdout gives one JSON line per event.
    `env` replaces the environment; the log goes to `stderr` (a file, or the test's own stderr)."""
    with subprocess.Popen(
        [sys.executable, "-m", "refectory", "kiosk", "listen", "--data", str(kiosk_dir)],
        stdout=subprocess.PIPE, stderr=stderr, text=True, env={**(env or os.environ), "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            yield Listener(process)
        finally:
            process.terminate()
            process.wait(30)


def snapshot(data_dir: Path) -> list[str]:
    """Every row of the kiosk database as SQL text, to prove an operation changed nothing."""
    with Store.open(data_dir) as store:
        return list(store.conn.iterdump())


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright, one per test session (per xdist worker): each test
    opens its own context, so no cookie or page outlives it."""
    from playwright.sync_api import sync_playwright

    from .browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL cluster per test session (per xdist worker), started on first use."""
    from refectory.testing.pg_cluster import ThrowawayPostgres

    with ThrowawayPostgres() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty server database: a SQLite file, or a fresh database on the throwaway cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    cluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "on_each_database: run the test's server database on SQLite and on PostgreSQL")
    config.addinivalue_line("markers", "small_panel_too: a kiosk screen test run again on an 800x480 panel"
                                       " (tests/test_kiosk_small_panel.py)")


def pytest_collection_finish(session) -> None:
    """What collection made (modules, test items, compiled templates) lives to the end of the run:
    frozen out of the collector's reach, with young-object collections rarer, the cyclic garbage
    collector stops walking it again and again, which was a good part of the server-side tests'
    CPU time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def pytest_generate_tests(metafunc) -> None:
    """A test marked `on_each_database` that has a server database runs once on each kind."""
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker("on_each_database"):
        from tests.server_databases import DATABASES

        metafunc.parametrize("database", DATABASES)


@pytest.fixture
def database() -> str:
    """The kind of the server database (`school_database`, `server`...): SQLite, unless the test is
    marked `on_each_database`."""
    return "sqlite"


@pytest.fixture(scope="session")
def server_templates(tmp_path_factory):
    """The templates the tests' server databases are copied from (see tests/server_databases.py)."""
    from tests.server_databases import ServerTemplates

    templates = ServerTemplates(tmp_path_factory.mktemp("server-templates"))
    yield templates
    templates.close()


@pytest.fixture(scope="session")
def city(postgres, server_templates, tmp_path_factory):
    """A small city on two app servers behind nginx, with Redis, on PostgreSQL (tests/scale_city.py),
    made once per test session (per xdist worker) for every file that drives it: each keeps to its
    own families and kiosks."""
    from tests.scale_city import FAMILY_COUNT, city_on_postgres

    with city_on_postgres("city", FAMILY_COUNT, postgres, server_templates, tmp_path_factory) as made:
        yield made


@pytest.fixture
def new_server_database(request, database, server_templates):
    """Makes the test's server databases (`school_database` is one): `new(folder)`, the test
    school, or the bare schema with `seeded=False`. A test that needs several (one per Hypothesis
    example) calls it each time; all are given back when the test ends."""
    cluster = request.getfixturevalue("postgres") if database == "postgresql" else None
    made = []

    def new(folder: Path, *, seeded: bool = True):
        made.append(server_templates.copy(database, folder, seeded=seeded, postgres=cluster))
        return made[-1]

    yield new
    for copy in made:
        server_templates.give_back(copy)


@pytest.fixture
def school_database(new_server_database, tmp_path):
    """The test's own server database holding the test school: the roster, cashier `anne` (PIN
    1234), primary meals at CHF 7.50, portal logins for F01 and F02 (`.letters`), manager `sandra`
    (`.manager_password`)."""
    return new_server_database(tmp_path)


@pytest.fixture
def migrated_database_url(new_server_database, tmp_path) -> str:
    """The test's own server database, migrated and empty."""
    return new_server_database(tmp_path, seeded=False).url


@pytest.fixture
def server(tmp_path, school_database):
    """The sync server on a loopback port with the test school (`school_database`), its clock at
    MONDAY_NOON; see tests/live_server.py."""
    from tests.live_server import Clock, start_server

    live = start_server(school_database.url, tmp_path / "instance", clock=Clock(), migrate=False)
    yield live
    live.stop()


@pytest.fixture
def standin():
    """The local Datatrans stand-in the online payments' tests pay through."""
    provider = PaymentStandIn().start()
    yield provider
    provider.stop()
