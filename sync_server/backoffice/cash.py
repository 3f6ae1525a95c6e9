"""Cash reconciliation (`/manage/cash`): per day, kiosk and cashier, the cash top-ups and
cancellations, the expected cash, the drawer's count and the difference, flagged; and the
accountant's CSV. Read-only: the counts come from the kiosks (`sync_server.money.cash_counts`)."""

from __future__ import annotations

from datetime import date

from flask import Response, flash, render_template, request
from flask_babel import gettext as _

from domain.clock import parse_day_within_window, service_date
from domain.messages import RefectoryError
from sync_server.admin.managers import ACCOUNTANT, MANAGER
from sync_server.backoffice import allowed, bp
from sync_server.money import cash_counts
from sync_server.web.request_services import now, request_reading


def _day() -> date:
    """The day asked for (`?day=YYYY-MM-DD`), else today; a bad one is said and today shown."""
    asked = request.args.get("day", "").strip()
    if asked:
        try:
            return parse_day_within_window(asked[:20])
        except RefectoryError as error:
            flash(error.render(_), "problem")
    return service_date(now())


@bp.route("/cash")
@allowed(MANAGER, ACCOUNTANT)
def cash():
    day = _day()
    with request_reading() as conn:
        report = cash_counts.day_report(conn, day)
    return render_template("backoffice/cash.html", report=report, day=day)


@bp.route("/cash.csv")
@allowed(MANAGER, ACCOUNTANT)
def cash_csv():
    day = _day()
    with request_reading() as conn:
        report = cash_counts.day_report(conn, day)
    return Response(cash_counts.to_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=cash-{day.isoformat()}.csv"})
