"""The kiosk's side of sync, in its database: the outbox to push, and pulled changes to apply.

The outbox is a cursor (`sync_state.pushed_seq`): this kiosk's entries above it wait for an
acknowledgement, and it only moves when the server has answered for them. Pulled changes are
applied idempotently: a record is written as it now is, an entry the kiosk already has (its own,
coming back) is left alone, so a page applied twice changes nothing.

Both cursors belong to one generation of the server's ledger (`follow_generation`): a restored
server has a new one, and the kiosk starts both over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from domain.clock import from_text, to_text
from domain.entries import EntryKind, LedgerEntry
from domain.meals import HoldReason, Pupil, ReservationKind
from domain.sync import Change, ChangeType

from .store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncState:
    server_url: str | None
    token: str | None
    pushed_seq: int
    cursor: str
    last_sync_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    last_error_code: str | None  # domain.sync.SyncErrorCode, or None from before codes
    clock_skew_seconds: int | None
    server_generation: str | None


def sync_state(store: Store) -> SyncState:
    row = store.conn.execute(
        "SELECT server_url, token, pushed_seq, pulled_cursor, last_sync_at, last_attempt_at, last_error,"
        " last_error_code, clock_skew_seconds, server_generation FROM sync_state").fetchone()
    url, token, pushed, cursor, last_sync, last_attempt, error, code, skew, generation = row
    return SyncState(url, token, pushed, cursor or "0", from_text(last_sync) if last_sync else None,
                     from_text(last_attempt) if last_attempt else None, error, code, skew, generation)


def save_enrollment(store: Store, server_url: str, token: str) -> None:
    with store.transaction():
        store.conn.execute("UPDATE sync_state SET server_url = ?, token = ?, last_error = NULL, last_error_code = NULL",
                           (server_url, token))


def mark_pushed(store: Store, up_to_seq: int) -> None:
    with store.transaction():
        store.conn.execute("UPDATE sync_state SET pushed_seq = MAX(pushed_seq, ?)", (up_to_seq,))


def follow_generation(store: Store, generation: str) -> str | None:
    """Take the server ledger's generation from an answer; returns the one it replaces when the
    server was restored since the last answer (None otherwise).

    Then the restored server may lack entries (and drawer counts and badge blocks) it had
    acknowledged, and its change feed is not the one the pull cursor counted in: the cursors go
    back to the start, in one transaction. The first generation a kiosk sees (a kiosk upgraded from
    a release without them) is taken as it is.
    """
    read = "SELECT server_generation FROM sync_state"
    if store.conn.execute(read).fetchone()[0] == generation:  # nearly every answer: no write, no lock
        return None
    with store.transaction():
        known = store.conn.execute(read).fetchone()[0]
        if known == generation:
            return None
        if known is None:
            store.conn.execute("UPDATE sync_state SET server_generation = ?", (generation,))
            return None
        store.conn.execute("UPDATE sync_state SET server_generation = ?, pushed_seq = 0, pushed_count_seq = 0,"
                           " pushed_block_seq = 0, pulled_cursor = NULL", (generation,))
        store.conn.execute("DELETE FROM settings_pending")  # from the lost server's feed: the pull starts over
        return known


def record_round(store: Store, now: datetime, *, error: str | None, error_code: str | None = None,
                 skew: int | None = None) -> None:
    with store.transaction():
        if error is None:
            store.conn.execute(
                "UPDATE sync_state SET last_sync_at = ?, last_attempt_at = ?, last_error = NULL,"
                " last_error_code = NULL, clock_skew_seconds = COALESCE(?, clock_skew_seconds)",
                (to_text(now), to_text(now), skew))
        else:
            store.conn.execute("UPDATE sync_state SET last_attempt_at = ?, last_error = ?, last_error_code = ?",
                               (to_text(now), error, error_code))


APPLY_CHUNK = 25  # changes per write transaction: a tap waits for one chunk at most (~1-2 ms)


def menu_of(store: Store, day: date) -> list[tuple[str, str]]:
    """(course, dish) of a service day's menu as the server last published it; [] when unknown."""
    return store.conn.execute("SELECT course, dish FROM menus WHERE service_date = ? ORDER BY position",
                              (day.isoformat(),)).fetchall()


def apply_page(store: Store, changes: list[Change], next_cursor: str, now: datetime) -> int:
    """Apply one pulled page, then move the cursor; returns entries added.

    The page is written in chunks of `APPLY_CHUNK` changes, each its own short transaction, the
    cursor moving with the last one. Applying is idempotent (records are written as they now are;
    `INSERT OR IGNORE` skips entries already here, and the balance trigger fires only for rows
    really added), so a page cut short by a crash is simply applied again from the old cursor.
    Entries are parsed before any lock is taken: a tap waits for writes only.
    """
    parsed = [LedgerEntry.from_record(c.record) if c.type is ChangeType.ENTRY else c for c in changes]
    chunks = [parsed[i:i + APPLY_CHUNK] for i in range(0, len(parsed), APPLY_CHUNK)] or [[]]
    added = 0
    kiosk_id = store.kiosk_id
    for number, chunk in enumerate(chunks, start=1):
        with store.transaction():
            run: list[LedgerEntry] = []
            for item in chunk:
                if isinstance(item, LedgerEntry):
                    run.append(item)
                    continue
                added += _append_new(store, run, kiosk_id)
                run = []
                _apply(store, item, now)
            added += _append_new(store, run, kiosk_id)
            if number == len(chunks):
                store.conn.execute("UPDATE sync_state SET pulled_cursor = ?", (next_cursor,))
    return added


def _append_new(store: Store, entries: list[LedgerEntry], kiosk_id: str) -> int:
    """`Store.append_new`, giving back its receipt number to each of this kiosk's own receipted
    entries that comes back from the server (a kiosk restored from a backup, or a replacement under
    the same id): its numbering then goes on after them, and their receipts can be reprinted."""
    own = [e for e in entries if e.origin == kiosk_id and e.kind in (EntryKind.CASH_TOPUP, EntryKind.REVERSAL)]
    known = {row[0] for row in store.conn.execute(  # nearly always none of them: no look-up
        f"SELECT id FROM entries WHERE id IN ({', '.join('?' * len(own))})", [e.id for e in own])} if own else set()
    added = store.append_new(entries)
    for entry in own:
        if entry.id not in known:
            _give_back_receipt(store, entry, kiosk_id)
    return added


def _give_back_receipt(store: Store, entry: LedgerEntry, kiosk_id: str) -> None:
    """A cash top-up's number is in its reference ("K1/7"). A cancellation's is not: it took the
    next number free when it was made, after its top-up's; the first number free above the top-up's
    is that one, unless two cancellations come back in another order than they were made."""
    if entry.kind is EntryKind.CASH_TOPUP:
        receipt_no = _receipt_of(entry, kiosk_id)
    else:
        original = store.entry(entry.reference or "")
        if original is None or original.kind is not EntryKind.CASH_TOPUP:
            return  # a meal's cancellation prints no receipt
        taken, receipt_no = set(store.receipt_numbers()), (_receipt_of(original, kiosk_id) or 0) + 1
        while receipt_no in taken:
            receipt_no += 1
    if receipt_no is None:
        return
    store.conn.execute("INSERT OR IGNORE INTO receipts (receipt_no, entry_id, issued_at) VALUES (?, ?, ?)",
                       (receipt_no, entry.id, to_text(entry.occurred_at)))


def _receipt_of(top_up: LedgerEntry, kiosk_id: str) -> int | None:
    prefix, _, number = (top_up.reference or "").rpartition("/")
    return int(number) if prefix == kiosk_id and number.isascii() and number.isdigit() else None


def _apply(store: Store, change: Change, now: datetime) -> None:
    record, conn = change.record, store.conn
    if change.type is ChangeType.PUPIL:
        if record.get("arrived"):  # from another school: what this kiosk held of the pupil is stale
            store.forget_pupil_state(record["pupil_id"])
        store.upsert_pupil(Pupil(record["pupil_id"], record["first_name"], record["last_name"],
                                 record["class_name"], record["category"], record.get("diet") or "",
                                 bool(record.get("active", True)), record.get("family_id")))
    elif change.type is ChangeType.BADGE:
        conn.execute("INSERT INTO badges (uid, pupil_id, status, since) VALUES (?, ?, ?, ?) ON CONFLICT (uid)"
                     " DO UPDATE SET pupil_id = excluded.pupil_id, status = excluded.status, since = excluded.since",
                     (record["uid"], record["pupil_id"], record["status"], record["since"]))
    elif change.type is ChangeType.SETTING:
        if not store.put_pulled_setting(record["key"], record["value"], now):
            log.info("setting %s=%s from the server waits for the settings saved with it", record["key"],
                     record["value"])
    elif change.type is ChangeType.CASHIER:
        conn.execute("INSERT INTO cashiers (cashier_id, name, pin_hash, active, badge_uid) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT (cashier_id) DO UPDATE SET name = excluded.name, pin_hash = excluded.pin_hash,"
                     " active = excluded.active, badge_uid = excluded.badge_uid",
                     (record["cashier_id"], record["name"], record["pin_hash"], int(record.get("active", True)),
                      record.get("badge_uid")))
    elif change.type is ChangeType.HOLD:
        store.set_hold(change.key, HoldReason(record["reason"]) if record else None, now,
                       (record or {}).get("note"))
    elif change.type is ChangeType.TRANSFER:
        store.set_aside(change.key, (record or {}).get("pupil_id"), (record or {}).get("amount_cents"))
    elif change.type is ChangeType.RESERVATION:
        pupil_id, _, day = change.key.partition("/")
        store.set_reservation(pupil_id, date.fromisoformat(day),
                              ReservationKind(record["kind"]) if record else None, now)
    elif change.type is ChangeType.MENU:
        conn.execute("DELETE FROM menus WHERE service_date = ?", (change.key,))
        conn.executemany(
            "INSERT INTO menus (service_date, position, course, dish, allergens, labels) VALUES (?, ?, ?, ?, ?, ?)",
            [(change.key, i, item["course"], item["dish"], item.get("allergens", ""), item.get("labels", ""))
             for i, item in enumerate((record or {}).get("items", []))])
