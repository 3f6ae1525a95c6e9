"""The server's ledger: entries pushed by kiosks and entries made on the server, one set.

An entry is inserted once by its id; the same id again with the same content is a duplicate (a
retried push whose acknowledgement was lost), with different content a conflict that is never
merged. What cannot be accepted is kept in quarantine with its reason, for the manager.

No entry is booked that would take its account's balance beyond ±`MAX_BALANCE_CENTS`, so no sum
over the ledger can overflow. A kiosk's reversal of an entry the server has not received holds
no money: it waits in quarantine (`waiting_for` the entry it reverses) and is booked when that
entry arrives, so a refund never pays out money a reversal of nothing made up.

Every entry is inserted by `_insert`, which adds what it moves to its account's row of
`account_balances` in the same transaction: a balance is read from there (`balance`, `balances`)
instead of summed over the account's entries; `verify_balances` recomputes every sum.

On PostgreSQL writers run side by side, so the balances a range check reads are locked first
(`_locked_balances`, in account order, so that two pushes cannot wait on each other), and held
until the transaction ends: a concurrent push for the same pupil waits for this one's sum. The
table's CHECK on the range stays as a backstop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Connection, func, insert, literal, or_, select, union, update
from sqlalchemy.exc import IntegrityError

from domain.clock import from_text, to_text
from domain.entries import EntryKind, LedgerEntry
from domain.money import MAX_COUNTER_AMOUNT_CENTS, AmountError, check_balance, format_chf
from domain.sync import KIOSK_ENTRY_KINDS, Ack, AckStatus, ChangeType
from sync_server.db import KIOSK_PUSH, chunked, hold_name, insert_new, sum_cents
from sync_server.sync.changes import record_entries
from sync_server.sync.feed_wait import urgent
from sync_server.tables import account_balances, entries, pupils, quarantine

_ENTRY_COLUMNS = (entries.c.id, entries.c.account_id, entries.c.amount_cents, entries.c.kind, entries.c.occurred_at,
                  entries.c.origin, entries.c.operator, entries.c.reference, entries.c.service_date, entries.c.note)
def append(conn: Connection, entry: LedgerEntry, now: datetime) -> None:
    """Insert a new entry made on the server and publish it to the kiosks."""
    append_many(conn, [entry], now)


def append_many(conn: Connection, batch: Sequence[LedgerEntry], now: datetime) -> None:
    """Insert entries made on the server, or none of them: an `AmountError` when one would take
    its balance out of range."""
    _check_range(batch, _locked_balances(conn, {entry.account_id for entry in batch}))
    _insert(conn, batch, now)


def _insert(conn: Connection, batch: Sequence[LedgerEntry], now: datetime,
            moved: dict[str, int] | None = None) -> dict[str, int]:
    """Entries and their change-log rows, each as one multi-row statement, then what they move
    added to their accounts' balances.

    Straight to the driver's `executemany`, with rows made from the entries without a dict in
    between: for a 500-entry push, SQLAlchemy's per-row parameter handling cost more than the
    inserts themselves. Returns the balances of the accounts it moved, as they now are; `moved` is
    what the batch moves on each account (`_moved`) when the caller has it already.
    """
    if not batch:
        return {}
    at = to_text(now)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, operator, reference,"
        f" service_date, note, received_at) VALUES ({', '.join([mark] * 11)})",
        [(e.id, e.account_id, e.amount_cents, e.kind.value, to_text(e.occurred_at), e.origin, e.operator, e.reference,
          e.service_date.isoformat() if e.service_date else None, e.note, at) for e in batch])
    record_entries(conn, [(e.id, e.account_id) for e in batch], at,
                   any(urgent(ChangeType.ENTRY, e.kind) for e in batch))
    return _add_to_balances(conn, _moved(batch) if moved is None else moved, mark)


def _add_to_balances(conn: Connection, moved: dict[str, int], mark: str) -> dict[str, int]:
    """One upsert per `SQL_CHUNK` accounts, the batch summed per account first: a 500-entry push
    is one statement whatever its number of pupils (benchmarks/balances.py compares it with a trigger).
    Returns each account's balance after it, so that nobody reads it again."""
    after: dict[str, int] = {}
    for part in chunked(sorted(moved.items())):
        rows = ", ".join([f"({mark}, {mark})"] * len(part))
        after.update(conn.exec_driver_sql(
            f"INSERT INTO account_balances (account_id, balance_cents) VALUES {rows} ON CONFLICT (account_id) DO UPDATE"
            " SET balance_cents = account_balances.balance_cents + excluded.balance_cents"
            " RETURNING account_id, balance_cents",
            tuple(value for pair in part for value in pair)).all())
    return after


@dataclass(frozen=True, slots=True)
class Ingested:
    """A push's outcome: an acknowledgement per entry, what it booked (its own entries accepted
    outright and the held reversals they released; a held one is acknowledged, not booked), and
    the balances of the accounts it moved, after it."""
    acks: list[Ack]
    booked: list[LedgerEntry]
    balances: dict[str, int]


def one_push_at_a_time(conn: Connection, kiosk_id: str) -> None:
    """Until the transaction ends, the kiosk's only push: the same batch sent twice at once (a
    retry after a timeout) is sorted out as duplicates after the first, never quarantined twice."""
    hold_name(conn, KIOSK_PUSH, kiosk_id)


def ingest(conn: Connection, kiosk_id: str, batch: list[LedgerEntry], raw: list[dict], now: datetime) -> Ingested:
    """Acknowledge every entry of a kiosk's push; the caller's transaction makes it all or nothing.

    Almost every batch is new entries for known pupils: it is inserted as it is, under a savepoint,
    and the database's own constraints (unique id, known pupil) confirm it. Anything else (a batch
    sent again after a lost acknowledgement, an unknown pupil, a reversal whose entry has not
    arrived...) rolls back to the savepoint and is sorted out entry by entry below, with the same
    outcome either way. Reversals held until this batch's entries arrived are booked after it.
    """
    kept: dict[str, int] = {}
    if _all_new(conn, batch, now, kept):
        acks = [Ack(entry.id, AckStatus.ACCEPTED) for entry in batch]
    else:
        acks = _sort_out(conn, kiosk_id, batch, raw, now, kept)
    booked = [entry for entry, ack in zip(batch, acks, strict=True)
              if ack.status is AckStatus.ACCEPTED and ack.reason is None]
    return Ingested(acks, booked + _release_held(conn, [entry.id for entry in booked], now, kept), kept)


def _all_new(conn: Connection, batch: list[LedgerEntry], now: datetime, kept: dict[str, int]) -> bool:
    if (any(entry.kind not in KIOSK_ENTRY_KINDS or abs(entry.amount_cents) > MAX_COUNTER_AMOUNT_CENTS
            for entry in batch) or len({e.id for e in batch}) < len(batch)):
        return False
    reversals = [e for e in batch if e.kind is EntryKind.REVERSAL]
    if reversals:  # reversals are checked against their originals, wherever those are
        references = {e.reference for e in reversals}
        known = {**_stored(conn, references), **{e.id: e for e in batch}}
        if (any(_reversal_problem(e, known) for e in reversals) or len(references) < len(reversals)
                or _reversed(conn, references)):
            return False
    savepoint = conn.begin_nested()  # the balances' locks too: an unknown pupil's row fails here
    try:
        if conn.dialect.name == "postgresql":
            _check_range(batch, _locked_balances(conn, {entry.account_id for entry in batch}))
            kept.update(_insert(conn, batch, now))
        else:  # one writer at a time: the balances the insert returns, less what it moved, are those before it
            moved = _moved(batch)
            after = _insert(conn, batch, now, moved)
            _check_range(batch, {account: balance - moved[account] for account, balance in after.items()})
            kept.update(after)
    except (AmountError, IntegrityError):
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _check_range(batch: Sequence[LedgerEntry], before: dict[str, int]) -> None:
    """An `AmountError` when one of the batch's entries, in order, takes its balance out of range."""
    for entry in batch:
        before[entry.account_id] = check_balance(before.get(entry.account_id, 0), entry.amount_cents)


def _moved(batch: Sequence[LedgerEntry]) -> dict[str, int]:
    """What the batch moves on each account."""
    moved: dict[str, int] = {}
    for e in batch:
        moved[e.account_id] = moved.get(e.account_id, 0) + e.amount_cents
    return moved


def _sort_out(conn: Connection, kiosk_id: str, batch: list[LedgerEntry], raw: list[dict],
              now: datetime, kept: dict[str, int]) -> list[Ack]:
    """Entry by entry: the ids, pupils and reversed entries the batch mentions are looked up at
    once, and what is accepted is inserted at once. Reversals are decided after the other
    entries, so that one sent before its original in the same batch finds it."""
    ids = {e.id for e in batch}
    references = {e.reference for e in batch if e.kind is EntryKind.REVERSAL}
    known = _stored(conn, ids | references)
    held = _held(conn, ids)
    pupil_ids = {e.account_id for e in batch}
    known_pupils = set(conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id.in_(pupil_ids))).scalars())
    after = _locked_balances(conn, known_pupils)
    # after the balances' locks: a reversal of the same entry pushed at this moment has committed by now
    reversed_by = _reversed(conn, references)
    order = ([i for i, e in enumerate(batch) if e.kind is not EntryKind.REVERSAL]
             + [i for i, e in enumerate(batch) if e.kind is EntryKind.REVERSAL])
    acks: list[Ack | None] = [None] * len(batch)
    accepted: set[int] = set()
    for index in order:
        entry = batch[index]
        status, reason = _verdict(entry, known, held, known_pupils)
        if status is AckStatus.ACCEPTED and entry.kind is EntryKind.REVERSAL:
            if reversed_by.get(entry.reference, entry.id) != entry.id:
                status, reason = AckStatus.REJECTED, _twice(entry, reversed_by)
            else:  # a second reversal of the same entry, later in this batch, is refused
                reversed_by[entry.reference] = entry.id
        if status is AckStatus.ACCEPTED and reason is None:
            try:
                after[entry.account_id] = check_balance(after.get(entry.account_id, 0), entry.amount_cents)
            except AmountError as error:
                status, reason = AckStatus.REJECTED, str(error)
        if status is AckStatus.ACCEPTED and reason is None:
            known[entry.id] = entry
            accepted.add(index)
        elif status is AckStatus.ACCEPTED:  # held: kept, counted once its original arrives
            held[entry.id] = entry
            _quarantine(conn, kiosk_id, entry.id, raw[index], reason, now, waiting_for=entry.reference)
        elif status is AckStatus.REJECTED:
            _quarantine(conn, kiosk_id, entry.id, raw[index], reason, now)
        acks[index] = Ack(entry.id, status, reason)
    kept.update(_insert(conn, [entry for index, entry in enumerate(batch) if index in accepted], now))
    return acks


def _stored(conn: Connection, ids: set[str]) -> dict[str, LedgerEntry]:
    found = {}
    for part in chunked(sorted(ids)):
        for row in conn.execute(select(*_ENTRY_COLUMNS).where(entries.c.id.in_(part))):
            found[row.id] = LedgerEntry.from_record(dict(row._mapping))
    return found


def _reversed(conn: Connection, originals: set[str], *, held: bool = True) -> dict[str, str]:
    """Which of `originals` a reversal already cancels, booked (or `held` for its original):
    {original: reversal}."""
    found = {}
    for part in chunked(sorted(originals)):
        found.update(conn.execute(select(entries.c.reference, entries.c.id).where(
            entries.c.kind == EntryKind.REVERSAL.value, entries.c.reference.in_(part))).all())
        if held:
            found.update(conn.execute(select(quarantine.c.waiting_for, quarantine.c.record_id).where(
                quarantine.c.waiting_for.in_(part), quarantine.c.released_at.is_(None))).all())
    return found


def _twice(entry: LedgerEntry, reversed_by: dict[str, str]) -> str:
    return f"the entry it reverses ({entry.reference}) is already cancelled by {reversed_by[entry.reference]}"


def _held(conn: Connection, ids: set[str]) -> dict[str, LedgerEntry]:
    """The reversals among `ids` that wait in quarantine for their original."""
    found = {}
    for part in chunked(sorted(ids)):
        for row in conn.execute(select(quarantine.c.record_id, quarantine.c.record).where(
                quarantine.c.record_id.in_(part), quarantine.c.waiting_for.is_not(None),
                quarantine.c.released_at.is_(None))):
            found[row.record_id] = LedgerEntry.from_record(json.loads(row.record))
    return found


def _verdict(entry: LedgerEntry, known: dict[str, LedgerEntry], held: dict[str, LedgerEntry],
             known_pupils: set[str]) -> tuple[AckStatus, str | None]:
    """Accepted (with a reason when held for its original), duplicate, or rejected with a reason."""
    existing = known.get(entry.id) or held.get(entry.id)
    if existing is not None:
        if existing == entry:
            return AckStatus.DUPLICATE, None
        return AckStatus.REJECTED, "conflict: this id already holds a different entry"
    if entry.kind not in KIOSK_ENTRY_KINDS:
        return AckStatus.REJECTED, f"a kiosk cannot make {entry.kind} entries"
    if abs(entry.amount_cents) > MAX_COUNTER_AMOUNT_CENTS:
        return AckStatus.REJECTED, f"a kiosk entry moves at most {format_chf(MAX_COUNTER_AMOUNT_CENTS)}"
    if entry.account_id not in known_pupils:
        return AckStatus.REJECTED, f"unknown pupil {entry.account_id}"
    if entry.kind is EntryKind.REVERSAL:
        problem = _reversal_problem(entry, known)
        if problem == _WAITING:
            return AckStatus.ACCEPTED, f"held until the entry it reverses ({entry.reference}) arrives"
        if problem:
            return AckStatus.REJECTED, problem
    return AckStatus.ACCEPTED, None


_WAITING = "waiting"


def _reversal_problem(entry: LedgerEntry, known: dict[str, LedgerEntry]) -> str | None:
    """None when the reversal cancels its original exactly, `_WAITING` while that original has
    not arrived (batches can cross), else what is wrong."""
    original = known.get(entry.reference or "")
    if original is None:
        return _WAITING
    if original.account_id != entry.account_id or original.amount_cents != -entry.amount_cents:
        return "a reversal must cancel its entry exactly"
    return None


def _quarantine(conn: Connection, kiosk_id: str, entry_id: str, record: dict, reason: str, now: datetime,
                waiting_for: str | None = None) -> None:
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    seen = conn.execute(select(quarantine.c.id).where(
        quarantine.c.kiosk_id == kiosk_id, quarantine.c.record_id == entry_id, quarantine.c.record == text)).first()
    if seen is None:
        conn.execute(insert(quarantine).values(kiosk_id=kiosk_id, record_id=entry_id, record=text, reason=reason,
                                               received_at=to_text(now), waiting_for=waiting_for))


_ANY_HELD = (select(quarantine.c.id)
             .where(quarantine.c.waiting_for.is_not(None), quarantine.c.released_at.is_(None)).limit(1))


def _release_held(conn: Connection, arrived: list[str], now: datetime, kept: dict[str, int]) -> list[LedgerEntry]:
    """Book the reversals that waited for one of the entries just accepted, and return them; one
    that does not cancel its entry exactly (or would take the balance out of range) stays in
    quarantine, rejected for that reason."""
    if not arrived or conn.execute(_ANY_HELD).first() is None:  # almost always: no look-up by the batch's ids
        return []
    rows = [row for part in chunked(arrived) for row in conn.execute(
        select(quarantine.c.id, quarantine.c.record).where(quarantine.c.waiting_for.in_(part),
                                                           quarantine.c.released_at.is_(None))
        .order_by(quarantine.c.id))]
    if not rows:
        return []
    waiting = [(row.id, LedgerEntry.from_record(json.loads(row.record))) for row in rows]
    known = _stored(conn, {e.id for _id, e in waiting} | {e.reference for _id, e in waiting})
    reversed_by = _reversed(conn, {e.reference for _id, e in waiting}, held=False)  # the held ones are these
    after = _locked_balances(conn, {e.account_id for _id, e in waiting})
    booked = []
    for row_id, entry in waiting:
        existing = known.get(entry.id)  # the kiosk sent it again with its original
        problem = _reversal_problem(entry, known)
        if problem == _WAITING:  # it reverses a reversal that is itself still held
            continue
        if existing is not None and existing != entry:
            problem = "conflict: this id already holds a different entry"
        if problem is None and reversed_by.get(entry.reference, entry.id) != entry.id:
            problem = _twice(entry, reversed_by)
        if problem is None and existing is None:
            try:
                after[entry.account_id] = check_balance(after.get(entry.account_id, 0), entry.amount_cents)
            except AmountError as error:
                problem = str(error)
        if problem is None:
            if existing is None:
                known[entry.id] = entry
                booked.append(entry)
                reversed_by[entry.reference] = entry.id
            values = {"released_at": to_text(now)}
        else:
            values = {"waiting_for": None, "reason": problem}
        conn.execute(update(quarantine).where(quarantine.c.id == row_id).values(**values))
    kept.update(_insert(conn, booked, now))
    return booked + (_release_held(conn, [entry.id for entry in booked], now, kept) if booked else [])


def balances(conn: Connection, account_ids: Iterable[str]) -> dict[str, int]:
    """Each account's balance (accounts without entries are left out)."""
    found: dict[str, int] = {}
    for part in chunked(sorted(set(account_ids))):
        found.update(conn.execute(select(account_balances.c.account_id, account_balances.c.balance_cents)
                                  .where(account_balances.c.account_id.in_(part))).all())
    return found


def _locked_balances(conn: Connection, account_ids: Iterable[str]) -> dict[str, int]:
    """`balances`, for a range check before booking: on PostgreSQL each known pupil's row is made
    if missing (balance 0) and locked until the transaction ends, in account order."""
    if conn.dialect.name != "postgresql":
        return balances(conn, account_ids)  # one writer at a time
    found: dict[str, int] = {}
    for part in chunked(sorted(set(account_ids))):
        conn.execute(insert_new(conn, account_balances).from_select(
            ["account_id", "balance_cents"],
            select(pupils.c.pupil_id, literal(0, BigInteger)).where(pupils.c.pupil_id.in_(part))))
        found.update(conn.execute(select(account_balances.c.account_id, account_balances.c.balance_cents)
                                  .where(account_balances.c.account_id.in_(part))
                                  .order_by(account_balances.c.account_id).with_for_update()).all())
    return found


def balance(conn: Connection, pupil_id: str, *, lock: bool = False) -> int:
    """The account's balance; with `lock`, held until the transaction ends (a refund takes it whole)."""
    if lock:
        return _locked_balances(conn, [pupil_id]).get(pupil_id, 0)
    kept = select(account_balances.c.balance_cents).where(account_balances.c.account_id == pupil_id)
    return conn.execute(kept).scalar_one_or_none() or 0


def verify_balances(conn: Connection) -> list[tuple[str, int | None, int | None]]:
    """(account, kept balance, sum of its entries) wherever the two differ, None for a missing row
    or no entries: empty unless an entry was written without `_insert` (the tests call it after
    booking money, as the kiosk's `Store.verify_balances`)."""
    sums = (select(entries.c.account_id, sum_cents(entries.c.amount_cents).label("total"))
            .group_by(entries.c.account_id).subquery())
    accounts = union(select(sums.c.account_id), select(account_balances.c.account_id)).subquery()
    kept, total = account_balances.c.balance_cents, sums.c.total
    rows = conn.execute(select(accounts.c.account_id, kept, total)
                        .select_from(accounts.outerjoin(account_balances,
                                                        account_balances.c.account_id == accounts.c.account_id)
                                     .outerjoin(sums, sums.c.account_id == accounts.c.account_id))
                        .where(or_(kept.is_(None), total.is_(None) & (kept != 0), kept != total))
                        .order_by(accounts.c.account_id))
    return [tuple(row) for row in rows]


@dataclass(frozen=True, slots=True)
class SetAside:
    """A kiosk's record in quarantine, as the manager reads it: held for its original
    (`waiting_for`), booked since (`released_at`), or refused for `reason`."""
    received_at: datetime
    kiosk_id: str
    entry_id: str | None
    account_id: str
    amount_cents: int
    reason: str
    waiting_for: str | None
    released_at: datetime | None


def set_aside(conn: Connection, limit: int = 200) -> list[SetAside]:
    """The latest records kept in quarantine, those still open (held or refused) first."""
    rows = conn.execute(select(quarantine).order_by(quarantine.c.released_at.is_not(None), quarantine.c.id.desc())
                        .limit(limit))
    found = []
    for row in rows:
        record = json.loads(row.record)  # a record the API's schema let through: these two are there
        found.append(SetAside(from_text(row.received_at), row.kiosk_id, row.record_id, record["account_id"],
                              record["amount_cents"], row.reason, row.waiting_for,
                              from_text(row.released_at) if row.released_at else None))
    return found


def set_aside_open(conn: Connection) -> int:
    """How many records in quarantine still hold or were refused (not booked since)."""
    still_open = select(func.count()).select_from(quarantine).where(quarantine.c.released_at.is_(None))
    return conn.execute(still_open).scalar_one()
