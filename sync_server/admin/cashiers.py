"""The cashiers who take cash at the kiosks: their names, PINs (hashed) and own badges.

A cashier reaches every kiosk at its next sync: each change is published to the change log in
the transaction that makes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.badges import normalize_uid
from domain.messages import N_
from domain.pins import check_cashier
from domain.sync import ChangeType
from sync_server.admin.errors import AdminError
from sync_server.admin.passwords import hash_pin
from sync_server.sync.changes import record_change
from sync_server.tables import badges, cashiers


def add_cashier(conn: Connection, cashier_id: str, name: str, pin: str, now: datetime,
                badge: str | None = None) -> None:
    """Add a cashier or replace one's name, PIN and badge (None: no badge)."""
    name = check_cashier(cashier_id, name)
    uid = normalize_uid(badge) if badge else None
    if uid is not None:
        if conn.execute(select(badges.c.uid).where(badges.c.uid == uid)).first():
            raise AdminError(N_("Badge {uid} belongs to a pupil; a cashier needs a badge of their own."), uid=uid)
        holder = conn.execute(select(cashiers.c.cashier_id).where(cashiers.c.badge_uid == uid,
                                                                 cashiers.c.cashier_id != cashier_id)).scalar()
        if holder is not None:
            raise AdminError(N_("Badge {uid} is already cashier {holder}'s."), uid=uid, holder=holder)
    record = {"cashier_id": cashier_id, "name": name, "pin_hash": hash_pin(pin), "active": True, "badge_uid": uid}
    if conn.execute(select(cashiers.c.cashier_id).where(cashiers.c.cashier_id == cashier_id)).first():
        conn.execute(update(cashiers).where(cashiers.c.cashier_id == cashier_id).values(**record))
    else:
        conn.execute(insert(cashiers).values(**record))
    record_change(conn, ChangeType.CASHIER, cashier_id, record, now)


def cashier_badges(conn: Connection) -> set[str]:
    """The badges cashiers hold, which no pupil may be given."""
    return set(conn.execute(select(cashiers.c.badge_uid).where(cashiers.c.badge_uid.is_not(None))).scalars())
