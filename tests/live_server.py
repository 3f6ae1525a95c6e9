"""The sync server for tests: the real Flask app on a real WSGI server on a loopback port,
on SQLite or on a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import make_server

from domain.roster import parse_csv
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server import admin, create_app, kiosks, ledger
from sync_server.db import upgrade, writing
from sync_server.serving import NoDelayRequestHandler

from .conftest import MONDAY_NOON, ROSTER

# The kiosk roster plus the parents' e-mail column the server import wants.
SERVER_ROSTER = "\n".join(
    line + (",parent_email" if i == 0 else f",parent{i}@example.ch") for i, line in enumerate(ROSTER.strip().splitlines())
) + "\n"


@dataclass
class LiveServer:
    url: str
    app: object
    thread: threading.Thread
    server: object

    @property
    def engine(self):
        return self.app.extensions["refectory.engine"]

    def write(self):
        return writing(self.engine)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.engine.dispose()


def start_server(database_url: str, instance: Path, *, clock=None) -> LiveServer:
    upgrade(database_url)
    config = {"DATABASE_URL": database_url}
    if clock is not None:
        config["CLOCK"] = clock
    app = create_app(config, instance_path=str(instance))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=NoDelayRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="sync-server", daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{server.server_port}", app, thread, server)


def start_school_server(database_url: str, instance: Path, **options) -> LiveServer:
    """A server with the test roster, cashier `anne` (PIN 1234) and primary meals at CHF 7.50."""
    live = start_server(database_url, instance, **options)
    with live.write() as conn:
        header, rows = parse_csv(SERVER_ROSTER.encode())
        admin.import_pupils(conn, header, rows, MONDAY_NOON)
        admin.add_cashier(conn, "anne", "Anne Roch", "1234", MONDAY_NOON)
        admin.set_setting(conn, "price.primary", "7.50", MONDAY_NOON)
    return live


def new_kiosk(tmp_path: Path, server: LiveServer, kiosk_id: str = "K1", url: str | None = None) -> KioskService:
    """A fresh kiosk enrolled with `server` (through `url` when a proxy stands in between)."""
    store = Store.open(tmp_path / kiosk_id, create=True)
    store.initialize(kiosk_id)
    with server.write() as conn:
        code = kiosks.issue_code(conn, kiosk_id, MONDAY_NOON)
    SyncAgent(store).enroll(url or server.url, code)
    return KioskService(store, clock=lambda: MONDAY_NOON)


def server_balance(server: LiveServer, pupil_id: str) -> int:
    with server.write() as conn:
        return ledger.balance(conn, pupil_id)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(instance, port: int, *, database_url: str | None = None):
    """`refectory server run` as a child process, waited for until it accepts connections."""
    env = {**os.environ, **({"DATABASE_URL": database_url} if database_url else {})}
    with subprocess.Popen([sys.executable, "-m", "refectory", "server", "run", "--instance", str(instance),
                           "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=env) as process:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "server did not start"
                time.sleep(0.05)
        try:
            yield process
        finally:
            process.kill()
            process.wait()
