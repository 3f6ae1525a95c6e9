"""Ledger entries are immutable, validated at birth, and travel as plain records unchanged."""

import dataclasses
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.entries import EntryKind, LedgerEntry, meal_entry, new_entry_id
from domain.money import MAX_BALANCE_CENTS

NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def meal(**changes):
    fields = dict(id=new_entry_id(), account_id="P001", amount_cents=-700, kind=EntryKind.MEAL, occurred_at=NOW,
                  origin="K1", reference="04A1B2C3", service_date=date(2026, 11, 30))
    fields.update(changes)
    return LedgerEntry(**fields)


def test_an_entry_cannot_be_modified_once_made():
    with pytest.raises(dataclasses.FrozenInstanceError):
        meal().amount_cents = 0


def test_an_entry_survives_the_trip_to_a_record_and_back():
    original = meal(note=None)
    record = original.to_record()
    assert record["kind"] == "meal" and record["occurred_at"] == "2026-11-30T11:00:00.000000+00:00"
    assert LedgerEntry.from_record(record) == original


@pytest.mark.parametrize(
    "changes",
    [dict(amount_cents=700), dict(amount_cents=0), dict(amount_cents=7.0), dict(service_date=None),
     dict(occurred_at=datetime(2026, 11, 30, 11, 0)),  # noqa: DTZ001 - naive on purpose: it must be refused
     dict(id="not-a-uuid"), dict(account_id=""),
     dict(kind=EntryKind.CASH_TOPUP), dict(kind=EntryKind.REVERSAL, service_date=None, reference=None, note="x"),
     dict(kind=EntryKind.ADJUSTMENT, service_date=None, note=" "),
     dict(amount_cents=-MAX_BALANCE_CENTS - 1), dict(amount_cents=-2**63),
     dict(service_date=date(1, 1, 1)), dict(service_date=date(2026, 11, 29)),  # not the day it was served
     dict(occurred_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))],  # already 1 December in Zurich
)
def test_an_inconsistent_entry_is_refused_at_birth(changes):
    with pytest.raises(ValueError):
        meal(**changes)


def test_entry_ids_are_uuid_version_7_and_ordered_by_time():
    ids = [new_entry_id() for _ in range(3)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    first = new_entry_id()
    time.sleep(0.002)
    later = new_entry_id()
    assert first < later


def test_a_meal_just_after_midnight_in_zurich_belongs_to_that_zurich_day():
    assert meal(occurred_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC), service_date=date(2026, 12, 1))


@pytest.mark.parametrize(("at", "day"), [
    (NOW, date(2026, 11, 30)),
    (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), date(2026, 12, 1)),
    (datetime(2026, 11, 30, 23, 59, tzinfo=timezone(timedelta(hours=1))), date(2026, 11, 30)),
])
def test_a_taps_meal_entry_is_one_the_full_check_accepts_on_the_zurich_day_of_its_instant(at, day):
    entry = meal_entry("P001", 700, at, "K1", "04A1B2C3")
    assert dataclasses.asdict(entry) == dataclasses.asdict(LedgerEntry(**dataclasses.asdict(entry)))
    assert (entry.kind, entry.amount_cents, entry.reference, entry.operator, entry.note) == (
        EntryKind.MEAL, -700, "04A1B2C3", None, None)
    assert entry.occurred_at == at and entry.occurred_at.tzinfo is UTC
    assert entry.service_date == day
    assert LedgerEntry.from_record(entry.to_record()) == entry
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.amount_cents = 0


@pytest.mark.parametrize(
    "args",
    [("", 700, NOW, "K1"), ("P001", 700, NOW, ""), ("P001", 0, NOW, "K1"), ("P001", -700, NOW, "K1"),
     ("P001", 7.0, NOW, "K1"), ("P001", True, NOW, "K1"), ("P001", MAX_BALANCE_CENTS + 1, NOW, "K1"),
     ("P001", 700, datetime(2026, 11, 30, 11, 0), "K1")],  # noqa: DTZ001 - naive on purpose: it must be refused
)
def test_a_taps_meal_entry_refuses_what_its_caller_got_wrong(args):
    with pytest.raises(ValueError):
        meal_entry(*args, "04A1B2C3")
