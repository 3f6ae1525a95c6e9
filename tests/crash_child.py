"""Child process of the power-cut test: runs counter operations and acknowledges each one.

Usage: python tests/crash_child.py DATA_DIR SEED
Prints `ACK <entry id>` (flushed) as soon as an operation has returned, i.e. the moment the
counter would show its result. The parent kills this process at a random moment.
"""

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.messages import RefectoryError  # noqa: E402
from kiosk.service import KioskService  # noqa: E402
from kiosk.store import Store  # noqa: E402

OPERATIONS = 1000
PUPILS = [f"C{n:03d}" for n in range(40)]  # the parent's roster: pupil C007 has badge C0C0C007


def main(data_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)  # Monday 11:05 in Zurich
    service = KioskService(Store.open(data_dir))
    cashier = service.login("anne", "1234")
    made: list[str] = []
    for _ in range(OPERATIONS):
        now += timedelta(seconds=rng.randint(1, 30))
        if now.hour >= 12:  # past 13:00 Zurich: next day's service
            now = (now + timedelta(days=1)).replace(hour=10, minute=5)
        roll = rng.random()
        try:
            if roll < 0.6:
                entry = service.tap(f"C0C0{rng.choice(PUPILS)}", now=now).entry
            elif roll < 0.9:
                entry = service.cash_topup(cashier, rng.choice(PUPILS), rng.choice([500, 1000, 2050]), now=now).entry
            elif made:
                entry = service.reverse(cashier, rng.choice(made[-5:]), "test", now=now).entry
            else:
                entry = None
        except RefectoryError:
            entry = None  # refused (e.g. a reversal that is not allowed): nothing acknowledged
        if entry is not None:
            made.append(entry.id)
            sys.stdout.write(f"ACK {entry.id}\n")
            sys.stdout.flush()
    sys.stdout.write("DONE\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
