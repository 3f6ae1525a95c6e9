"""What a supervisor or a load balancer asks: `/healthz` (the process answers) and `/readyz` (the
database answers and its schema is the one this code expects). Neither needs a login, a CSRF token
or counts against a rate limit; the answers name the problem without the database's address."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from sync_server.db import readiness
from sync_server.web.request_services import RETRY_AFTER_S, engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@bp.get("/readyz")
def readyz():
    found = readiness(engine())
    if found.problem is None:
        response = jsonify({"status": "ready"})
    else:
        current_app.logger.warning("not ready: %s (database at %s, code at %s) %s", found.problem,
                                   ", ".join(found.current) or "no schema", ", ".join(found.head), found.detail)
        if found.problem == "database_unreachable":
            title, detail = "Database unreachable", "The server cannot reach its database; its log says why."
        elif found.problem == "database_busy":
            title = "Database busy"
            detail = ("Every pooled database connection stayed taken for the pool's whole wait: the database"
                      " answers, this server is overloaded (send it less, or add app servers).")
        else:
            title = "Migrations behind"
            detail = (f"The database is at {', '.join(found.current) or 'no schema'}, the code at "
                      f"{', '.join(found.head)}: run `refectory server init`.")
        response = jsonify({"type": "about:blank", "title": title, "status": 503, "detail": detail,
                            "problem": found.problem})
        response.status_code = 503
        response.mimetype = "application/problem+json"
        if found.problem == "database_busy":
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response
