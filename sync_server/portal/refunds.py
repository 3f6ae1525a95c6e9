"""Asking for a refund of a child's balance, and following the request (sync_server.refunds)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from sync_server.money import refunds
from sync_server.portal import bp
from sync_server.portal.pages import child_or_404
from sync_server.web.request_services import mail_details, now, request_reading, request_writing


class RefundForm(FlaskForm):
    iban = StringField(_l("IBAN of the account to refund"), validators=[Length(max=50)])
    holder = StringField(_l("Account holder (first and last name)"),
                         validators=[Length(max=refunds.MAX_HOLDER_LENGTH)])
    confirm = BooleanField(_l("I ask for the whole balance to be refunded to this account. Until the refund is"
                              " booked, the account is on hold and my child cannot take meals with it."),
                           validators=[DataRequired(_l("Tick the box to confirm the request."))])


def _page(pupil_id: str, form: RefundForm, status: int = 200):
    with request_reading() as conn:
        child = child_or_404(conn, pupil_id)
        requests = refunds.of_child(conn, current_user.family_id, pupil_id)
    can_ask = child.balance_cents > 0 and not any(r.status in refunds.OPEN for r in requests)
    return render_template("portal/refund.html", child=child, form=form, requests=requests, can_ask=can_ask), status


@bp.route("/children/<pupil_id>/refund")
@login_required
def refund(pupil_id: str):
    return _page(pupil_id, RefundForm())


@bp.route("/children/<pupil_id>/refund", methods=["POST"])
@login_required
def ask_refund(pupil_id: str):
    form = RefundForm()
    with request_reading() as conn:
        child_or_404(conn, pupil_id)  # another family's child: 404 before anything else is said
    valid = form.validate_on_submit()
    for field, check in ((form.iban, refunds.normalise_iban), (form.holder, refunds.check_holder)):
        try:
            check(field.data)
        except refunds.RefundError as error:
            field.errors = [*field.errors, error.render(_)]
            valid = False
    if not valid:
        return _page(pupil_id, form, 422)
    try:
        with request_writing() as conn:
            request = refunds.ask(conn, current_user.family_id, pupil_id, form.iban.data, form.holder.data, now(),
                                  **mail_details())
    except refunds.RefundError as error:  # nothing to refund, or a request already open
        current_app.logger.info("refund request for %s refused: %s", pupil_id, error.render())
        flash(error.render(_), "problem")
        return _page(pupil_id, form, 422)
    current_app.logger.info("family %s asked refund %s for %s", current_user.family_id, request.request_id,
                            pupil_id)
    flash(_("Your request is recorded. The canteen checks it and writes to you."))
    return redirect(url_for("portal.refund", pupil_id=pupil_id))
