"""The family's statements as PDF: "Décompte par dates" (every entry of a period) and "Décompte
fiscal" (a year's figures for the tax return), for one child or all of them.

Downloads are plain GETs (they change nothing); a child who has left the school keeps their
statements, so the family's pupils are all of its pupils, not only the active ones.
"""

from __future__ import annotations

from io import BytesIO

from flask import abort, current_app, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.utils import secure_filename

from domain.clock import service_date
from domain.i18n import translations
from domain.messages import RefectoryError
from sync_server.money import statements
from sync_server.money.statement_pdf import statement_pdf, tax_statement_pdf
from sync_server.portal import bp, canteen, current_language
from sync_server.web.request_services import day_asked, error_text, now, request_reading

FIRST_YEAR = 2000


def _pupils_asked(conn) -> list[str]:
    """`?child=<id>` (one of the family's pupils, else 404) or `?child=all`."""
    own = statements.family_pupil_ids(conn, current_user.family_id)
    wanted = request.args.get("child", "all")
    if wanted == "all":
        return own
    if wanted not in own:
        abort(404)
    return [wanted]


def _pdf(data: bytes, stem: str):
    return send_file(BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=secure_filename(f"{stem}.pdf"))


@bp.route("/statements")
@login_required
def statements_page():
    today = service_date(now())
    with request_reading() as conn:
        own = statements.family_pupil_ids(conn, current_user.family_id)
        pupils = [statements.account_holder(conn, pupil_id) for pupil_id in own]
    return render_template("portal/statements.html", pupils=pupils, today=today,
                           month_start=today.replace(day=1),
                           years=range(today.year, max(FIRST_YEAR, today.year - 5), -1))


@bp.route("/statements/period")
@login_required
def period_statement():
    first, last = day_asked(request.args.get("first", "")[:40]), day_asked(request.args.get("last", "")[:40])
    try:
        with request_reading() as conn:
            found = statements.statements(conn, _pupils_asked(conn), first, last)
    except RefectoryError as error:
        abort(400, error_text(error))
    data = statement_pdf(found, canteen(current_app.config), translations(current_language()).gettext,
                         issued_on=service_date(now()))
    stem = _("statement")  # the file's name
    return _pdf(data, f"{stem}-{first.isoformat()}-{last.isoformat()}")


@bp.route("/statements/tax")
@login_required
def tax_statement():
    text = request.args.get("year", "")
    this_year = service_date(now()).year
    if not (text.isascii() and text.isdigit() and FIRST_YEAR <= int(text) <= this_year):
        abort(400, _("Choose a year between {first} and {last}.").format(first=FIRST_YEAR, last=this_year))
    year = int(text)
    with request_reading() as conn:
        found = statements.tax_years(conn, _pupils_asked(conn), year)
    data = tax_statement_pdf(found, canteen(current_app.config), translations(current_language()).gettext,
                             issued_on=service_date(now()))
    stem = _("tax-statement")  # the file's name
    return _pdf(data, f"{stem}-{year}")
