"""The kiosk's local SQLite ledger: connection set-up, transactions and the queries the services use.

Durability is the point: WAL with `synchronous=FULL` means a committed debit survives a power cut.
Every write goes through `transaction()` (`BEGIN IMMEDIATE`), so the check and the write of a
decision can never interleave with another process's.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import suppress
from datetime import date, datetime
from pathlib import Path

import sqlite_utils

from domain.clock import day_bounds, from_text, to_text, utc_now
from domain.entries import SERVER_ORIGIN, EntryKind, LedgerEntry, is_identifier
from domain.meals import BadgeStatus, CounterFacts, HoldReason, Pupil, ReservationKind
from domain.messages import N_, RefectoryError
from domain.settings import Settings

from . import schema
from .store_faults import database_faults, empty_database, fault_from, raise_fault
from .store_roster import _PUPIL_COLUMNS, _SPENDABLE, RosterQueries

DB_NAME = "kiosk.db"
AUTOCHECKPOINT_PAGES = 4000
_ENTRY_COLUMNS = ("e.id, e.account_id, e.amount_cents, e.kind, e.occurred_at, e.origin, e.operator, e.reference,"
                  " e.service_date, e.note")


_WRITER_LOCKS: dict[Path, threading.RLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(path: Path) -> threading.RLock:
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(path.resolve(), threading.RLock())


class StoreError(RefectoryError):
    code = "store_error"


class Store(RosterQueries):
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self._settings: tuple[int, Settings] | None = None
        self._writer_lock = _writer_lock(path)  # looked up once: resolving the path is file-system calls

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: str | Path, *, create: bool = False) -> Store:
        """Open the kiosk database; only `create=True` (`kiosk init`) makes a new one, and an
        empty file is refused as damaged. A full, read-only or damaged disk is a `DatabaseFault`."""
        data_dir = Path(data_dir)
        path = data_dir / DB_NAME
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = None
        except OSError as error:
            raise fault_from(error, path) from error
        if size is None and not create:
            raise StoreError(
                N_("No kiosk database in {dir}: run 'refectory kiosk init' first."), dir=data_dir
            )
        if size == 0:
            raise empty_database(path)
        conn = None
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves; sqlite-utils nests savepoints.
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Checkpoints run in idle time (`checkpoint`); this larger automatic one is the safety net.
            conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            schema.migrate(conn)
        except BaseException as error:
            if conn is not None:
                conn.close()
            if size is None:  # a new database that could not be made: leave no empty file behind
                for leftover in (path, path.with_name(DB_NAME + "-wal"), path.with_name(DB_NAME + "-shm")):
                    with suppress(OSError):
                        leftover.unlink(missing_ok=True)
            fault = fault_from(error, path)
            if fault is None:
                raise
            raise fault from error
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def checkpoint(self) -> None:
        """Copy the WAL back into the database; the kiosk calls it when the counter is idle."""
        with database_faults(self.path):
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> _Transaction:
        """One durable write transaction; rolled back entirely on any error, a failed COMMIT too.

        Writers of this process queue on a lock first (the counter and the sync agent use their
        own connections): a tap then waits exactly as long as the agent's current step, instead of
        SQLite's busy handler, which polls in sleeps of up to 100 ms.
        """
        return _Transaction(self)

    # -- identity and settings -------------------------------------------------------------

    def initialize(self, kiosk_id: str) -> None:
        check_kiosk_id(kiosk_id)
        with self.transaction():
            existing = self.conn.execute("SELECT kiosk_id FROM kiosk").fetchone()
            if existing and existing[0] != kiosk_id:
                raise StoreError(
                    N_("This data folder already belongs to kiosk '{existing}'."), existing=existing[0]
                )
            if not existing:
                self.conn.execute(
                    "INSERT INTO kiosk (singleton, kiosk_id, created_at) VALUES (1, ?, ?)",
                    (kiosk_id, to_text(utc_now())),
                )

    @property
    def kiosk_id(self) -> str:
        row = self.conn.execute("SELECT kiosk_id FROM kiosk").fetchone()
        if row is None:
            raise StoreError(N_("This kiosk has no identity yet: run 'refectory kiosk init'."))
        return row[0]

    def stored_settings(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM settings"))

    def settings(self) -> Settings:
        """Parsed settings, re-read only when the database changed under us (tap-path cost)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if self._settings is None or self._settings[0] != version:
            self._settings = (version, Settings.from_mapping(self.stored_settings()))
        return self._settings[1]

    def put_setting(self, key: str, value: str, now: datetime) -> None:
        self.db["settings"].upsert({"key": key, "value": value, "updated_at": to_text(now)}, pk="key")
        self._settings = None

    def put_pulled_setting(self, key: str, value: str, now: datetime) -> bool:
        """A setting from the server, kept once the settings it makes are consistent: the manager
        saves a pair at once (the service's start and end), and a pull may bring one before the
        other. Until then the kiosk serves on its last consistent settings. Returns whether the
        settings changed."""
        waiting = dict(self.conn.execute("SELECT key, value FROM settings_pending"))
        waiting[key] = value
        try:
            Settings.from_mapping({**self.stored_settings(), **waiting})
        except (RefectoryError, ValueError):  # the server checked each value: the rest is on its way
            self.conn.execute("INSERT INTO settings_pending (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT"
                              " (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                              (key, value, to_text(now)))
            return False
        for waiting_key, waiting_value in waiting.items():
            self.put_setting(waiting_key, waiting_value, now)
        self.conn.execute("DELETE FROM settings_pending")
        return True

    # -- pupils, badges, holds, reservations -----------------------------------------------

    def counter_facts(self, uid: str, day: date) -> CounterFacts | None:
        """Everything a tap decides on, in one indexed read (the tap's hot path)."""
        row = self.conn.execute(_COUNTER_FACTS, (uid, _day_text(day))).fetchone()
        if row is None:
            return None
        (status, pupil_id, first, last, class_name, category, diet, active, family_id,
         balance, hold, reservation, served, hold_note) = row  # the columns of _COUNTER_FACTS
        return CounterFacts(  # positionally, in field order: keywords cost twice as much, at every tap
            _BADGE_STATUSES[status],
            Pupil(pupil_id, first, last, class_name, category, diet, bool(active), family_id),
            balance,
            _HOLD_REASONS[hold] if hold else None,
            _RESERVATION_KINDS[reservation] if reservation else None,
            tuple(from_text(t) for t in served.split(" ")) if served else (),
            hold_note or "",
        )

    # -- ledger ----------------------------------------------------------------------------

    def balance(self, account_id: str) -> int:
        """What the pupil may spend: the ledger's balance less what the server set aside for a
        transfer to a sibling (0 but while one waits for the kiosks)."""
        row = self.conn.execute(_BALANCE, (account_id,)).fetchone()
        return row[0] if row else 0

    def append(self, entry: LedgerEntry) -> None:
        """Add an entry; the balance follows by trigger, and a kiosk-made one waits for push."""
        self.conn.execute(_INSERT_NEW_ENTRY, _entry_row(entry))

    def append_new(self, entries: list[LedgerEntry]) -> int:
        """Add the entries this ledger does not have yet (pulled ones; ids already here are skipped);
        returns how many were added."""
        if not entries:
            return 0
        return self.conn.executemany(_INSERT_PULLED_ENTRIES,
                                     [_entry_row(e) for e in entries]).rowcount

    def entry(self, entry_id: str) -> LedgerEntry | None:
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.id = ?",
            (entry_id,),
        ).fetchone()
        return _entry(row) if row else None

    def entries(self, account_id: str) -> list[LedgerEntry]:
        rows = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.account_id = ? ORDER BY e.seq",
            (account_id,),
        )
        return [_entry(r) for r in rows]

    def is_reversed(self, entry_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM entries WHERE reverses = ?", (entry_id,)).fetchone() is not None

    def next_receipt_number(self) -> int:
        """Gapless because it is read and used inside the same write transaction."""
        return self.conn.execute("SELECT COALESCE(MAX(receipt_no), 0) + 1 FROM receipts").fetchone()[0]

    def record_receipt(self, receipt_no: int, entry_id: str, now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO receipts (receipt_no, entry_id, issued_at) VALUES (?, ?, ?)",
            (receipt_no, entry_id, to_text(now)),
        )

    def receipt_numbers(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT receipt_no FROM receipts ORDER BY receipt_no")]

    def receipt_entry(self, receipt_no: int) -> tuple[LedgerEntry, datetime] | None:
        """The entry a receipt number was issued for, and when (for a reprint)."""
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS}, r.issued_at FROM receipts r JOIN entries e ON e.id = r.entry_id"
            " WHERE r.receipt_no = ?",
            (receipt_no,),
        ).fetchone()
        return (_entry(row[:10]), from_text(row[10])) if row else None

    def balance_after(self, entry_id: str) -> int:
        """The account's balance right after `entry_id`: its entries up to that one (by seq)."""
        return self.conn.execute(
            "SELECT COALESCE(SUM(e.amount_cents), 0) FROM entries x JOIN entries e"
            " ON e.account_id = x.account_id AND e.seq <= x.seq WHERE x.id = ?",
            (entry_id,),
        ).fetchone()[0]

    def cash_entries_on(self, day: date) -> list[tuple[LedgerEntry, str | None]]:
        """Non-meal entries made on a Zurich day, each with the kind of the entry it reverses."""
        start, end = day_bounds(day)
        rows = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS}, r.kind FROM entries e LEFT JOIN entries r ON r.id = e.reverses"
            " WHERE e.kind <> 'meal' AND e.occurred_at >= ? AND e.occurred_at < ? ORDER BY e.seq",
            (to_text(start), to_text(end)),
        )
        return [(_entry(r[:10]), r[10]) for r in rows]

    def meals_served_on(self, day: date, origin: str) -> int:
        """Meals (not reversed) of a service day made at `origin`: one index seek per pupil."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM pupils p CROSS JOIN served s ON s.pupil_id = p.pupil_id AND s.service_date = ?"
            " WHERE s.kiosk_id = ?",
            (day.isoformat(), origin),
        ).fetchone()[0]

    def verify_balances(self) -> list[tuple[str, int, int]]:
        """(account, cached, sum of entries) wherever the two differ, looked at from both sides:
        a cached row without entries and entries without a cached row count too."""
        return list(
            self.conn.execute(
                "WITH sums AS (SELECT account_id, SUM(amount_cents) AS total, COUNT(*) AS n FROM entries"
                "  GROUP BY account_id),"
                " accounts AS (SELECT account_id FROM sums UNION SELECT account_id FROM balances)"
                " SELECT a.account_id, COALESCE(b.balance_cents, 0), COALESCE(s.total, 0) FROM accounts a"
                " LEFT JOIN balances b USING (account_id) LEFT JOIN sums s USING (account_id)"
                " WHERE b.balance_cents IS NOT s.total OR b.entry_count IS NOT s.n"
            )
        )

    def outbox(self, limit: int) -> list[tuple[int, str, str]]:
        """This kiosk's entries the server has not acknowledged, oldest first: (seq, id, record as
        JSON text).

        Stored text is already the record's form (instants are canonical UTC text), so SQLite
        writes each record's JSON itself: a 500-entry push then costs no Python dict or encoder.
        """
        fields = ", ".join(f"'{name}', e.{name}" for name in _RECORD_FIELDS)
        return self.conn.execute(
            f"SELECT e.seq, e.id, json_object({fields}) FROM entries e"
            " WHERE e.seq > (SELECT pushed_seq FROM sync_state) AND e.origin = ? ORDER BY e.seq LIMIT ?",
            (self.kiosk_id, limit)).fetchall()

    def pending_push(self) -> int:
        """How many of this kiosk's records (entries, counts of the drawer, blocked badges) the server
        has not acknowledged yet."""
        return self.conn.execute(
            "SELECT (SELECT COUNT(*) FROM entries WHERE seq > (SELECT pushed_seq FROM sync_state) AND origin = ?)"
            " + (SELECT COUNT(*) FROM cash_counts WHERE seq > (SELECT pushed_count_seq FROM sync_state))"
            " + (SELECT COUNT(*) FROM badge_blocks WHERE seq > (SELECT pushed_block_seq FROM sync_state))",
            (self.kiosk_id,),
        ).fetchone()[0]


class _Transaction:
    """`Store.transaction()`: a plain context manager, since it runs at every tap."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Store:
        store = self.store
        store._writer_lock.acquire()
        try:
            store.conn.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            store._writer_lock.release()
            raise_fault(error, store.path)
            raise
        return store

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        store = self.store
        try:
            if kind is None:
                try:
                    store.conn.execute("COMMIT")
                    return
                except BaseException as commit_error:
                    _rollback(store.conn)
                    raise_fault(commit_error, store.path)
                    raise
            _rollback(store.conn)
            raise_fault(error, store.path)  # else the body's own error goes on
        finally:
            store._writer_lock.release()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may already have rolled back (disk full...)
        with suppress(sqlite3.Error):  # the first error says what went wrong
            conn.execute("ROLLBACK")


_BALANCE = f"SELECT {_SPENDABLE} FROM (SELECT ?1 AS pupil_id) p LEFT JOIN balances bal ON bal.account_id = p.pupil_id"
_COUNTER_FACTS = (
    f"SELECT b.status, {_PUPIL_COLUMNS}, {_SPENDABLE}, h.reason, r.kind,"
    " (SELECT group_concat(s.served_at, ' ') FROM served s WHERE s.pupil_id = p.pupil_id AND s.service_date = ?2),"
    " h.note"
    " FROM badges b JOIN pupils p USING (pupil_id)"
    " LEFT JOIN balances bal ON bal.account_id = p.pupil_id"
    " LEFT JOIN holds h ON h.pupil_id = p.pupil_id"
    " LEFT JOIN reservations r ON r.pupil_id = p.pupil_id AND r.service_date = ?2"
    " WHERE b.uid = ?1"
)
# Stored text to enum member by dict: an Enum call costs twenty times as much, at every tap.
_BADGE_STATUSES = {status.value: status for status in BadgeStatus}
_HOLD_REASONS = {reason.value: reason for reason in HoldReason}
_RESERVATION_KINDS = {kind.value: kind for kind in ReservationKind}
_RECORD_FIELDS = ("id", "account_id", "amount_cents", "kind", "occurred_at", "origin", "operator", "reference",
                  "service_date", "note")
_INSERT_ENTRY = ("{verb} INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, operator, reference,"
                 " service_date, note, reverses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_NEW_ENTRY = _INSERT_ENTRY.format(verb="INSERT")
_INSERT_PULLED_ENTRIES = _INSERT_ENTRY.format(verb="INSERT OR IGNORE")


def _entry_row(entry: LedgerEntry) -> tuple:
    return (entry.id, entry.account_id, entry.amount_cents, str(entry.kind), to_text(entry.occurred_at), entry.origin,
            entry.operator, entry.reference, _day_text(entry.service_date) if entry.service_date else None,
            entry.note, entry.reference if entry.kind is EntryKind.REVERSAL else None)


def _day_text(day: date) -> str:
    """`day` as ISO text. A tap asks it twice (its read, its meal entry), and every tap of a day
    asks the same, so the last answer is kept: formatting a date costs ten times the comparison."""
    global _last_day
    last = _last_day
    if last[0] == day:
        return last[1]
    text = day.isoformat()
    _last_day = (day, text)
    return text


_last_day: tuple[date | None, str] = (None, "")


def _entry(row: tuple) -> LedgerEntry:
    entry_id, account, amount, kind, occurred, origin, operator, reference, day, note = row
    return LedgerEntry(
        id=entry_id,
        account_id=account,
        amount_cents=amount,
        kind=kind,
        occurred_at=from_text(occurred),
        origin=origin,
        operator=operator,
        reference=reference,
        service_date=date.fromisoformat(day) if day else None,
        note=note,
    )


def check_kiosk_id(kiosk_id: str) -> None:
    """Refuse what cannot be a kiosk's id, before any folder or database is made for it."""
    if not is_identifier(kiosk_id) or kiosk_id == SERVER_ORIGIN:
        raise StoreError(N_("'{kiosk_id}' is not a kiosk id (1 to 32 letters, digits, '_' or '-')."), kiosk_id=kiosk_id)
