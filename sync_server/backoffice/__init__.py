"""The manager's back office (`/manage`): its own login, then the bank files and their credits.

Managers are a role of their own (`sync_server.managers`): their session entry is separate from
a family's Flask-Login user, so a family's login never opens these pages and a manager's never
opens a family's. The pages share the portal's look, language and security headers, and with it
the login flow, CSRF and login throttling of `sync_server.web`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import Length

from domain.clock import from_text, to_text
from sync_server.admin import audit, managers, sessions
from sync_server.admin.managers import ACCOUNTANT, KITCHEN, MANAGER, ROLES
from sync_server.web.login import Role, add_login_page, log_out
from sync_server.web.request_services import database_busy, now, request_reading

bp = Blueprint("backoffice", __name__, url_prefix="/manage")


def at_most(count: int) -> Length:
    """WTForms' length check, saying so in the manager's language (WTForms' own message is English)."""
    return Length(max=count, message=_l("Give at most %(max)d characters."))


def current_manager() -> managers.Manager | None:
    if "manager" not in g:
        g.manager = _load()
    return g.manager


def _load() -> managers.Manager | None:
    entry = session.get("manager")
    if not isinstance(entry, dict):
        return None
    started = entry.get("since")
    if not started or now() - from_text(started) > timedelta(hours=current_app.config["SESSION_MAX_HOURS"]):
        return None
    if database_busy():
        return None  # the busy page, shown as to a visitor
    with request_reading() as conn:
        found = managers.manager(conn, entry.get("id", ""))
        ended = sessions.has_ended(conn, session.get("sid"))
    if found is None or found.session_key != entry.get("key") or ended:
        return None  # a new password since, or a logout ended it: this session is over
    return found


def form_problems(form) -> str:
    """A form's errors in one line, for a flashed message (its messages are lazy strings)."""
    return "; ".join(str(error) for errors in form.errors.values() for error in errors)


def uploaded_form(form_class, max_bytes: int):
    """A file form read under its page's own size limit (the rest keep the 2 MB limit): (form,
    True) once sent whole and valid; (form, False) to show it again. Its view is CSRF-exempt, since
    the body can only be read after the limit is raised: the form checks its own token, and a
    missing or stale one is a 400 in words."""
    request.max_content_length = max_bytes
    form = form_class()
    if form.validate_on_submit():
        return form, True
    if form.csrf_token.errors:
        abort(400, _("The form was sent incompletely or has expired: go back, reload the page and try again."))
    return form, False


def allowed(*roles: str):
    """The roles that may open a page: no login goes to the login page, another role gets 403.
    Read pages name the roles that may read; a page that changes something names only those who may."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            found = current_manager()
            if found is None:
                return redirect(url_for("backoffice.login"))
            if found.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorate


# The menu, in its order: (endpoint, label, roles that see it). A section whose page is not
# there (yet) is left out of the menu rather than failing it.
SECTIONS = (
    ("backoffice.index", _l("Overview"), ROLES),
    ("backoffice.pupils", _l("Pupils"), (MANAGER,)),
    ("backoffice.standing_orders_page", _l("Standing orders"), (MANAGER,)),
    ("backoffice.kitchen", _l("Kitchen"), (MANAGER, KITCHEN)),
    ("backoffice.menus", _l("Menus"), (MANAGER, KITCHEN)),
    ("backoffice.settings", _l("Settings"), (MANAGER,)),
    ("backoffice.documents", _l("Documents"), (MANAGER,)),
    ("backoffice.cash", _l("Cash"), (MANAGER, ACCOUNTANT)),
    ("backoffice.kiosks", _l("Kiosks"), (MANAGER,)),
    ("backoffice.bank", _l("Bank files"), (MANAGER,)),
    ("backoffice.waiting", _l("Credits to assign"), (MANAGER, ACCOUNTANT)),
    ("backoffice.payments", _l("Online payments"), (MANAGER, ACCOUNTANT)),
    ("backoffice.refunds_queue", _l("Refunds"), (MANAGER, ACCOUNTANT)),
    ("backoffice.staff", _l("Staff"), (MANAGER,)),
    ("backoffice.journal", _l("Journal"), (MANAGER, ACCOUNTANT)),
)


@bp.app_context_processor
def _manager():
    found = current_manager() if request.blueprint == "backoffice" else None
    sections = [(endpoint, label) for endpoint, label, roles in SECTIONS
                if found is not None and found.role in roles and endpoint in current_app.view_functions]
    return {"manager": found, "sections": sections, "may_change": found is not None and found.role == MANAGER,
            "endpoints": current_app.view_functions}


def _open_session(found: managers.Manager, at) -> None:
    session["manager"] = {"id": found.manager_id, "key": found.session_key, "since": to_text(at)}


def _record_login(conn, found: managers.Manager, at) -> None:
    audit.record(conn, found.manager_id, "manager.login", found.manager_id, at, f"from {request.remote_addr}")


add_login_page(bp, Role(name="manager", authenticate=managers.authenticate,
                        account_id=lambda found: found.manager_id, open_session=_open_session,
                        template="backoffice/login.html", home="backoffice.index", record=_record_login))


@bp.route("/logout", methods=["POST"])
def logout():
    log_out()
    flash(_("You are logged out."))
    return redirect(url_for("backoffice.login"))


def init_app(app: Flask) -> None:
    from sync_server.backoffice import (  # noqa: F401  (their routes register on `bp`)
        bank,
        cash,
        documents,
        journal,
        kiosks,
        kitchen,
        menus,
        overview,
        payments,
        pupil_meals,
        pupils,
        quarantine,
        refunds,
        settings,
        staff,
        standing_orders,
    )

    app.register_blueprint(bp)
