"""The drawer's counted cash in the kiosk database: recorded, read back for the day's report, and
pushed to the server past its own cursor (`sync_state.pushed_count_seq`), as entries are past theirs."""

from __future__ import annotations

import json
from datetime import date

from domain.cash_report import CashCount
from domain.clock import from_text, to_text

from .store import Store

_COLUMNS = "id, day, counted_cents, counted_at, counted_by"


def record(store: Store, count: CashCount) -> None:
    """Add a count (inside the caller's transaction)."""
    store.conn.execute(f"INSERT INTO cash_counts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                       (count.id, count.day.isoformat(), count.counted_cents, to_text(count.counted_at),
                        count.counted_by))


def latest(store: Store, day: date) -> CashCount | None:
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM cash_counts WHERE day = ? ORDER BY seq DESC LIMIT 1",
                             (day.isoformat(),)).fetchone()
    return _count(store.kiosk_id, row) if row else None


def outbox(store: Store, limit: int) -> list[tuple[int, str, str]]:
    """Counts the server has not acknowledged, oldest first: (seq, id, record as JSON text)."""
    kiosk_id = store.kiosk_id
    rows = store.conn.execute(
        f"SELECT seq, {_COLUMNS} FROM cash_counts WHERE seq > (SELECT pushed_count_seq FROM sync_state)"
        " ORDER BY seq LIMIT ?", (limit,)).fetchall()
    return [(row[0], row[1], json.dumps(_count(kiosk_id, row[1:]).to_record())) for row in rows]


def mark_pushed(store: Store, up_to_seq: int) -> None:
    with store.transaction():
        store.conn.execute("UPDATE sync_state SET pushed_count_seq = MAX(pushed_count_seq, ?)", (up_to_seq,))


def _count(kiosk_id: str, row: tuple) -> CashCount:
    count_id, day, cents, at, by = row
    return CashCount(count_id, kiosk_id, date.fromisoformat(day), cents, from_text(at), by)
