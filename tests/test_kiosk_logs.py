"""The kiosk's log, as the school's IT person reads it in the journal: one line per tap and per
sync round, ids and amounts but never a pupil's name; journald's format when stderr is the
journal's stream, timestamped lines otherwise. Stdout keeps `listen`'s JSON lines."""

from __future__ import annotations

import csv
import io
import logging
import os
import re

from hardware.readers import tap_virtual
from kiosk.sync_scheduler import SyncScheduler
from kiosk.sync_store import save_enrollment
from refectory.testing.live_server import free_port

from .conftest import ROSTER, fund_and_open_all_day, listening
from .live_server import new_kiosk

TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def environment(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET")}
    return {**environ, **extra}


def test_under_journald_each_tap_is_one_line_with_its_priority_and_never_a_pupils_name(kiosk_dir, tmp_path):
    fund_and_open_all_day(kiosk_dir, "P003", 10_00)
    log_path = tmp_path / "journal-stream"
    with log_path.open("w") as stream:
        stat = os.fstat(stream.fileno())
        with listening(kiosk_dir, env=environment(JOURNAL_STREAM=f"{stat.st_dev}:{stat.st_ino}"),
                       stderr=stream) as listen:
            assert listen.next()["status"] == "ready"
            for uid in ("0a0b0c0d", "04A1B2C3", "CAFE0001"):  # Zoé served, Léa without money, a stranger
                tap_virtual(kiosk_dir / "virtual-reader.sock", uid)
            taps = [listen.next("tap") for _ in range(3)]
    assert [t["first_name"] for t in taps] == ["Zoé", "Léa", None]  # stdout's contract is unchanged
    log = log_path.read_text(encoding="utf-8")
    lines = [re.sub(r" ms=[\d.]+$", "", line) for line in log.splitlines() if ": tap " in line]
    assert lines == [
        "<6>kiosk.counter: tap badge=0A0B0C0D pupil=P003 verdict=served reason=- price_cents=700 balance_cents=300",
        "<6>kiosk.counter: tap badge=04A1B2C3 pupil=P001 verdict=refused reason=insufficient_balance"
        " price_cents=700 balance_cents=0",
        "<6>kiosk.counter: tap badge=CAFE0001 pupil=- verdict=refused reason=unknown_badge"
        " price_cents=- balance_cents=-",
    ]
    assert all(re.match(r"<\d>", line) for line in log.splitlines())  # journald stamps the time itself
    names = {row[key] for row in csv.DictReader(io.StringIO(ROSTER)) for key in ("first_name", "last_name")}
    assert [name for name in names if name in log] == []


def test_each_sync_round_of_a_running_kiosk_is_one_timestamped_log_line(tmp_path, server, run):
    kiosk = new_kiosk(tmp_path, server)
    data = kiosk.store.path.parent
    kiosk.store.close()
    log_path = tmp_path / "kiosk.log"
    with log_path.open("w") as stream, listening(data, env=environment(), stderr=stream) as listen:
        assert listen.next("sync")["ok"] is True
        run("kiosk", "topup", "--data", str(data), "--cashier", "anne", "--pin", "1234", "--pupil", "P001",
            "--amount", "20")
        assert listen.next("sync")["accepted"] == 1
    rounds = [line for line in log_path.read_text(encoding="utf-8").splitlines() if ": sync " in line]
    assert len(rounds) == 2
    assert re.match(rf"{TIMESTAMP} INFO kiosk.sync_scheduler: sync ok pushed=0 .* pulled=[1-9]\d* ", rounds[0])
    assert re.match(rf"{TIMESTAMP} INFO kiosk.sync_scheduler: sync ok pushed=1 accepted=1 ", rounds[1])
    assert re.search(r" ms=\d+$", rounds[1])


def test_a_failed_sync_round_is_one_warning_line_saying_why(kiosk_dir, store, caplog):
    save_enrollment(store, f"http://127.0.0.1:{free_port()}", "token")  # nothing listens there
    caplog.set_level(logging.INFO, logger="kiosk")
    scheduler = SyncScheduler(kiosk_dir)
    try:
        scheduler.run_round()
        scheduler.run_round()
    finally:
        scheduler.stop()
    rounds = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "kiosk.sync_scheduler"]
    assert [level for level, _message in rounds] == ["WARNING", "WARNING"]
    assert re.match(r"sync failed code=sync_failed failures_in_a_row=2 ms=\d+: Server unreachable \(ConnectionError\)",
                    rounds[1][1])
