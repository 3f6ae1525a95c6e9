"""Moving money between a family's children (sync_server.money.sibling_transfers): the request,
its confirmation, then the result, which waits for the kiosks when one may still spend the money."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from domain.entries import new_entry_id
from domain.money import format_chf
from sync_server.families import accounts
from sync_server.money import sibling_transfers
from sync_server.portal import bp
from sync_server.web.request_services import mail_details, now, request_reading, request_writing


class TransferForm(FlaskForm):
    # Choices are the family's children; an id from elsewhere is refused by the service, in words.
    from_pupil = SelectField(_l("From the account of"), choices=[], validate_choice=False)
    to_pupil = SelectField(_l("To the account of"), choices=[], validate_choice=False)
    amount = StringField(_l("Amount in CHF"), validators=[Length(max=40)])
    transfer_id = HiddenField(validators=[Length(max=64)])  # given by the confirmation page: one transfer per click


def _children() -> list[tuple[accounts.Child, int]]:
    """Each child with what can be moved off its account now."""
    with request_reading() as conn:
        return [(child, sibling_transfers.movable(conn, child.pupil_id))
                for child in accounts.children(conn, current_user.family_id)]


def _form_page(form: TransferForm, status: int = 200, problem: str | None = None):
    children = _children()
    with request_reading() as conn:
        recent = sibling_transfers.of_family(conn, current_user.family_id)
    choices = [(child.pupil_id, _("{name} ({amount} can be moved)").format(
        name=child.first_name, amount=format_chf(movable))) for child, movable in children]
    form.from_pupil.choices = choices
    form.to_pupil.choices = [(child.pupil_id, child.first_name) for child, _movable in children]
    if not form.is_submitted() and len(children) >= 2:  # the first two by default, or what "Change" brings back
        form.from_pupil.data = request.args.get("from_pupil") or children[0][0].pupil_id
        form.to_pupil.data = request.args.get("to_pupil") or children[1][0].pupil_id
        form.amount.data = request.args.get("amount", "")[:40]
    return render_template("portal/transfer.html", form=form, children=children, recent=recent,
                           problem=problem), status


def _refused(form: TransferForm, error: sibling_transfers.TransferError):
    """The form again with the refusal beside its field (or above the form)."""
    field = getattr(form, error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.render(_)]
    return _form_page(form, 422, None if field is not None else error.render(_))


@bp.route("/transfer")
@login_required
def transfer():
    return _form_page(TransferForm())


@bp.route("/transfer", methods=["POST"])
@login_required
def review_transfer():
    """The request checked, nothing written yet: the page asks for confirmation."""
    form = TransferForm()
    if not form.validate_on_submit():
        abort(400, _("This form is incomplete; reload the page and try again."))
    try:
        with request_reading() as conn:
            checked = sibling_transfers.check(conn, current_user.family_id, form.from_pupil.data or "",
                                              form.to_pupil.data or "", form.amount.data or "")
    except sibling_transfers.TransferError as error:
        return _refused(form, error)
    form.transfer_id.data = new_entry_id()
    return render_template("portal/transfer_confirm.html", form=form, checked=checked)


@bp.route("/transfer/confirm", methods=["POST"])
@login_required
def confirm_transfer():
    form = TransferForm()
    if not form.validate_on_submit():
        abort(400, _("This form is incomplete; reload the page and try again."))
    try:
        with request_writing() as conn:
            done = sibling_transfers.ask(conn, current_user.family_id, form.from_pupil.data or "",
                                         form.to_pupil.data or "", form.amount.data or "", now(),
                                         **mail_details(),
                                         transfer_id=form.transfer_id.data or None)
    except sibling_transfers.TransferError as error:  # the balance moved since the confirmation page
        current_app.logger.info("transfer of family %s refused: %s", current_user.family_id, error.render())
        return _refused(form, error)
    current_app.logger.info("family %s moved %s from %s to %s: %s", current_user.family_id, done.amount_cents,
                            done.from_pupil, done.to_pupil, done.status)
    return redirect(url_for("portal.transfer_result", transfer_id=done.transfer_id))


@bp.route("/transfers/<transfer_id>")
@login_required
def transfer_result(transfer_id: str):
    try:
        with request_reading() as conn:
            done = sibling_transfers.own(conn, current_user.family_id, transfer_id[:64])
            children = [child for child in accounts.children(conn, current_user.family_id)
                        if child.pupil_id in (done.from_pupil, done.to_pupil)]
            set_aside = sibling_transfers.set_aside_on(conn, [child.pupil_id for child in children])
    except accounts.NotYoursError:
        abort(404)
    return render_template("portal/transfer_result.html", transfer=done, children=children, set_aside=set_aside)
