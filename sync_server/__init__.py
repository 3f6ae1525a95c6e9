"""The sync server: the kiosk API, the parents' portal and the manager's back office.

`create_app()` is the application factory (Flask tutorial style): configuration from the defaults
here, then `instance/config.py`, then the environment (`DATABASE_URL`, `REFECTORY_*`).
"""

from __future__ import annotations

import os
import secrets

from flask import Flask

from domain.clock import utc_now

from .db import make_engine
from .portal.settings import PORTAL_DEFAULTS
from .routing import DatabaseIdConverter

MAX_BODY_BYTES = 2 * 1024 * 1024


def create_app(test_config: dict | None = None, *, instance_path: str | None = None) -> Flask:
    instance_path = instance_path or os.environ.get("REFECTORY_SERVER_INSTANCE") or None
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.path.abspath(instance_path) if instance_path else None)
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{os.path.join(app.instance_path, 'refectory.db')}",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        CLOCK=utc_now,
        **PORTAL_DEFAULTS,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("REFECTORY")
        if os.environ.get("DATABASE_URL"):
            app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    else:
        app.config.from_mapping(test_config)
    app.extensions["refectory.engine"] = make_engine(app.config["DATABASE_URL"])
    app.json.sort_keys = False  # answers keep the order they are built in (and skip a sort per object)

    app.secret_key = app.config.get("SECRET_KEY") or _instance_secret(app.instance_path)

    from . import api, backoffice, portal, problems
    from .portal.errors import error_page

    problems.register(app, error_page)
    app.register_blueprint(api.bp)
    portal.csrf.exempt(api.bp)  # kiosks authenticate each request with their bearer token
    portal.init_app(app)
    backoffice.init_app(app)
    app.add_url_rule("/healthz", "healthz", lambda: ("ok\n", 200, {"Content-Type": "text/plain"}))
    return app


def _instance_secret(instance_path: str) -> str:
    """The session-signing key, made once per instance and kept in `instance/secret_key`."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        secret = secrets.token_urlsafe(48)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret)
        return secret
