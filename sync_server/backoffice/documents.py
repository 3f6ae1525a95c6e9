"""Documents in the back office: publish a file on the families' portal, or withdraw one; the same
services as `refectory server document add|withdraw`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import StringField

from sync_server.admin import audit
from sync_server.admin.managers import MANAGER
from sync_server.backoffice import allowed, bp, current_manager, uploaded_form
from sync_server.families import documents as published
from sync_server.web.protection import csrf
from sync_server.web.request_services import now, request_reading, request_writing

UPLOAD_MAX_BYTES = 2 * published.MAX_BYTES  # read whole, so that a file too large is refused in words


class DocumentForm(FlaskForm):
    title = StringField(_l("Title shown to families"))
    document = FileField(_l("File (PDF, office document, text or picture)"),
                         validators=[FileRequired(_l("Choose the file to publish."))])


def _folder() -> Path:
    return Path(current_app.instance_path) / "documents"


def _page(form: DocumentForm, problems: dict[str, str] | None = None, status: int = 200):
    with request_reading() as conn:
        listed = published.published(conn)
    return render_template("backoffice/documents.html", form=form, documents=listed, problems=problems or {},
                           terms=published.terms_number(current_app.config)), status


@bp.route("/documents", methods=["GET", "POST"])
@csrf.exempt  # see uploaded_form
@allowed(MANAGER)
def documents():
    form, sent = uploaded_form(DocumentForm, UPLOAD_MAX_BYTES)
    if not sent:
        return _page(form, status=422 if form.errors else 200)
    upload = form.document.data
    name = secure_filename(upload.filename or "") or "document"
    with tempfile.TemporaryDirectory(dir=current_app.instance_path) as scratch:
        source = Path(scratch) / name
        upload.save(source)
        try:
            with request_writing() as conn:
                added = published.add(conn, _folder(), source, form.title.data, now())
                audit.record(conn, current_manager().manager_id, "document.add", f"document {added.document_id}",
                             now(), added.title)
        except published.DocumentError as error:
            field = "title" if "title" in error.message.template else "document"
            return _page(form, {field: error.render(_)}, 422)
    flash(_("Document {number} published: {title}").format(number=added.document_id, title=added.title))
    return redirect(url_for("backoffice.documents"))


@bp.route("/documents/<int:document_id>/withdraw", methods=["POST"])
@allowed(MANAGER)
def withdraw_document(document_id: int):
    try:
        with request_writing() as conn:
            withdrawn = published.withdraw(conn, document_id, kept=published.terms_number(current_app.config))
            audit.record(conn, current_manager().manager_id, "document.withdraw", f"document {document_id}", now(),
                         withdrawn.title)
    except published.DocumentError as error:
        flash(error.render(_), "problem")
        return redirect(url_for("backoffice.documents"))
    published.remove_file(_folder(), withdrawn)
    flash(_("Document {number} withdrawn: {title}").format(number=document_id, title=withdrawn.title))
    return redirect(url_for("backoffice.documents"))
