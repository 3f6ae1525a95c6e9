"""The kiosks' records the server set aside: reversals held until the entry they cancel arrives,
and records it refused, each with its reason (`sync_server.ledger`)."""

from __future__ import annotations

from flask import render_template

from sync_server.admin.managers import ACCOUNTANT, MANAGER
from sync_server.backoffice import allowed, bp
from sync_server.sync import ledger
from sync_server.web.request_services import request_reading


@bp.route("/quarantine")
@allowed(MANAGER, ACCOUNTANT)
def quarantine():
    with request_reading() as conn:
        records = ledger.set_aside(conn)
    return render_template("backoffice/quarantine.html", records=records)
