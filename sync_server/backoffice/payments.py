"""Online payments in the back office: every payment families started, newest first, with what
became of it; a pending one can be asked of the provider again (a webhook that never came)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from domain.messages import N_
from domain.money import format_chf
from sync_server.admin import audit
from sync_server.admin.managers import ACCOUNTANT, MANAGER
from sync_server.backoffice import allowed, bp, current_manager
from sync_server.money import datatrans, online_payments
from sync_server.web.request_services import mail_details, now, request_reading, request_writing

STATUS_NAMES = {  # msgids, translated where shown
    online_payments.PaymentStatus.PENDING: N_("Not confirmed yet"),
    online_payments.PaymentStatus.PAID: N_("Paid and credited"),
    online_payments.PaymentStatus.DECLINED: N_("Declined"),
    online_payments.PaymentStatus.CANCELLED: N_("Cancelled by the family"),
    online_payments.PaymentStatus.REVIEW: N_("To check: another amount was settled"),
}


@bp.route("/payments")
@allowed(MANAGER, ACCOUNTANT)
def payments():
    shown = request.args.get("status", "")
    status = online_payments.PaymentStatus(shown) if shown in {s.value for s in online_payments.PaymentStatus} else None
    with request_reading() as conn:
        listed = online_payments.recent(conn, status=status)
    return render_template("backoffice/payments.html", payments=listed, shown=shown, form=FlaskForm(),
                           methods=datatrans.METHODS,
                           status_names={key: _(name) for key, name in STATUS_NAMES.items()})


def _posted_payment(reference: str) -> online_payments.Payment:
    """The payment a manager's button names (400 without the form's token, 404 if unknown)."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    with request_reading() as conn:
        payment = online_payments.find(conn, reference[:40])
    if payment is None:
        abort(404)
    return payment


@bp.route("/payments/<reference>/refresh", methods=["POST"])
@allowed(MANAGER)
def refresh_payment(reference: str):
    payment = _posted_payment(reference)
    try:
        told = datatrans.fetch_status(datatrans.Account.from_config(current_app.config), payment.transaction_id)
        with request_writing() as conn:
            updated = online_payments.apply(conn, told, now(), **mail_details()) or payment
            audit.record(conn, current_manager().manager_id, "payment.ask", reference, now(),
                         f"Datatrans: {told.status}; ours: {updated.status}")
    except datatrans.DatatransError as error:
        current_app.logger.error("status of payment %s not fetched: %s", reference, error.render(lambda text: text))
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.payments"))
    except datatrans.NotConfigured as error:
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.payments"))
    current_app.logger.info("manager %s asked the provider about %s: %s (%s)", current_manager().manager_id,
                            reference, updated.status, told.status)
    flash(_("{reference}: {status} ({amount}).").format(reference=reference, status=_(STATUS_NAMES[updated.status]),
                                                       amount=format_chf(updated.amount_cents)))
    return redirect(url_for("backoffice.payments"))


@bp.route("/payments/<reference>/credit-settled", methods=["POST"])
@allowed(MANAGER)
def credit_settled(reference: str):
    """For a payment held for review: credit what Datatrans settled, once the manager has checked it."""
    payment = _posted_payment(reference)
    try:
        told = datatrans.fetch_status(datatrans.Account.from_config(current_app.config), payment.transaction_id)
        with request_writing() as conn:
            credited = online_payments.credit_settled(conn, told, current_manager().manager_id, now(),
                                                      **mail_details())
            audit.record(conn, current_manager().manager_id, "payment.credit_settled", reference, now(),
                         f"{format_chf(credited.amount_cents)} to {credited.pupil_id}"
                         f" (asked {format_chf(payment.amount_cents)})")
    except (datatrans.DatatransError, datatrans.NotConfigured, online_payments.PaymentError) as error:
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.payments"))
    current_app.logger.info("manager %s credited the settled %s of payment %s (asked %s)", current_manager().manager_id,
                            credited.amount_cents, reference, payment.amount_cents)
    flash(_("{reference}: {amount} credited to {name}.").format(reference=reference, name=credited.first_name,
                                                                amount=format_chf(credited.amount_cents)))
    return redirect(url_for("backoffice.payments"))
