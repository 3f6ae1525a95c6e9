"""The portal's reading pages: home, a child's history, menus, documents, help, and the language."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from domain.agenda import first_week_shown, week_of
from domain.clock import service_date
from domain.entries import EntryKind
from domain.menus import ALLERGENS, LABELS
from domain.messages import N_
from domain.text import has_control_characters
from sync_server.admin.canteen_settings import current_settings
from sync_server.families import accounts, documents, exclusions
from sync_server.families.meal_days import meal_days
from sync_server.families.menus import menus_of
from sync_server.money import sibling_transfers
from sync_server.portal import bp, current_language
from sync_server.portal.forms import LanguageForm
from sync_server.web.login import CHOSEN_HERE
from sync_server.web.request_services import day_asked, now, request_reading, request_writing

# The history's names of entries: short enough for one line on a phone (statements use KIND_NAMES).
SHORT_KIND_NAMES = {
    EntryKind.MEAL: N_("Meal"),
    EntryKind.CASH_TOPUP: N_("Cash top-up"),
    EntryKind.BANK_TOPUP: N_("Bank transfer"),
    EntryKind.ONLINE_TOPUP: N_("Online payment"),
    EntryKind.REFUND: N_("Refund"),
    EntryKind.ADJUSTMENT: N_("Adjustment"),
    EntryKind.REVERSAL: N_("Cancellation"),
    EntryKind.TRANSFER: N_("Sibling transfer"),
}


def child_or_404(conn, pupil_id: str, settings=None) -> accounts.Child:
    """The logged-in family's child, or 404 for anyone else's (the same answer as no such child)."""
    try:
        return accounts.own_child(conn, current_user.family_id, pupil_id, settings)
    except accounts.NotYoursError:
        abort(404)


def week_asked() -> date:
    """The week the page shows: `?week=YYYY-MM-DD` (any day of it), today's by default."""
    text = request.args.get("week", "")
    return day_asked(text[:40]) if text else first_week_shown(service_date(now()))


@bp.route("/")
@login_required
def home():
    moment = now()
    with request_reading() as conn:
        settings = current_settings(conn)
        children = accounts.children(conn, current_user.family_id, settings=settings)
        synced_at = accounts.last_kiosk_sync(conn)
        pupil_ids = [child.pupil_id for child in children]
        excluded = exclusions.of_pupils(conn, pupil_ids)
        meals = meal_days(conn, pupil_ids, moment, settings)
        set_aside = sibling_transfers.set_aside_on(conn, pupil_ids)
    return render_template("portal/home.html", children=children, synced_at=synced_at, excluded=excluded,
                           meals=meals, today=service_date(moment), settings=settings, set_aside=set_aside)


@bp.route("/children/<pupil_id>/history")
@login_required
def history(pupil_id: str):
    page = request.args.get("page", "1")
    if not (page.isascii() and page.isdigit() and len(page) <= 6):
        abort(400, _("The page number must be a whole number."))
    with request_reading() as conn:
        child = child_or_404(conn, pupil_id)
        found = accounts.history(conn, pupil_id, int(page))
    return render_template("portal/history.html", child=child, history=found, this_year=str(service_date(now()).year),
                           kind_names={kind: _(name) for kind, name in SHORT_KIND_NAMES.items()})


@bp.route("/menus")
@bp.route("/menus/print", endpoint="menus_print")
@login_required
def menus_page():
    days = week_of(week_asked())
    with request_reading() as conn:
        found = menus_of(conn, days)
    template = "portal/menus_print.html" if request.endpoint == "portal.menus_print" else "portal/menus.html"
    return render_template(template, days=days, menus=found,
                           allergen_names={code: _(name) for code, name in ALLERGENS.items()},
                           label_names={label: _(name) for label, name in LABELS.items()})


@bp.route("/documents")
@login_required
def documents_page():
    with request_reading() as conn:
        listed = documents.published(conn)
    return render_template("portal/documents.html", documents=listed)


@bp.route("/documents/<int:document_id>")
@login_required
def document(document_id: int):
    with request_reading() as conn:
        found = documents.find(conn, document_id)
    if found is None:
        abort(404)
    folder = Path(current_app.instance_path) / "documents"
    return send_from_directory(folder, found.stored_name, as_attachment=True, download_name=found.filename,
                               mimetype=found.content_type)


@bp.route("/help")
def help_page():
    with request_reading() as conn:
        settings = current_settings(conn)
    query = " ".join(request.args.get("q", "")[:100].split())
    return render_template(f"portal/help_{current_language()}.html", settings=settings, query=query,
                           help_found=help_found)


def help_found(sections: list[tuple[str, str, str]], query: str) -> list[tuple[str, str, str]]:
    """The help's (anchor, title, body) sections whose title and text hold every word of `query`,
    capitals and accents aside ("reserver" finds "Réserver")."""
    words = _folded(query).split()
    return [section for section in sections
            if all(word in _folded(section[1] + " " + Markup(section[2]).striptags()) for word in words)]


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


@bp.route("/language", methods=["POST"])
def language():
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400, _("Unknown language."))
    session["language"] = form.language.data
    if current_user.is_authenticated:
        with request_writing() as conn:
            accounts.set_language(conn, current_user.family_id, form.language.data)
    else:  # kept for the family's mails once it logs in
        session[CHOSEN_HERE] = True
    return redirect(_local_path(form.next.data or ""))


def _local_path(target: str) -> str:
    """`target` if it is a path on this site, else the home page (no redirect elsewhere)."""
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or has_control_characters(target)):
        return url_for("portal.home")
    return target
