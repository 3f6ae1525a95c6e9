"""What guards every form of the portal and the back office: CSRF tokens (Flask-WTF), login
throttling per client address (Flask-Limiter), which behind a reverse proxy must see the client's
address rather than the proxy's, and the refusal of NUL characters, which no text column holds.

The throttle counts in `RATELIMIT_STORAGE_URI`: `memory://` counts per process (one machine, one
gunicorn), `redis://...` across every app server. A shared store that stops answering must not
lock parents out: each process then counts in its own memory (the same limits, per process) and
goes back to the store once it answers again; the failures are logged by Flask-Limiter."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()
limiter = Limiter(get_remote_address)

# A store that does not answer within this delay counts as down, so a login waits at most this long.
STORE_TIMEOUT_S = 0.5


def storage_options(uri: str) -> dict[str, object]:
    """The client options for a shared store: short timeouts (a black-holed host would otherwise
    hold a login for the system's TCP timeout, minutes)."""
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        return {"socket_connect_timeout": STORE_TIMEOUT_S, "socket_timeout": STORE_TIMEOUT_S}
    return {}


def init_app(app: Flask) -> None:
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "refectory")  # apart from other users of a shared Redis
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", storage_options(app.config["RATELIMIT_STORAGE_URI"]))
    limiter.init_app(app)
    app.before_request(_refuse_nul_characters)


FORM_BLUEPRINTS = ("portal", "backoffice")  # the kiosk API checks its requests against its schemas


def _refuse_nul_characters() -> None:
    """A 400 before any view reads a form or query holding a NUL character: PostgreSQL refuses it
    in any text (the request would end in a 500 there, and be stored as it is on SQLite)."""
    if request.blueprint not in FORM_BLUEPRINTS:
        return
    try:
        form = request.form.listvalues() if request.method == "POST" else ()
    except RequestEntityTooLarge:
        return  # the view says so in its own words (a 20 MB menu file)
    for values in (*request.args.listvalues(), *form):
        if any("\x00" in value for value in values):
            abort(400, _("The form holds a NUL character, which no text may contain: remove it and send the form"
                         " again."))


def storage_answers() -> bool:
    """Whether the throttle's store answers (after `init_app`)."""
    return limiter.storage.check()
