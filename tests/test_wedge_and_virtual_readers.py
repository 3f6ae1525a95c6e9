"""Keyboard-wedge and virtual readers: every way a UID arrives ends as the badge table's hex."""

from __future__ import annotations

import queue
import time

import pytest
from evdev import ecodes

from domain.badges import BadgeUidError
from hardware.readers import (
    BadgeRead,
    ReaderNotice,
    ReaderStatus,
    VirtualReader,
    tap_virtual,
)
from hardware.wedge import (
    EvdevWedgeReader,
    KeyEventWedge,
    WedgeDecoder,
    key_char,
    uid_from_wedge,
)
from kiosk.store import Store

from .conftest import fund_and_open_all_day, listening

SAME_BADGE = [("hex", "04A1B2C3"), ("hex", "04:a1:b2:c3"), ("decimal", "77705923"), ("decimal", "0077705923"),
              ("decimal-reversed", "3283263748")]


@pytest.mark.parametrize(("fmt", "typed"), SAME_BADGE)
def test_every_wedge_format_gives_the_same_badge(fmt, typed):
    assert uid_from_wedge(typed, fmt) == "04A1B2C3"


def test_a_long_decimal_uid_keeps_its_seven_bytes():
    assert uid_from_wedge("1144738493519206", "decimal") == "04112233445566"


@pytest.mark.parametrize(("fmt", "typed"), [("decimal", "12AB"), ("decimal-reversed", "99999999999"),
                                            ("hex", "12345"), ("decimal", "1" * 30)])
def test_what_is_not_a_badge_number_is_refused_with_a_reason(fmt, typed):
    with pytest.raises(BadgeUidError):
        uid_from_wedge(typed, fmt)


def collect(reader):
    events: queue.Queue = queue.Queue()
    reader.start(events.put, events.put)
    return events


def drained(events: queue.Queue) -> list:
    found = []
    while not events.empty():
        found.append(events.get())
    return found


@pytest.mark.parametrize(("fmt", "typed"), SAME_BADGE[::2])
def test_keys_handed_over_by_the_ui_in_each_format_make_one_tap(fmt, typed):
    wedge = KeyEventWedge(fmt)
    events = collect(wedge)
    for i, key in enumerate([*typed, "enter"]):
        wedge.key(key, at=10 + i * 0.01)
    reads = [e for e in drained(events) if isinstance(e, BadgeRead)]
    assert [r.uid for r in reads] == ["04A1B2C3"]


def test_a_slow_typist_does_not_glue_onto_the_next_badge():
    decoder = WedgeDecoder("hex", max_gap=0.3)
    decoder.feed("9", at=1.0)  # a stray key press, long before the badge
    typed = [decoder.feed(k, at=5.0 + i * 0.01) for i, k in enumerate([*"04A1B2C3", "enter"])]
    assert typed[-1] == "04A1B2C3"


def test_a_garbled_wedge_read_is_reported_not_tapped():
    wedge = KeyEventWedge("decimal")
    events = collect(wedge)
    for i, key in enumerate([*"12AB", "enter"]):
        wedge.key(key, at=1 + i * 0.01)
    notices = [e for e in drained(events) if isinstance(e, ReaderNotice) and e.status is None]
    assert [n.message.render() for n in notices] == ["'12AB' is not a decimal badge number."]


def test_input_device_key_codes_read_as_the_characters_a_reader_types():
    codes = [ecodes.KEY_0, ecodes.KEY_4, ecodes.KEY_KP7, ecodes.KEY_A, ecodes.KEY_F, ecodes.KEY_ENTER,
             ecodes.KEY_KPENTER, ecodes.KEY_LEFTSHIFT]
    assert [key_char(c) for c in codes] == ["0", "4", "7", "a", "f", "enter", "enter", None]


def test_a_missing_input_device_is_reported_as_a_disconnected_reader(tmp_path):
    reader = EvdevWedgeReader(str(tmp_path / "event-kbd"), "hex", retry_seconds=0.1)
    events = collect(reader)
    try:
        notice = events.get(timeout=30)
    finally:
        reader.stop()
    assert notice.status is ReaderStatus.DISCONNECTED
    assert str(tmp_path / "event-kbd") in notice.message.render()


def test_the_virtual_reader_takes_taps_from_its_socket(tmp_path):
    reader = VirtualReader(tmp_path / "reader.sock")
    events = collect(reader)
    try:
        tap_virtual(tmp_path / "reader.sock", "04:a1:b2:c3")
        read = next(e for e in iter(lambda: events.get(timeout=30), None) if isinstance(e, BadgeRead))
    finally:
        reader.stop()
    assert (read.uid, read.reader) == ("04A1B2C3", "virtual")
    assert not (tmp_path / "reader.sock").exists()


def test_listen_with_the_virtual_reader_prints_a_refusal_for_an_unknown_badge_and_a_meal_for_a_known_one(kiosk_dir):
    fund_and_open_all_day(kiosk_dir, "P003", 10_00)
    with listening(kiosk_dir) as listen:
        assert listen.next()["status"] == "ready"
        socket_path = kiosk_dir / "virtual-reader.sock"
        tap_virtual(socket_path, "CAFE0001")
        tap_virtual(socket_path, "0a0b0c0d")
        unknown, served = listen.next(), listen.next()
    assert (unknown["served"], unknown["reason"]) == (False, "unknown_badge")
    assert unknown["message"] == "Badge inconnu : va à la caisse."
    assert (served["served"], served["pupil_id"], served["balance_cents"]) == (True, "P003", 3_00)
    assert served["reader"] == "virtual"
    with Store.open(kiosk_dir) as store:
        assert store.balance("P003") == 3_00


def test_a_tap_injected_by_the_demo_ui_reaches_the_counter_with_its_detection_time():
    reader = VirtualReader()
    events = collect(reader)
    started = time.perf_counter()
    reader.inject("DEADBEEF")
    read = next(e for e in drained(events) if isinstance(e, BadgeRead))
    assert read.uid == "DEADBEEF" and read.detected >= started
