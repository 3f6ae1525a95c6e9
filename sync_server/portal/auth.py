"""Logging in and out, the session's limits, and changing the password.

The session remembers the family and a digest of its password hash, so a new password (or a reset
by the manager) ends every other session. The login page itself is the flow the back office shares
(`sync_server.web.login`), for families.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature

from domain.clock import from_text, to_text
from domain.messages import RefectoryError
from sync_server.admin import sessions
from sync_server.families import accounts
from sync_server.portal import bp
from sync_server.portal.forms import PasswordForm
from sync_server.web.login import Role, add_login_page, log_out
from sync_server.web.request_services import database_busy, now, request_reading, request_writing

login_manager = LoginManager()


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


def init_app(app) -> None:
    app.session_interface = SlidingSessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "portal.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # "basic" only marks sessions not fresh, which nothing here asks


@login_manager.user_loader
def _load(session_id: str) -> FamilyUser | None:
    family_id, _bar, session_key = session_id.partition("|")
    started = session.get("started_at")
    if started is None or now() - from_text(started) > timedelta(hours=current_app.config["SESSION_MAX_HOURS"]):
        return None
    if database_busy():
        return None  # the busy page, shown as to a visitor
    with request_reading() as conn:
        found = accounts.family(conn, family_id)
        ended = sessions.has_ended(conn, session.get("sid"))
    if found is None or found.session_key != session_key or ended:
        return None  # the password changed since, or a logout ended it: this session is over
    return FamilyUser(found)


def _open_session(found: accounts.Family, at) -> None:
    session["started_at"] = to_text(at)
    login_user(FamilyUser(found))


def _keep_language(found: accounts.Family, chosen: str) -> None:
    """The language chosen on the login page: the family's mails follow it too."""
    if chosen != found.language:
        with request_writing() as conn:
            accounts.set_language(conn, found.family_id, chosen)


add_login_page(bp, Role(name="family", authenticate=accounts.authenticate, account_id=lambda found: found.family_id,
                        open_session=_open_session, template="portal/login.html", home="portal.home",
                        language=lambda found: found.language, keep_language=_keep_language))


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    log_out()
    flash(_("You are logged out."))
    return redirect(url_for("portal.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    problem = None
    if form.validate_on_submit():
        try:
            with request_writing() as conn:
                accounts.change_password(conn, current_user.family_id, form.current.data, form.new.data, now())
                updated = accounts.family(conn, current_user.family_id)
        except RefectoryError as error:
            problem = error.render(_)
        else:
            login_user(FamilyUser(updated))  # this session goes on; the others end
            flash(_("Your password is changed."))
            return redirect(url_for("portal.home"))
    return render_template("portal/password.html", form=form, problem=problem), 422 if problem or form.errors else 200


