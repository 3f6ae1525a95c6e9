"""The PC/SC reader through the real stack: pyscard → pcsc-lite → pcscd → vpcd → a virtual card.

pcscd polls the virtual reader every 400 ms, so "nothing happened" is checked by waiting a few
polls (1.2 s); every other wait ends on the event itself.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

from domain.i18n import gettext_for
from hardware.readers import BadgeRead, ReaderNotice, ReaderStatus
from kiosk.store import Store
from refectory.testing.pcscd import PrivatePcscd, VirtualCard, use_private_pcscd

from .conftest import fund_and_open_all_day, listening

QUIET = 1.2  # three pcscd polls of the virtual reader


@pytest.fixture(scope="session")
def pcscd():
    daemon = PrivatePcscd()
    daemon.start()
    use_private_pcscd(daemon)
    yield daemon
    daemon.stop()


class Events:
    """What a reader reported, in order, with waits that end as soon as the event arrives."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def on_badge(self, read: BadgeRead) -> None:
        self.queue.put(read)

    def on_notice(self, notice: ReaderNotice) -> None:
        self.queue.put(notice)

    def next(self, kind: type, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, kind):
                return event
        raise AssertionError(f"no {kind.__name__} within {timeout} s")

    def status(self, status: ReaderStatus, timeout: float = 30.0) -> ReaderNotice:
        deadline = time.monotonic() + timeout
        while True:
            notice = self.next(ReaderNotice, max(0.01, deadline - time.monotonic()))
            if notice.status is status:
                return notice

    def reads_within(self, seconds: float) -> list[BadgeRead]:
        time.sleep(seconds)
        found = []
        while not self.queue.empty():
            event = self.queue.get()
            if isinstance(event, BadgeRead):
                found.append(event)
        return found


@pytest.fixture
def reader(pcscd):
    from hardware.pcsc import PcscReader

    events = Events()
    monitor = PcscReader(poll_ms=200, retry_seconds=0.2)
    monitor.start(events.on_badge, events.on_notice)
    events.status(ReaderStatus.READY)
    yield monitor, events
    monitor.stop()


@pytest.mark.parametrize("uid", ["04A1B2C3", "04112233445566", "0102030405060708090A"], ids=["4B", "7B", "10B"])
def test_a_presented_card_is_one_tap_with_its_uid(pcscd, reader, uid):
    _monitor, events = reader
    card = VirtualCard(pcscd.port, uid).insert()
    try:
        read = events.next(BadgeRead)
        assert read.uid == uid and read.reader == "Virtual PCD 00 00"
        assert events.reads_within(QUIET) == []  # the card stays on the reader: no second tap
    finally:
        card.remove()
    assert card.apdus == [bytes.fromhex("FFCA000000")]


def test_taking_the_card_away_and_presenting_it_again_is_a_second_tap(pcscd, reader):
    _monitor, events = reader
    card = VirtualCard(pcscd.port, "04A1B2C3")
    card.insert()
    assert events.next(BadgeRead).uid == "04A1B2C3"
    card.remove()
    assert events.reads_within(QUIET) == []
    pcscd.wait_for_card("Virtual PCD 00 00", present=False)
    card.insert()
    try:
        assert events.next(BadgeRead).uid == "04A1B2C3"
    finally:
        card.remove()


def test_cards_on_two_readers_are_both_read(pcscd, reader):
    monitor, events = reader
    assert monitor.readers == ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    first, second = VirtualCard(pcscd.port, "04A1B2C3"), VirtualCard(pcscd.port + 1, "DEADBEEF")
    first.insert(), second.insert()
    try:
        reads = {events.next(BadgeRead).reader: None for _ in range(2)}
        assert set(reads) == {"Virtual PCD 00 00", "Virtual PCD 00 01"}
    finally:
        first.remove(), second.remove()


def test_a_card_answering_an_error_status_is_reported_and_reading_goes_on(pcscd, reader):
    _monitor, events = reader
    bad = VirtualCard(pcscd.port, "04A1B2C3", status=bytes.fromhex("6A81")).insert()
    notice = events.next(ReaderNotice)
    bad.remove()
    assert notice.status is None
    assert notice.message.render() == "badge not read: the card answered 6A 81"
    pcscd.wait_for_card("Virtual PCD 00 00", present=False)
    good = VirtualCard(pcscd.port, "0A0B0C0D").insert()
    try:
        assert events.next(BadgeRead).uid == "0A0B0C0D"
    finally:
        good.remove()


class MuteCard(VirtualCard):
    """A card that powers up but never answers an APDU while it lies on the reader."""

    def __init__(self, port: int) -> None:
        super().__init__(port, "04A1B2C3")
        self.taken_away = threading.Event()

    def answer(self, apdu: bytes) -> bytes:
        self.taken_away.wait(10)
        return b""

    def remove(self) -> None:
        self.taken_away.set()
        super().remove()


def test_a_card_that_does_not_answer_is_reported_while_it_lies_there_and_reading_goes_on(pcscd, reader):
    _monitor, events = reader
    mute = MuteCard(pcscd.port).insert()
    waiting = events.next(ReaderNotice)
    assert waiting.message.render(gettext_for("fr")) == (
        "badge non lu : la carte ne répond pas ; retirez-la et présentez-la à nouveau")
    mute.remove()
    assert events.next(ReaderNotice).message.render() == "badge not read: the card did not answer"
    # A card presented before pcscd has seen the mute one leave is, to pcscd, the same card still
    # lying there: no new card, no read.
    pcscd.wait_for_card("Virtual PCD 00 00", present=False)
    good = VirtualCard(pcscd.port, "0A0B0C0D").insert()
    try:
        assert events.next(BadgeRead).uid == "0A0B0C0D"
    finally:
        good.remove()


def test_a_card_already_on_the_reader_when_it_starts_is_not_a_tap(pcscd, reader):
    from hardware.pcsc import PcscReader

    first, events = reader
    card = VirtualCard(pcscd.port, "04A1B2C3").insert()
    assert events.next(BadgeRead).uid == "04A1B2C3"  # pcscd sees the card
    first.stop()
    restarted, events = PcscReader(poll_ms=200), Events()
    restarted.start(events.on_badge, events.on_notice)
    try:
        events.status(ReaderStatus.READY)
        assert events.reads_within(QUIET) == []
        card.remove()
        pcscd.wait_for_card("Virtual PCD 00 00", present=False)
        card.insert()
        assert events.next(BadgeRead).uid == "04A1B2C3"
    finally:
        card.remove()
        restarted.stop()


def test_the_reader_reports_disconnected_and_recovers_by_itself_when_pcscd_restarts(pcscd, reader):
    _monitor, events = reader
    pcscd.stop()
    disconnected = events.status(ReaderStatus.DISCONNECTED)
    assert disconnected.message.render().startswith("reader disconnected")
    pcscd.start()
    events.status(ReaderStatus.READY, timeout=60)
    card = VirtualCard(pcscd.port, "04A1B2C3").insert()
    try:
        assert events.next(BadgeRead).uid == "04A1B2C3"
    finally:
        card.remove()


def test_listen_turns_a_card_on_the_reader_into_a_served_meal_line_and_a_debit(pcscd, kiosk_dir):
    fund_and_open_all_day(kiosk_dir, "P001", 20_00)
    (kiosk_dir / "kiosk.toml").write_text('[reader]\nkind = "pcsc"\n', encoding="utf-8")
    with listening(kiosk_dir) as listen:
        ready = listen.next()
        assert ready["event"] == "reader" and ready["status"] == "ready"
        card = VirtualCard(pcscd.port, "04A1B2C3").insert()
        line = listen.next()
        card.remove()
    assert line["event"] == "tap" and line["served"] is True and line["pupil_id"] == "P001"
    assert (line["first_name"], line["message"], line["balance_line"]) == ("Léa", "Bon appétit !", "Solde CHF 13.00")
    assert line["reader"] == "Virtual PCD 00 00"
    assert listen.returncode == 0
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 13_00
