"""Sync through a network that fails on purpose (tests/fault_proxy.py between kiosk and server):
lost acknowledgements, slow answers, resets, garbage, batches that cross, a week offline."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from datetime import timedelta

import pytest

from domain.clock import utc_now
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from kiosk.sync_agent import SyncAgent, SyncError
from sync_server.sync import ledger
from sync_server.tables import entries

from .conftest import MONDAY_NOON
from .fault_proxy import FaultProxy
from .live_server import (
    free_port,
    new_kiosk,
    serving,
    start_school_server,
)


@pytest.fixture
def proxy(server):
    with FaultProxy("127.0.0.1", int(server.url.rsplit(":", 1)[1])) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def kiosk(tmp_path, server, proxy):
    """Kiosk K1 enrolled through the proxy, with pupils pulled and P001 credited CHF 100."""
    service = new_kiosk(tmp_path, server, url=proxy.url)
    SyncAgent(service.store).run_round()
    service.cash_topup(service.login("anne", "1234"), "P001", 100_00)
    return service


def server_entries(server) -> list[str]:
    with server.write() as conn:
        return sorted(conn.execute(entries.select().with_only_columns(entries.c.id)).scalars())


def test_a_lost_acknowledgement_is_sent_again_and_answered_duplicate_not_counted_twice(server, proxy, kiosk):
    kiosk.tap("04A1B2C3")
    proxy.fail_next(1, "drop_response")
    with pytest.raises(SyncError, match="unreachable"):
        SyncAgent(kiosk.store).run_round()
    assert proxy.dropped_responses == 1 and len(server_entries(server)) == 2  # committed, ack lost
    assert kiosk.store.pending_push() == 2  # so the kiosk still holds them as unsent
    report = SyncAgent(kiosk.store).run_round()
    assert (report.accepted, report.duplicates) == (0, 2)
    assert len(server_entries(server)) == 2 and server.balance("P001") == kiosk.store.balance("P001") == 92_50


def test_an_answer_slower_than_the_read_timeout_fails_the_round_and_the_retry_changes_nothing(server, proxy, kiosk):
    proxy.fail_next(1, "delay", seconds=1.5)
    with pytest.raises(SyncError, match="ReadTimeout"):
        SyncAgent(kiosk.store, timeout=(1.0, 0.5)).run_round()
    before = server_entries(server)
    SyncAgent(kiosk.store).run_round()
    assert server_entries(server) == before and kiosk.store.pending_push() == 0


@pytest.mark.parametrize("fault", ["reset", "garbage"])
def test_a_reset_or_a_garbage_answer_fails_the_round_cleanly_and_the_next_one_catches_up(server, proxy, kiosk, fault):
    proxy.fail_next(1, fault)
    with pytest.raises(SyncError):
        SyncAgent(kiosk.store).run_round()
    assert kiosk.store.pending_push() == 1
    SyncAgent(kiosk.store).run_round()
    assert kiosk.store.pending_push() == 0 and server.balance("P001") == 100_00


def test_the_same_entries_in_batches_that_arrive_in_either_order_give_the_same_ledger(tmp_path, server, proxy, kiosk):
    kiosk.tap("04A1B2C3")
    meal = kiosk.store.entries("P001")[-1]
    cancelled = kiosk.reverse(kiosk.login("anne", "1234"), meal.id, "double passage")
    outbox = [LedgerEntry.from_record(json.loads(text)) for _seq, _id, text in kiosk.store.outbox(10)]
    assert [e.kind for e in outbox] == [EntryKind.CASH_TOPUP, EntryKind.MEAL, EntryKind.REVERSAL]
    with server.write() as conn:  # the reversal's batch arrives before the meal's
        for batch in ([outbox[2]], [outbox[0], outbox[1]]):
            acks = ledger.ingest(conn, "K1", batch, [e.to_record() for e in batch], MONDAY_NOON).acks
            assert {a.status for a in acks} == {"accepted"}
    assert server_entries(server) == sorted(e.id for e in outbox)
    assert server.balance("P001") == 100_00 and cancelled.balance_cents == 100_00


def test_a_week_with_the_server_down_loses_nothing_and_everything_arrives_when_it_is_back(server, proxy, kiosk):
    proxy.refuse()
    cashier = kiosk.login("anne", "1234")
    for day in range(5):  # Monday to Friday, the kiosk serves and takes cash; every round fails
        now = MONDAY_NOON + timedelta(days=day)
        kiosk.tap("04A1B2C3", now=now)
        kiosk.cash_topup(cashier, "P003", 10_00, now=now)
        kiosk.tap("0A0B0C0D", now=now + timedelta(minutes=1))
        with pytest.raises(SyncError, match="unreachable"):
            SyncAgent(kiosk.store).run_round()
    with server.write() as conn:  # meanwhile a parent paid online on the server
        ledger.append(conn, LedgerEntry(new_entry_id(), "P003", 30_00, EntryKind.ONLINE_TOPUP, MONDAY_NOON,
                                        "server", reference="pay-1"), MONDAY_NOON)
    assert kiosk.store.pending_push() == 1 + 5 * 3
    proxy.accept_again()
    report = SyncAgent(kiosk.store).run_round()
    assert report.accepted == 16 and report.entries_added == 1
    for pupil in ("P001", "P003"):
        assert server.balance(pupil) == kiosk.store.balance(pupil)
    assert kiosk.store.balance("P003") == 5 * 10_00 - 5 * 7_50 + 30_00


def test_a_server_killed_in_the_middle_of_a_batch_keeps_all_of_it_or_none_of_it(tmp_path):
    """The server runs as its own process here, so it can really die (SIGKILL) mid-transaction."""
    instance = tmp_path / "instance"
    url = f"sqlite:///{instance / 'refectory.db'}"
    instance.mkdir()
    start_school_server(url, instance).stop()  # the school's data, then a real process serves it
    port = free_port()
    kiosk = None
    rng = random.Random(3)
    for attempt in range(5):
        with serving(instance, port) as process:
            if kiosk is None:
                kiosk = enrolled_kiosk(tmp_path, url, instance, port)
            with kiosk.store.transaction():  # a busy week's worth more to send each time
                for entry in week_of_meals(1500, offset=attempt * 1500):
                    kiosk.store.append(entry)
            pushing = threading.Thread(target=_try_push, args=(kiosk,))
            pushing.start()
            time.sleep(rng.uniform(0.02, 0.3))
            process.kill()
            pushing.join(60)
        stored = count_entries(url)
        assert stored % BATCH == 0, f"attempt {attempt}: {stored} entries, a batch was half written"
    with serving(instance, port):
        SyncAgent(kiosk.store, batch=BATCH).run_round()
    assert count_entries(url) == 5 * 1500 and kiosk.store.pending_push() == 0


BATCH = 500


def _try_push(kiosk) -> None:
    with contextlib.suppress(SyncError):  # the server died under us: that is the point
        SyncAgent(kiosk.store, batch=BATCH).push_outbox()


def enrolled_kiosk(tmp_path, url: str, instance, port: int):
    from kiosk.service import KioskService
    from kiosk.store import Store
    from sync_server.db import make_engine, writing
    from sync_server.sync import kiosks

    engine = make_engine(url)
    with writing(engine) as conn:  # the served process keeps the system's time, as in production
        code = kiosks.issue_code(conn, "K1", utc_now())
    engine.dispose()
    store = Store.open(tmp_path / "K1", create=True)
    store.initialize("K1")
    agent = SyncAgent(store)
    agent.enroll(f"http://127.0.0.1:{port}", code)
    agent.run_round()
    return KioskService(store, clock=lambda: MONDAY_NOON)


def week_of_meals(count: int, offset: int = 0) -> list[LedgerEntry]:
    """Meal entries as a kiosk made them (written straight to its ledger: only their number matters)."""
    pupils = ("P001", "P002", "P003", "S001")
    first = MONDAY_NOON - timedelta(days=8_000)  # every one inside the instants the server accepts (2000-2099)
    return [LedgerEntry(new_entry_id(), pupils[n % 4], -7_50, EntryKind.MEAL, first + timedelta(days=offset + n),
                        "K1", service_date=(first + timedelta(days=offset + n)).date()) for n in range(count)]


def count_entries(url: str) -> int:
    from sqlalchemy import func, select

    from sync_server.db import make_engine, reading

    engine = make_engine(url)
    with reading(engine) as conn:
        count = conn.execute(select(func.count()).select_from(entries)).scalar_one()
    engine.dispose()
    return count


def test_a_pull_page_that_does_not_parse_fails_the_round_and_the_cursor_stays(server, proxy, kiosk):
    from sync_server.tables import changes

    with server.write() as conn:  # a pupil record without its names: the server's data is broken
        conn.execute(changes.insert().values(type="pupil", key="PX", record='{"pupil_id": "PX"}',
                                             at="2026-11-30T11:00:00.000000+00:00"))
    before = kiosk.store.conn.execute("SELECT pulled_cursor FROM sync_state").fetchone()
    with pytest.raises(SyncError, match="not what this kiosk expects"):
        SyncAgent(kiosk.store).run_round()
    assert kiosk.store.conn.execute("SELECT pulled_cursor FROM sync_state").fetchone() == before
    assert kiosk.store.pupil("PX") is None
