"""Balances on a large school: 20,000 pupils and 2,000,000 entries (100 each: a cash top-up every
tenth, meals otherwise, about two pupils in seven under the canteen's CHF 20 threshold), on SQLite
and on PostgreSQL (a throwaway cluster, refectory/testing/pg_cluster.py: durability off, so commits cost less
than on a real server). Each database gets, p50 over `--runs`:

- overview: the manager's back-office first page (GET /manage/, logged in, through the Flask app),
  and its ratio to a floor read in the same run: one pass over the active pupils
  (`SELECT count(*) FROM pupils WHERE active`), the least a figure per pupil reads;
- low_balances: the list behind the overview's count (GET /manage/low-balances);
- push: a kiosk's 500 meals for 500 pupils, as the push holds the write lock (`ledger.ingest`, the
  low-balance check `balance_alerts.alert_fallen`, commit), and its ratio to a floor: the same
  rows inserted bare (`executemany` of entries and change rows, commit);
- push_trigger: the same push with a row trigger on `entries` keeping `account_balances` in place
  of `ledger._insert`'s one upsert per batch (the alternative ledger.py did not take), timed in
  turns with the push.

Before/after: run this same file from a checkout of an older commit (`git worktree add /tmp/old
<commit>`, copy this file into its benchmarks/): without `account_balances` it measures the sums
over the ledger, and prints no push_trigger. Last line: `overview_ratio=<x>` (of the last database).

Usage: .venv/bin/python benchmarks/balances.py [--pupils 20000] [--entries 2000000] [--runs 20]
       [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import inspect, text  # noqa: E402

from domain.clock import to_text  # noqa: E402
from domain.entries import EntryKind, LedgerEntry, lowered, new_entry_id  # noqa: E402
from refectory.testing.live_server import start_server  # noqa: E402
from refectory.testing.pg_cluster import ThrowawayPostgres  # noqa: E402
from sync_server.admin import managers, roster_import  # noqa: E402
from sync_server.db import writing  # noqa: E402
from sync_server.families import balance_alerts  # noqa: E402
from sync_server.sync import ledger  # noqa: E402
from sync_server.sync.changes import record_entries  # noqa: E402
from tests.portal_client import Browser  # noqa: E402

NOW = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
FIRST_DAY = date(2025, 11, 22)  # 100 rounds of entries end the day before NOW
CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
PUSH = 500

# Entry n is pupil n % P's round n // P: a top-up every tenth round (CHF 67.50 to 73.50 by pupil,
# so that 10 top-ups less 90 meals leave CHF 0 to 60), else a CHF 7.50 meal served that day.
_ROUND, _PUPIL = "(i / :pupils)", "(i % :pupils)"
_TOPUP = f"{_ROUND} % 10 = 0"
_COLUMNS = ("INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, operator, reference,"
            " service_date, note, received_at)")
_AMOUNT = f"CASE WHEN {_TOPUP} THEN 6750 + ({_PUPIL} % 7) * 100 ELSE -750 END"
_KIND = f"CASE WHEN {_TOPUP} THEN 'cash_topup' ELSE 'meal' END"
_OPERATOR = f"CASE WHEN {_TOPUP} THEN 'anne' END"
FILL = {
    "sqlite": (f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :entries - 1) {_COLUMNS}"
               f" SELECT printf('e%09d', i), printf('P%05d', {_PUPIL}), {_AMOUNT}, {_KIND},"
               f" date(:first, '+' || {_ROUND} || ' days') || 'T11:05:00.000000+00:00', 'K1', {_OPERATOR}, NULL,"
               f" CASE WHEN NOT ({_TOPUP}) THEN date(:first, '+' || {_ROUND} || ' days') END, NULL, :received"
               " FROM n"),
    "postgresql": (f"{_COLUMNS} SELECT 'e' || lpad(i::text, 9, '0'), 'P' || lpad({_PUPIL}::text, 5, '0'), {_AMOUNT},"
                   f" {_KIND}, to_char(CAST(:first AS date) + {_ROUND}::int, 'YYYY-MM-DD') || 'T11:05:00.000000+00:00',"
                   f" 'K1', {_OPERATOR}, NULL, CASE WHEN NOT ({_TOPUP}) THEN"
                   f" to_char(CAST(:first AS date) + {_ROUND}::int, 'YYYY-MM-DD') END, NULL, :received"
                   " FROM generate_series(0, CAST(:entries AS bigint) - 1) AS i"),
}
BACK_FILL = ("INSERT INTO account_balances (account_id, balance_cents)"
             " SELECT account_id, SUM(amount_cents) FROM entries GROUP BY account_id")  # as migration 0019
TRIGGER = {
    "sqlite": ["CREATE TRIGGER entries_keep_balances AFTER INSERT ON entries BEGIN"
               " INSERT INTO account_balances (account_id, balance_cents) VALUES (NEW.account_id, NEW.amount_cents)"
               " ON CONFLICT (account_id) DO UPDATE SET balance_cents = balance_cents + excluded.balance_cents; END"],
    "postgresql": ["CREATE FUNCTION keep_balance() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                   " INSERT INTO account_balances (account_id, balance_cents) VALUES (NEW.account_id, NEW.amount_cents)"
                   " ON CONFLICT (account_id) DO UPDATE"
                   " SET balance_cents = account_balances.balance_cents + excluded.balance_cents;"
                   " RETURN NULL; END $$",
                   "CREATE TRIGGER entries_keep_balances AFTER INSERT ON entries FOR EACH ROW"
                   " EXECUTE FUNCTION keep_balance()"],
}
UNTRIGGER = {"sqlite": ["DROP TRIGGER entries_keep_balances"],
             "postgresql": ["DROP TRIGGER entries_keep_balances ON entries", "DROP FUNCTION keep_balance()"]}


def school(url: str, instance: Path, kind: str, pupils: int, count: int):
    """The server on a database holding the school and its ledger; returns (server, seconds to fill)."""
    started = time.perf_counter()
    server = start_server(url, instance, clock=lambda: NOW)
    header = ["pupil_id", "first_name", "last_name", "class", "category", "badge_uid", "diet", "family_id",
              "parent_email"]
    rows = [(n + 2, {"pupil_id": f"P{n:05d}", "first_name": "Léa", "last_name": f"Nom{n}", "class": "5A",
                     "category": "primary", "badge_uid": f"04D{n:05X}", "diet": "", "family_id": f"F{n:05d}",
                     "parent_email": f"parent{n}@example.ch"}) for n in range(pupils)]
    with server.write() as conn:
        roster_import.import_pupils(conn, header, rows, NOW)
        server.password = managers.set_manager(conn, "bench", "Bench", NOW)
        conn.execute(text(FILL[kind]), {"pupils": pupils, "entries": count, "first": FIRST_DAY.isoformat(),
                                        "received": to_text(NOW)})
        server.kept = "account_balances" in inspect(conn).get_table_names()
        if server.kept:
            conn.execute(text(BACK_FILL))
    if kind == "postgresql":  # statistics and the visibility map (index-only sums), as autovacuum leaves them
        with server.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return server, time.perf_counter() - started


def p50_ms(runs: int, run: Callable[[], object]) -> float:
    run()  # warm: compiled statements, templates, the database's cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def page(browser: Browser, path: str) -> Callable[[], None]:
    def get() -> None:
        answer = browser.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
    return get


def meals(pupils: int) -> list[LedgerEntry]:
    step = max(1, pupils // PUSH)
    return [LedgerEntry(new_entry_id(), f"P{(n * step) % pupils:05d}", -7_50, EntryKind.MEAL, NOW, "K1",
                        reference="04D00000", service_date=NOW.date()) for n in range(PUSH)]


def push(server, pupils: int) -> Callable[[], None]:
    def run() -> None:
        batch = meals(pupils)
        with writing(server.engine) as conn:
            ingested = ledger.ingest(conn, "K1", batch, [{}] * len(batch), NOW)
            balance_alerts.alert_fallen(conn, lowered(ingested.booked), ingested.balances, NOW, canteen=CANTEEN,
                                        portal_url="https://p/")
        assert len(ingested.booked) == len(batch)
    return run


def bare_insert(server, pupils: int) -> Callable[[], None]:
    def run() -> None:
        batch = meals(pupils)
        with writing(server.engine) as conn:
            conn.exec_driver_sql(
                f"{_COLUMNS} VALUES ({', '.join(['%s' if conn.dialect.paramstyle != 'qmark' else '?'] * 11)})",
                [(e.id, e.account_id, e.amount_cents, e.kind.value, to_text(e.occurred_at), e.origin, None,
                  e.reference, e.service_date.isoformat(), None, to_text(NOW)) for e in batch])
            record_entries(conn, [(e.id, e.account_id) for e in batch], to_text(NOW))
    return run


def pushes(server, kind: str, pupils: int, runs: int) -> tuple[float, float | None]:
    """p50 ms of the push, and of the same push with the trigger (None without `account_balances`),
    taken in turns so that both see the same machine: the trigger is created before each of its runs
    and dropped after, untimed, and `_insert`'s upsert left out meanwhile."""
    run = push(server, pupils)
    run()
    kept, triggered = [], []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        kept.append(time.perf_counter() - started)
        if not server.kept:
            continue
        with server.write() as conn:
            for statement in TRIGGER[kind]:
                conn.exec_driver_sql(statement)
        upsert, ledger._add_to_balances = ledger._add_to_balances, (
            lambda conn, moved, mark: ledger.balances(conn, set(moved)))  # the trigger's
        try:
            started = time.perf_counter()
            run()
            triggered.append(time.perf_counter() - started)
        finally:
            ledger._add_to_balances = upsert
            with server.write() as conn:
                for statement in UNTRIGGER[kind]:
                    conn.exec_driver_sql(statement)
    if server.kept:
        with server.write() as conn:
            assert ledger.verify_balances(conn) == []  # the trigger kept them as the upsert does
    return (statistics.median(kept) * 1000,
            statistics.median(triggered) * 1000 if triggered else None)


def measure(kind: str, url: str, work: Path, args) -> float:
    server, filled = school(url, work / f"{kind}-instance", kind, args.pupils, args.entries)
    try:
        print(f"{kind}: filled in {filled:.0f} s ({args.pupils} pupils, {args.entries} entries,"
              f" {'kept balances' if server.kept else 'balances summed over the ledger'})")
        browser = Browser(server.app.test_client())
        assert browser.submit("/manage/login", {"login": "bench", "password": server.password}).status_code == 302
        with server.engine.connect() as conn:
            floor = p50_ms(args.runs, lambda: conn.execute(text("SELECT count(*) FROM pupils WHERE active")).scalar())
        overview = p50_ms(args.runs, page(browser, "/manage/"))
        listed = p50_ms(args.runs, page(browser, "/manage/low-balances"))
        pushed, triggered = pushes(server, kind, args.pupils, args.runs)
        print(f"{kind}_overview_ms_p50={overview:.1f} (floor: one pass over the pupils {floor:.1f} ms)")
        print(f"{kind}_low_balances_ms_p50={listed:.1f}")
        bare = p50_ms(args.runs, bare_insert(server, args.pupils))  # last: its entries are not in the balances
        print(f"{kind}_push_ms_p50={pushed:.1f} ({PUSH} meals: ingest, low-balance check, commit;"
              f" floor: bare insert {bare:.1f} ms, ratio {pushed / bare:.2f})")
        if triggered is not None:
            print(f"{kind}_push_trigger_ms_p50={triggered:.1f} (the same push, a row trigger instead of the upsert;"
                  f" ratio {triggered / bare:.2f})")
        return overview / floor
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench-balances-"))
    ratio = 0.0
    try:
        for kind in args.databases.split(","):
            if kind == "postgresql":
                with ThrowawayPostgres() as cluster:
                    ratio = measure(kind, cluster.create_database("balances"), work, args)
            else:
                ratio = measure(kind, f"sqlite:///{work / 'balances.db'}", work, args)
        print(f"overview_ratio={ratio:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
