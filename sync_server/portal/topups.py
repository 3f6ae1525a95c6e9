"""Topping up a child's account from the portal: Twint or card first, then the Swiss QR-bill.

Most families top up from a phone, where Twint is the usual way to pay and a QR-bill PDF is awkward
(the phone that shows it cannot scan it): the page leads with the online payment form
(`payments`), then the automatic top-up, then the QR-bill for e-banking and standing orders. The
bill carries the child's own payment reference, which never changes, so a parent can also set up
a standing order with it; the credit lands when the manager imports the bank's file.
"""

from __future__ import annotations

from io import BytesIO

from flask import abort, current_app, render_template, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.utils import secure_filename

from domain.money import AmountError
from domain.references import grouped
from sync_server.admin.canteen_settings import current_settings
from sync_server.mail import outbox
from sync_server.money import automatic_topups, datatrans
from sync_server.money.bank_import import payment_reference
from sync_server.money.qr_bills import Creditor, QrBillError, qr_bill_mail, qr_bill_pdf
from sync_server.portal import bp, canteen, current_language
from sync_server.portal.automatic import offered
from sync_server.portal.forms import QrBillForm
from sync_server.portal.pages import child_or_404
from sync_server.portal.payments import (
    METHODS_SHOWN,
    PaymentForm,
    account_or_none,
    provider_form_allowed,
    published_terms,
)
from sync_server.web.request_services import now, request_reading, request_writing


def _creditor() -> tuple[Creditor | None, str | None]:
    try:
        return Creditor.from_config(current_app.config), None
    except QrBillError as error:
        current_app.logger.error("QR-bills are not configured: %s", error.render(lambda text: text))
        return None, _("Paying by e-banking is not available yet: please contact the canteen.")


def _page(pupil_id: str, form: QrBillForm, problem: str | None = None, status: int = 200):
    account = account_or_none(quiet=True)  # a canteen may offer the QR-bill alone
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        terms = published_terms(conn) if account is not None else None
        setting = automatic_topups.setting_of(conn, pupil_id)
    creditor, unavailable = _creditor()
    reference = None
    if creditor is not None:
        with request_writing() as conn:  # the child's number is given on first use, then kept for good
            reference = grouped(payment_reference(conn, pupil_id, qr_iban=creditor.is_qr_iban))
    return provider_form_allowed(current_app.make_response((render_template(
        "portal/topup.html", child=child, form=form, creditor=creditor, reference=reference, settings=settings,
        qr_unavailable=unavailable, problem=problem, email=current_user.family.email,
        pay_form=PaymentForm(formdata=None), terms=terms, methods=METHODS_SHOWN, problems={},
        pay_available=account is not None and terms is not None, automatic_offered=offered(), setting=setting,
        method_names=datatrans.METHODS), status)), account)


@bp.route("/children/<pupil_id>/topup")
@login_required
def topup(pupil_id: str):
    return _page(pupil_id, QrBillForm())


@bp.route("/children/<pupil_id>/qr-bill", methods=["POST"])
@login_required
def qr_bill(pupil_id: str):
    form = QrBillForm()
    if not form.validate_on_submit():
        abort(400, _("This form is incomplete; reload the page and try again."))
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
    amount = None
    if (form.amount.data or "").strip():
        try:
            amount = settings.topup_from(form.amount.data)
        except AmountError as error:
            form.amount.errors = [error.render(_)]
            return _page(pupil_id, form, status=422)
    creditor, _unavailable = _creditor()
    if creditor is None:
        return _page(pupil_id, form, status=503)
    family = current_user.family
    stem = _("qr-bill")  # the file's name: ASCII letters only, as every mail program shows them
    filename = secure_filename(f"{stem}-{child.first_name}.pdf")
    try:
        with request_writing() as conn:
            pdf = qr_bill_pdf(conn, creditor, pupil_id, amount, current_language())
            if family.email:
                subject, body = qr_bill_mail(child, amount, family.language, canteen(current_app.config))
                outbox.enqueue(conn, family.email, subject, body, now(),
                             [outbox.Attachment(filename, "application/pdf", pdf)])
    except QrBillError as error:
        current_app.logger.error("QR-bill for %s refused: %s", pupil_id, error.render(lambda text: text))
        return _page(pupil_id, form, error.render(_), 503)
    current_app.logger.info("family %s made a QR-bill for %s (%s)", family.family_id, pupil_id, amount)
    return send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=True, download_name=filename)
