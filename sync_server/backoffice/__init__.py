"""The manager's back office (`/manage`): its own login, then the bank files and their credits.

Managers are a role of their own (`sync_server.managers`): their session entry is separate from
a family's Flask-Login user, so a family's login never opens these pages and a manager's never
opens a family's. The pages share the portal's look, language, CSRF and security headers.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from domain.clock import from_text, to_text
from sync_server.admin import audit, managers
from sync_server.db import reading, writing
from sync_server.money import bank_import
from sync_server.portal.auth import engine, limiter, now, request_reading
from sync_server.portal.forms import LoginForm
from sync_server.sync import ledger

bp = Blueprint("backoffice", __name__, url_prefix="/manage")


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
    with request_reading() as conn:
        found = managers.manager(conn, entry.get("id", ""))
    if found is None or found.session_key != entry.get("key"):
        return None  # a new password since: this session is over
    return found


def form_problems(form) -> str:
    """A form's errors in one line, for a flashed message (its messages are lazy strings)."""
    return "; ".join(str(error) for errors in form.errors.values() for error in errors)


def manager_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if current_manager() is None:
            return redirect(url_for("backoffice.login"))
        return view(*args, **kwargs)
    return guarded


@bp.app_context_processor
def _manager():
    return {"manager": current_manager() if request.blueprint == "backoffice" else None}


def _manager_key() -> str:
    return "manager:" + (request.form.get("login") or "")[:100]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_manager_key)
def login():
    form = LoginForm()
    problem = None
    if form.validate_on_submit():
        with reading(engine()) as conn:
            found = managers.authenticate(conn, form.login.data, form.password.data)
        if found is not None:
            with writing(engine()) as conn:
                audit.record(conn, found.manager_id, "manager.login", found.manager_id, now(),
                             f"from {request.remote_addr}")
            language = session.get("language")
            session.clear()  # a fresh session (and CSRF token): no family stays logged in beside it
            session.permanent = True
            session["manager"] = {"id": found.manager_id, "key": found.session_key, "since": to_text(now())}
            if language:
                session["language"] = language
            current_app.logger.info("manager %s logged in", found.manager_id)
            return redirect(url_for("backoffice.index"))
        current_app.logger.info("failed manager login for %r from %s", form.login.data[:100], request.remote_addr)
        problem = _("Wrong login or password. Mind upper and lower case.")
    status = 401 if problem else 422 if form.errors else 200
    return render_template("backoffice/login.html", form=form, problem=problem), status


@bp.route("/logout", methods=["POST"])
def logout():
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    flash(_("You are logged out."))
    return redirect(url_for("backoffice.login"))


@bp.route("/")
@manager_required
def index():
    with request_reading() as conn:
        waiting = bank_import.waiting(conn)
        set_aside = ledger.set_aside_open(conn)
    return render_template("backoffice/index.html", waiting=waiting, set_aside=set_aside)


def init_app(app: Flask) -> None:
    from sync_server.backoffice import bank, journal, payments, quarantine, refunds  # noqa: F401  (their routes register on `bp`)

    app.register_blueprint(bp)
