"""The canteen's managers: who may use the back office. A role of its own: a family login or a
cashier PIN never opens it, and a manager's login is not a family's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from domain.clock import to_text
from domain.entries import is_identifier
from domain.messages import N_, RefectoryError
from domain.text import has_control_characters
from sync_server.admin.passwords import PASSWORD_ALPHABET, hash_password, new_secret, password_matches
from sync_server.tables import managers

MAX_NAME = 100
MANAGER, KITCHEN, ACCOUNTANT = ROLES = ("manager", "kitchen", "accountant")
ROLE_NAMES = {MANAGER: N_("Manager"), KITCHEN: N_("Kitchen"), ACCOUNTANT: N_("Accountant")}  # msgids


class ManagerError(RefectoryError):
    code = "invalid_request"


class ManagerExists(ManagerError):
    """Adding a login under an id already taken (the page adds; `manager add` on the CLI replaces)."""


class NoSuchManager(ManagerError):
    code = "not_found"


class LastManager(ManagerError):
    """A change that would leave the back office without a manager, or a manager removing or
    demoting themself (another manager must do it)."""


@dataclass(frozen=True, slots=True)
class Manager:
    manager_id: str
    name: str
    session_key: str  # from the password hash: a new password ends the manager's sessions
    role: str = MANAGER  # manager: everything; kitchen: menus and counts; accountant: money pages, read-only


_BY_ID = select(managers.c.manager_id, managers.c.name, managers.c.password_hash, managers.c.role)


def _manager(row) -> Manager:
    return Manager(row.manager_id, row.name, hashlib.sha256(row.password_hash.encode()).hexdigest()[:16], row.role)


def set_manager(conn: Connection, manager_id: str, name: str, now: datetime, role: str = MANAGER, *,
                new: bool = False) -> str:
    """Add a back-office login, or give an existing one a new password and role (refused with `new`);
    returns the password to hand over."""
    name = (name or "").strip()
    if not is_identifier(manager_id):
        raise ManagerError(N_("'{manager_id}' is not a manager id (letters, digits, '_', '-')."), manager_id=manager_id)
    if not name or len(name) > MAX_NAME or has_control_characters(name):
        raise ManagerError(N_("Give the manager's name (at most {count} characters)."), count=MAX_NAME)
    if role not in ROLES:
        raise ManagerError(N_("'{role}' is not a back-office role (manager, kitchen or accountant)."), role=role)
    existing = manager(conn, manager_id)
    if existing is not None and new:
        raise ManagerExists(N_("There is already a back-office login {manager_id}."), manager_id=manager_id)
    if existing is not None and role != MANAGER:
        _keep_a_manager(conn, existing)
    password = new_secret(PASSWORD_ALPHABET, 16)
    values = {"name": name, "password_hash": hash_password(password), "password_changed_at": to_text(now),
              "role": role}
    if existing is not None:
        conn.execute(update(managers).where(managers.c.manager_id == manager_id).values(**values))
    else:
        conn.execute(insert(managers).values(manager_id=manager_id, **values))
    return password


def logins(conn: Connection) -> list[Manager]:
    return [_manager(row) for row in conn.execute(_BY_ID.order_by(managers.c.name, managers.c.manager_id))]


def change_role(conn: Connection, manager_id: str, role: str, by: str | None) -> Manager:
    """Give a login another role; `by` (the manager acting, None on the command line) cannot
    demote themself, and the last manager stays one. Returns the login as it was."""
    if role not in ROLES:
        raise ManagerError(N_("'{role}' is not a back-office role (manager, kitchen or accountant)."), role=role)
    found = _existing(conn, manager_id)
    if role != MANAGER:
        _keep_a_manager(conn, found, by)
    conn.execute(update(managers).where(managers.c.manager_id == manager_id).values(role=role))
    return found


def reset_password(conn: Connection, manager_id: str, now: datetime) -> str:
    """A new password for a login (its sessions end); returns it, to be shown once."""
    found = _existing(conn, manager_id)
    return set_manager(conn, manager_id, found.name, now, found.role)


def remove(conn: Connection, manager_id: str, by: str | None) -> Manager:
    """Take a login's access away (its sessions end at their next request); returns it."""
    found = _existing(conn, manager_id)
    _keep_a_manager(conn, found, by)
    conn.execute(delete(managers).where(managers.c.manager_id == manager_id))
    return found


def _existing(conn: Connection, manager_id: str) -> Manager:
    found = manager(conn, manager_id)
    if found is None:
        raise NoSuchManager(N_("There is no back-office login {manager_id}."), manager_id=manager_id)
    return found


def _keep_a_manager(conn: Connection, losing: Manager, by: str | None = None) -> None:
    """Refuse to take the manager role from `losing` when it is `by` themself or the last manager."""
    if losing.manager_id == by:
        raise LastManager(N_("You cannot remove or demote yourself: ask another manager."))
    if losing.role == MANAGER and conn.execute(select(func.count()).select_from(managers)
                                               .where(managers.c.role == MANAGER)).scalar_one() <= 1:
        raise LastManager(N_("{manager_id} is the last manager: make another login a manager first."),
                          manager_id=losing.manager_id)


def authenticate(conn: Connection, manager_id: str, password: str) -> Manager | None:
    row = conn.execute(_BY_ID.where(managers.c.manager_id == manager_id)).first()
    if not password_matches(row.password_hash if row else None, password):
        return None
    return _manager(row)


def manager(conn: Connection, manager_id: str) -> Manager | None:
    row = conn.execute(_BY_ID.where(managers.c.manager_id == manager_id)).first()
    return _manager(row) if row else None
