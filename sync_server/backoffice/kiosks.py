"""The kiosks page (`/manage/kiosks`): each kiosk's health and the refunds an offline one holds
back; an enrollment code (shown once, on the page that made it), for a school in a city of
several; revocation after a confirmation page. The same service functions as `refectory server
kiosks|kiosk-code|kiosk-revoke` (`sync_server.fleet`)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Regexp

from domain.messages import RefectoryError
from sync_server import fleet
from sync_server.admin.errors import FieldErrors
from sync_server.admin.managers import MANAGER
from sync_server.admin.schools import known_schools
from sync_server.backoffice import allowed, bp, current_manager, form_problems
from sync_server.web.request_services import mail_details, now, request_reading, request_writing


class CodeForm(FlaskForm):
    kiosk_id = StringField(_l("Kiosk id"), validators=[
        DataRequired(_l("Give the kiosk's id.")),
        Regexp(r"^[A-Za-z0-9_\-]{1,32}$", message=_l("A kiosk id is 1 to 32 letters, digits, '_' or '-'."))])
    school = StringField(_l("School (optional)"))
    new_school = BooleanField(_l("This is a new school"))


class ConfirmForm(FlaskForm):
    """The revocation's button and its CSRF token."""


def _page(form: CodeForm, code: tuple[str, str] | None = None, status: int = 200, school_error: str = "",
          prefill: str = ""):
    """The page; `prefill` names a kiosk whose id and school fill the code form (a new machine for it)."""
    with request_reading() as conn:
        found = fleet.overview(conn, now())
        schools = known_schools(conn)
    if prefill:
        known = next((kiosk for kiosk in found if kiosk.kiosk_id == prefill), None)
        form.kiosk_id.data, form.school.data = prefill, known.school if known else ""
    return render_template("backoffice/kiosks.html", kiosks=found, form=form, code=code, duration=_duration,
                           schools=schools, uses_schools=bool(schools), school_error=school_error,
                           error_said=lambda kiosk: kiosk.error_said(_),
                           offline_minutes=int(fleet.OFFLINE_AFTER.total_seconds() // 60)), status


def _duration(span: timedelta) -> str:
    """"3 d 4 h", "2 h 5 min", "12 min": how long a kiosk has been silent, at a glance."""
    minutes = int(span.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


@bp.route("/kiosks")
@allowed(MANAGER)
def kiosks():
    """`?kiosk_id=K1` fills the code form for a new machine of kiosk K1, with its school."""
    return _page(CodeForm(formdata=None), prefill=request.args.get("kiosk_id", "")[:32])


@bp.route("/kiosks/code", methods=["POST"])
@allowed(MANAGER)
def kiosk_code():
    """The code is shown on this answer only: the server keeps its hash."""
    form = CodeForm()
    if not form.validate_on_submit():
        flash(form_problems(form), "problem")
        return _page(form, status=422)
    kiosk_id, school = form.kiosk_id.data, form.school.data or ""
    try:
        with request_writing() as conn:
            code = fleet.issue_code(conn, kiosk_id, current_manager().manager_id, now(), school,
                                    new_school=form.new_school.data)
    except FieldErrors as error:
        return _page(form, status=422, school_error=error.problems["school"].render(_))
    except RefectoryError as error:  # a kiosk that has synced keeps its school
        return _page(form, status=422, school_error=error.render(_))
    current_app.logger.info("manager %s issued an enrollment code for kiosk %s (school %s)",
                            current_manager().manager_id, kiosk_id, school.strip() or "-")
    return _page(CodeForm(formdata=None), code=(kiosk_id, code))


def _kiosk(kiosk_id: str) -> fleet.KioskHealth:
    with request_reading() as conn:
        found = next((k for k in fleet.overview(conn, now()) if k.kiosk_id == kiosk_id[:40]), None)
    if found is None:
        abort(404)
    return found


@bp.route("/kiosks/<kiosk_id>/revoke")
@allowed(MANAGER)
def confirm_revoke(kiosk_id: str):
    return render_template("backoffice/kiosks_revoke.html", kiosk=_kiosk(kiosk_id), form=ConfirmForm())


@bp.route("/kiosks/<kiosk_id>/revoke", methods=["POST"])
@allowed(MANAGER)
def revoke_kiosk(kiosk_id: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    kiosk_id = _kiosk(kiosk_id).kiosk_id
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            revoked = fleet.revoke(conn, kiosk_id, manager_id, now(), **mail_details())
    except RefectoryError as error:
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.kiosks"))
    if revoked.new:
        current_app.logger.info("manager %s revoked kiosk %s; refunds booked: %s", manager_id, kiosk_id,
                                [r.request_id for r in revoked.released])
        flash(_("Kiosk {kiosk_id} revoked: it can no longer sync; enroll it again with a new code to use it.")
              .format(kiosk_id=kiosk_id))
        if revoked.released:
            flash(_("Refunds booked now that it is no longer waited for: {count}.").format(
                count=len(revoked.released)))
        if revoked.settled:
            flash(_("Transfers between siblings settled now that it is no longer waited for: {count}.").format(
                count=len(revoked.settled)))
    else:
        flash(_("Kiosk {kiosk_id} was already revoked; nothing changed.").format(kiosk_id=kiosk_id))
    return redirect(url_for("backoffice.kiosks"))
