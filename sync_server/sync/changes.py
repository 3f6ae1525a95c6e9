"""The change log: every record a kiosk must learn about, in the order kiosks apply them.

A change's `seq` is its position in the feed, and a kiosk's pull cursor is the last position it
applied. The one rule: once a pull has handed out position P, no change below P may commit.

- SQLite has one writer at a time (`db.writing`), so `seq` is an autoincrement and its order is
  commit order: every committed change is pullable.
- PostgreSQL writers run side by side. A transaction's positions are `offset + (xid << 20) + n`
  (its transaction id, then a counter: at most 2**20 changes per transaction). A transaction id is
  given at the first write, so a running transaction can only write positions at or above its own
  id, and every id below the snapshot's xmin belongs to a transaction that has ended. A pull
  therefore hands out only positions below `offset + (xmin << 20)` (`latest_seq`): nothing can
  commit there any more. `offset` (kept in `ledger_generation`) lifts new positions above any
  written before: the old autoincrement seqs (migration 0020) and a restored dump's, whose
  transaction ids came from another cluster (`REBASE_OFFSET`, run by the migration and by a
  restore).
- Records that change (every type but entries) are set on the kiosk by key, so two transactions
  writing the same key must reach kiosks in commit order, which transaction ids alone do not give
  (an older transaction can write a key after a younger one committed it). Recording one takes
  `FEED_LOCK_KEY` until commit and, if a committed change already sits above this transaction's
  next position, continues just above it (`_claim`): inside the range of a transaction that has
  ended, so still pullable only once this one has ended too. Entries never change and take no lock.

A change keeps the record as JSON, except an entry's: entries never change, so the log only points
at the row in `entries` (half the bytes written per entry).

A city's kiosks each follow their school's feed: a change about a pupil carries the pupil's school
(`school_of`), and a kiosk of a school pulls that school's changes and those without one (settings,
menus, cashiers, pupils of no school). A kiosk's cursor still moves over the whole feed: a page
that is not full ends at the latest pullable position (`Page.next`), so the kiosk passes the
other schools' changes (and a refund's fence) without pulling them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, text

from domain.clock import to_text
from domain.sync import Change, ChangeType
from sync_server.db import fetch_all
from sync_server.sync.feed_wait import announce, urgent
from sync_server.tables import changes, entries, pupils

_INSERT_CHANGE = insert(changes)  # built once: building a statement costs more than running it
POSITION_BITS = 20
PER_TRANSACTION = 1 << POSITION_BITS
FEED_LOCK_KEY = 7_310_222  # any constant: the advisory lock that orders changes of records by key
_OWN_START = text("SELECT feed_offset, pg_current_xact_id()::text::bigint FROM ledger_generation")
_LATEST = select(func.max(changes.c.seq))
# One statement, one snapshot: every transaction below its xmin has ended and is visible to it.
_LATEST_PULLABLE = text(
    "SELECT MAX(seq) FROM changes WHERE seq < (SELECT feed_offset + (pg_snapshot_xmin(pg_current_snapshot())"
    f"::text::bigint << {POSITION_BITS}) FROM ledger_generation)")
# New positions above every position already written (see the module docstring); run in the
# transaction that brings the rows in (the migration, a restore), with no writer beside it.
REBASE_OFFSET = ("UPDATE ledger_generation SET feed_offset = GREATEST(feed_offset, COALESCE((SELECT MAX(seq)"
                 f" FROM changes), 0) + 1 - (pg_current_xact_id()::text::bigint << {POSITION_BITS}))")


class FeedFull(RuntimeError):
    """A transaction tried to record more changes than its range of positions holds."""


_SCHOOL_OF = select(pupils.c.school).where(pupils.c.pupil_id == bindparam("pupil_id"))


def school_of(conn: Connection, pupil_id: str) -> str | None:
    """The school whose kiosks hear of this pupil's changes (None: every kiosk)."""
    found = fetch_all(conn, _SCHOOL_OF, {"pupil_id": pupil_id})
    return found[0][0] if found else None


def record_change(conn: Connection, type: ChangeType, key: str, record: dict | None, now: datetime, *,
                  school: str | None = None) -> int:
    """Append a change for the kiosks of `school` (None: every kiosk) and return its position (a
    refund's fence is its hold's)."""
    values = {"type": str(type), "key": key, "at": to_text(now), "school": school,
              "record": None if record is None else json.dumps(record, ensure_ascii=False)}
    announce(conn, urgent(type), school)
    if conn.dialect.name != "postgresql":
        return conn.execute(_INSERT_CHANGE, values).inserted_primary_key[0]
    seq = _claim(conn, 1, keyed=type is not ChangeType.ENTRY)
    conn.execute(_INSERT_CHANGE, {"seq": seq, **values})
    return seq


def record_entries(conn: Connection, batch: Sequence[tuple[str, str]], at: str,
                   is_urgent: bool = True) -> None:
    """The changes of entries just inserted, `(entry id, account id)` each, in one statement straight
    to the driver (see ledger._insert); each for its account's school, looked up row by row inside
    the statement (a list of ids bound from Python cost a push more than the look-ups)."""
    if not batch:
        return
    entry_type = ChangeType.ENTRY.value
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql("INSERT INTO changes (type, key, record, at, school) VALUES (?, ?, NULL, ?,"
                             " (SELECT school FROM pupils WHERE pupil_id = ?))",
                             [(entry_type, entry_id, at, account_id) for entry_id, account_id in batch])
        return
    if is_urgent:  # the kiosks of these schools are told at commit
        for (school,) in conn.exec_driver_sql("SELECT DISTINCT school FROM pupils WHERE pupil_id = ANY(%s)",
                                              ([account_id for _, account_id in batch],)):
            announce(conn, True, school)
    first = _claim(conn, len(batch), keyed=False)
    conn.exec_driver_sql("INSERT INTO changes (seq, type, key, record, at, school) VALUES (%s, %s, %s, NULL, %s,"
                         " (SELECT school FROM pupils WHERE pupil_id = %s))",
                         [(first + i, entry_type, entry_id, at, account_id)
                          for i, (entry_id, account_id) in enumerate(batch)])


def _claim(conn: Connection, count: int, *, keyed: bool) -> int:
    """The first of `count` consecutive positions for this transaction (PostgreSQL).

    The transaction's next position and the end of its range are kept in `conn.info`, tied to the
    transaction they were made in."""
    root = conn.get_transaction()
    if root is None:
        raise RuntimeError("changes are recorded inside a transaction")
    state = conn.info.get("refectory.feed")
    if state is None or state[0] is not root:
        offset, xid = conn.execute(_OWN_START).one()
        start = offset + (xid << POSITION_BITS)
        state = conn.info["refectory.feed"] = [root, start, start + PER_TRANSACTION, offset, False]
    _, position, end, offset, ordered = state
    if keyed and not ordered:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK_KEY})
        latest = conn.execute(_LATEST).scalar()  # committed ones and ours: the lock keeps other recorders out
        if latest is not None and latest >= position:  # in the range of a transaction that has ended
            position = latest + 1
            end = offset + ((((latest - offset) >> POSITION_BITS) + 1) << POSITION_BITS)
        state[4] = True
    if position + count > end:
        raise FeedFull(f"one transaction may record at most {PER_TRANSACTION - 1} changes; this one asked for"
                       f" {count} more at position {position} (its range ends at {end})")
    state[1], state[2] = position + count, end
    return position


ENTRY_FIELDS = ("id", "account_id", "amount_cents", "kind", "occurred_at", "origin", "operator", "reference",
                "service_date", "note")
_ENTRY_COLUMNS = [entries.c[name] for name in ENTRY_FIELDS]
_PAGE = (select(changes.c.seq, changes.c.type, changes.c.key, changes.c.record, *_ENTRY_COLUMNS)
         .select_from(changes.outerjoin(
             entries, (changes.c.type == str(ChangeType.ENTRY)) & (entries.c.id == changes.c.key))))


def _for_school(school: str):
    """The changes a kiosk of `school` pulls: its school's and those for every kiosk."""
    return (changes.c.school == school) | changes.c.school.is_(None)


@dataclass(frozen=True, slots=True)
class Page:
    """What a pull hands out: changes in position order, whether more follow, and the cursor after
    it (past the changes for other schools too, when the page is not full)."""

    changes: list[Change]
    more: bool
    next: int


def page_after(conn: Connection, cursor: int, limit: int, school: str | None = None) -> Page:
    """Up to `limit` changes after `cursor` for the kiosks of `school` (None: all changes), none that
    a later commit could precede."""
    end = latest_seq(conn)  # read first: every change up to it is visible to the page's later query
    query = _PAGE.where(changes.c.seq > cursor, changes.c.seq <= end)
    if school is not None:
        query = query.where(_for_school(school))
    found = []
    for seq, type, key, record, *entry in conn.execute(query.order_by(changes.c.seq).limit(limit + 1)):
        if type == ChangeType.ENTRY:
            found.append(Change(seq, ChangeType.ENTRY, key, dict(zip(ENTRY_FIELDS, entry, strict=True))))
        else:
            found.append(Change(seq, ChangeType(type), key, None if record is None else json.loads(record)))
    if len(found) > limit:
        return Page(found[:limit], True, found[limit - 1].seq)
    return Page(found, False, max(cursor, end))


BEHIND_COUNTED = 100_000  # past this many, a kiosk is simply far behind: counting on costs a page per row


def changes_behind(conn: Connection, cursor: int, head: int, school: str | None = None) -> int:
    """How many changes for the kiosks of `school` lie after `cursor` up to `head` (`latest_seq`), at
    most `BEHIND_COUNTED`. Positions are not consecutive on PostgreSQL (each transaction has a range),
    so they are counted, not subtracted."""
    if cursor >= head:
        return 0
    after = select(changes.c.seq).where(changes.c.seq > cursor, changes.c.seq <= head)
    if school is not None:
        after = after.where(_for_school(school))
    after = after.limit(BEHIND_COUNTED)
    return conn.execute(select(func.count()).select_from(after.subquery())).scalar_one()


def latest_seq(conn: Connection) -> int:
    """The latest pullable position (0 for none): where a kiosk that has pulled everything stands."""
    query = _LATEST_PULLABLE if conn.dialect.name == "postgresql" else _LATEST
    return conn.execute(query).scalar() or 0
