"""Logging in and out, the session's limits, and changing the password.

The session remembers the family and a digest of its password hash, so a new password (or a reset
by the manager) ends every other session. Login attempts are counted per account and per address,
each one as it arrives (so parallel guesses are counted too); past the limit a login is told to
wait, whatever the password.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta

from flask import (
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix

from domain.clock import from_text, to_text
from domain.messages import RefectoryError
from sync_server.db import reading, writing
from sync_server.families import accounts
from sync_server.portal import bp, current_language
from sync_server.portal.forms import LoginForm, PasswordForm

login_manager = LoginManager()
limiter = Limiter(get_remote_address)


class FamilyUser(UserMixin):
    def __init__(self, family: accounts.Family) -> None:
        self.family = family
        self.family_id = family.family_id

    def get_id(self) -> str:
        return f"{self.family_id}|{self.family.session_key}"


class SlidingSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session whose idle timeout slides, but whose cookie is signed again at
    most once a minute rather than on every answer (signing is a noticeable part of a page's work)."""

    resign_after_s = 60

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        cookie = request.cookies.get(self.get_cookie_name(app)) if serializer else None
        if not cookie:
            return super().open_session(app, request)
        try:
            data, signed_at = serializer.loads(cookie, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                               return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        signed_at = getattr(session, "signed_at", None)
        return session.modified or (session.permanent and (  # itsdangerous stamps with time.time() too
            signed_at is None or time.time() - signed_at.timestamp() >= self.resign_after_s))


def engine():
    return current_app.extensions["refectory.engine"]


@contextmanager
def request_reading() -> Iterator:
    """The request's one read transaction, opened on first use and ended with the request: the
    session check and the page read one snapshot, in one transaction rather than two. A page that
    writes reads what it wrote in its writing transaction (or after a redirect), not here."""
    if "reader" not in g:
        g.reader_stack = ExitStack()
        g.reader = g.reader_stack.enter_context(reading(engine()))
    yield g.reader


def _end_reading(_error) -> None:
    stack = g.pop("reader_stack", None)
    if stack is not None:
        g.pop("reader")
        stack.close()


def now():
    return current_app.config["CLOCK"]()


def init_app(app) -> None:
    if app.config["PROXY_FIX_X_FOR"]:  # behind a reverse proxy: the client's address, not the proxy's
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)
    app.session_interface = SlidingSessionInterface()
    app.teardown_request(_end_reading)
    login_manager.init_app(app)
    login_manager.login_view = "portal.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # "basic" only marks sessions not fresh, which nothing here asks
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)


@login_manager.user_loader
def _load(session_id: str) -> FamilyUser | None:
    family_id, _bar, session_key = session_id.partition("|")
    started = session.get("started_at")
    if started is None or now() - from_text(started) > timedelta(hours=current_app.config["SESSION_MAX_HOURS"]):
        return None
    with request_reading() as conn:
        found = accounts.family(conn, family_id)
    if found is None or found.session_key != session_key:
        return None  # the password changed since: this session is over
    return FamilyUser(found)


def _account_key() -> str:
    return "login:" + (request.form.get("login") or "")[:100]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_account_key)
def login():
    form = LoginForm()
    problem = None
    if form.validate_on_submit():
        with reading(engine()) as conn:
            found = accounts.authenticate(conn, form.login.data, form.password.data)
        if found is not None:
            language = session.get("language")
            session.clear()  # a fresh session (and CSRF token) for the logged-in family
            session.permanent = True
            session["started_at"] = to_text(now())
            session["language"] = language or found.language
            login_user(FamilyUser(found))
            current_app.logger.info("family %s logged in", found.family_id)
            return redirect(url_for("portal.home"))
        current_app.logger.info("failed login for %r from %s", form.login.data[:100], request.remote_addr)
        problem = _("Wrong login or password. Mind upper and lower case.")
    status = 401 if problem else 422 if form.errors else 200
    return render_template("portal/login.html", form=form, problem=problem), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    language = session.get("language")
    session.clear()
    session["language"] = language or current_language()
    flash(_("You are logged out."))
    return redirect(url_for("portal.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    problem = None
    if form.validate_on_submit():
        try:
            with writing(engine()) as conn:
                accounts.change_password(conn, current_user.family_id, form.current.data, form.new.data, now())
                updated = accounts.family(conn, current_user.family_id)
        except RefectoryError as error:
            problem = error.render(_)
        else:
            login_user(FamilyUser(updated))  # this session goes on; the others end
            flash(_("Your password is changed."))
            return redirect(url_for("portal.home"))
    return render_template("portal/password.html", form=form, problem=problem), 422 if problem or form.errors else 200


