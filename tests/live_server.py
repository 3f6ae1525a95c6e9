"""The sync server for tests: the real Flask app on a real WSGI server on a loopback port,
on SQLite or on a throwaway PostgreSQL database."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import make_server

from sync_server import create_app
from sync_server.db import upgrade, writing


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
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sync-server", daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{server.server_port}", app, thread, server)
