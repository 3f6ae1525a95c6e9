"""A child's automatic top-up on the portal: see it, register a card or Twint, turn it off.

Registering is an ordinary online payment of the chosen amount that also asks the provider for an
alias of what paid (`payments.open_payment` with `automatic`); once the provider confirms it, the
alias is kept (`online_payments.apply`). The charges themselves are made by
`sync_server.money.automatic_charges`, never by a page.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from domain.money import AmountError
from sync_server.admin.canteen_settings import current_settings
from sync_server.money import automatic_topups, datatrans
from sync_server.portal import bp
from sync_server.portal.forms import ConfirmForm
from sync_server.portal.pages import child_or_404
from sync_server.portal.payments import (
    METHODS_SHOWN,
    account_or_none,
    provider_form_allowed,
    published_terms,
    submitted,
)
from sync_server.web.request_services import now, request_reading, request_writing


class AutomaticForm(FlaskForm):
    threshold = StringField(_l("When the balance falls below (CHF)"))  # checked by automatic_topups.threshold_from
    amount = StringField(_l("Top up by (CHF)"))
    method = StringField(validators=[Length(max=3)])
    terms = BooleanField()


def offered() -> bool:
    """Whether the canteen's payment account can save aliases (`DATATRANS_ALIASES`)."""
    return bool(current_app.config.get("DATATRANS_ALIASES"))


def _page(pupil_id: str, form: AutomaticForm, problems: dict | None = None, status: int = 200,
          problem: str | None = None):
    with request_reading() as conn:
        settings = current_settings(conn)
        child = child_or_404(conn, pupil_id, settings)
        terms = published_terms(conn)
        setting = automatic_topups.setting_of(conn, pupil_id)
        charges = automatic_topups.recent_charges(conn, pupil_id)
    account = account_or_none() if offered() else None
    available = account is not None and terms is not None
    if not available and setting is None:
        problem = _("Automatic top-up is not available: please contact the canteen, or top up by Twint, card or "
                    "e-banking.")
    return provider_form_allowed(current_app.make_response((render_template(
        "portal/automatic.html", child=child, form=form, off_form=ConfirmForm(), settings=settings, terms=terms,
        available=available, setting=setting, charges=charges, methods=METHODS_SHOWN,
        method_names=datatrans.METHODS, problems=problems or {}, problem=problem,
        email=current_user.family.email), status)), account)


@bp.route("/children/<pupil_id>/automatic")
@login_required
def automatic(pupil_id: str):
    return _page(pupil_id, AutomaticForm(formdata=None))


@bp.route("/children/<pupil_id>/automatic", methods=["POST"])
@login_required
def register_automatic(pupil_id: str):
    return submitted(pupil_id, AutomaticForm(), _page, offered=offered(), threshold_of=_threshold)


def _threshold(form: AutomaticForm, settings, problems: dict) -> int | None:
    typed = (form.threshold.data or "").strip()
    if not typed:
        problems["threshold"] = _("Enter the balance below which we top up.")
        return None
    try:
        return automatic_topups.threshold_from(typed, settings)
    except AmountError as error:
        problems["threshold"] = error.render(_)
        return None


@bp.route("/children/<pupil_id>/automatic/off", methods=["POST"])
@login_required
def automatic_off(pupil_id: str):
    if not ConfirmForm().validate_on_submit():
        abort(400, _("This form is incomplete; reload the page and try again."))
    with request_writing() as conn:
        child = child_or_404(conn, pupil_id)
        turned_off = automatic_topups.turn_off(conn, pupil_id, now())
        under_way = automatic_topups.attempt_under_way(conn, pupil_id)
    if turned_off:
        current_app.logger.info("family %s turned automatic top-up off for %s", current_user.family_id, pupil_id)
        if under_way:
            flash(_("Automatic top-up for {name} is off. A charge already sent to the payment service is being "
                    "confirmed: you will get an e-mail with its outcome, then your card or Twint is no longer "
                    "kept.").format(name=child.first_name))
        else:
            flash(_("Automatic top-up for {name} is off; your card or Twint is no longer kept.").format(
                name=child.first_name))
    return redirect(url_for("portal.automatic", pupil_id=pupil_id), 303)
