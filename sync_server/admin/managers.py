"""The canteen's managers: who may use the back office. A role of its own: a family login or a
cashier PIN never opens it, and a manager's login is not a family's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.clock import to_text
from domain.entries import is_identifier
from domain.messages import N_, RefectoryError
from domain.text import has_control_characters
from sync_server.admin.passwords import PASSWORD_ALPHABET, hash_password, new_secret, password_matches
from sync_server.tables import managers

MAX_NAME = 100
MANAGER, KITCHEN, ACCOUNTANT = ROLES = ("manager", "kitchen", "accountant")


class ManagerError(RefectoryError):
    code = "invalid_request"


@dataclass(frozen=True, slots=True)
class Manager:
    manager_id: str
    name: str
    session_key: str  # from the password hash: a new password ends the manager's sessions
    role: str = MANAGER  # manager: everything; kitchen: menus and counts; accountant: money pages, read-only


_BY_ID = select(managers.c.manager_id, managers.c.name, managers.c.password_hash, managers.c.role)


def _manager(row) -> Manager:
    return Manager(row.manager_id, row.name, hashlib.sha256(row.password_hash.encode()).hexdigest()[:16], row.role)


def set_manager(conn: Connection, manager_id: str, name: str, now: datetime, role: str = MANAGER) -> str:
    """Add a back-office login, or give an existing one a new password and role; returns the password
    to hand over."""
    name = (name or "").strip()
    if not is_identifier(manager_id):
        raise ManagerError(N_("'{manager_id}' is not a manager id (letters, digits, '_', '-')."), manager_id=manager_id)
    if not name or len(name) > MAX_NAME or has_control_characters(name):
        raise ManagerError(N_("Give the manager's name (at most {count} characters)."), count=MAX_NAME)
    if role not in ROLES:
        raise ManagerError(N_("'{role}' is not a back-office role (manager, kitchen or accountant)."), role=role)
    password = new_secret(PASSWORD_ALPHABET, 16)
    values = {"name": name, "password_hash": hash_password(password), "password_changed_at": to_text(now),
              "role": role}
    if conn.execute(update(managers).where(managers.c.manager_id == manager_id).values(**values)).rowcount == 0:
        conn.execute(insert(managers).values(manager_id=manager_id, **values))
    return password


def authenticate(conn: Connection, manager_id: str, password: str) -> Manager | None:
    row = conn.execute(_BY_ID.where(managers.c.manager_id == manager_id)).first()
    if not password_matches(row.password_hash if row else None, password):
        return None
    return _manager(row)


def manager(conn: Connection, manager_id: str) -> Manager | None:
    row = conn.execute(_BY_ID.where(managers.c.manager_id == manager_id)).first()
    return _manager(row) if row else None
