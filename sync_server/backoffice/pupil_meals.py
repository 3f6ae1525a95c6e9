"""A pupil's meals in the back office: the manager books or cancels for a family that phoned or wrote
(the portal's deadlines, unless the manager gives a reason to go past them: recorded), and excludes
the pupil (an account hold with the committee's reason, refused at every kiosk after its sync and
shown to the family) or lifts the exclusion."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired

from domain.agenda import first_week_shown
from domain.clock import service_date
from domain.meals import ReservationKind
from domain.messages import RefectoryError
from sync_server.admin import audit
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.managers import MANAGER
from sync_server.backoffice import allowed, at_most, bp, current_manager, form_problems
from sync_server.families import exclusions, reservations
from sync_server.web.request_services import day_asked, mail_details, now, request_reading, request_writing


class MealForm(FlaskForm):
    day = HiddenField(validators=[DataRequired()])
    choice = HiddenField(validators=[AnyOf(["normal", "special", "none"])])
    override = StringField(validators=[at_most(reservations.MAX_REASON)])


class ExclusionForm(FlaskForm):
    reason = StringField(validators=[at_most(exclusions.MAX_REASON)])


def _pupil_or_404(conn, pupil_id: str):
    try:
        return reservations.pupil_to_book(conn, pupil_id[:64])
    except reservations.UnknownPupilError:
        abort(404)
    except RefectoryError as error:
        abort(409, error.render(_))


@bp.route("/pupils/<pupil_id>/meals")
@allowed(MANAGER)
def pupil_meals(pupil_id: str):
    text = request.args.get("week", "")
    day = day_asked(text) if text else first_week_shown(service_date(now()))
    with request_reading() as conn:
        settings = current_settings(conn)
        pupil = _pupil_or_404(conn, pupil_id)
        week = reservations.week(conn, pupil.pupil_id, day, settings)
        exclusion = exclusions.of_pupils(conn, [pupil.pupil_id]).get(pupil.pupil_id)
    return render_template("backoffice/pupil_meals.html", pupil=pupil, week=week, settings=settings,
                           exclusion=exclusion, now=now(), max_reason=reservations.MAX_REASON,
                           max_exclusion=exclusions.MAX_REASON)


@bp.route("/pupils/<pupil_id>/meals", methods=["POST"])
@allowed(MANAGER)
def book_pupil_meal(pupil_id: str):
    form = MealForm()
    if not form.validate_on_submit():
        abort(400, form_problems(form) or _("This reservation request is incomplete; reload the page and try again."))
    day = day_asked(form.day.data)
    kind = None if form.choice.data == "none" else ReservationKind(form.choice.data)
    back = redirect(url_for("backoffice.pupil_meals", pupil_id=pupil_id, week=day.isoformat()))
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            settings = current_settings(conn)
            done = reservations.change_for_pupil(conn, pupil_id[:64], day, kind, now(), override=form.override.data,
                                                 settings=settings, **mail_details())
            if done.before != done.after:
                action, subject, detail = reservations.audit_entry(done, form.override.data)
                audit.record(conn, manager_id, action, subject, now(), detail)
    except reservations.UnknownPupilError:
        abort(404)
    except RefectoryError as error:
        flash(error.render(_) + (" " + _("To go past the deadline, give the reason in the field beside the button.")
                                 if error.code == "deadline_passed" else ""), "problem")
        return back
    if done.before != done.after:
        flash(_("Reservation cancelled.") if kind is None else _("Reservation recorded."))
    return back


@bp.route("/pupils/<pupil_id>/exclusion", methods=["POST"])
@allowed(MANAGER)
def exclude_pupil(pupil_id: str):
    form = ExclusionForm()
    back = redirect(url_for("backoffice.pupil_meals", pupil_id=pupil_id))
    if not form.validate_on_submit():
        flash(form_problems(form) or _("Give the reason for the exclusion."), "problem")
        return back
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            done = exclusions.exclude(conn, pupil_id[:64], form.reason.data, now())
            audit.record(conn, manager_id, "exclusion.set", done.pupil_id, now(), done.reason)
    except RefectoryError as error:
        flash(error.render(_), "problem")
        return back
    flash(_("Excluded: the kiosks refuse the pupil's meals from their next sync, with this reason."))
    return back


@bp.route("/pupils/<pupil_id>/exclusion/lift", methods=["POST"])
@allowed(MANAGER)
def lift_exclusion(pupil_id: str):
    if not FlaskForm().validate_on_submit():
        abort(400)
    back = redirect(url_for("backoffice.pupil_meals", pupil_id=pupil_id))
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            done = exclusions.lift(conn, pupil_id[:64], now())
            audit.record(conn, manager_id, "exclusion.lift", done.pupil_id, now(), done.reason)
    except RefectoryError as error:
        flash(error.render(_), "problem")
        return back
    flash(_("Exclusion lifted: the kiosks serve the pupil again from their next sync."))
    return back
