"""Staff in the back office: the cashiers (PIN, own badge; they reach the kiosks at their next
sync) and the back-office logins with their roles. A new password is shown once, on the page
that made it, never put in the session. The command line's `cashier` and `manager` commands call
the same services."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from domain.badges import BadgeUidError
from domain.messages import RefectoryError
from domain.pins import CashierError, PinFormatError
from sync_server.admin import audit, cashiers, managers
from sync_server.admin.managers import MANAGER
from sync_server.backoffice import allowed, bp, current_manager
from sync_server.web.request_services import now, request_reading, request_writing

# Which field of the add-a-cashier form a refusal is about; the rest go beside the form's first field.
CASHIER_FIELDS = {PinFormatError: "pin", BadgeUidError: "badge", cashiers.BadgeTaken: "badge",
                  CashierError: "cashier_id", cashiers.CashierExists: "cashier_id"}
MAX_FIELD = 200  # anything longer is no id, name, PIN or badge: cut before it reaches a message


def _typed(name: str) -> str:
    return (request.form.get(name) or "").strip()[:MAX_FIELD]


def _page(status: int = 200, *, problems: dict | None = None, typed: dict | None = None, shown: dict | None = None):
    with request_reading() as conn:
        staff = cashiers.listed(conn)
        logins = managers.logins(conn)
    return render_template("backoffice/staff.html", cashiers=staff, logins=logins,
                           roles={role: _(name) for role, name in managers.ROLE_NAMES.items()},
                           me=current_manager().manager_id, problems=problems or {}, typed=typed or {},
                           shown=shown), status


def _checked() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400)


def _write(action: str, subject: str, detail, work):
    """`work(conn)` and its audit entry (`detail`, or `detail(result)`) in one transaction; returns
    what `work` returned."""
    with request_writing() as conn:
        result = work(conn)
        detail = detail(result) if callable(detail) else detail
        audit.record(conn, current_manager().manager_id, action, subject, now(), detail)
    current_app.logger.info("manager %s: %s %s (%s)", current_manager().manager_id, action, subject, detail)
    return result


@bp.route("/staff")
@allowed(MANAGER)
def staff():
    return _page()


@bp.route("/staff/cashiers", methods=["POST"])
@allowed(MANAGER)
def add_cashier():
    _checked()
    typed = {name: _typed(name) for name in ("cashier_id", "name", "badge")}
    pin = _typed("pin")
    try:
        _write("cashier.add", typed["cashier_id"], f"{typed['name']}, badge {typed['badge'] or '-'}",
               lambda conn: cashiers.add_cashier(conn, typed["cashier_id"], typed["name"], pin, now(),
                                                 badge=typed["badge"] or None, new=True))
    except RefectoryError as error:
        field = next((f for kind, f in CASHIER_FIELDS.items() if isinstance(error, kind)), "cashier_id")
        return _page(422, problems={f"add-{field}": error.render(_)}, typed=typed)
    flash(_("Cashier {name} added: the kiosks get them at their next sync.").format(name=typed["name"]))
    return redirect(url_for("backoffice.staff"))


@bp.route("/staff/cashiers/<cashier_id>/pin", methods=["POST"])
@allowed(MANAGER)
def cashier_pin(cashier_id: str):
    _checked()
    try:
        _write("cashier.pin", cashier_id, "", lambda conn: cashiers.set_pin(conn, cashier_id, _typed("pin"), now()))
    except cashiers.NoSuchCashier:
        abort(404)
    except RefectoryError as error:
        return _page(422, problems={f"pin-{cashier_id}": error.render(_)})
    flash(_("New PIN for {cashier_id}: it works at each kiosk from its next sync.").format(cashier_id=cashier_id))
    return redirect(url_for("backoffice.staff"))


@bp.route("/staff/cashiers/<cashier_id>/badge", methods=["POST"])
@allowed(MANAGER)
def cashier_badge(cashier_id: str):
    _checked()
    badge = None if "clear" in request.form else _typed("badge") or None
    try:
        uid = _write("cashier.badge", cashier_id, lambda uid: f"badge {uid or '-'}",
                     lambda conn: cashiers.set_badge(conn, cashier_id, badge, now()))
    except cashiers.NoSuchCashier:
        abort(404)
    except RefectoryError as error:
        return _page(422, problems={f"badge-{cashier_id}": error.render(_)}, typed={f"badge-{cashier_id}": badge})
    flash(_("Badge {uid} is now {cashier_id}'s.").format(uid=uid, cashier_id=cashier_id) if uid
          else _("{cashier_id} has no badge any more.").format(cashier_id=cashier_id))
    return redirect(url_for("backoffice.staff"))


@bp.route("/staff/logins", methods=["POST"])
@allowed(MANAGER)
def add_login():
    _checked()
    manager_id, name, role = _typed("manager_id"), _typed("name"), _typed("role")
    try:
        password = _write("manager.set", manager_id, f"{name} ({role})",
                          lambda conn: managers.set_manager(conn, manager_id, name, now(), role, new=True))
    except RefectoryError as error:
        return _page(422, problems={"add-login": error.render(_)},
                     typed={"manager_id": manager_id, "login_name": name, "login_role": role})
    return _page(shown={"login": manager_id, "password": password})


@bp.route("/staff/logins/<manager_id>/role", methods=["POST"])
@allowed(MANAGER)
def login_role(manager_id: str):
    _checked()
    role = _typed("role")
    try:
        before = _write("manager.role", manager_id, lambda before: f"{before.role} → {role}",
                        lambda conn: managers.change_role(conn, manager_id, role, current_manager().manager_id))
    except managers.NoSuchManager:
        abort(404)
    except RefectoryError as error:
        return _page(422, problems={f"role-{manager_id}": error.render(_)})
    names = managers.ROLE_NAMES
    flash(_("{login} was {before}, is now {after}.").format(login=manager_id, before=_(names[before.role]),
                                                            after=_(names[role])))
    return redirect(url_for("backoffice.staff"))


@bp.route("/staff/logins/<manager_id>/password", methods=["POST"])
@allowed(MANAGER)
def login_password(manager_id: str):
    _checked()
    try:
        password = _write("manager.password", manager_id, "",
                          lambda conn: managers.reset_password(conn, manager_id, now()))
    except managers.NoSuchManager:
        abort(404)
    return _page(shown={"login": manager_id, "password": password})


@bp.route("/staff/logins/<manager_id>/remove")
@allowed(MANAGER)
def confirm_login_remove(manager_id: str):
    """Asked before the access goes: a removed login cannot be brought back, only added anew."""
    with request_reading() as conn:
        found = managers.manager(conn, manager_id[:MAX_FIELD])
    if found is None:
        abort(404)
    return render_template("backoffice/staff_remove.html", login=found,
                           role=_(managers.ROLE_NAMES[found.role]), me=current_manager().manager_id)


@bp.route("/staff/logins/<manager_id>/remove", methods=["POST"])
@allowed(MANAGER)
def login_remove(manager_id: str):
    _checked()
    try:
        removed = _write("manager.remove", manager_id, "",
                         lambda conn: managers.remove(conn, manager_id, current_manager().manager_id))
    except managers.NoSuchManager:
        abort(404)
    except RefectoryError as error:
        return _page(422, problems={f"remove-{manager_id}": error.render(_)})
    flash(_("{name} ({login}) can no longer log in.").format(name=removed.name, login=manager_id))
    return redirect(url_for("backoffice.staff"))
