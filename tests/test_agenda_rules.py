"""Reservation deadlines on the Zurich clock: the 08:15 boundary, special meals, DST, weekends, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.agenda import (
    DeadlinePassedError,
    ReservationRuleError,
    agenda_week,
    check_change,
    deadline,
    first_week_shown,
    week_of,
)
from domain.clock import SCHOOL_TZ
from domain.meals import ReservationKind
from domain.settings import Settings

NORMAL, SPECIAL = ReservationKind.NORMAL, ReservationKind.SPECIAL
SETTINGS = Settings.from_mapping({})
MONDAY = date(2026, 11, 30)


def zurich(*args) -> datetime:
    return datetime(*args, tzinfo=SCHOOL_TZ).astimezone(UTC)


@pytest.mark.parametrize("old, new", [(None, NORMAL), (NORMAL, None)])
def test_a_normal_meal_can_be_changed_until_8_15_the_same_day_and_not_a_microsecond_later(old, new):
    check_change(MONDAY, old, new, zurich(2026, 11, 30, 8, 15), SETTINGS, {})
    with pytest.raises(DeadlinePassedError) as late:
        check_change(MONDAY, old, new, zurich(2026, 11, 30, 8, 15) + timedelta(microseconds=1), SETTINGS, {})
    assert late.value.render() == ("Meals can be booked or cancelled until 08:15 on the day itself;"
                                   " that deadline has passed.")


@pytest.mark.parametrize("old, new", [(None, SPECIAL), (SPECIAL, None), (NORMAL, SPECIAL), (SPECIAL, NORMAL)])
def test_anything_touching_a_special_meal_closes_three_days_before(old, new):
    check_change(MONDAY, old, new, zurich(2026, 11, 27, 8, 15), SETTINGS, {})  # Friday 08:15
    with pytest.raises(DeadlinePassedError) as late:
        check_change(MONDAY, old, new, zurich(2026, 11, 27, 8, 16), SETTINGS, {})
    assert "until 08:15 on 27.11.2026, 3 days before" in late.value.render()


def test_deadlines_follow_the_wall_clock_across_the_change_to_summer_time():
    # Summer time starts on Sunday 29 March 2026: 08:15 is 07:15 UTC on Friday, 06:15 UTC on Monday.
    assert deadline(date(2026, 3, 30), True, SETTINGS) == datetime(2026, 3, 27, 7, 15, tzinfo=UTC)
    assert deadline(date(2026, 3, 30), False, SETTINGS) == datetime(2026, 3, 30, 6, 15, tzinfo=UTC)
    # And back to winter time on Sunday 25 October 2026.
    assert deadline(date(2026, 10, 26), False, SETTINGS) == datetime(2026, 10, 26, 7, 15, tzinfo=UTC)
    assert deadline(date(2026, 10, 26), True, SETTINGS) == datetime(2026, 10, 23, 6, 15, tzinfo=UTC)


def test_weekends_and_closed_days_cannot_be_booked_and_say_why():
    with pytest.raises(ReservationRuleError, match=r"no meal service on 05\.12\.2026"):
        check_change(date(2026, 12, 5), None, NORMAL, zurich(2026, 11, 28, 9, 0), SETTINGS, {})
    closed = {date(2026, 12, 8): "Immaculée Conception"}
    with pytest.raises(ReservationRuleError, match=r"closed on 08\.12\.2026 \(Immaculée Conception\)"):
        check_change(date(2026, 12, 8), None, NORMAL, zurich(2026, 11, 28, 9, 0), SETTINGS, {**closed})


def test_the_settings_move_both_deadlines():
    later = Settings.from_mapping({"reservation.cutoff": "09:30", "reservation.special_days_ahead": "1"})
    check_change(MONDAY, None, NORMAL, zurich(2026, 11, 30, 9, 30), later, {})
    check_change(MONDAY, None, SPECIAL, zurich(2026, 11, 29, 9, 30), later, {})
    with pytest.raises(DeadlinePassedError):
        check_change(MONDAY, None, SPECIAL, zurich(2026, 11, 29, 9, 31), later, {})


def test_the_week_runs_monday_to_friday_and_marks_the_closed_days():
    assert week_of(date(2026, 12, 3)) == [date(2026, 11, 30) + timedelta(days=n) for n in range(5)]
    week = agenda_week(date(2026, 12, 9), SETTINGS, {date(2026, 12, 8): "Fête"}, {date(2026, 12, 9): SPECIAL})
    assert [(d.day.day, d.served, d.closed_reason, d.reservation) for d in week] == [
        (7, True, None, None), (8, False, "Fête", None), (9, True, None, SPECIAL), (10, True, None, None),
        (11, True, None, None)]
    no_wednesdays = Settings.from_mapping({"service.days": "mon,tue,thu,fri"})
    assert [d.served for d in agenda_week(MONDAY, no_wednesdays, {}, {})] == [True, True, False, True, True]


def test_reservations_open_a_year_ahead_and_no_further():
    check_change(date(2027, 12, 1), None, NORMAL, zurich(2026, 11, 30, 12, 0), SETTINGS, {})  # 366 days
    with pytest.raises(ReservationRuleError, match="at most 366 days ahead"):
        check_change(date(2027, 12, 2), None, NORMAL, zurich(2026, 11, 30, 12, 0), SETTINGS, {})


def test_from_saturday_on_the_coming_week_is_shown_first():
    assert first_week_shown(date(2026, 12, 4)) == date(2026, 12, 4)  # Friday: this week
    assert first_week_shown(date(2026, 12, 5)) == date(2026, 12, 7)  # Saturday: next Monday
    assert first_week_shown(date(2026, 12, 6)) == date(2026, 12, 7)  # Sunday
