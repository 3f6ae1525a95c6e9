"""The demo's sync server: the real app (kiosk API and parents' portal) on a loopback port, in the
demo's folder, with the demo school — pupils with their parents' e-mails, the cashier, a family
login, the week's menus and a document: what `refectory server ...` would set up. E-mails go to
the folder's `mail/` as .eml files instead of a mail server. Online payments go to the Datatrans
stand-in whose settings `payments` gives (`refectory.payment_standin`), with published terms."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from werkzeug.serving import make_server

from domain.roster import parse_csv
from sync_server import create_app
from sync_server.admin import audit, cashiers, managers, menu_import, pupil_badges, roster_import
from sync_server.db import reading, upgrade, writing
from sync_server.families import accounts, documents, standing_orders
from sync_server.mail import outbox
from sync_server.money import automatic_charges
from sync_server.sync import kiosks, ledger
from sync_server.web.serving import NoDelayRequestHandler


class DemoServer:
    def __init__(self, folder: Path, roster_csv: str, cashier: tuple[str, str, str], now: datetime, *,
                 canteen: dict, qrbill: dict, family_id: str, menus_csv: str, clock=None,
                 payments: dict | None = None, manager: tuple[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'refectory.db'}"
        upgrade(url)
        self._server = make_server("127.0.0.1", 0, None, threaded=True, request_handler=NoDelayRequestHandler)
        self.url = f"http://localhost:{self._server.server_port}"
        config = {"DATABASE_URL": url, "SESSION_COOKIE_SECURE": False,  # plain HTTP on loopback
                  "PORTAL_URL": self.url + "/", "MAIL_FOLDER": str(folder / "mail"),
                  **{f"CANTEEN_{key.upper()}": value for key, value in canteen.items()},
                  **{f"QRBILL_{key.upper()}": value for key, value in qrbill.items()}, **(payments or {})}
        if clock is not None:
            config["CLOCK"] = clock
        self.app = create_app(config, instance_path=str(folder))
        self.engine = self.app.extensions["refectory.engine"]
        rules = folder / "reglement-cantine.txt"
        rules.write_text("Règlement de la cantine (démo)\n\nLe compte doit toujours être approvisionné.\n",
                         encoding="utf-8")
        terms = folder / "conditions-paiement-en-ligne.txt"  # what families accept before paying online
        terms.write_text("Conditions du paiement en ligne (démo)\n\nLe montant payé est crédité sur le compte de "
                         "l'enfant dès la confirmation du paiement.\n", encoding="utf-8")
        with writing(self.engine) as conn:
            roster_import.import_pupils(conn, *parse_csv(roster_csv.encode()), now)
            cashiers.add_cashier(conn, *cashier, now)
            menu_import.import_menus(conn, *parse_csv(menus_csv.encode()), now)
            documents.add(conn, folder / "documents", rules, "Règlement de la cantine", now)
            published = documents.add(conn, folder / "documents", terms, "Conditions du paiement en ligne", now)
            self.app.config["PAYMENT_TERMS_DOCUMENT"] = published.document_id
            self.letter = accounts.issue_login(conn, family_id, now)
            self.manager = (manager[0], managers.set_manager(conn, manager[0], manager[1], now)) if manager else None
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the demo
        self._server.app = self.app
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-server", daemon=True)
        self._thread.start()
        self._mailer = outbox.start_sender(self.engine, outbox.SmtpSettings.from_config(self.app.config),
                                         every_seconds=2, clock=self.app.config["CLOCK"])
        automatic_charges.start_runner(self.engine, self.app.config, self._mailer, every_seconds=2,
                                       clock=self.app.config["CLOCK"])
        standing_orders.start_runner(self.engine, self.app.config, self._mailer, every_seconds=10,
                                     clock=self.app.config["CLOCK"])

    def enrollment_code(self, kiosk_id: str, now: datetime) -> str:
        with writing(self.engine) as conn:
            return kiosks.issue_code(conn, kiosk_id, now)

    def mark_lost(self, uid: str, reason: str, now: datetime) -> None:
        """As the manager does in the back office: the server holds the badge's status."""
        with writing(self.engine) as conn:
            pupil_badges.mark_lost(conn, uid, reason, now)
            audit.record(conn, "demo", "badge.lost", uid, now, reason)

    def balance(self, pupil_id: str) -> int:
        with reading(self.engine) as conn:
            return ledger.balance(conn, pupil_id)

    def stop(self) -> None:
        self._mailer.shutdown(wait=False)
        self._server.shutdown()
        self._thread.join(5)
        self.engine.dispose()
