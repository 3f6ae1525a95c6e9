"""The sync server: the kiosk API, the parents' portal and the manager's back office.

`create_app()` is the application factory (Flask tutorial style): the settings declared in
`settings.py`, from their defaults, then `instance/config.py`, then the environment (`DATABASE_URL`,
`REFECTORY_*`), each checked and typed before anything starts.
"""

from __future__ import annotations

import os
import secrets
import tempfile

from flask import Config, Flask

from domain.clock import utc_now
from sync_server import settings
from sync_server.db import make_engine
from sync_server.web.routing import DatabaseIdConverter


def create_app(test_config: dict | None = None, *, instance_path: str | None = None) -> Flask:
    instance_path = instance_path or os.environ.get("REFECTORY_SERVER_INSTANCE") or None
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.path.abspath(instance_path) if instance_path else None)
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    os.makedirs(app.instance_path, exist_ok=True)
    _configure(app, test_config)
    app.extensions["refectory.engine"] = make_engine(
        app.config["DATABASE_URL"], pool_size=app.config["DB_POOL_SIZE"], max_overflow=app.config["DB_MAX_OVERFLOW"],
        pool_timeout_s=app.config["DB_POOL_TIMEOUT"].total_seconds())
    app.json.sort_keys = False  # answers keep the order they are built in (and skip a sort per object)

    app.secret_key = app.config.get("SECRET_KEY") or _instance_secret(app.instance_path)

    from sync_server import backoffice, portal, web
    from sync_server.kiosk_api import problems, views
    from sync_server.portal.errors import error_page
    from sync_server.web import health

    problems.register(app, error_page)
    app.register_blueprint(views.bp)
    web.init_app(app)
    web.protection.csrf.exempt(views.bp)  # kiosks authenticate each request with their bearer token
    portal.init_app(app)
    backoffice.init_app(app)
    app.register_blueprint(health.bp)
    return app


def _configure(app: Flask, test_config: dict | None) -> None:
    """The settings, checked and typed (a wrong one stops the start here); a test's configuration
    stands for `instance/config.py` and the environment. Other keys of either (Flask's own) pass as
    they are."""
    given = Config(app.instance_path)
    if test_config is None:
        given.from_pyfile("config.py", silent=True)
        environ, given_in = os.environ, os.path.join(app.instance_path, "config.py")
        for name in settings.unknown_variables(environ):
            app.logger.warning("%s is not a server setting and is ignored (docs/settings.md lists them)", name)
    else:
        given.update(test_config)
        environ, given_in = {}, "the configuration given to create_app"
    checked = settings.load(given, environ, given_in=given_in,
                            database_default=f"sqlite:///{os.path.join(app.instance_path, 'refectory.db')}")
    app.config.update({"CLOCK": utc_now, **given, **checked})


def _instance_secret(instance_path: str) -> str:
    """The session-signing key, made once per instance and kept in `instance/secret_key`.

    gunicorn's workers make their apps at once: the key is written to a file of its own, then
    linked to its name, so a worker finds either no key or a whole one, and the first link wins."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    with tempfile.NamedTemporaryFile("w", encoding="ascii", dir=instance_path, prefix=".secret_key.",
                                     delete=False) as handle:  # mode 0600
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(handle.name, path)
    except FileExistsError:
        with open(path, encoding="ascii") as existing:
            secret = existing.read().strip()
    finally:
        os.unlink(handle.name)
    return secret
