"""The cashiers who take cash at the kiosks: their names, PINs (hashed) and own badges.

A cashier reaches every kiosk at its next sync: each change is published to the change log in
the transaction that makes it, as the cashier's whole record (the kiosk replaces its copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.badges import normalize_uid
from domain.messages import N_
from domain.pins import check_cashier
from domain.sync import ChangeType
from sync_server.admin.errors import AdminError
from sync_server.admin.passwords import hash_pin
from sync_server.db import BADGE_UID, hold_name
from sync_server.sync.changes import record_change
from sync_server.tables import badges, cashiers


class CashierExists(AdminError):
    """Adding a cashier under an id already taken (the page adds; `cashier add` on the CLI replaces)."""


class BadgeTaken(AdminError):
    """The badge is a pupil's or another cashier's."""


class NoSuchCashier(AdminError):
    code = "not_found"


@dataclass(frozen=True, slots=True)
class Cashier:
    cashier_id: str
    name: str
    badge_uid: str | None
    active: bool


def add_cashier(conn: Connection, cashier_id: str, name: str, pin: str, now: datetime,
                badge: str | None = None, *, new: bool = False) -> None:
    """Add a cashier or replace one's name, PIN and badge (None: no badge); with `new`, an id
    already taken is refused instead."""
    name = check_cashier(cashier_id, name)
    uid = _free_badge(conn, cashier_id, badge)
    record = {"cashier_id": cashier_id, "name": name, "pin_hash": hash_pin(pin), "active": True, "badge_uid": uid}
    if conn.execute(select(cashiers.c.cashier_id).where(cashiers.c.cashier_id == cashier_id)).first():
        if new:
            raise CashierExists(N_("There is already a cashier {cashier_id}."), cashier_id=cashier_id)
        conn.execute(update(cashiers).where(cashiers.c.cashier_id == cashier_id).values(**record))
    else:
        conn.execute(insert(cashiers).values(**record))
    record_change(conn, ChangeType.CASHIER, cashier_id, record, now)


def set_pin(conn: Connection, cashier_id: str, pin: str, now: datetime) -> None:
    """A new PIN for a cashier (the old one stops working at each kiosk's next sync)."""
    _change(conn, cashier_id, {"pin_hash": hash_pin(pin)}, now)


def set_badge(conn: Connection, cashier_id: str, badge: str | None, now: datetime) -> str | None:
    """Give a cashier their own badge, or take it away (None); returns the UID as stored."""
    uid = _free_badge(conn, cashier_id, badge)
    _change(conn, cashier_id, {"badge_uid": uid}, now)
    return uid


def listed(conn: Connection) -> list[Cashier]:
    rows = conn.execute(select(cashiers.c.cashier_id, cashiers.c.name, cashiers.c.badge_uid, cashiers.c.active)
                        .order_by(cashiers.c.name, cashiers.c.cashier_id))
    return [Cashier(*row) for row in rows]


def _free_badge(conn: Connection, cashier_id: str, badge: str | None) -> str | None:
    """The badge's UID if no pupil and no other cashier holds it."""
    uid = normalize_uid(badge) if badge else None
    if uid is not None:
        hold_name(conn, BADGE_UID, uid)  # as a pupil's badge does: no pupil and cashier get it at once
        if conn.execute(select(badges.c.uid).where(badges.c.uid == uid)).first():
            raise BadgeTaken(N_("Badge {uid} belongs to a pupil; a cashier needs a badge of their own."), uid=uid)
        holder = conn.execute(select(cashiers.c.cashier_id).where(cashiers.c.badge_uid == uid,
                                                                 cashiers.c.cashier_id != cashier_id)).scalar()
        if holder is not None:
            raise BadgeTaken(N_("Badge {uid} is already cashier {holder}'s."), uid=uid, holder=holder)
    return uid


def _change(conn: Connection, cashier_id: str, values: dict, now: datetime) -> None:
    if conn.execute(update(cashiers).where(cashiers.c.cashier_id == cashier_id).values(**values)).rowcount != 1:
        raise NoSuchCashier(N_("There is no cashier {cashier_id}."), cashier_id=cashier_id)
    row = conn.execute(select(cashiers.c.cashier_id, cashiers.c.name, cashiers.c.pin_hash, cashiers.c.active,
                              cashiers.c.badge_uid).where(cashiers.c.cashier_id == cashier_id)).one()
    record_change(conn, ChangeType.CASHIER, cashier_id, dict(row._mapping), now)


def cashier_badges(conn: Connection) -> set[str]:
    """The badges cashiers hold, which no pupil may be given."""
    return set(conn.execute(select(cashiers.c.badge_uid).where(cashiers.c.badge_uid.is_not(None))).scalars())
