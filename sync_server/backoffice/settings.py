"""Settings in the back office: prices per category, service days and hours, reservation rules,
top-up limits and the low-balance threshold, checked and stored by the same service as `refectory
server settings set`, and the kiosks that have the latest change; then the year's closed days."""

from __future__ import annotations

import calendar as month_grid
from datetime import date, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from domain.clock import TimeInputError, parse_day, service_date
from domain.messages import RefectoryError
from domain.settings import PRICE_PREFIX, WEEKDAYS
from sync_server.admin import audit, canteen_settings
from sync_server.admin.managers import MANAGER
from sync_server.backoffice import allowed, bp, current_manager
from sync_server.families import reservations
from sync_server.web.request_services import now, request_reading, request_writing

# The page's fields after the prices, in its order, with what the manager reads.
FIELDS = {
    "service.start": _l("Service starts at"),
    "service.end": _l("Service ends at"),
    "reservation.required": _l("A meal must be reserved"),
    "reservation.cutoff": _l("Reservation cut-off (on the day)"),
    "reservation.special_days_ahead": _l("Special meal: days of notice"),
    "meals.per_day": _l("Meals per pupil and day"),
    "topup.min": _l("Smallest top-up (CHF)"),
    "topup.max": _l("Largest top-up (CHF)"),
    "balance.low_threshold": _l("Low-balance threshold (CHF)"),
}
DAY_NAMES = dict(zip(WEEKDAYS, (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
                                _l("Saturday"), _l("Sunday")), strict=True))


def _sent(values: dict[str, str]) -> dict[str, str]:
    """The form's values, as the settings' text; an unticked box is sent as no value at all."""
    sent = {key: request.form.get(key, "") for key in values if key.startswith(PRICE_PREFIX)}
    sent.update({key: request.form.get(key, "") for key in FIELDS})
    sent["reservation.required"] = "true" if request.form.get("reservation.required") else "false"
    sent["service.days"] = ",".join(request.form.getlist("service.days"))
    return sent


@bp.route("/settings", methods=["GET", "POST"])
@allowed(MANAGER)
def settings():
    with request_reading() as conn:
        values = canteen_settings.shown_settings(conn)
        missing = sorted(canteen_settings.categories(conn) - {k.removeprefix(PRICE_PREFIX) for k in values})
    values.update({PRICE_PREFIX + category: "" for category in missing})  # a class's category without a price
    problems: dict[str, str] = {}
    if request.method == "POST":
        sent = {key: value for key, value in _sent(values).items()
                if not (key.removeprefix(PRICE_PREFIX) in missing and not value.strip())}
        try:
            with request_writing() as conn:
                changed = canteen_settings.change_settings(conn, sent, current_manager().manager_id, now())
        except canteen_settings.SettingsRefused as error:
            problems = {key: message.render(_) for key, message in error.fields.items()}
            values.update(sent)
        else:
            current_app.logger.info("manager %s changed settings %s", current_manager().manager_id, changed)
            flash(ngettext("{count} setting changed: the kiosks apply it at their next sync.",
                           "{count} settings changed: the kiosks apply them at their next sync.",
                           len(changed)).format(count=len(changed)) if changed else _("Nothing changed."))
            return redirect(url_for("backoffice.settings"))
    with request_reading() as conn:
        reach = canteen_settings.kiosks_reached(conn)
    return render_template("backoffice/settings.html", values=values, problems=problems, fields=FIELDS,
                           day_names=DAY_NAMES, reach=reach,
                           prices=[key for key in values if key.startswith(PRICE_PREFIX)]), 422 if problems else 200


def _year() -> int:
    year = request.args.get("year", "")
    return int(year) if year.isascii() and year.isdigit() and 2000 <= int(year) <= 2099 else service_date(now()).year


def _periods(closed: dict[date, str]) -> list[tuple[date, date, str]]:
    """Closed days as periods: consecutive days with the same reason."""
    found: list[tuple[date, date, str]] = []
    for day in sorted(closed):
        if found and found[-1][1] + timedelta(days=1) == day and found[-1][2] == closed[day]:
            found[-1] = (found[-1][0], day, closed[day])
        else:
            found.append((day, day, closed[day]))
    return found


def _calendar_page(year: int, problems: dict[str, str] | None = None, sent: dict | None = None):
    with request_reading() as conn:  # a month either side: a period across New Year is shown whole
        closed = reservations.closed_between(conn, date(year - 1, 12, 1), date(year + 1, 1, 31))
    periods = [(first, last, reason) for first, last, reason in _periods(closed) if first.year <= year <= last.year]
    months = [(date(year, month, 1), month_grid.Calendar().monthdatescalendar(year, month)) for month in range(1, 13)]
    return render_template("backoffice/calendar.html", year=year, months=months, closed=closed,
                           periods=periods, today=service_date(now()), problems=problems or {},
                           sent=sent or {}), 422 if problems else 200


@bp.route("/settings/calendar")
@allowed(MANAGER)
def calendar():
    return _calendar_page(_year())


def _dates() -> tuple[date, date]:
    """The form's first and last day (the last defaults to the first), or the problem beside its field."""
    try:
        first = parse_day(request.form.get("first", ""))
    except TimeInputError as error:
        raise _FieldProblem("first", error) from None
    try:
        last = parse_day(request.form["last"]) if request.form.get("last", "").strip() else first
    except TimeInputError as error:
        raise _FieldProblem("last", error) from None
    return first, last


class _FieldProblem(Exception):
    def __init__(self, field: str, error: RefectoryError) -> None:
        super().__init__(field)
        self.field, self.error = field, error


@bp.route("/settings/calendar/<action>", methods=["POST"])
@allowed(MANAGER)
def change_calendar(action: str):
    if action not in ("close", "reopen"):
        return redirect(url_for("backoffice.calendar"))
    manager_id, at = current_manager().manager_id, now()
    try:
        first, last = _dates()
        with request_writing() as conn:
            if action == "close":
                count = reservations.close_days(conn, first, last, request.form.get("reason", ""),
                                                today=service_date(at))
            else:
                count = reservations.reopen_days(conn, first, last, today=service_date(at))
            audit.record(conn, manager_id, f"calendar.{action}", f"{first}..{last}", at,
                         request.form.get("reason", "") if action == "close" else "")
    except _FieldProblem as problem:
        return _calendar_page(_year(), {f"{action}.{problem.field}": problem.error.render(_)},
                              {f"{action}.{k}": v for k, v in request.form.items()})
    except reservations.CalendarError as error:
        field = next((f for f, word in (("reason", "reason"), ("last", "period")) if word in error.message.template),
                     "first")
        return _calendar_page(_year(), {f"{action}.{field}": error.render(_)},
                              {f"{action}.{k}": v for k, v in request.form.items()})
    flash(ngettext("{count} day closed.", "{count} days closed.", count).format(count=count) if action == "close"
          else ngettext("{count} day reopened.", "{count} days reopened.", count).format(count=count))
    return redirect(url_for("backoffice.calendar", year=first.year))
