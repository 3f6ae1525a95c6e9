"""The sync server on a loopback port: the real Flask app on a real WSGI server, in this process
(`start_server`) or as `refectory server run` in a child process (`serving`), on SQLite or
PostgreSQL; and kiosks enrolled with it (`new_kiosk`).

The in-process server takes a clock (`CLOCK`, as `create_app` does): the kiosks made here read the
same one, so an instant fixed by a caller holds on both sides of the sync."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2.bccache import Bucket, BytecodeCache
from werkzeug.serving import make_server

from domain.clock import utc_now
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server import create_app
from sync_server.db import upgrade, writing
from sync_server.sync import kiosks, ledger
from sync_server.web.serving import NoDelayRequestHandler

# How often the serving thread looks for a shutdown request: stopping a server waits for it.
SHUTDOWN_POLL_S = 0.02


class CompiledTemplates(BytecodeCache):
    """Templates compiled once for every server this process starts: each new app would otherwise
    compile again every template it renders, most of a short test's work."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = CompiledTemplates()


@dataclass
class LiveServer:
    url: str
    app: object
    thread: threading.Thread
    server: object

    @property
    def engine(self):
        return self.app.extensions["refectory.engine"]

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.app.config["CLOCK"]

    @property
    def port(self) -> int:
        return self.server.server_port

    def write(self):
        return writing(self.engine)

    def balance(self, pupil_id: str) -> int:
        with writing(self.engine) as conn:
            return ledger.balance(conn, pupil_id)

    def verify_balances(self) -> list[tuple[str, int | None, int | None]]:
        """The accounts whose kept balance is not the sum of their entries (none, unless a bug)."""
        with writing(self.engine) as conn:
            return ledger.verify_balances(conn)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()
        self.engine.dispose()


def start_server(database_url: str, instance: Path, *, clock: Callable[[], datetime] = utc_now,
                 migrate: bool = True, **config) -> LiveServer:
    """The server on a free loopback port; `migrate=False` when the database is already at head."""
    if migrate:
        upgrade(database_url)
    app = create_app({"DATABASE_URL": database_url, "CLOCK": clock, **config}, instance_path=str(instance))
    app.jinja_env.bytecode_cache = _COMPILED_TEMPLATES
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=NoDelayRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S},
                              name="sync-server", daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{server.server_port}", app, thread, server)


def new_kiosk(folder: Path, server: LiveServer, kiosk_id: str = "K1", url: str | None = None,
              school: str | None = None) -> KioskService:
    """A fresh kiosk of `school` in `folder/<kiosk_id>`, enrolled with `server` (through `url` when
    a proxy stands in between), on the server's clock."""
    store = Store.open(folder / kiosk_id, create=True)
    store.initialize(kiosk_id)
    with server.write() as conn:
        code = kiosks.issue_code(conn, kiosk_id, server.clock(), school)
    SyncAgent(store).enroll(url or server.url, code)
    return KioskService(store, clock=server.clock)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(instance, port: int, *, database_url: str | None = None, start_timeout_s: float = 60):
    """`refectory server run` as a child process (on the system clock, as in production), waited
    for until it accepts connections."""
    env = {**os.environ, **({"DATABASE_URL": database_url} if database_url else {})}
    with subprocess.Popen([sys.executable, "-m", "refectory", "server", "run", "--instance", str(instance),
                           "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=env) as process:
        deadline = time.monotonic() + start_timeout_s
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
