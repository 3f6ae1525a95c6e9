"""A kiosk killed at any moment loses nothing it acknowledged and never half-writes.

A child process runs 1,000 mixed counter operations and prints each acknowledged entry id; the
test SIGKILLs it at a random point (20 different ones), reopens the database and checks it.
"""

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.store import Store

CHILD = Path(__file__).resolve().parent / "crash_child.py"
RUNS = 20


@pytest.fixture(scope="module")
def prepared_kiosk(tmp_path_factory):
    """One kiosk with pupils, a cashier and some money, copied afresh for every run."""
    from kiosk.roster_import import import_roster
    from kiosk.service import KioskService

    from .conftest import MONDAY_NOON

    folder = tmp_path_factory.mktemp("template")
    roster = folder / "pupils.csv"
    rows = [f"C{n:03d},Élève{n},Test,5A,primary,C0C0C{n:03d},,F{n}" for n in range(40)]
    roster.write_text("\n".join(["pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id", *rows]),
                      encoding="utf-8")
    with Store.open(folder / "kiosk", create=True) as store:
        store.initialize("K1")
        import_roster(store, roster, MONDAY_NOON)
        service = KioskService(store)
        service.add_cashier("anne", "Anne Roch", "1234")
    return folder / "kiosk"


def run_and_kill(data_dir: Path, seed: int) -> tuple[list[str], bool]:
    """Start the child, kill it after a random number of acknowledgements; returns (acks, finished)."""
    rng = random.Random(seed)
    kill_after = rng.randint(1, 380)  # a full run acknowledges about 470 operations
    extra_delay = rng.random() * 0.003  # land between two acknowledgements, often mid-transaction
    child = subprocess.Popen([sys.executable, str(CHILD), str(data_dir), str(seed)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    acks: list[str] = []
    finished = threading.Event()
    reached = threading.Event()

    def read() -> None:
        for line in child.stdout:
            if line.startswith("ACK "):
                acks.append(line.split()[1])
                if len(acks) >= kill_after:
                    reached.set()
            elif line.startswith("DONE"):
                finished.set()
        reached.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reached.wait(timeout=120)
    time.sleep(extra_delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    reader.join(timeout=30)
    stderr = child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    assert "Traceback" not in stderr, stderr
    return acks, finished.is_set()


@pytest.mark.parametrize("seed", range(RUNS))
def test_after_a_kill_every_acknowledged_entry_is_there_once_and_the_database_is_sound(prepared_kiosk, tmp_path, seed):
    data_dir = tmp_path / "kiosk"
    shutil.copytree(prepared_kiosk, data_dir)
    acks, finished = run_and_kill(data_dir, seed)
    assert acks, "the child acknowledged nothing before the kill"
    assert not finished, "the kill came after the last operation: this run proves nothing"

    with Store.open(data_dir) as store:
        conn = store.conn
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        ids = [row[0] for row in conn.execute("SELECT id FROM entries")]
        assert len(ids) == len(set(ids)), "an entry id appears twice"
        missing = set(acks) - set(ids)
        assert not missing, f"{len(missing)} acknowledged entries lost"
        assert store.verify_balances() == []
        assert conn.execute("SELECT COUNT(*) FROM balances WHERE balance_cents < 0").fetchone()[0] == 0
        numbers = store.receipt_numbers()
        assert numbers == list(range(1, len(numbers) + 1)), "receipt numbers have a gap"
        double = conn.execute(
            "SELECT pupil_id, service_date FROM served GROUP BY 1, 2 HAVING COUNT(*) > 1").fetchall()
        assert double == [], "a pupil was served twice the same day"
