"""Writers side by side on PostgreSQL: the change feed kiosks follow never skips a change that
commits late, and money is booked once when two requests race for it.

Two transactions are made to overlap on purpose (`overlapping`): the first stays open until the
second has finished or waits on a lock, so each race below runs the same way every time."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import date

import pytest
from sqlalchemy import func, select, text

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.money import MAX_BALANCE_CENTS
from domain.sync import AckStatus, ChangeType
from sync_server.admin import canteen_settings
from sync_server.db import make_engine, reading, writing
from sync_server.money import datatrans, online_payments, refund_fence, refunds
from sync_server.sync import kiosks, ledger
from sync_server.sync.changes import changes_behind, latest_seq, page_after
from sync_server.tables import changes, entries, quarantine, settings

from .conftest import MONDAY_NOON

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
URL = "https://portal.test/"
DEADLINE_S = 60
PUPILS = ("P001", "P002", "P003")


@pytest.fixture
def database() -> str:
    return "postgresql"  # SQLite has one writer at a time: nothing here can race there


@pytest.fixture
def engine(school_database):
    engine = make_engine(school_database.url)
    yield engine
    engine.dispose()


def credit(pupil_id: str, cents: int = 5_00) -> LedgerEntry:
    return LedgerEntry(new_entry_id(), pupil_id, cents, EntryKind.ONLINE_TOPUP, MONDAY_NOON, "server",
                       reference=new_entry_id())


def meal(pupil_id: str, kiosk_id: str = "K1", cents: int = 7_50) -> LedgerEntry:
    return LedgerEntry(new_entry_id(), pupil_id, -cents, EntryKind.MEAL, MONDAY_NOON, kiosk_id,
                       service_date=date(2026, 11, 30))


class Follower:
    """A kiosk following the feed: pulls pages from its cursor and keeps what it got, in order."""

    def __init__(self, engine) -> None:
        self.engine = engine
        with reading(engine) as conn:
            self.cursor = latest_seq(conn)
        self.got: list = []

    def pull(self, limit: int = 50) -> list:
        with reading(self.engine) as conn:
            page = page_after(conn, self.cursor, limit)
        self.cursor = page.next  # as a kiosk does: past the last change, or past the whole pullable feed
        self.got += page.changes
        return page.changes

    def drain(self, expected: int) -> None:
        """Pull until `expected` changes in all, the horizon reaching every commit."""
        deadline = time.monotonic() + DEADLINE_S
        while len(self.got) < expected:
            assert time.monotonic() < deadline, f"{len(self.got)} of {expected} changes pulled"
            self.pull()


def lock_waiters(engine) -> int:
    with reading(engine) as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                 " AND wait_event_type = 'Lock'")).scalar_one()


def overlapping(engine, first, second) -> tuple[object, object, bool]:
    """`first(conn)` in a write transaction kept open until `second(conn)`, in another, has
    finished or waits on a lock; then both commit. Returns both results, and whether the second waited."""
    results: dict[str, object] = {}
    opened, hold = threading.Event(), threading.Event()

    def run(name, work, keep_open):
        try:
            with writing(engine) as conn:
                results[name] = work(conn)
                if keep_open:
                    opened.set()
                    assert hold.wait(DEADLINE_S)
        except BaseException as error:  # handed to the test's thread
            results[name] = error
            opened.set()

    one = threading.Thread(target=run, args=("first", first, True))
    one.start()
    assert opened.wait(DEADLINE_S)
    two = threading.Thread(target=run, args=("second", second, False))
    two.start()
    deadline = time.monotonic() + DEADLINE_S
    while two.is_alive() and not lock_waiters(engine):
        assert time.monotonic() < deadline, "the second transaction neither finished nor waited"
        two.join(0.005)
    waited = two.is_alive()
    hold.set()
    one.join(DEADLINE_S)
    two.join(DEADLINE_S)
    for outcome in results.values():
        if isinstance(outcome, BaseException):
            raise outcome
    return results["first"], results["second"], waited


# -- the feed ------------------------------------------------------------------------------------

def test_a_pull_hands_out_nothing_past_a_writer_still_open_and_a_kiosk_gets_each_change_once(engine):
    kiosk = Follower(engine)
    older, younger = credit("P001"), credit("P002")
    with writing(engine) as a:
        ledger.append(a, older, MONDAY_NOON)  # A writes first...
        with writing(engine) as b:
            ledger.append(b, younger, MONDAY_NOON)  # ...B writes after it and commits first
        assert kiosk.pull() == []  # B's change sits above A's: handing it out would skip A's for good
    with reading(engine) as conn:  # the back office's "changes not yet pulled": two, not the positions between
        assert changes_behind(conn, kiosk.cursor, latest_seq(conn)) == 2
    kiosk.drain(2)
    assert [c.key for c in kiosk.got] == [older.id, younger.id]
    assert kiosk.pull() == []


def test_a_record_an_older_transaction_writes_after_a_younger_one_reaches_kiosks_last(engine):
    """Kiosks set records by key: the last change of a key in the feed must be the one committed last."""
    kiosk = Follower(engine)
    with writing(engine) as a:
        ledger.append(a, credit("P001"), MONDAY_NOON)  # A has its transaction id before B has one
        with writing(engine) as b:
            canteen_settings._store(b, "feed.test", "from B", MONDAY_NOON)
        canteen_settings._store(a, "feed.test", "from A", MONDAY_NOON)  # after B: the value that stays
    kiosk.drain(3)
    assert [c.record["value"] for c in kiosk.got if c.type is ChangeType.SETTING] == ["from B", "from A"]
    with reading(engine) as conn:
        assert conn.execute(select(settings.c.value).where(settings.c.key == "feed.test")).scalar_one() == "from A"


def test_writers_side_by_side_and_a_kiosk_pulling_meanwhile_see_every_change_once_in_order(engine):
    kiosk = Follower(engine)
    start = kiosk.cursor
    until = time.monotonic() + 2.5
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        rng = random.Random(number)
        try:
            while time.monotonic() < until:
                with writing(engine) as conn:
                    ledger.append_many(conn, [credit(rng.choice(PUPILS)) for _ in range(rng.randint(1, 3))],
                                       MONDAY_NOON)
                    if rng.random() < 0.3:
                        canteen_settings._store(conn, f"stress.{rng.randrange(3)}", f"{number}-{rng.random()}",
                                                MONDAY_NOON)
                    time.sleep(rng.random() * 0.004)  # commits come in another order than transaction ids
        except BaseException as error:
            failures.append(error)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in writers:
        thread.start()
    while any(thread.is_alive() for thread in writers):
        kiosk.pull()
    for thread in writers:
        thread.join()
    assert not failures, failures
    with reading(engine) as conn:
        written = list(conn.execute(select(changes.c.seq).where(changes.c.seq > start).order_by(changes.c.seq))
                       .scalars())
        kept = dict(conn.execute(select(settings.c.key, settings.c.value).where(settings.c.key.like("stress.%"))).all())
        assert ledger.verify_balances(conn) == []
    kiosk.drain(len(written))
    positions = [c.seq for c in kiosk.got]
    assert positions == written  # each once, in increasing order: none skipped, none twice
    last = {c.key: c.record["value"] for c in kiosk.got if c.type is ChangeType.SETTING}
    assert last == kept and len(kept) == 3 and len(written) > 100


# -- money ---------------------------------------------------------------------------------------

def test_two_pushes_that_together_would_pass_the_floor_book_the_first_and_refuse_the_second(engine):
    with writing(engine) as conn:
        gap = ledger.balance(conn, "P003") + MAX_BALANCE_CENTS - 10_00  # leave CHF 10 above the floor
        ledger.append_many(conn, [LedgerEntry(new_entry_id(), "P003", -part, EntryKind.REFUND, MONDAY_NOON, "server")
                                  for part in (gap // 2, gap - gap // 2)], MONDAY_NOON)
    first, second = meal("P003", "K1"), meal("P003", "K2")
    one, two, waited = overlapping(
        engine,
        lambda conn: ledger.ingest(conn, "K1", [first], [first.to_record()], MONDAY_NOON).acks,
        lambda conn: ledger.ingest(conn, "K2", [second], [second.to_record()], MONDAY_NOON).acks)
    assert waited  # on the balance the first is changing
    assert [a.status for a in one] == [AckStatus.ACCEPTED]
    assert [a.status for a in two] == [AckStatus.REJECTED] and "balance" in two[0].reason
    with reading(engine) as conn:
        assert ledger.balance(conn, "P003") == -MAX_BALANCE_CENTS + 2_50 and ledger.verify_balances(conn) == []


def test_the_same_push_sent_twice_at_once_is_booked_once_and_set_aside_once(engine):
    def push(batch):
        def run(conn):
            ledger.one_push_at_a_time(conn, "K1")
            return [a.status for a in ledger.ingest(conn, "K1", batch, [e.to_record() for e in batch],
                                                    MONDAY_NOON).acks]
        return run

    booked = [meal("P001"), meal("P002")]
    one, two, waited = overlapping(engine, push(booked), push(booked))
    assert waited and one == [AckStatus.ACCEPTED] * 2 and two == [AckStatus.DUPLICATE] * 2
    refused = [meal("P999")]  # no such pupil: kept in quarantine for the manager, once
    one, two, waited = overlapping(engine, push(refused), push(refused))
    assert waited and one == two == [AckStatus.REJECTED]
    with reading(engine) as conn:
        assert conn.execute(select(func.count()).select_from(entries).where(
            entries.c.id.in_([e.id for e in booked]))).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == 1


def test_the_webhook_and_the_return_page_confirming_one_payment_at_once_credit_it_once(engine):
    with writing(engine) as conn:
        before = ledger.balance(conn, "P001")
        payment = online_payments.record(conn, reference=online_payments.new_reference(), transaction_id="T-1",
                                         family_id="F01", pupil_id="P001", amount_cents=20_00, method="TWI",
                                         terms_document_id=1, now=MONDAY_NOON)
    told = datatrans.Status("T-1", payment.reference, "settled", 20_00, "CHF")

    def confirm(conn):
        return online_payments.apply(conn, told, MONDAY_NOON, canteen=CANTEEN, portal_url=URL).status

    one, two, waited = overlapping(engine, confirm, confirm)
    assert waited and one == two == online_payments.PaymentStatus.PAID
    with reading(engine) as conn:
        assert conn.execute(select(func.count()).select_from(entries).where(
            entries.c.reference == "T-1")).scalar_one() == 1
        assert ledger.balance(conn, "P001") == before + 20_00


def test_two_heartbeats_passing_the_fence_at_once_pay_the_refund_once(engine, caplog):
    with writing(engine) as conn:
        ledger.append(conn, credit("P001", 30_00), MONDAY_NOON)
        tokens = [kiosks.enroll(conn, kiosks.issue_code(conn, kiosk, MONDAY_NOON), kiosk, MONDAY_NOON)
                  for kiosk in ("K1", "K2")]
        request = refunds.ask(conn, "F01", "P001", "CH93 0076 2011 6238 5295 7", "Anna Müller", MONDAY_NOON,
                              canteen=CANTEEN, portal_url=URL)
        approved = refunds.approve(conn, request.request_id, "sandra", MONDAY_NOON, canteen=CANTEEN, portal_url=URL)
        for token in tokens:
            kiosks.heartbeat(conn, token, cursor=approved.fence_seq, pending=0, clock=MONDAY_NOON, version="t",
                             now=MONDAY_NOON)

    def heartbeat_payout(kiosk_id):
        return lambda conn: refund_fence.release_after_heartbeat(conn, kiosk_id, MONDAY_NOON, canteen=CANTEEN,
                                                                 portal_url=URL)

    with caplog.at_level(logging.INFO, logger="sync_server.money.refund_fence"):
        overlapping(engine, heartbeat_payout("K1"), heartbeat_payout("K2"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with reading(engine) as conn:
        paid = refunds.find(conn, request.request_id)
        assert paid.status is refunds.Status.TO_PAY and ledger.balance(conn, "P001") == 0
        assert conn.execute(select(func.count()).select_from(entries).where(
            entries.c.kind == EntryKind.REFUND.value)).scalar_one() == 1
