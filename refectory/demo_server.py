"""The demo's sync server: the real app on a loopback port, in the demo's folder, with the demo
school (pupils with their parents' e-mails, the cashier) — what `refectory server ...` would set up."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from werkzeug.serving import make_server

from domain.roster import parse_csv
from sync_server import admin, create_app, kiosks, ledger
from sync_server.db import reading, upgrade, writing
from sync_server.serving import NoDelayRequestHandler


class DemoServer:
    def __init__(self, folder: Path, roster_csv: str, cashier: tuple[str, str, str], now: datetime) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'refectory.db'}"
        upgrade(url)
        self.app = create_app({"DATABASE_URL": url}, instance_path=str(folder))
        self.engine = self.app.extensions["refectory.engine"]
        with writing(self.engine) as conn:
            admin.import_pupils(conn, *parse_csv(roster_csv.encode()), now)
            admin.add_cashier(conn, *cashier, now)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the demo
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=NoDelayRequestHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-server", daemon=True)
        self._thread.start()

    def enrollment_code(self, kiosk_id: str, now: datetime) -> str:
        with writing(self.engine) as conn:
            return kiosks.issue_code(conn, kiosk_id, now)

    def balance(self, pupil_id: str) -> int:
        with reading(self.engine) as conn:
            return ledger.balance(conn, pupil_id)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self.engine.dispose()
