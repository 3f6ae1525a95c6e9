"""The kitchen's page: a day's counts to cook (normal and special meals, by diet and by class), which
prints on one A4, with its CSV and PDF; after service, reserved against served. Read by the manager
and the kitchen, who change nothing here."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _

from domain.clock import service_date
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.managers import KITCHEN, MANAGER
from sync_server.backoffice import allowed, bp
from sync_server.families.accounts import last_kiosk_sync
from sync_server.kitchen import counts
from sync_server.kitchen.pdf import kitchen_pdf
from sync_server.web.request_services import day_asked, now, request_reading


def _day() -> date:
    """`?day=YYYY-MM-DD`, today's by default."""
    text = request.args.get("day", "")
    return day_asked(text) if text else service_date(now())


def _counts(day: date):
    with request_reading() as conn:
        settings = current_settings(conn)
        found = counts.kitchen_day(conn, day, now(), settings)
        synced_at = last_kiosk_sync(conn)
    return found, counts.service_started(found, now(), settings), synced_at


@bp.route("/kitchen")
@allowed(MANAGER, KITCHEN)
def kitchen():
    day = _day()
    found, after_service, synced_at = _counts(day)
    return render_template("backoffice/kitchen.html", found=found, after_service=after_service, synced_at=synced_at,
                           previous=day - timedelta(days=1), following=day + timedelta(days=1),
                           no_diet=_(counts.NO_DIET))


@bp.route("/kitchen.csv")
@allowed(MANAGER, KITCHEN)
def kitchen_csv():
    day = _day()
    found, _after, _synced = _counts(day)
    return Response("\ufeff" + counts.csv_text(found, _), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=kitchen-{day.isoformat()}.csv"})


@bp.route("/kitchen.pdf")
@allowed(MANAGER, KITCHEN)
def kitchen_pdf_file():
    day = _day()
    found, after_service, _synced = _counts(day)
    data = kitchen_pdf(found, after_service=after_service, canteen_name=current_app.config["CANTEEN_NAME"] or "",
                       _=_)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=kitchen-{day.isoformat()}.pdf"})
