"""The refund queue: approve (the account goes on hold), see which kiosks the payout still waits
for, mark paid (with a pain.001 file for the e-banking if wanted), or refuse with a reason.

The payout itself follows the kiosks' heartbeats, an approval, or a kiosk's revocation
(sync_server.refund_fence); this page only reads."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from domain.messages import RefectoryError
from domain.money import format_chf
from sync_server.admin import audit
from sync_server.admin.managers import ACCOUNTANT, MANAGER
from sync_server.backoffice import allowed, at_most, bp, current_manager, form_problems
from sync_server.money import refund_fence, refunds
from sync_server.web.request_services import mail_details, now, request_reading, request_writing

RECENT = 20  # closed requests shown under the open ones


class ActionForm(FlaskForm):
    """Approve, mark paid, export: a button and its CSRF token."""


class RefuseForm(FlaskForm):
    reason = TextAreaField(_l("Reason, for the family"),
                           validators=[DataRequired(_l("Give the family the reason for the refusal.")),
                                       at_most(refunds.MAX_REASON_LENGTH)])


@bp.route("/refunds")
@allowed(MANAGER, ACCOUNTANT)
def refunds_queue():
    with request_reading() as conn:
        queue = {status: refunds.with_status(conn, status) for status in refunds.OPEN}
        states = refund_fence.active_kiosks(conn)
        waiting = {r.request_id: refund_fence.missing(r, states) for r in queue[refunds.Status.APPROVED]}
        recent = refunds.with_status(conn, refunds.Status.PAID, refunds.Status.CLOSED, refunds.Status.REFUSED,
                                     limit=RECENT, newest_first=True)
    return render_template("backoffice/refunds.html", queue=queue, waiting=waiting, recent=recent,
                           Status=refunds.Status)


def _step(request_id: int, action: str, done: str, act):
    """One step on one request (`act(conn, manager_id)`), in one transaction with its audit entry,
    back to the queue."""
    manager_id = current_manager().manager_id
    try:
        with request_writing() as conn:
            request = act(conn, manager_id)
            audit.record(conn, manager_id, action, f"refund {request_id}", now(),
                         f"{request.pupil_id}: {request.status}" + (f", {format_chf(request.amount_cents)}"
                                                                    if request.amount_cents else "")
                         + (f"; {request.refusal_reason}" if request.refusal_reason else ""))
    except RefectoryError as error:
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.refunds_queue"))
    current_app.logger.info("manager %s: refund %s of %s is now %s", manager_id, request_id, request.pupil_id,
                            request.status)
    flash(done.format(number=request_id, name=request.first_name))
    return redirect(url_for("backoffice.refunds_queue"))


@bp.route("/refunds/<int:request_id>/approve", methods=["POST"])
@allowed(MANAGER)
def approve_refund(request_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)

    def act(conn, manager_id):
        approved = refunds.approve(conn, request_id, manager_id, now(), **mail_details())
        released = refund_fence.release_due(conn, now(), **mail_details())  # no active kiosk: nothing to wait for
        return next((r for r in released if r.request_id == request_id), approved)

    return _step(request_id, "refund.approve", _("Request no. {number} approved: the account of {name} is on hold."),
                 act)


@bp.route("/refunds/<int:request_id>/refuse", methods=["POST"])
@allowed(MANAGER)
def refuse_refund(request_id: int):
    form = RefuseForm()
    if not form.validate_on_submit():
        flash(form_problems(form), "problem")
        return redirect(url_for("backoffice.refunds_queue"))
    return _step(request_id, "refund.refuse", _("Request no. {number} refused; the family is told why."),
                 lambda conn, manager_id: refunds.refuse(conn, request_id, manager_id, form.reason.data, now(),
                                                         **mail_details()))


@bp.route("/refunds/<int:request_id>/paid", methods=["POST"])
@allowed(MANAGER)
def refund_paid(request_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    return _step(request_id, "refund.paid", _("Request no. {number} marked paid."),
                 lambda conn, manager_id: refunds.mark_paid(conn, request_id, manager_id, now(), **mail_details()))


@bp.route("/refunds/payments.xml", methods=["POST"])
@allowed(MANAGER)
def refunds_file():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with request_writing() as conn:
            document, due = refunds.payment_file(conn, current_app.config, now())
            audit.record(conn, current_manager().manager_id, "refund.export", "pain.001", now(),
                         ", ".join(f"refund {r.request_id} {format_chf(r.amount_cents)}" for r in due))
    except RefectoryError as error:
        current_app.logger.warning("pain.001 export refused: %s", error.render())
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.refunds_queue"))
    current_app.logger.info("manager %s exported refunds %s as pain.001", current_manager().manager_id,
                            [r.request_id for r in due])
    return Response(document, mimetype="application/xml", headers={
        "Content-Disposition": f"attachment; filename=refunds-{now():%Y%m%d-%H%M}.xml"})
