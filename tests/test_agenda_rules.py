"""Reservation deadlines on the Zurich clock: the 08:15 boundary, special meals, DST, weekends, holidays."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.agenda import (
    ClosedDayError,
    DeadlinePassedError,
    ReservationRuleError,
    agenda_week,
    changeable,
    check_change,
    day_in_words,
    deadline,
    first_week_shown,
    term_end,
    week_of,
    weekdays_in_words,
)
from domain.clock import SCHOOL_TZ
from domain.i18n import translations
from domain.meals import ReservationKind
from domain.messages import Message
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
    assert "until 08:15 on Friday 27 November, 3 days before" in late.value.render()


def test_deadlines_follow_the_wall_clock_across_the_change_to_summer_time():
    # Summer time starts on Sunday 29 March 2026: 08:15 is 07:15 UTC on Friday, 06:15 UTC on Monday.
    assert deadline(date(2026, 3, 30), True, SETTINGS) == datetime(2026, 3, 27, 7, 15, tzinfo=UTC)
    assert deadline(date(2026, 3, 30), False, SETTINGS) == datetime(2026, 3, 30, 6, 15, tzinfo=UTC)
    # And back to winter time on Sunday 25 October 2026.
    assert deadline(date(2026, 10, 26), False, SETTINGS) == datetime(2026, 10, 26, 7, 15, tzinfo=UTC)
    assert deadline(date(2026, 10, 26), True, SETTINGS) == datetime(2026, 10, 23, 6, 15, tzinfo=UTC)


def test_weekends_and_closed_days_cannot_be_booked_and_say_why():
    with pytest.raises(ReservationRuleError, match="no meal service on Saturday 5 December"):
        check_change(date(2026, 12, 5), None, NORMAL, zurich(2026, 11, 28, 9, 0), SETTINGS, {})
    closed = {date(2026, 12, 8): "Immaculée Conception"}
    with pytest.raises(ReservationRuleError, match=r"closed on Tuesday 8 December \(Immaculée Conception\)"):
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


def test_a_refusal_names_the_day_in_words_in_the_familys_language():
    french = translations("fr").gettext
    with pytest.raises(DeadlinePassedError) as late:
        check_change(MONDAY, None, SPECIAL, zurich(2026, 11, 27, 8, 16), SETTINGS, {})
    assert "jusqu'à 08:15 le vendredi 27 novembre, 3 jours avant" in late.value.render(french)
    assert day_in_words(date(2027, 8, 1)).render(french) == "dimanche 1er août"
    assert day_in_words(date(2027, 8, 1)).render() == "Sunday 1 August"
    assert day_in_words(date(2027, 8, 2), year=True).render(french) == "lundi 2 août 2027"
    assert weekdays_in_words({3, 0, 1}).render() == "Mondays, Tuesdays and Thursdays"
    assert weekdays_in_words({3, 0, 1}).render(french) == "lundis, mardis et jeudis"
    assert weekdays_in_words({4}).render(french) == "vendredis"


@pytest.mark.parametrize("at, offered", [
    (zurich(2026, 11, 26, 8, 15), {"normal", "special"}),  # Thursday: both deadlines ahead
    (zurich(2026, 11, 27, 8, 16), {"normal"}),  # Friday after 08:15: the special meal is fixed
    (zurich(2026, 11, 30, 8, 15), {"normal"}),
    (zurich(2026, 11, 30, 8, 16), set()),  # Monday after 08:15: nothing left to offer
])
def test_the_agenda_offers_a_change_only_while_its_deadline_is_ahead(at, offered):
    (monday, *_rest) = agenda_week(MONDAY, SETTINGS, {}, {})
    assert {kind for kind in (NORMAL, SPECIAL) if changeable(monday, kind, at)} == offered
    booked = agenda_week(MONDAY, SETTINGS, {}, {MONDAY: SPECIAL})[0]
    assert changeable(booked, None, at) is ("special" in offered)  # cancelling a special meal: its own deadline
    assert not changeable(booked, SPECIAL, at)  # already so


def test_the_agenda_offers_nothing_on_a_closed_day_or_across_the_summer_time_deadline():
    closed = agenda_week(MONDAY, SETTINGS, {MONDAY: "Fête"}, {})[0]
    assert not changeable(closed, NORMAL, zurich(2026, 11, 20, 9, 0))
    summer_monday = agenda_week(date(2027, 3, 29), SETTINGS, {}, {})[0]  # summer time since Sunday 28 March
    assert changeable(summer_monday, NORMAL, datetime(2027, 3, 29, 6, 15, tzinfo=UTC))
    assert not changeable(summer_monday, NORMAL, datetime(2027, 3, 29, 6, 16, tzinfo=UTC))


def test_the_term_ends_on_the_last_service_day_before_the_first_closed_school_week():
    christmas = {date(2026, 12, 23) + timedelta(days=n): "Noël" for n in range(12)}  # Wednesday 23 to Sunday 3
    holiday = {date(2026, 12, 8): "Immaculée Conception"}  # one closed day is no holiday
    assert term_end(MONDAY, SETTINGS, {**christmas, **holiday}) == date(2026, 12, 22)
    assert term_end(MONDAY, SETTINGS, holiday) is None
    no_tuesdays = Settings.from_mapping({"service.days": "mon,wed,thu,fri"})
    assert term_end(MONDAY, no_tuesdays, christmas) == date(2026, 12, 21)


def test_a_refusal_stored_as_data_reads_again_in_each_language_with_its_day_in_words():
    """What a standing order keeps of the last day it left out: the message, not a rendered text."""
    refused = ClosedDayError("The canteen is closed on {day} ({reason}).", day=day_in_words(date(2026, 12, 1)),
                             reason="Fête")
    stored = json.loads(json.dumps(refused.message.as_data()))
    again = Message.from_data(stored)
    assert again == refused.message
    assert again.render(translations("fr").gettext) == "La cantine est fermée le mardi 1er décembre (Fête)."
    assert again.render() == "The canteen is closed on Tuesday 1 December (Fête)."
    bare = Message.from_data(Message("from {first}", {"first": date(2026, 12, 1)}).as_data())
    assert bare.params["first"] == date(2026, 12, 1)
