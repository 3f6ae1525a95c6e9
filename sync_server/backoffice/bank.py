"""Bank top-ups in the back office: upload the bank's camt file and read what it credited, then
assign by hand the credits that carried no reference of ours."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired

from domain.messages import RefectoryError
from domain.money import format_chf
from sync_server.admin import audit
from sync_server.admin.managers import ACCOUNTANT, MANAGER
from sync_server.backoffice import allowed, at_most, bp, current_manager, form_problems, uploaded_form
from sync_server.money import bank_import
from sync_server.money.bank_files import MAX_BANK_FILE_BYTES, read_credits
from sync_server.web.protection import csrf
from sync_server.web.request_services import mail_details, now, request_reading, request_writing

UPLOAD_MAX_BYTES = 2 * MAX_BANK_FILE_BYTES  # read whole, so that a file too large is refused in words, not by a 413


class BankFileForm(FlaskForm):
    bank_file = FileField(_l("Bank file (camt.054 or camt.053, XML)"),
                          validators=[FileRequired(_l("Choose the bank's file."))])


class AssignForm(FlaskForm):
    pupil_id = StringField(_l("Pupil id"), validators=[DataRequired(_l("Give the pupil's id.")), at_most(32)])


@bp.route("/bank", methods=["GET", "POST"])
@csrf.exempt  # see uploaded_form
@allowed(MANAGER)
def bank():
    form, sent = uploaded_form(BankFileForm, UPLOAD_MAX_BYTES)
    if not sent:
        return render_template("backoffice/bank.html", form=form), 422 if form.errors else 200
    upload = form.bank_file.data
    data = upload.read()
    try:
        credits = read_credits(data, maximum_cents=current_app.config["BANK_CREDIT_MAX_CENTS"])
        with request_writing() as conn:
            report = bank_import.import_credits(conn, credits, now(), **mail_details())
            audit.record(conn, current_manager().manager_id, "bank.import", upload.filename or "?", now(),
                         f"{len(report.credited)} credited, {report.duplicates} already there,"
                         f" {len(report.unmatched)} to assign")
    except RefectoryError as error:
        return render_template("backoffice/bank.html", form=form, problem=error.render(_)), 422
    current_app.logger.info("manager %s imported %s: %d credited, %d already, %d to assign",
                            current_manager().manager_id, upload.filename, len(report.credited),
                            report.duplicates, len(report.unmatched))
    return render_template("backoffice/bank_report.html", report=report, filename=upload.filename,
                           summary=report.summary(ngettext),
                           credited_total=sum(credit.amount_cents for credit, _pupil in report.credited))


@bp.route("/bank/waiting")
@allowed(MANAGER, ACCOUNTANT)
def waiting():
    with request_reading() as conn:
        credits = bank_import.waiting(conn)
    return render_template("backoffice/waiting.html", credits=credits, form=AssignForm())


@bp.route("/bank/waiting/<path:bank_reference>", methods=["POST"])  # a batch's credits are named E-1/1, E-1/2...
@allowed(MANAGER)
def assign(bank_reference: str):
    form = AssignForm()
    if not form.validate_on_submit():
        flash(form_problems(form), "problem")
        return redirect(url_for("backoffice.waiting"))
    pupil_id = form.pupil_id.data.strip()
    try:
        with request_writing() as conn:
            credit = bank_import.assign(conn, bank_reference, pupil_id, now(),
                                        **mail_details(),
                                        maximum_cents=current_app.config["BANK_CREDIT_MAX_CENTS"])
            audit.record(conn, current_manager().manager_id, "bank.assign", bank_reference, now(),
                         f"{format_chf(credit.amount_cents)} to {pupil_id}")
    except RefectoryError as error:
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.waiting"))
    current_app.logger.info("manager %s assigned %s to %s", current_manager().manager_id, bank_reference, pupil_id)
    flash(_("{amount} credited to {pupil_id}.").format(amount=format_chf(credit.amount_cents), pupil_id=pupil_id))
    return redirect(url_for("backoffice.waiting"))
