"""The server's ledger: entries pushed by kiosks and entries made on the server, one set.

An entry is inserted once by its id; the same id again with the same content is a duplicate (a
retried push whose acknowledgement was lost), with different content a conflict that is never
merged. What cannot be accepted is kept in quarantine with its reason, for the manager.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry
from domain.sync import KIOSK_ENTRY_KINDS, Ack, AckStatus, ChangeType

from .tables import entries, pupils, quarantine

_ENTRY_COLUMNS = (entries.c.id, entries.c.account_id, entries.c.amount_cents, entries.c.kind, entries.c.occurred_at,
                  entries.c.origin, entries.c.operator, entries.c.reference, entries.c.service_date, entries.c.note)


def stored_entry(conn: Connection, entry_id: str) -> LedgerEntry | None:
    row = conn.execute(select(*_ENTRY_COLUMNS).where(entries.c.id == entry_id)).first()
    if row is None:
        return None
    return LedgerEntry.from_record(dict(row._mapping))


def append(conn: Connection, entry: LedgerEntry, now: datetime) -> None:
    """Insert a new entry made on the server and publish it to the kiosks."""
    _insert(conn, [entry], now)


def _insert(conn: Connection, batch: list[LedgerEntry], now: datetime) -> None:
    """Entries and their change-log rows, each as one multi-row statement.

    Straight to the driver's `executemany`, with rows made from the entries without a dict in
    between: for a 500-entry push, SQLAlchemy's per-row parameter handling cost more than the
    inserts themselves.
    """
    at = to_text(now)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, operator, reference,"
        f" service_date, note, received_at) VALUES ({', '.join([mark] * 11)})",
        [(e.id, e.account_id, e.amount_cents, e.kind.value, to_text(e.occurred_at), e.origin, e.operator, e.reference,
          e.service_date.isoformat() if e.service_date else None, e.note, at) for e in batch])
    entry_type = ChangeType.ENTRY.value
    conn.exec_driver_sql(f"INSERT INTO changes (type, key, record, at) VALUES ({mark}, {mark}, NULL, {mark})",
                         [(entry_type, e.id, at) for e in batch])  # see changes.py


def ingest(conn: Connection, kiosk_id: str, batch: list[LedgerEntry], raw: list[dict], now: datetime) -> list[Ack]:
    """Acknowledge every entry of a kiosk's push; the caller's transaction makes it all or nothing.

    Almost every batch is new entries for known pupils: it is inserted as it is, under a savepoint,
    and the database's own constraints (unique id, known pupil) confirm it. Anything else (a batch
    sent again after a lost acknowledgement, an unknown pupil...) rolls back to the savepoint and
    is sorted out entry by entry below, with the same outcome either way.
    """
    if _all_new(conn, batch, now):
        return [Ack(entry.id, AckStatus.ACCEPTED) for entry in batch]
    return _sort_out(conn, kiosk_id, batch, raw, now)


def _all_new(conn: Connection, batch: list[LedgerEntry], now: datetime) -> bool:
    if any(entry.kind not in KIOSK_ENTRY_KINDS for entry in batch) or len({e.id for e in batch}) < len(batch):
        return False
    references = {e.reference for e in batch if e.kind is EntryKind.REVERSAL}
    if references:  # reversals are checked against their originals, wherever those are
        known = {**_stored(conn, references), **{e.id: e for e in batch}}
        if any(_refusal(e, known, {e.account_id}) for e in batch if e.kind is EntryKind.REVERSAL):
            return False
    savepoint = conn.begin_nested()
    try:
        _insert(conn, batch, now)
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _sort_out(conn: Connection, kiosk_id: str, batch: list[LedgerEntry], raw: list[dict],
              now: datetime) -> list[Ack]:
    """Entry by entry: the ids, pupils and reversed entries the batch mentions are looked up at
    once, and what is accepted is inserted at once."""
    known = _stored(conn, {e.id for e in batch} | {e.reference for e in batch if e.kind is EntryKind.REVERSAL})
    pupil_ids = {e.account_id for e in batch}
    known_pupils = set(conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id.in_(pupil_ids))).scalars())
    acks, accepted = [], []
    for entry, record in zip(batch, raw, strict=True):
        reason = _refusal(entry, known, known_pupils)
        if reason is None:
            known[entry.id] = entry
            accepted.append(entry)
            acks.append(Ack(entry.id, AckStatus.ACCEPTED))
        elif reason == "duplicate":
            acks.append(Ack(entry.id, AckStatus.DUPLICATE))
        else:
            _quarantine(conn, kiosk_id, entry.id, record, reason, now)
            acks.append(Ack(entry.id, AckStatus.REJECTED, reason))
    if accepted:
        _insert(conn, accepted, now)
    return acks


def _stored(conn: Connection, ids: set[str]) -> dict[str, LedgerEntry]:
    rows = conn.execute(select(*_ENTRY_COLUMNS).where(entries.c.id.in_(ids))) if ids else []
    return {row.id: LedgerEntry.from_record(dict(row._mapping)) for row in rows}


def _refusal(entry: LedgerEntry, known: dict[str, LedgerEntry], known_pupils: set[str]) -> str | None:
    existing = known.get(entry.id)
    if existing is not None:
        return "duplicate" if existing == entry else "conflict: this id already holds a different entry"
    if entry.kind not in KIOSK_ENTRY_KINDS:
        return f"a kiosk cannot make {entry.kind} entries"
    if entry.account_id not in known_pupils:
        return f"unknown pupil {entry.account_id}"
    if entry.kind is EntryKind.REVERSAL:
        # The original may not have arrived yet (batches can cross); the ledger is a set, so the
        # reversal is kept either way, and checked against its original whenever both are here.
        original = known.get(entry.reference or "")
        if original is not None and (original.account_id != entry.account_id
                                     or original.amount_cents != -entry.amount_cents):
            return "a reversal must cancel its entry exactly"
    return None


def _quarantine(conn: Connection, kiosk_id: str, entry_id: str, record: dict, reason: str, now: datetime) -> None:
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    seen = conn.execute(select(quarantine.c.id).where(
        quarantine.c.kiosk_id == kiosk_id, quarantine.c.record_id == entry_id, quarantine.c.record == text)).first()
    if seen is None:
        conn.execute(insert(quarantine).values(kiosk_id=kiosk_id, record_id=entry_id, record=text, reason=reason,
                                               received_at=to_text(now)))


def balance(conn: Connection, pupil_id: str) -> int:
    # int(): PostgreSQL's SUM of a bigint is numeric (a Decimal), and money is integer centimes
    return int(conn.execute(select(func.coalesce(func.sum(entries.c.amount_cents), 0))
                        .where(entries.c.account_id == pupil_id)).scalar_one())
