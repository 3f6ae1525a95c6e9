"""Sync costs over loopback HTTP, each against what it cannot beat.

- push ingest: 10,000 meal entries pushed in batches (real HTTP, JSON, validation, one
  transaction per batch) → entries/s, and the ratio to a bare `executemany` insert of the same
  rows into the same kind of database (a freshly migrated server database on the same disk, or
  on the same PostgreSQL cluster);
- a week offline: a kiosk with 2,500 records made while cut off syncs them end to end;
- bootstrap: a fresh kiosk pulls 2,000 pupils and 100,000 entries;
- an idle round trip: nothing to push or pull, just the round and its heartbeat.
Every server database is SQLite (a file in a temporary folder), or with `--database postgresql` a
database of a throwaway PostgreSQL cluster (refectory.testing.pg_cluster, started and removed by
the run), where a city's kiosks push. Last line: `ingest_ratio=<x>`.

Usage: .venv/bin/python benchmarks/sync.py [--database sqlite|postgresql] [--entries N] [--bootstrap-entries N]
       [--week N]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from domain.clock import to_text  # noqa: E402
from domain.entries import EntryKind, LedgerEntry, new_entry_id  # noqa: E402
from kiosk.store import Store  # noqa: E402
from kiosk.sync_agent import SyncAgent  # noqa: E402
from kiosk.sync_scheduler import SyncScheduler  # noqa: E402
from refectory.testing.live_server import free_port, new_kiosk, serving, start_server  # noqa: E402
from refectory.testing.pg_cluster import ThrowawayPostgres  # noqa: E402
from sync_server.admin import cashiers, roster_import  # noqa: E402
from sync_server.db import make_engine, upgrade, writing  # noqa: E402
from sync_server.sync import kiosks, ledger  # noqa: E402
from sync_server.tables import entries  # noqa: E402
from sync_server.web import heap  # noqa: E402

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def roster(pupils: int) -> tuple[list[str], list[tuple[int, dict]]]:
    header = ["pupil_id", "first_name", "last_name", "class", "category", "badge_uid", "diet", "family_id",
              "parent_email"]
    rows = [(n + 2, {"pupil_id": f"P{n:05d}", "first_name": "Léa", "last_name": f"Nom{n}", "class": "5A",
                     "category": "primary", "badge_uid": f"04C0{n:04X}", "diet": "", "family_id": f"F{n:05d}",
                     "parent_email": f"parent{n}@example.ch"}) for n in range(pupils)]
    return header, rows


def meals(count: int, pupils: int, origin: str) -> list[LedgerEntry]:
    first = date(2024, 1, 8)
    return [LedgerEntry(new_entry_id(), f"P{n % pupils:05d}", -700, EntryKind.MEAL,
                        datetime.combine(first + timedelta(days=n // pupils), datetime.min.time(), UTC)
                        + timedelta(hours=11), origin, reference=f"04C0{n % pupils:04X}",
                        service_date=first + timedelta(days=n // pupils)) for n in range(count)]


@contextmanager
def databases(kind: str, work: Path) -> Iterator[Callable[[str], str]]:
    """A maker of empty server databases by name, given as URLs: SQLite files in `work`, or
    databases of one throwaway PostgreSQL cluster."""
    if kind == "sqlite":
        yield lambda name: f"sqlite:///{work / name}.db"
        return
    with ThrowawayPostgres() as cluster:
        yield cluster.create_database


def school(work: Path, database: Callable[[str], str], name: str, pupils: int):
    server = start_server(database(name), work / f"{name}-instance")
    heap.settle()  # as each gunicorn worker does once it serves (sync_server/web/gunicorn_config.py)
    with server.write() as conn:
        roster_import.import_pupils(conn, *roster(pupils), MONDAY_NOON)
        cashiers.add_cashier(conn, "c1", "Bench", "1234", MONDAY_NOON)
    return server


def measure_ingest(work: Path, database: Callable[[str], str], count: int, pupils: int) -> tuple[float, float]:
    """(ingest entries/s over HTTP, bare executemany entries/s) for the same rows.

    Batch by batch, interleaved: a 500-entry push, then the same 500 rows inserted bare into a
    freshly migrated server database on the same disk (or cluster), so both see the same disk weather.
    """
    server = school(work, database, "ingest", pupils)
    kiosk = new_kiosk(work, server, "K1")
    agent = SyncAgent(kiosk.store)
    agent.run_round()  # the pupils, before the kiosk serves them
    floor_url = database("floor")
    upgrade(floor_url)
    engine = make_engine(floor_url)
    with writing(engine) as conn:
        roster_import.import_pupils(conn, *roster(pupils), MONDAY_NOON)
    rows = meals(count, pupils, "K1")
    pushing = flooring = 0.0
    for start in range(0, count, 500):
        batch = rows[start:start + 500]
        with kiosk.store.transaction():
            for entry in batch:
                kiosk.store.append(entry)
        started = time.perf_counter()
        agent.push_outbox()
        pushing += time.perf_counter() - started
        records = [{**e.to_record(), "received_at": to_text(MONDAY_NOON)} for e in batch]
        started = time.perf_counter()
        with writing(engine) as conn:
            conn.execute(insert(entries), records)
        flooring += time.perf_counter() - started
    server.stop()
    engine.dispose()
    return count / pushing, count / flooring


def measure_week(work: Path, database: Callable[[str], str], count: int, pupils: int) -> float:
    server = school(work, database, "week", pupils)
    kiosk = new_kiosk(work, server, "K2")
    SyncAgent(kiosk.store).run_round()  # in touch before the week offline
    cashier = kiosk.login("c1", "1234")
    for n in range(pupils):
        kiosk.cash_topup(cashier, f"P{n:05d}", 100_00)
    with kiosk.store.transaction():
        for entry in meals(count - pupils, pupils, "K2"):
            kiosk.store.append(entry)
    started = time.perf_counter()
    report = SyncAgent(kiosk.store).run_round()
    elapsed = time.perf_counter() - started
    assert report.pushed == count, report
    server.stop()
    return elapsed


def measure_bootstrap(work: Path, database: Callable[[str], str], count: int,
                      pupils: int) -> tuple[float, float, list[float], list[float]]:
    """A fresh kiosk's first round against a server running as its own process (as in production,
    so the counter's taps compete with the sync agent only, not with the server's threads).

    Taps are timed during the bootstrap, then for as long again with no sync at all: the
    difference is what a sync round costs a pupil at the counter."""
    url = database("boot")
    server = school(work, lambda _name: url, "boot", pupils)
    with server.write() as conn:
        for entry in meals(count, pupils, "server-import"):
            ledger.append(conn, LedgerEntry(entry.id, entry.account_id, 700, EntryKind.BANK_TOPUP, entry.occurred_at,
                                            "server", reference=f"bank-{entry.id[:8]}"), MONDAY_NOON)
        code = kiosks.issue_code(conn, "K3", server.clock())  # the served process keeps the system time
    server.stop()
    port = free_port()
    with serving(work / "boot-instance", port, database_url=url):
        store = Store.open(work / "K3", create=True)
        store.initialize("K3")
        agent = SyncAgent(store)
        agent.enroll(f"http://127.0.0.1:{port}", code)
        SyncScheduler.keep_taps_quick()  # as the running kiosk's scheduler does
        taps: list[float] = []
        syncing = threading.Event()
        syncing.set()
        counter = threading.Thread(target=tap_while, args=(work / "K3", pupils, syncing, taps))
        counter.start()
        started = time.perf_counter()
        agent.run_round()
        bootstrap = time.perf_counter() - started
        syncing.clear()
        counter.join()
        started = time.perf_counter()
        rounds = 20
        for _ in range(rounds):
            agent.run_round()
        idle = (time.perf_counter() - started) / rounds
    alone: list[float] = []
    syncing.set()
    counter = threading.Thread(target=tap_while, args=(work / "K3", pupils, syncing, alone))
    counter.start()
    time.sleep(min(bootstrap, 10))
    syncing.clear()
    counter.join()
    return bootstrap, idle, taps, alone


def tap_while(data_dir: Path, pupils: int, syncing: threading.Event, times: list[float]) -> None:
    """The counter, on its own connection, tapping one pupil after another while the sync runs."""
    from kiosk.service import KioskService
    from kiosk.store import Store

    store = Store.open(data_dir)
    service = KioskService(store, clock=lambda: MONDAY_NOON)
    n = 0
    while syncing.is_set():
        started = time.perf_counter()
        service.tap(f"04C0{n % pupils:04X}")
        times.append(time.perf_counter() - started)
        n += 1
        time.sleep(0.005)
    store.close()


def spread(times: list[float]) -> str:
    times = sorted(times)
    return (f"p50={times[len(times) // 2] * 1000:.2f} p99={times[int(len(times) * 0.99)] * 1000:.2f}"
            f" max={times[-1] * 1000:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--week", type=int, default=2_500)
    parser.add_argument("--bootstrap-entries", type=int, default=100_000)
    parser.add_argument("--pupils", type=int, default=2_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.week <= min(args.pupils, 500):
        parser.error("--week must exceed the week's pupils (min(--pupils, 500)): each gets a top-up, then meals")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        with databases(args.database, work) as database:
            ingest, floor = measure_ingest(work, database, args.entries, min(args.pupils, 500))
            week = measure_week(work, database, args.week, min(args.pupils, 500))
            bootstrap, idle, taps, alone = measure_bootstrap(work, database, args.bootstrap_entries, args.pupils)
        print(f"push_ingest_entries_per_s={ingest:.0f} (HTTP, {args.entries} entries in batches of 500, "
              f"on {args.database})")
        print(f"floor_executemany_entries_per_s={floor:.0f} (same rows, same batches, bare insert)")
        print(f"week_offline_sync_s={week:.2f} ({args.week} records pushed and pulled back, one round)")
        print(f"bootstrap_pull_s={bootstrap:.2f} ({args.pupils} pupils + {args.bootstrap_entries} entries)")
        print(f"idle_round_trip_ms={idle * 1000:.1f} (push nothing, pull nothing, heartbeat)")
        print(f"tap_during_sync_ms_{spread(taps)} ({len(taps)} taps on the counter's connection during the bootstrap)")
        print(f"tap_without_sync_ms_{spread(alone)} ({len(alone)} taps on the same kiosk, nothing syncing)")
        print(f"ingest_ratio={ingest / floor:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
