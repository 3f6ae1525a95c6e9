"""The journal: the audit log of the staff's actions, newest first (`sync_server.audit`)."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from sync_server.admin import audit
from sync_server.admin.managers import ACCOUNTANT, MANAGER
from sync_server.backoffice import allowed, bp
from sync_server.web.request_services import request_reading


@bp.route("/journal")
@allowed(MANAGER, ACCOUNTANT)
def journal():
    with request_reading() as conn:
        entries = audit.recent(conn)
    return render_template("backoffice/journal.html", entries=entries,
                           actions={key: _(name) for key, name in audit.ACTIONS.items()})
