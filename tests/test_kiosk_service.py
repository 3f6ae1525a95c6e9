"""Counter services on a real SQLite store: taps, cash top-ups, reversals, cash report."""

import sqlite3
from datetime import date, timedelta

import pytest

from domain.badges import BadgeUidError
from domain.corrections import ReversalError
from domain.entries import EntryKind
from domain.meals import BadgeStatus, HoldReason, Refusal, ReservationKind
from domain.money import AmountError
from kiosk.service import AuthError, KioskService, UnknownRecordError
from kiosk.store import Store

from .conftest import MONDAY_NOON

LEA_BADGE = "04A1B2C3"


def test_a_served_tap_writes_the_meal_entry_and_the_served_record(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    result = service.tap(LEA_BADGE)
    assert result.verdict.served and result.verdict.balance_cents == 13_00
    assert store.balance("P001") == 13_00
    meal = store.entry(result.entry.id)
    assert meal.kind is EntryKind.MEAL and meal.amount_cents == -700 and meal.service_date == date(2026, 11, 30)
    assert meal.origin == "K1" and meal.reference == LEA_BADGE
    served = store.conn.execute("SELECT pupil_id, service_date FROM served").fetchall()
    assert served == [("P001", "2026-11-30")]


def test_a_second_tap_the_same_day_is_refused_with_the_time_of_the_first_and_costs_nothing(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    service.tap(LEA_BADGE, now=MONDAY_NOON + timedelta(minutes=3))
    again = service.tap(LEA_BADGE, now=MONDAY_NOON + timedelta(minutes=4))
    assert again.verdict.reason is Refusal.ALREADY_SERVED
    assert again.verdict.message.render() == "You already had your meal today at 12:03."
    assert store.balance("P001") == 13_00
    assert service.tap(LEA_BADGE, now=MONDAY_NOON + timedelta(days=1)).verdict.served


@pytest.mark.parametrize("typed", ["04a1b2c3", "04:A1:B2:C3", "04-a1-b2-c3", " 04 A1 B2 C3 ", "0x04A1B2C3"])
def test_badge_uids_are_normalised_to_upper_case_hex(service, cashier, typed):
    service.cash_topup(cashier, "P001", 10_00)
    result = service.tap(typed)
    assert result.uid == LEA_BADGE and result.verdict.served


def test_a_malformed_uid_is_an_error_not_an_unknown_badge(service):
    with pytest.raises(BadgeUidError):
        service.tap("hello")
    assert service.tap("01020304").verdict.reason is Refusal.UNKNOWN_BADGE


def test_a_refused_tap_writes_nothing(service, store, kiosk_dir):
    before = list(store.conn.iterdump())
    assert service.tap(LEA_BADGE).verdict.reason is Refusal.INSUFFICIENT_BALANCE
    assert list(store.conn.iterdump()) == before


def test_a_tap_whose_write_fails_leaves_neither_entry_nor_served_record(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    store.conn.execute(
        "CREATE TEMP TRIGGER disk_full BEFORE INSERT ON main.entries BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        service.tap(LEA_BADGE)
    store.conn.execute("DROP TRIGGER disk_full")
    assert store.balance("P001") == 20_00
    assert store.conn.execute("SELECT COUNT(*) FROM served").fetchone()[0] == 0
    assert service.tap(LEA_BADGE).verdict.served


def test_blocked_badges_holds_inactive_pupils_and_required_reservations_refuse_at_the_counter(service, cashier, store):
    service.cash_topup(cashier, "P001", 50_00)
    with store.transaction():
        store.set_badge_status(LEA_BADGE, BadgeStatus.LOST, MONDAY_NOON)
    assert service.tap(LEA_BADGE).verdict.reason is Refusal.BADGE_DISABLED
    with store.transaction():
        store.set_badge_status(LEA_BADGE, BadgeStatus.ACTIVE, MONDAY_NOON)
        store.set_hold("P001", HoldReason.REFUND, MONDAY_NOON)
    assert service.tap(LEA_BADGE).verdict.reason is Refusal.ACCOUNT_ON_HOLD
    with store.transaction():
        store.set_hold("P001", None, MONDAY_NOON)
    service.set_setting("reservation.required", "oui")
    assert service.tap(LEA_BADGE).verdict.reason is Refusal.RESERVATION_REQUIRED
    with store.transaction():
        store.set_reservation("P001", date(2026, 11, 30), ReservationKind.SPECIAL, MONDAY_NOON)
    verdict = service.tap(LEA_BADGE).verdict
    assert verdict.served and verdict.special_meal == "" and not verdict.without_reservation


def test_a_cash_top_up_is_credited_at_once_with_gapless_receipt_numbers(service, cashier, store):
    first = service.cash_topup(cashier, "P001", 20_00)
    second = service.cash_topup(cashier, "P002", 50_50)
    third = service.cash_topup(cashier, "P001", 5_00)
    assert [first.receipt_no, second.receipt_no, third.receipt_no] == [1, 2, 3]
    assert third.balance_cents == 25_00 and store.balance("P002") == 50_50
    assert first.entry.operator == "anne" and first.entry.reference == "K1/1"
    assert store.receipt_numbers() == [1, 2, 3]


@pytest.mark.parametrize("cents", [0, -500, 4_95, 500_05, 10_03])
def test_a_top_up_outside_the_limits_or_not_in_coins_is_refused_and_changes_nothing(service, cashier, store, cents):
    before = list(store.conn.iterdump())
    with pytest.raises(AmountError):
        service.cash_topup(cashier, "P001", cents)
    assert list(store.conn.iterdump()) == before


def test_a_wrong_pin_or_unknown_cashier_opens_nothing(service):
    with pytest.raises(AuthError):
        service.login("anne", "9999")
    with pytest.raises(AuthError):
        service.login("nobody", "1234")
    assert service.login("anne", "1234").name == "Anne Roch"


def test_a_top_up_for_an_unknown_pupil_is_refused(service, cashier):
    with pytest.raises(UnknownRecordError):
        service.cash_topup(cashier, "P999", 10_00)


def test_a_reversed_meal_gives_the_money_back_and_lets_the_pupil_be_served_again(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    meal = service.tap(LEA_BADGE).entry
    reversal = service.reverse(cashier, meal.id, "double débit")
    assert reversal.entry.kind is EntryKind.REVERSAL and reversal.entry.amount_cents == 700
    assert reversal.entry.reference == meal.id and reversal.receipt_no is None
    assert reversal.balance_cents == 20_00
    assert store.entry(meal.id) == meal  # the original stays, untouched
    assert service.tap(LEA_BADGE).verdict.served


def test_a_reversed_cash_top_up_gets_a_cancellation_receipt_number(service, cashier, store):
    topup = service.cash_topup(cashier, "P001", 20_00)
    reversal = service.reverse(cashier, topup.entry.id, "mauvais élève")
    assert reversal.receipt_no == 2 and reversal.balance_cents == 0
    assert reversal.entry.note == "mauvais élève"


def test_reversals_are_refused_when_they_would_be_wrong(service, cashier, store):
    topup = service.cash_topup(cashier, "P001", 20_00)
    service.tap(LEA_BADGE)
    with pytest.raises(ReversalError, match="no longer covers"):
        service.reverse(cashier, topup.entry.id, "erreur")  # 13.00 left, cannot hand back 20.00
    small = service.cash_topup(cashier, "P003", 10_00)
    with pytest.raises(ReversalError, match="reason"):
        service.reverse(cashier, small.entry.id, "   ")
    service.reverse(cashier, small.entry.id, "erreur")
    with pytest.raises(ReversalError, match="already been cancelled"):
        service.reverse(cashier, small.entry.id, "erreur")
    later = service.cash_topup(cashier, "P003", 10_00)
    with pytest.raises(ReversalError, match="same day"):
        service.reverse(cashier, later.entry.id, "erreur", now=MONDAY_NOON + timedelta(days=1))
    with pytest.raises(UnknownRecordError):
        service.reverse(cashier, "0190d6b2-0000-7000-8000-000000000000", "erreur")


@pytest.mark.parametrize("reason", ["x" * 201, "erreur\x1b@\x1dV\x00", "erreur\nde montant"],
                         ids=["longer than the server takes", "printer commands", "two lines"])
def test_a_cancellation_reason_the_server_or_the_receipt_could_not_take_is_refused_and_nothing_is_written(
        service, cashier, store, reason):
    topup = service.cash_topup(cashier, "P001", 20_00)
    with pytest.raises(ReversalError, match="one line of at most 200 characters"):
        service.reverse(cashier, topup.entry.id, reason)
    assert store.balance("P001") == 20_00 and not store.is_reversed(topup.entry.id)
    assert service.reverse(cashier, topup.entry.id, "x" * 200).receipt_no == 2  # no number was used up


def test_the_cash_report_totals_each_cashier_and_the_meals(service, store, cashier):
    service.add_cashier("marc", "Marc Dubois", "5678")
    marc = service.login("marc", "5678")
    service.cash_topup(cashier, "P001", 20_00)
    wrong = service.cash_topup(cashier, "P002", 50_00)
    service.reverse(cashier, wrong.entry.id, "erreur de montant")
    service.cash_topup(marc, "P002", 30_00)
    meal = service.tap(LEA_BADGE).entry
    service.tap("04112233445566")
    service.reverse(marc, meal.id, "badge prêté")
    service.cash_topup(marc, "P003", 10_00, now=MONDAY_NOON + timedelta(days=1))  # another day
    report = service.cash_report(date(2026, 11, 30)).to_dict()
    assert report["cashiers"] == [
        {"cashier_id": "anne", "name": "Anne Roch", "topup_count": 2, "topup_cents": 70_00,
         "reversal_count": 1, "reversal_cents": 50_00, "net_cents": 20_00},
        {"cashier_id": "marc", "name": "Marc Dubois", "topup_count": 1, "topup_cents": 30_00,
         "reversal_count": 0, "reversal_cents": 0, "net_cents": 30_00},
    ]
    assert report["net_cash_cents"] == 50_00
    assert report["meals_served"] == 1 and report["meals_cancelled"] == 1


def test_the_report_uses_the_zurich_calendar_day(service, cashier):
    late_evening = MONDAY_NOON.replace(hour=22, minute=30)  # 23:30 in Zurich, still Monday
    after_midnight = MONDAY_NOON.replace(hour=23, minute=30)  # 00:30 Tuesday in Zurich
    service.cash_topup(cashier, "P001", 10_00, now=late_evening)
    service.cash_topup(cashier, "P001", 20_00, now=after_midnight)
    assert service.cash_report(date(2026, 11, 30)).net_cents == 10_00
    assert service.cash_report(date(2026, 12, 1)).net_cents == 20_00


def test_balances_always_equal_the_sum_of_entries(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    service.tap(LEA_BADGE)
    assert store.balance("P001") == sum(e.amount_cents for e in store.entries("P001")) == 13_00
    assert store.verify_balances() == []


def test_kiosk_entries_wait_for_push_until_acknowledged(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    service.tap(LEA_BADGE)
    assert store.pending_push() == 2


def test_settings_changes_reach_the_next_tap_even_from_another_process(kiosk_dir, service, cashier):
    service.cash_topup(cashier, "P001", 20_00)
    with Store.open(kiosk_dir) as other:  # e.g. `refectory kiosk settings set` while the kiosk runs
        KioskService(other).set_setting("price.primary", "8.20")
    assert service.tap(LEA_BADGE).verdict.price_cents == 820


def test_the_balance_check_sees_a_lost_cached_balance_and_a_stray_one(service, cashier, store):
    service.cash_topup(cashier, "P001", 20_00)
    store.conn.execute("DELETE FROM balances WHERE account_id = 'P001'")
    store.conn.execute("INSERT INTO balances VALUES ('P002', 500, 1)")
    assert sorted(store.verify_balances()) == [("P001", 0, 20_00), ("P002", 500, 0)]
