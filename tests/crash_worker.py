"""Worker process of test_crash_durability.py: a busy counter, to be killed at a random moment.

Usage: python tests/crash_worker.py DATA_DIR SEED

Opens an already prepared kiosk (pupils with active badges and money, cashier `anne` with PIN
1234), logs in once, then runs OPERATIONS mixed counter operations: badge taps over several
school days (inside service hours), cash top-ups, and cancellations of the day's meals and
top-ups, plus an idle-time checkpoint now and then, like the real counter.

After each operation that returned, i.e. the moment the counter would show its result, it
prints `ACK <entry id>` and flushes. A refused operation (second tap of the day, blocked badge,
cancellation not allowed) writes nothing and prints nothing. A run that was not killed ends
with `DONE <number of acknowledgements>`.

The sequence of operations depends only on SEED (entry ids, being UUIDv7, also carry the real
clock).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.entries import EntryKind, LedgerEntry
from domain.messages import RefectoryError
from kiosk.service import KioskService
from kiosk.store import Store

OPERATIONS = 1000
CASHIER_ID, CASHIER_PIN = "anne", "1234"
FIRST_DAY = date(2026, 11, 30)  # a Monday
ZURICH = ZoneInfo("Europe/Zurich")
LAST_CALL = time(13, 50)  # after this (Zurich), the counter moves on to the next school day
TOPUP_AMOUNTS = [5_00, 10_00, 12_35, 20_00, 50_00]
CHECKPOINT_EVERY = 97  # operations between two idle-time checkpoints


def lunch_opens(day) -> datetime:
    return datetime.combine(day, time(11, 0), ZURICH).astimezone(UTC)


def next_school_day(day):
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def main(data_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    store = Store.open(data_dir)  # never create: the parent prepared it
    service = KioskService(store)
    cashier = service.login(CASHIER_ID, CASHIER_PIN)  # argon2: once for the whole run
    badges = store.conn.execute("SELECT uid, pupil_id, status FROM badges ORDER BY uid").fetchall()
    active = {pupil_id: uid for uid, pupil_id, status in badges if status == "active"}
    all_uids = [uid for uid, _, _ in badges]
    pupils = sorted(active)

    day = FIRST_DAY
    now = lunch_opens(day)
    served_today: set[str] = set()
    cancellable: list[LedgerEntry] = []  # today's acknowledged meals and top-ups, not cancelled
    acks = 0
    for number in range(1, OPERATIONS + 1):
        now += timedelta(seconds=rng.randint(1, 15))
        if now.astimezone(ZURICH).time() >= LAST_CALL or len(served_today) == len(pupils):
            day = next_school_day(day)
            now = lunch_opens(day) + timedelta(seconds=rng.randint(0, 600))
            served_today.clear()
            cancellable.clear()
        roll = rng.random()
        entry = None
        try:
            if roll < 0.60:
                hungry = [p for p in pupils if p not in served_today]
                # otherwise most likely a second tap of the day, or a blocked badge: refused
                uid = active[rng.choice(hungry)] if hungry and rng.random() < 0.92 else rng.choice(all_uids)
                entry = service.tap(uid, now=now).entry
                if entry is not None:
                    served_today.add(entry.account_id)
            elif roll < 0.88 or not cancellable:
                entry = service.cash_topup(cashier, rng.choice(pupils), rng.choice(TOPUP_AMOUNTS), now=now).entry
            else:
                original = rng.choice(cancellable[-10:])
                cancellable.remove(original)
                entry = service.reverse(cashier, original.id, "Erreur de caisse", now=now).entry
                if original.kind is EntryKind.MEAL:
                    served_today.discard(original.account_id)
        except RefectoryError:
            entry = None  # refused: nothing written, nothing acknowledged
        if entry is not None:
            if entry.kind in (EntryKind.MEAL, EntryKind.CASH_TOPUP):
                cancellable.append(entry)
            acks += 1
            sys.stdout.write(f"ACK {entry.id}\n")
            sys.stdout.flush()
        if number % CHECKPOINT_EVERY == 0:
            service.idle()
    sys.stdout.write(f"DONE {acks}\n")
    sys.stdout.flush()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
