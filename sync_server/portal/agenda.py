"""The reservation agenda: a child's week, Monday to Friday, and a click to book or cancel.

A click is a plain form post answered by a redirect to the week; with scripts on, `portal.js`
sends it with `X-Requested-With: fetch` and swaps in the one day the answer holds, so the parent
stays where they were on the page.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from domain.agenda import ReservationRuleError
from domain.clock import service_date
from domain.meals import ReservationKind
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import writing
from sync_server.families import reservations
from sync_server.families.letters import contact_line
from sync_server.portal import bp, canteen, current_language, page_translations
from sync_server.portal.forms import ReservationForm
from sync_server.portal.pages import child_or_404, week_asked
from sync_server.web.request_services import day_asked, engine, error_text, now, request_reading


@cache
def _words(language: str) -> dict[str, str]:
    """The words repeated on each day, translated once per language."""
    _ = page_translations(language).gettext
    return {"special": _("Special meal reserved"), "normal": _("Normal meal reserved"), "none": _("No reservation"),
            "book_normal": _("Reserve a normal meal"), "book_special": _("Reserve a special meal"),
            "cancel": _("Cancel the reservation"), "no_service": _("No meal service"),
            "deadlines": _("Normal meal: until {normal}. Special meal: until {special}."),
            "closed": _("Closed: {reason}")}


def _render(pupil_id: str, day: date, problem: str | None = None, status: int = 200):
    """The week of `day`, or only `day` itself when the click came from `portal.js`."""
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        week = reservations.week(conn, pupil_id, day, settings)
    today = service_date(now())
    if _in_place():
        entry = next((entry for entry in week if entry.day == day), None)
        if entry is None:  # a weekend day: never on the page, so never clicked there
            abort(400, problem)
        return _day_only(entry, problem=problem), status
    return render_template("portal/agenda.html", child=child, week=week, settings=settings, problem=problem,
                           t=_words(current_language()), today=today), status


def _day_only(entry, notice: str | None = None, problem: str | None = None) -> str:
    return render_template("portal/agenda_day_only.html", entry=entry, t=_words(current_language()),
                           today=service_date(now()), notice=notice, problem=problem)


def _in_place() -> bool:
    return request.method == "POST" and request.headers.get("X-Requested-With") == "fetch"


@bp.route("/children/<pupil_id>/agenda")
@login_required
def agenda(pupil_id: str):
    return _render(pupil_id, week_asked())


@bp.route("/children/<pupil_id>/agenda", methods=["POST"])
@login_required
def reserve(pupil_id: str):
    form = ReservationForm()
    if not form.validate_on_submit():
        abort(400, _("This reservation request is incomplete; reload the agenda and try again."))
    day = day_asked(form.day.data[:40])
    kind = None if form.choice.data == "none" else ReservationKind(form.choice.data)
    try:
        with writing(engine()) as conn:
            settings = current_settings(conn)
            child = child_or_404(conn, pupil_id, settings)
            done = reservations.change(conn, current_user.family, child, day, kind, now(), settings=settings,
                                       portal_url=current_app.config["PORTAL_URL"],
                                       canteen=canteen(current_app.config))
    except ReservationRuleError as error:
        contact = contact_line(current_app.config["CANTEEN_PHONE"], current_app.config["CANTEEN_EMAIL"])
        problem = error_text(error) + (" " + _("To change it now, contact the canteen: {contact}.").format(
            contact=contact) if contact else "")
        return _render(pupil_id, day, problem, 409)
    notice = None
    if done.before != done.after:
        notice = _("Reservation cancelled.") if kind is None else _("Reservation recorded.")
    if _in_place():
        return _day_only(done.agenda_day, notice=notice)
    if notice:
        flash(notice)
    return redirect(url_for("portal.agenda", pupil_id=pupil_id, week=day.isoformat()))
