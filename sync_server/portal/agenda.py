"""The reservation agenda: a child's week, Monday to Friday, and a click to book or cancel."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from domain.agenda import ReservationRuleError
from domain.clock import service_date
from domain.meals import ReservationKind

from .. import reservations
from ..admin import current_settings
from ..db import reading, writing
from ..letters import contact_line
from . import bp, canteen
from .auth import engine, now
from .forms import ReservationForm
from .pages import child_or_404, day_asked, week_asked


def _render(pupil_id: str, day: date, problem: str | None = None, status: int = 200):
    with reading(engine()) as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        week = reservations.week(conn, pupil_id, day, settings)
    return render_template("portal/agenda.html", child=child, week=week, settings=settings, problem=problem,
                           today=service_date(now())), status


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
        problem = error.render(_) + (" " + _("To change it now, contact the canteen: {contact}.").format(
            contact=contact) if contact else "")
        return _render(pupil_id, day, problem, 409)
    if done.before != done.after:
        flash(_("Reservation cancelled.") if kind is None else _("Reservation recorded."))
    return redirect(url_for("portal.agenda", pupil_id=pupil_id, week=day.isoformat()))
