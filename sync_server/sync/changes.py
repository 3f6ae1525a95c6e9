"""The change log: every record a kiosk must learn about, in the order kiosks apply them.

Writers append within `db.writing()`, so `seq` order is commit order and a pull cursor never
skips a change that commits late. A change keeps the record as JSON, except an entry's: entries
never change, so the log only points at the row in `entries` (half the bytes written per entry).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from domain.clock import to_text
from domain.sync import Change, ChangeType
from sync_server.sync.feed_wait import announce, urgent
from sync_server.tables import changes, entries

_INSERT_CHANGE = insert(changes)  # built once: building a statement costs more than running it


def record_change(conn: Connection, type: ChangeType, key: str, record: dict | None, now: datetime) -> None:
    conn.execute(_INSERT_CHANGE, {"type": str(type), "key": key, "at": to_text(now),
                                  "record": None if record is None else json.dumps(record, ensure_ascii=False)})
    announce(conn, urgent(type))


ENTRY_FIELDS = ("id", "account_id", "amount_cents", "kind", "occurred_at", "origin", "operator", "reference",
                "service_date", "note")


def changes_since(conn: Connection, cursor: int, limit: int) -> list[Change]:
    entry_columns = [entries.c[name] for name in ENTRY_FIELDS]
    rows = conn.execute(
        select(changes.c.seq, changes.c.type, changes.c.key, changes.c.record, *entry_columns)
        .select_from(changes.outerjoin(
            entries, (changes.c.type == str(ChangeType.ENTRY)) & (entries.c.id == changes.c.key)))
        .where(changes.c.seq > cursor).order_by(changes.c.seq).limit(limit)
    )
    page = []
    for seq, type, key, record, *entry in rows:
        if type == ChangeType.ENTRY:
            page.append(Change(seq, ChangeType.ENTRY, key, dict(zip(ENTRY_FIELDS, entry, strict=True))))
        else:
            page.append(Change(seq, ChangeType(type), key, None if record is None else json.loads(record)))
    return page


def latest_seq(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(changes.c.seq), 0))).scalar_one()
