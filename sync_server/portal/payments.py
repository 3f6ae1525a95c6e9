"""Paying online from the portal (Visa, Mastercard, PostFinance Card, Twint through Datatrans).

The family picks the child, the amount and the method and accepts the published terms; the
provider opens a transaction and the browser goes to its payment page. When the family comes back,
the page asks the provider what became of the payment rather than trusting the return address;
the provider's signed webhook says the same on its own. Either way the credit is made once
(`sync_server.online_payments.apply`). The webhook is not a family page: no session, no CSRF
token, only the signature.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from domain.money import AmountError
from sync_server.admin.canteen_settings import current_settings
from sync_server.families import documents
from sync_server.money import automatic_topups, datatrans, online_payments
from sync_server.portal import CSP, bp, current_language
from sync_server.portal.pages import child_or_404
from sync_server.web.protection import csrf
from sync_server.web.request_services import mail_details, now, request_reading, request_writing


class PaymentForm(FlaskForm):
    amount = StringField(_l("Amount in CHF"))  # checked by Settings.topup_from
    method = StringField(validators=[Length(max=3)])
    terms = BooleanField()


# Twint first: the usual way to pay from a phone in Switzerland.
METHODS_SHOWN = {code: datatrans.METHODS[code] for code in ("TWI", "VIS", "ECA", "PFC")}


def unreachable_problem() -> str:
    return _("The payment service cannot be reached just now; nothing was charged. Try again in a few minutes.")


def account_or_none(*, quiet: bool = False) -> datatrans.Account | None:
    """The merchant account; None (logged unless `quiet`) when online payment is not configured."""
    try:
        return datatrans.Account.from_config(current_app.config)
    except datatrans.NotConfigured as error:
        if not quiet:
            current_app.logger.error("online payment is not configured: %s", error.render(lambda text: text))
        return None


def published_terms(conn) -> documents.Document | None:
    number = documents.terms_number(current_app.config)
    found = documents.find(conn, number) if number is not None else None
    if found is None:
        current_app.logger.error("online payment needs its terms: PAYMENT_TERMS_DOCUMENT=%r is no published document",
                                 current_app.config.get("PAYMENT_TERMS_DOCUMENT"))
    return found


def _page(pupil_id: str, form: PaymentForm, problems: dict | None = None, status: int = 200,
          problem: str | None = None):
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        terms = published_terms(conn)
    account = account_or_none()
    available = account is not None and terms is not None
    if not available:
        problem = _("Online payment is not available yet: please contact the canteen, or pay by e-banking.")
    return provider_form_allowed(current_app.make_response((render_template(
        "portal/payment.html", child=child, form=form, settings=settings, terms=terms, available=available,
        methods=METHODS_SHOWN, problems=problems or {}, problem=problem), status)), account)


def provider_form_allowed(response, account: datatrans.Account | None):
    """A page with a payment form: its answer is a redirect to the provider's page, which the
    page's Content-Security-Policy must allow (Chromium enforces `form-action` on redirects)."""
    if account is not None:
        pay = urlsplit(account.pay_url)
        response.headers["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {pay.scheme}://{pay.netloc}")
    return response


def payment_problems(form, settings) -> tuple[dict, int | None]:
    """What is wrong with a payment form (amount, method, terms), by field; and the amount."""
    problems, amount = {}, None
    typed = (form.amount.data or "").strip()
    try:
        if not typed:
            problems["amount"] = _("Enter the amount to pay.")
        else:
            amount = settings.topup_from(typed)
    except AmountError as error:
        problems["amount"] = error.render(_)
    if form.method.data not in datatrans.METHODS:
        problems["method"] = _("Choose how you pay: Visa, Mastercard, PostFinance Card or Twint.")
    if not form.terms.data:
        problems["terms"] = _("Accept the terms of online payment to go on.")
    return problems, amount


def open_payment(account: datatrans.Account, child, terms: documents.Document, amount: int, method: str,
                 automatic: tuple[int, int] | None = None):
    """Open the payment on the provider and keep it; the redirect to the provider's page, or None
    when the provider cannot be reached (nothing was recorded, nothing charged). With `automatic`
    (threshold, amount), the provider is asked for an alias of what pays, for automatic top-ups."""
    reference = online_payments.new_reference()
    base = current_app.config["PORTAL_URL"]
    try:
        transaction_id = datatrans.init_transaction(
            account, refno=reference, amount_cents=amount, method=method, language=current_language(),
            success_url=urljoin(base, url_for("portal.payment_return", reference=reference, outcome="success")),
            cancel_url=urljoin(base, url_for("portal.payment_return", reference=reference, outcome="cancel")),
            error_url=urljoin(base, url_for("portal.payment_return", reference=reference, outcome="error")),
            webhook_url=urljoin(base, url_for("portal.payment_webhook")), create_alias=automatic is not None)
    except datatrans.DatatransError as error:
        current_app.logger.error("payment %s for %s not opened: %s", reference, child.pupil_id,
                                 error.render(lambda text: text))
        return None
    with request_writing() as conn:
        online_payments.record(conn, reference=reference, transaction_id=transaction_id,
                               family_id=current_user.family_id, pupil_id=child.pupil_id, amount_cents=amount,
                               method=method, terms_document_id=terms.document_id, now=now(), automatic=automatic)
    current_app.logger.info("family %s opened payment %s (%s, %s) for %s%s", current_user.family_id, reference,
                            transaction_id, amount, child.pupil_id, " with automatic top-up" if automatic else "")
    return redirect(datatrans.payment_page_url(account, transaction_id), 303)


@bp.route("/children/<pupil_id>/pay")
@login_required
def pay(pupil_id: str):
    return _page(pupil_id, PaymentForm(formdata=None))


@bp.route("/children/<pupil_id>/pay", methods=["POST"])
@login_required
def start_payment(pupil_id: str):
    return submitted(pupil_id, PaymentForm(), _page)


def submitted(pupil_id: str, form, page, *, offered: bool = True, threshold_of=None):
    """A payment form sent: checked, then opened on the provider (the pay page's and the
    automatic top-up's). `threshold_of(form, settings, problems)` checks what registering an
    automatic top-up adds and gives its threshold; `page(pupil_id, form, problems, status,
    problem)` answers a form refused or a payment that cannot be opened."""
    if not form.validate_on_submit():
        abort(400, _("The form was sent incompletely or has expired: go back, reload the page and try again."))
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        terms = published_terms(conn)
    problems, amount = payment_problems(form, settings)
    threshold = threshold_of(form, settings, problems) if threshold_of else None
    if problems:
        return page(pupil_id, form, problems, 422)
    account = account_or_none() if offered else None
    if account is None or terms is None:
        return page(pupil_id, form, status=503)
    opened = open_payment(account, child, terms, amount, form.method.data,
                          automatic=(threshold, amount) if threshold_of else None)
    if opened is None:
        return page(pupil_id, form, status=502, problem=unreachable_problem())
    return opened


@bp.route("/payments/<reference>/<any(success, cancel, error):outcome>")
@login_required
def payment_return(reference: str, outcome: str):
    """Where the provider sends the family back. What the address says is only a hint: the
    provider's status API decides (and credits, if the webhook has not yet)."""
    with request_reading() as conn:
        payment = online_payments.family_payment(conn, current_user.family_id, reference)
    if payment is None:
        abort(404)
    account = account_or_none()
    if payment.status is online_payments.PaymentStatus.PENDING and account is not None:
        try:
            told = datatrans.fetch_status(account, payment.transaction_id)
            with request_writing() as conn:
                payment = online_payments.apply(conn, told, now(), **mail_details()) or payment
        except datatrans.DatatransError as error:
            current_app.logger.error("status of payment %s (%s) not fetched: %s", reference, payment.transaction_id,
                                     error.render(lambda text: text))
    current_app.logger.info("family %s back from payment %s (%s): %s", current_user.family_id, reference, outcome,
                            payment.status)
    return redirect(url_for("portal.payment_result", reference=reference), 303)


@bp.route("/payments/<reference>")
@login_required
def payment_result(reference: str):
    """The outcome in words (read after the credit is committed, so the balance includes it)."""
    with request_reading() as conn:
        payment = online_payments.family_payment(conn, current_user.family_id, reference)
        if payment is None:
            abort(404)
        child = child_or_404(conn, payment.pupil_id)
        registered = automatic_topups.setting_of(conn, payment.pupil_id) if payment.registers_automatic_topup else None
    return render_template("portal/payment_result.html", payment=payment, child=child, registered=registered,
                           method=datatrans.METHODS.get(payment.method, payment.method))


@bp.route("/payments/datatrans/webhook", methods=["POST"])
@csrf.exempt  # the provider's server calls it: the signature is its only credential
def payment_webhook():
    account = account_or_none()
    if account is None:
        return "online payment is not configured\n", 503, {"Content-Type": "text/plain"}
    try:
        told = datatrans.verified_webhook(account, request.headers.get(datatrans.SIGNATURE_HEADER),
                                          request.get_data(cache=False))
    except datatrans.BadSignature as error:
        current_app.logger.warning("webhook refused from %s: %s", request.remote_addr, error.render(lambda t: t))
        return "signature refused\n", 401, {"Content-Type": "text/plain"}
    except datatrans.DatatransError as error:
        current_app.logger.warning("webhook unreadable: %s", error.render(lambda text: text))
        return "unreadable\n", 400, {"Content-Type": "text/plain"}
    with request_writing() as conn:
        payment = online_payments.apply(conn, told, now(), **mail_details())
    if payment is None:
        current_app.logger.warning("webhook for unknown transaction %s (refno %r)", told.transaction_id, told.refno)
    else:
        current_app.logger.info("webhook: payment %s (%s) is %s (%s)", payment.reference, told.transaction_id,
                                payment.status, told.status)
    return "ok\n", 200, {"Content-Type": "text/plain"}
