"""The back office's first page: today's figures, each role its own part (`sync_server.overview`),
and the list behind the low-balance count."""

from __future__ import annotations

from flask import render_template

from sync_server.admin.managers import MANAGER, ROLES
from sync_server.backoffice import allowed, bp, current_manager
from sync_server.overview import figures
from sync_server.sync import ledger
from sync_server.web.request_services import now, request_reading


@bp.route("/")
@allowed(*ROLES)
def index():
    role = current_manager().role
    with request_reading() as conn:
        found = figures.for_role(conn, role, now())
        set_aside = ledger.set_aside_open(conn) if found.money is not None else None
    return render_template("backoffice/index.html", overview=found, set_aside=set_aside, now=now(),
                           offline_minutes=int(figures.OFFLINE_AFTER.total_seconds() // 60))


@bp.route("/low-balances")
@allowed(MANAGER)
def low_balances():
    with request_reading() as conn:
        pupils = figures.low_balance_pupils(conn)
    return render_template("backoffice/low_balances.html", pupils=pupils, limit=figures.LOW_BALANCES_LISTED)
