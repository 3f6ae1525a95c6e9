"""The one login flow of the portal (families) and the back office (managers), told apart by who
logs in.

Attempts are counted per address and per account, each as it arrives (so parallel guesses count
too); past either limit a login is told to wait, whatever the password. A wrong login or password
gets one answer, never which of the two was wrong. A successful login starts a fresh session (and
CSRF token), keeping only the language the visitor chose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Connection
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from sync_server.admin import sessions
from sync_server.db import reading
from sync_server.web.protection import limiter
from sync_server.web.request_services import engine, now, request_writing


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(_l("Enter your login.")), Length(max=100)])
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(_l("Enter your password.")), Length(max=200)])


@dataclass(frozen=True)
class Role:
    """Who logs in on a login page. `name` tells the role's logs and throttling counters apart;
    `authenticate` answers the account or None; `open_session` puts the account in the fresh
    session; `language` is the account's own, used when the visitor chose none; `record`, if
    given, writes the login to the audit log in its own transaction."""

    name: str
    authenticate: Callable[[Connection, str, str], Any | None]
    account_id: Callable[[Any], str]
    open_session: Callable[[Any, datetime], None]
    template: str
    home: str
    language: Callable[[Any], str | None] = lambda _account: None
    record: Callable[[Connection, Any, datetime], None] | None = None
    keep_language: Callable[[Any, str], None] | None = None  # the language chosen before logging in


# Set in the session when the visitor picks a language before logging in (not one kept from a
# former session of the same browser, which may have been another family's).
CHOSEN_HERE = "language_chosen"


def renew_session(language: str | None) -> None:
    """A fresh session (and CSRF token) holding only the visitor's language: nothing of a former
    login, family or manager, stays beside the new one."""
    session.clear()
    if language:
        session["language"] = language


def log_out() -> None:
    """End this session for good (a copy of its cookie is refused too), keeping only the language."""
    with request_writing() as conn:
        sessions.end(conn, session.get("sid"), now(), timedelta(hours=current_app.config["SESSION_MAX_HOURS"]))
    renew_session(session.get("language"))


def add_login_page(bp: Blueprint, role: Role) -> None:
    """`/login` on `bp`, throttled, for `role`."""

    def account_key() -> str:
        return f"{role.name}:" + (request.form.get("login") or "")[:100]

    def login():
        form = LoginForm()
        problem = None
        if form.validate_on_submit():
            with reading(engine()) as conn:
                found = role.authenticate(conn, form.login.data, form.password.data)
            if found is not None:
                if role.record is not None:
                    with request_writing() as conn:
                        role.record(conn, found, now())
                chosen = session.get("language") if session.get(CHOSEN_HERE) else None
                renew_session(chosen or session.get("language") or role.language(found))
                session["sid"] = sessions.new_id()
                session.permanent = True
                role.open_session(found, now())
                if chosen and role.keep_language is not None:
                    role.keep_language(found, chosen)
                current_app.logger.info("%s %s logged in", role.name, role.account_id(found))
                return redirect(url_for(role.home))
            current_app.logger.info("failed %s login for %r from %s", role.name, form.login.data[:100],
                                    request.remote_addr)
            problem = _("Wrong login or password. Mind upper and lower case.")
        status = 401 if problem else 422 if form.errors else 200
        return render_template(role.template, form=form, problem=problem), status

    # Flask-Limiter keeps a view's limits under its qualified name: each role's view needs its own.
    login.__name__ = login.__qualname__ = f"{role.name}_login"
    view = limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])(
        limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
                      key_func=account_key)(login))
    bp.add_url_rule("/login", "login", view, methods=["GET", "POST"])
