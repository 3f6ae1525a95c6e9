"""Kiosk database schema as numbered forward migrations (PRAGMA user_version).

A migration is frozen once released: later changes are new migrations, each run in its own
`BEGIN IMMEDIATE` transaction, so an interrupted upgrade leaves the previous version intact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

V1 = """
CREATE TABLE kiosk (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    kiosk_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE pupils (
    pupil_id TEXT PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    class_name TEXT NOT NULL,
    category TEXT NOT NULL,
    diet TEXT NOT NULL DEFAULT '',
    family_id TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
CREATE TABLE badges (
    uid TEXT PRIMARY KEY,
    pupil_id TEXT NOT NULL REFERENCES pupils (pupil_id),
    status TEXT NOT NULL CHECK (status IN ('active', 'lost', 'replaced', 'disabled')),
    since TEXT NOT NULL
);
CREATE INDEX badges_by_pupil ON badges (pupil_id);
CREATE TABLE holds (
    pupil_id TEXT PRIMARY KEY REFERENCES pupils (pupil_id),
    reason TEXT NOT NULL CHECK (reason IN ('refund', 'manager')),
    since TEXT NOT NULL
);
CREATE TABLE cashiers (
    cashier_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pin_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES pupils (pupil_id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents <> 0),
    kind TEXT NOT NULL CHECK (kind IN ('meal', 'cash_topup', 'bank_topup', 'online_topup',
                                       'refund', 'adjustment', 'reversal')),
    occurred_at TEXT NOT NULL,
    origin TEXT NOT NULL,
    operator TEXT,
    reference TEXT,
    service_date TEXT,
    note TEXT,
    reverses TEXT REFERENCES entries (id),
    CHECK ((kind = 'meal') = (service_date IS NOT NULL))
);
-- Few indexes on purpose: each one a meal touches is a page written (and fsynced) at every tap.
-- Ids are UUIDv7 (time-ordered), so the id index grows at its end.
CREATE INDEX entries_by_account_day ON entries (account_id, service_date);
CREATE INDEX entries_not_meals_by_time ON entries (occurred_at) WHERE kind <> 'meal';
CREATE UNIQUE INDEX entries_reversed_once ON entries (reverses) WHERE reverses IS NOT NULL;
-- Derived from entries by the trigger below, never written directly: balance lookups cost the
-- same at a thousand entries as at a million. `verify_balances` checks it against the sum.
CREATE TABLE balances (
    account_id TEXT PRIMARY KEY,
    balance_cents INTEGER NOT NULL,
    entry_count INTEGER NOT NULL
);
CREATE TRIGGER entries_update_balance AFTER INSERT ON entries BEGIN
    INSERT INTO balances (account_id, balance_cents, entry_count)
    VALUES (NEW.account_id, NEW.amount_cents, 1)
    ON CONFLICT (account_id) DO UPDATE SET
        balance_cents = balance_cents + excluded.balance_cents,
        entry_count = entry_count + 1;
END;
CREATE TRIGGER entries_are_immutable BEFORE UPDATE ON entries BEGIN
    SELECT RAISE(ABORT, 'ledger entries are immutable');
END;
CREATE TRIGGER entries_are_permanent BEFORE DELETE ON entries BEGIN
    SELECT RAISE(ABORT, 'ledger entries are never deleted');
END;
-- A served record is the meal entry itself (one fact, stored once); reversed meals drop out.
CREATE VIEW served AS
    SELECT e.id AS entry_id, e.account_id AS pupil_id, e.service_date, e.occurred_at AS served_at,
           e.origin AS kiosk_id, e.reference AS badge_uid
    FROM entries e
    WHERE e.kind = 'meal' AND NOT EXISTS (SELECT 1 FROM entries r WHERE r.reverses = e.id);
CREATE TABLE receipts (
    receipt_no INTEGER PRIMARY KEY CHECK (receipt_no > 0),
    entry_id TEXT NOT NULL UNIQUE REFERENCES entries (id),
    issued_at TEXT NOT NULL
);
CREATE TABLE reservations (
    pupil_id TEXT NOT NULL REFERENCES pupils (pupil_id),
    service_date TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('normal', 'special')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (pupil_id, service_date)
);
-- The outbox is a cursor, not a queue: this kiosk's entries with seq above `pushed_seq` wait
-- for the server's acknowledgement. A tap writes nothing extra for sync.
CREATE TABLE sync_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    pushed_seq INTEGER NOT NULL DEFAULT 0,
    pulled_cursor TEXT
);
INSERT INTO sync_state (singleton) VALUES (1);
"""

# Sync with the server: where and as whom, how the last round went, and today's menus.
V2 = """
ALTER TABLE sync_state ADD COLUMN server_url TEXT;
ALTER TABLE sync_state ADD COLUMN token TEXT;
ALTER TABLE sync_state ADD COLUMN last_sync_at TEXT;
ALTER TABLE sync_state ADD COLUMN last_attempt_at TEXT;
ALTER TABLE sync_state ADD COLUMN last_error TEXT;
ALTER TABLE sync_state ADD COLUMN clock_skew_seconds INTEGER;
CREATE TABLE menus (
    service_date TEXT NOT NULL,
    position INTEGER NOT NULL,
    course TEXT NOT NULL,
    dish TEXT NOT NULL,
    allergens TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service_date, position)
);
"""

# Cashier badges: a cashier's own badge opens cashier mode at the screen.
V3 = """
ALTER TABLE cashiers ADD COLUMN badge_uid TEXT;
CREATE UNIQUE INDEX cashiers_badge ON cashiers (badge_uid) WHERE badge_uid IS NOT NULL;
"""

# Counted cash: each count of the drawer is a record of its own, pushed to the server
# past its own cursor; a recount is a new row, the latest counts.
V4 = """
CREATE TABLE cash_counts (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    day TEXT NOT NULL,
    counted_cents INTEGER NOT NULL CHECK (counted_cents >= 0),
    counted_at TEXT NOT NULL,
    counted_by TEXT
);
CREATE INDEX cash_counts_by_day ON cash_counts (day, seq);
CREATE TRIGGER cash_counts_are_immutable BEFORE UPDATE ON cash_counts BEGIN
    SELECT RAISE(ABORT, 'cash counts are immutable: count again');
END;
CREATE TRIGGER cash_counts_are_permanent BEFORE DELETE ON cash_counts BEGIN
    SELECT RAISE(ABORT, 'cash counts are never deleted');
END;
ALTER TABLE sync_state ADD COLUMN pushed_count_seq INTEGER NOT NULL DEFAULT 0;
"""

# Server restores: the server ledger's generation this kiosk last saw. NULL until its
# first sync after the upgrade, which takes the server's as it is.
V5 = """
ALTER TABLE sync_state ADD COLUMN server_generation TEXT;
"""


# Exclusions: a manager hold carries the manager's reason, shown at the refusal.
V6 = """
ALTER TABLE holds ADD COLUMN note TEXT;
"""

# The code of the last sync error (domain.sync.SyncErrorCode), sent with its text in the heartbeat.
V7 = """
ALTER TABLE sync_state ADD COLUMN last_error_code TEXT;
"""

# Badges a cashier blocked as lost at this kiosk: each block a record of its own, pushed to the
# server past its own cursor (the server marks the badge lost, and every kiosk learns it).
V8 = """
CREATE TABLE badge_blocks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    uid TEXT NOT NULL,
    pupil_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    blocked_at TEXT NOT NULL,
    blocked_by TEXT NOT NULL
);
CREATE TRIGGER badge_blocks_are_immutable BEFORE UPDATE ON badge_blocks BEGIN
    SELECT RAISE(ABORT, 'badge blocks are immutable');
END;
CREATE TRIGGER badge_blocks_are_permanent BEFORE DELETE ON badge_blocks BEGIN
    SELECT RAISE(ABORT, 'badge blocks are never deleted');
END;
ALTER TABLE sync_state ADD COLUMN pushed_block_seq INTEGER NOT NULL DEFAULT 0;
"""


# Transfers between siblings: the money the server set aside on an account until it books the
# transfer (sync_server.money.sibling_transfers); a tap spends the balance minus what is set aside.
# The ledger takes the transfer's entries, a kind V1's CHECK did not list: the constraint is widened
# in place, as SQLite documents for loosening a CHECK (no stored row can break it), instead of
# copying every entry into a new table.
V9_TABLE = """
CREATE TABLE set_aside (
    transfer_id TEXT PRIMARY KEY,
    pupil_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0)
);
CREATE INDEX set_aside_by_pupil ON set_aside (pupil_id);
"""
_LAST_V1_KIND = "'reversal'))"


def v9(conn: sqlite3.Connection) -> None:
    for statement in _statements(V9_TABLE):
        conn.execute(statement)
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'entries'",
                 (_LAST_V1_KIND, "'reversal', 'transfer'))"))
    conn.execute(f"PRAGMA schema_version = {version + 1}")  # every connection reads the schema again
    conn.execute("PRAGMA writable_schema = OFF")


# Settings pulled from the server that would leave the kiosk's set inconsistent (service.start
# after the service.end still stored) wait here for the rest of what the manager saved with them,
# which may come in a later page or chunk of the pull (`Store.put_pulled_setting`).
V10 = """
CREATE TABLE settings_pending (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (V1, V2, V3, V4, V5, V6, V7, V8, v9, V10)
LATEST = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    pass


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the latest version; returns the version it started from."""
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > LATEST:
        raise SchemaTooNewError(f"database schema v{start} is newer than this software (v{LATEST})")
    for version in range(start + 1, LATEST + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration = MIGRATIONS[version - 1]
            if callable(migration):  # a step SQL alone cannot say
                migration(conn)
            else:
                for statement in _statements(migration):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return start


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements
