"""The change log: every record a kiosk must learn about, in the order kiosks apply them.

Writers append within `db.writing()`, so `seq` order is commit order and a pull cursor never
skips a change that commits late.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from domain.clock import to_text
from domain.sync import Change, ChangeType

from .tables import changes


def record_change(conn: Connection, type: ChangeType, key: str, record: dict | None, now: datetime) -> None:
    conn.execute(insert(changes).values(type=str(type), key=key, at=to_text(now),
                                        record=None if record is None else json.dumps(record, ensure_ascii=False)))


def changes_since(conn: Connection, cursor: int, limit: int) -> list[Change]:
    rows = conn.execute(
        select(changes.c.seq, changes.c.type, changes.c.key, changes.c.record)
        .where(changes.c.seq > cursor).order_by(changes.c.seq).limit(limit)
    )
    return [Change(seq, ChangeType(type), key, None if record is None else json.loads(record))
            for seq, type, key, record in rows]


def latest_seq(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(changes.c.seq), 0))).scalar_one()
