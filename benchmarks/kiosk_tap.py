"""Tap cost on a large kiosk store, as a ratio to its floor: the same tap written as raw SQL.

Builds (in a child process) a store with 2,000 pupils and 1,000,000 ledger entries, then in this
process times, interleaved on the same store and connection, 2,000 real taps (`KioskService.tap`)
and 2,000 floor taps, plus 2,000 bare durable one-row commits in a separate file on the same disk.

The floor tap is the durable work a tap cannot avoid, with none of our layers: `BEGIN IMMEDIATE`,
the one indexed read the decision needs (badge status, pupil, enrolment, balance, hold, today's
reservation, meals served today, the category's stored price), the one INSERT of the meal entry
(which is the served record; the schema's trigger updates the cached balance, as for a real tap),
`COMMIT` with `synchronous=FULL`. It does not normalize the UID, check the clock, work out the
Zurich day or service hours (its day and instant are given as text), parse settings, build or
validate objects, format the verdict, take the writer lock or map disk faults; its entry ids are
made before timing. It taps the same pupils as the real taps, on the next service day.

The bare commit was the floor before: on VMs whose fsync is answered from cache it measures CPU,
not the disk, so it stays only as a figure. Also times taps on a 1,000-entry store, to show the
cost does not grow with the ledger. Prints p50/p99 of each, their ratios and peak RSS; the last
line is `overhead_ratio_p99=<x>` (real tap p99 / floor tap p99).

Usage: .venv/bin/python benchmarks/kiosk_tap.py [--entries N] [--pupils N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.clock import SCHOOL_TZ as ZURICH  # noqa: E402
from domain.clock import to_text  # noqa: E402
from domain.meals import Pupil  # noqa: E402
from kiosk.service import KioskService  # noqa: E402
from kiosk.store import AUTOCHECKPOINT_PAGES, Store  # noqa: E402

TAP_AT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # a Monday, 12:00 in Zurich
FLOOR_AT = TAP_AT + timedelta(days=1)  # floor taps serve the same pupils on the next service day
PRICES = {"price.primary": "7.00"}  # stored, so that real and floor taps both read a stored price
IDLE_EVERY = 50  # taps between idle-time WAL checkpoints (the kiosk checkpoints when quiet)


def uid_of(n: int) -> str:
    return f"04{n:06X}"


def build(data_dir: Path, pupils: int, entries: int) -> None:
    """Fill a kiosk store quickly: bulk inserts in one transaction (the balance trigger runs)."""
    store = Store.open(data_dir, create=True)
    store.initialize("BENCH")
    for key, value in PRICES.items():
        store.put_setting(key, value, TAP_AT)
    store.conn.execute("PRAGMA synchronous = OFF")  # set-up only; the timed taps reopen with FULL
    store.conn.execute("PRAGMA cache_size = -262144")
    rng = random.Random(7)
    with store.transaction():
        for n in range(pupils):
            store.upsert_pupil(Pupil(f"P{n:05d}", "Prénom", f"Nom{n}", "5A", "primary"))
            store.assign_badge(uid_of(n), f"P{n:05d}", TAP_AT)
    per_pupil = max(1, entries // pupils)
    first_day = date(2020, 1, 6)

    def rows():
        for n in range(pupils):
            pupil = f"P{n:05d}"
            yield (str(uuid.uuid4()), pupil, 1_000_000, "cash_topup", to_text(TAP_AT - timedelta(days=3000)),
                   "BENCH", "c1", None, None)
            for k in range(per_pupil - 1):
                day = first_day + timedelta(days=k)
                yield (past_id(day, rng), pupil, -700, "meal",
                       to_text(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=11)),
                       "BENCH", None, uid_of(n), day.isoformat())

    batch = []
    for row in rows():
        batch.append(row)
        if len(batch) == 50_000:
            _insert(store, batch)
            batch = []
    if batch:
        _insert(store, batch)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def past_id(day: date, rng: random.Random) -> str:
    """A UUIDv7 as the kiosk made it on that day (time-ordered ids, like real history)."""
    return uuid7_at(int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000), rng)


def uuid7_at(millis: int, rng: random.Random) -> str:
    value = millis << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def _insert(store: Store, batch: list[tuple]) -> None:
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, operator, reference,"
            " service_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# The floor tap's read: everything `counter_facts` reads, plus the stored price, in one statement.
FLOOR_READ = (
    "SELECT b.status, p.pupil_id, p.active, COALESCE(bal.balance_cents, 0), h.reason, r.kind,"
    " (SELECT COUNT(*) FROM served s WHERE s.pupil_id = p.pupil_id AND s.service_date = ?2),"
    " (SELECT CAST(ROUND(st.value * 100) AS INTEGER) FROM settings st WHERE st.key = 'price.' || p.category)"
    " FROM badges b JOIN pupils p USING (pupil_id)"
    " LEFT JOIN balances bal ON bal.account_id = p.pupil_id"
    " LEFT JOIN holds h ON h.pupil_id = p.pupil_id"
    " LEFT JOIN reservations r ON r.pupil_id = p.pupil_id AND r.service_date = ?2"
    " WHERE b.uid = ?1"
)
FLOOR_INSERT = (
    "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, reference, service_date)"
    " VALUES (?, ?, ?, 'meal', ?, ?, ?, ?)"
)


def floor_tap(conn: sqlite3.Connection, uid: str, day: str, occurred_at: str, entry_id: str, origin: str) -> None:
    """The tap as hand-written SQL in one durable transaction; no domain code."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        status, pupil_id, active, balance, hold, _reservation, served, price = conn.execute(
            FLOOR_READ, (uid, day)).fetchone()
        if status != "active" or not active or hold or served or price is None or balance < price:
            raise SystemExit(f"floor tap of {uid} refused")
        conn.execute(FLOOR_INSERT, (entry_id, pupil_id, -price, occurred_at, origin, uid, day))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def measure(data_dir: Path, taps: int, floor_db: Path | None = None, durable: bool = True,
            sql_floor: bool = False) -> dict[str, list[float]]:
    """Time real taps and, interleaved (in a random order each round), floor taps on the same store
    (`sql_floor`) and bare commits on `floor_db`; all get the same idle checkpoints."""
    store = Store.open(data_dir)
    if not durable:
        store.conn.execute("PRAGMA synchronous = OFF")
    service = KioskService(store)
    commit_conn = None
    if floor_db:
        commit_conn = sqlite3.connect(floor_db, isolation_level=None)
        commit_conn.execute("PRAGMA journal_mode = WAL")
        commit_conn.execute("PRAGMA synchronous = FULL")
        commit_conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        commit_conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    order = list(range(taps))
    random.Random(11).shuffle(order)
    rng = random.Random(13)
    floor_day = FLOOR_AT.astimezone(ZURICH).date().isoformat()
    floor_ids = [uuid7_at(time.time_ns() // 1_000_000 + i, rng) for i in range(taps)]
    times: dict[str, list[float]] = {"tap": [], "floor": [], "commit": []}

    def real(i: int, n: int) -> None:
        uid, now = uid_of(n), TAP_AT + timedelta(milliseconds=i)
        start = time.perf_counter()
        result = service.tap(uid, now=now)
        times["tap"].append(time.perf_counter() - start)
        if not result.verdict.served:
            raise SystemExit(f"tap {i} refused: {result.verdict.message}")

    def floor(i: int, n: int) -> None:
        uid, occurred_at = uid_of(n), (FLOOR_AT + timedelta(milliseconds=i)).isoformat(timespec="microseconds")
        start = time.perf_counter()
        floor_tap(store.conn, uid, floor_day, occurred_at, floor_ids[i], service.kiosk_id)
        times["floor"].append(time.perf_counter() - start)

    def commit(i: int) -> None:
        start = time.perf_counter()
        commit_conn.execute("BEGIN IMMEDIATE")
        commit_conn.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        commit_conn.execute("COMMIT")
        times["commit"].append(time.perf_counter() - start)

    for i, n in enumerate(order):
        steps = [real, floor] if sql_floor else [real]
        rng.shuffle(steps)  # neither kind always comes first after a checkpoint
        for step in steps:
            step(i, n)
        if commit_conn is not None:
            commit(i)
        if i % IDLE_EVERY == IDLE_EVERY - 1:  # a quiet moment at the counter, not timed
            service.idle()
            if commit_conn is not None:
                commit_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pupils", type=int, default=2_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: a temp dir in the repo)")
    parser.add_argument("--build-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build(args.build_only, args.pupils, args.entries)
        return

    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.dir or ROOT))
    try:
        sizes = {"large": args.entries, "small": 1_000}
        for name, entries in sizes.items():
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--build-only", str(work / name), "--pupils", str(args.pupils),
                 "--entries", str(entries)],
                check=True,
            )
            elapsed = time.perf_counter() - started
            print(f"built {name} store: {args.pupils} pupils, {entries} entries in {elapsed:.1f} s")
        small_taps = measure(work / "small", args.pupils)["tap"]
        shutil.copytree(work / "large", work / "large-nosync")
        cpu_taps = measure(work / "large-nosync", args.pupils, durable=False)["tap"]
        timed = measure(work / "large", args.pupils, work / "floor.db", sql_floor=True)
        taps, floor, sql = timed["tap"], timed["commit"], timed["floor"]
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ms = 1000
        tap50, tap99 = percentile(taps, 0.50) * ms, percentile(taps, 0.99) * ms
        floor50, floor99 = percentile(floor, 0.50) * ms, percentile(floor, 0.99) * ms
        small50 = percentile(small_taps, 0.50) * ms
        print(f"taps={len(taps)} ledger_entries={args.entries} pupils={args.pupils}")
        print(f"tap_p50_ms={tap50:.3f} tap_p99_ms={tap99:.3f} tap_mean_ms={statistics.mean(taps) * ms:.3f}")
        print(f"floor_commit_p50_ms={floor50:.3f} floor_commit_p99_ms={floor99:.3f}")
        print(f"tap_p50_ms_at_1000_entries={small50:.3f} large_vs_small_p50={tap50 / small50:.2f}")
        print(f"tap_without_fsync_p50_ms={percentile(cpu_taps, 0.5) * ms:.3f} (decision + SQL work, no flush)")
        print(f"peak_rss_mb={rss_mb:.1f}")
        print(f"ratio_p50={tap50 / floor50:.2f}")
        print(f"ratio_p99={tap99 / floor99:.2f}")
        sql50, sql99 = percentile(sql, 0.50) * ms, percentile(sql, 0.99) * ms
        print(f"floor_tap_p50_ms={sql50:.3f} floor_tap_p99_ms={sql99:.3f} (the same tap as raw SQL, same store)")
        print(f"overhead_ratio_p50={tap50 / sql50:.2f}")
        print(f"overhead_ratio_p99={tap99 / sql99:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
