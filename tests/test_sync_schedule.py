"""Sync in a running kiosk: a round at start, one right after a cash top-up, backoff when down."""

from __future__ import annotations

from kiosk.store import Store
from kiosk.sync_agent import SyncError
from kiosk.sync_scheduler import SyncScheduler

from .conftest import listening
from .live_server import new_kiosk


def test_a_running_kiosk_syncs_at_start_and_right_after_a_cash_top_up(tmp_path, server, run):
    kiosk = new_kiosk(tmp_path, server)
    data = kiosk.store.path.parent
    kiosk.store.close()
    with listening(data) as listen:
        first = listen.next("sync")
        assert first["ok"] is True and first["pulled"] > 0
        result = run("kiosk", "topup", "--data", str(data), "--cashier", "anne", "--pin", "1234", "--pupil", "P001",
                     "--amount", "20")
        assert result.exit_code == 0
        after_cash = listen.next("sync")  # not a minute later: the cash is noticed at once
    assert after_cash["ok"] is True and after_cash["accepted"] == 1
    assert server.balance("P001") == 20_00


def test_an_unreachable_server_makes_the_kiosk_wait_longer_each_time_up_to_a_ceiling(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    data = kiosk.store.path.parent
    server.stop()
    scheduler = SyncScheduler(data, interval=60, jitter=0, max_backoff=300)
    waits = []
    for _ in range(4):
        assert isinstance(scheduler.run_round(), SyncError)
        waits.append(scheduler.backoff_seconds())
    assert waits == [120, 240, 300, 300]
    with Store.open(data) as store:
        status = scheduler.status(store)
    assert status.online is False and "unreachable" in status.last_error
    scheduler.stop()


def test_the_status_bar_shows_online_with_the_last_sync_and_nothing_pending(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    data = kiosk.store.path.parent
    scheduler = SyncScheduler(data, interval=60)
    scheduler.run_round()
    status = scheduler.status(kiosk.store)
    assert status.online is True and status.pending == 0 and status.last_sync_at is not None
    scheduler.stop()
