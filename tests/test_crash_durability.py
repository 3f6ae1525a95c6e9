"""A kiosk process killed at any moment keeps everything it acknowledged, and nothing half-done.

`crash_worker.py` runs 1,000 mixed counter operations on a prepared kiosk and prints
`ACK <entry id>` after each operation that returned. Each test run starts it, SIGKILLs it at a
point drawn from a seeded RNG (after a random number of acknowledgements between 1 and 900, or
after a random time, plus a little jitter so the kill lands inside the next operation), then
reopens the database and checks that:

- `PRAGMA integrity_check` is ok and no foreign key is dangling;
- every acknowledged entry is in the ledger, in the order acknowledged, and no id is there twice;
- at most one entry beyond them was committed (the operation in flight when the kill came);
- cached balances equal the sums of entries, and none is negative;
- receipt numbers are still 1..n without a gap, and every cash movement has its receipt;
- no pupil has two standing meals on one service day;
- the kiosk serves the next tap normally.

What this does not prove: SIGKILL stops the process, not the machine, so the operating
system still writes out what SQLite handed it. Losing an fsync (`synchronous=FULL`) would only
show up with a real power cut.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.meals import BadgeStatus, Pupil
from kiosk.service import KioskService
from kiosk.store import Store
from tests.crash_worker import CASHIER_ID, CASHIER_PIN, OPERATIONS

WORKER = Path(__file__).resolve().with_name("crash_worker.py")
RUNS = 20
MAX_KILL_AFTER_ACKS = 900  # a full run acknowledges about 970 operations (checked below)
ATTEMPTS = 3  # if a slow reader let the worker finish first, kill earlier and try again
TIMEOUT = 60  # seconds; a full run takes about one
PUPILS = 40
CATEGORIES = ["primary", "secondary", "staff"]
OPENING_CENTS = 200_00
AFTER_THE_WORKER = datetime(2027, 3, 1, 11, 0, tzinfo=UTC)  # a Monday noon; the worker stops in December


@dataclass(frozen=True)
class Prepared:
    folder: Path
    entries: int  # how many entries the kiosk holds before the worker starts
    receipts: int


@dataclass(frozen=True)
class KillPlan:
    seed: int
    after_acks: int  # kill once this many acknowledgements have been read...
    after_seconds: float | None  # ...or this long after the first one, whichever comes first
    jitter: float  # a little more sleep, so the kill lands inside the next operation

    def earlier(self) -> KillPlan:
        seconds = None if self.after_seconds is None else self.after_seconds / 2
        return KillPlan(self.seed, max(1, self.after_acks // 2), seconds, self.jitter)


@dataclass
class Run:
    acks: list[str] = field(default_factory=list)
    finished: bool = False  # the worker printed DONE: the kill came too late
    returncode: int | None = None
    stderr: str = ""


def kill_plan(seed: int) -> KillPlan:
    rng = random.Random(f"kill point {seed}")
    jitter = rng.uniform(0, 0.002)
    if rng.random() < 0.7:
        return KillPlan(seed, rng.randint(1, MAX_KILL_AFTER_ACKS), None, jitter)
    return KillPlan(seed, MAX_KILL_AFTER_ACKS, rng.uniform(0.0, 0.5), jitter)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    """A kiosk with 40 pupils (one badge reported lost), cashier anne, CHF 200 each in cash;
    each run works on a fresh copy of it."""
    folder = tmp_path_factory.mktemp("crash-template") / "kiosk"
    moment = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # the Friday before the worker's Monday
    with Store.open(folder, create=True) as store:
        store.initialize("K1")
        with store.transaction():
            for n in range(PUPILS):
                store.upsert_pupil(Pupil(f"C{n:03d}", f"Élève{n}", "Test", "5A", CATEGORIES[n % 3]))
                store.assign_badge(f"C0C0C{n:03d}", f"C{n:03d}", moment)
            store.set_badge_status(f"C0C0C{PUPILS - 1:03d}", BadgeStatus.LOST, moment)
        service = KioskService(store)
        service.add_cashier(CASHIER_ID, "Anne Roch", CASHIER_PIN)
        cashier = service.login(CASHIER_ID, CASHIER_PIN)
        for n in range(PUPILS):
            service.cash_topup(cashier, f"C{n:03d}", OPENING_CENTS, now=moment)
        return Prepared(folder, entries=PUPILS, receipts=len(store.receipt_numbers()))


def fresh_copy(prepared: Prepared, tmp_path: Path, attempt: int) -> Path:
    target = tmp_path / f"kiosk-{attempt}"
    shutil.copytree(prepared.folder, target)
    return target


def run_worker(data_dir: Path, plan: KillPlan | None, stderr_path: Path) -> Run:
    """Start the worker; with a plan, SIGKILL it as planned; collect every ACK it printed."""
    run = Run()
    enough, first = threading.Event(), threading.Event()
    target = plan.after_acks if plan else OPERATIONS + 1
    with stderr_path.open("w") as stderr, subprocess.Popen(
        [sys.executable, str(WORKER), str(data_dir), str(plan.seed if plan else 0)],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
    ) as child:

        def read() -> None:
            for line in child.stdout:
                word, _, rest = line.strip().partition(" ")
                if word == "ACK":
                    run.acks.append(rest)
                    first.set()
                    if len(run.acks) >= target:
                        enough.set()
                elif word == "DONE":
                    run.finished = True
            first.set()
            enough.set()  # end of output: the worker is gone

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if plan is not None:
            first.wait(TIMEOUT)
            enough.wait(plan.after_seconds if plan.after_seconds is not None else TIMEOUT)
            time.sleep(plan.jitter)
            child.send_signal(signal.SIGKILL)  # does nothing if the worker already ended
        child.wait(TIMEOUT)
        reader.join(TIMEOUT)
        assert not reader.is_alive(), "the worker's output did not end"
    run.returncode = child.returncode
    run.stderr = stderr_path.read_text()
    return run


def assert_sound_after_crash(data_dir: Path, prepared: Prepared, acks: list[str]) -> int:
    """Reopen the kiosk like after a reboot and check it; returns how many entries it holds."""
    with Store.open(data_dir) as store:
        conn = store.conn
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []

        twice = conn.execute("SELECT id, COUNT(*) FROM entries GROUP BY id HAVING COUNT(*) > 1").fetchall()
        assert twice == [], "an entry id appears twice"
        made = [row[0] for row in conn.execute("SELECT id FROM entries ORDER BY seq")][prepared.entries:]
        lost = set(acks) - set(made)
        assert not lost, f"{len(lost)} of {len(acks)} acknowledged entries are missing, e.g. {sorted(lost)[:3]}"
        assert made[: len(acks)] == acks, "the ledger does not hold the acknowledged entries in their order"
        assert len(made) - len(acks) in (0, 1), f"{len(made) - len(acks)} unacknowledged entries committed"

        assert store.verify_balances() == []
        # Also both ways round: verify_balances() only looks at accounts that have a cached row.
        sums = dict(conn.execute("SELECT account_id, SUM(amount_cents) FROM entries GROUP BY account_id"))
        assert dict(conn.execute("SELECT account_id, balance_cents FROM balances")) == sums
        assert min(sums.values()) >= 0, "a balance is negative"
        numbers = store.receipt_numbers()
        assert numbers == list(range(1, len(numbers) + 1)), "receipt numbers have a gap"
        assert len(numbers) >= prepared.receipts
        without_receipt = conn.execute(
            "SELECT e.id, e.kind FROM entries e LEFT JOIN entries o ON o.id = e.reverses"
            " LEFT JOIN receipts r ON r.entry_id = e.id"
            " WHERE (e.kind = 'cash_topup' OR o.kind = 'cash_topup') AND r.receipt_no IS NULL"
        ).fetchall()
        assert without_receipt == [], "cash changed hands without a receipt"
        served_twice = conn.execute(
            "SELECT pupil_id, service_date, COUNT(*) FROM served GROUP BY 1, 2 HAVING COUNT(*) > 1"
        ).fetchall()
        assert served_twice == [], "a pupil has two standing meals on one day"

        # The counter works again: a tap on a day the worker cannot have reached is served.
        tap = KioskService(store).tap("C0C0C000", now=AFTER_THE_WORKER)
        assert tap.verdict.served, tap.verdict.message
        assert store.verify_balances() == []
        return len(made)


def test_the_kill_points_are_spread_over_the_whole_run():
    plans = [kill_plan(seed) for seed in range(RUNS)]
    by_acks = sorted(p.after_acks for p in plans if p.after_seconds is None)
    by_time = [p for p in plans if p.after_seconds is not None]
    assert len(set(by_acks)) >= 10 and by_acks[0] < 150 and by_acks[-1] > 700, by_acks
    assert by_time, "no run is killed at a random time"


def test_a_worker_left_alone_acknowledges_most_of_its_1000_operations(prepared, tmp_path):
    """So that a kill after at most 900 acknowledgements always lands mid-run."""
    data_dir = fresh_copy(prepared, tmp_path, 0)
    run = run_worker(data_dir, None, tmp_path / "worker.err")
    assert run.returncode == 0 and run.finished, run.stderr
    assert MAX_KILL_AFTER_ACKS + 30 <= len(run.acks) <= OPERATIONS
    assert assert_sound_after_crash(data_dir, prepared, run.acks) == len(run.acks)


@pytest.mark.parametrize("seed", range(RUNS))
def test_a_kiosk_killed_mid_run_keeps_every_acknowledged_entry_and_a_sound_ledger(prepared, tmp_path, seed):
    plan = kill_plan(seed)
    for attempt in range(1, ATTEMPTS + 1):
        data_dir = fresh_copy(prepared, tmp_path, attempt)
        run = run_worker(data_dir, plan, tmp_path / f"worker-{attempt}.err")
        if not run.finished:
            break
        plan = plan.earlier()
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == -signal.SIGKILL, f"the worker ended by itself ({run.returncode}): {run.stderr}"
    assert not run.finished, "the worker completed all its operations before every kill: nothing was tested"
    assert run.acks, "the worker was killed before it acknowledged anything"

    assert_sound_after_crash(data_dir, prepared, run.acks)
