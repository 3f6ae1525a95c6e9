"""Instants read from text: what a kiosk sends or an operator types is refused, in words, when it
lies outside the years this system can mean, instead of failing later when it is converted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.clock import TimeInputError, from_text, parse_instant


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                  "1999-12-31T23:59:59.999999+00:00", "2100-01-01T00:00:00+00:00",
                                  "2099-12-31T23:30:00-01:00"])
def test_an_instant_outside_2000_to_2099_is_refused(text):
    with pytest.raises(ValueError, match=r"is outside 2000-2099 \(UTC\)"):
        from_text(text)


def test_the_first_and_last_instants_of_the_window_are_read_in_utc():
    assert from_text("2000-01-01T01:00:00+01:00") == datetime(2000, 1, 1, tzinfo=UTC)
    assert from_text("2099-12-31T23:59:59.999999+00:00") == datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0001-01-01T00:00", "9999-12-31T23:59", "9999-12-31T23:59:59-14:00"])
def test_an_operator_instant_too_far_out_is_refused_in_words(text):
    with pytest.raises(TimeInputError) as refused:
        parse_instant(text)
    assert refused.value.render() == (f"'{text}' is too far in the past or the future: give a date from 2000 "
                                      "to 2099.")


def test_a_far_instant_given_to_a_kiosk_command_is_refused_in_french(run, kiosk_dir):
    result = run("kiosk", "tap", "--data", str(kiosk_dir), "04A1B2C3", "--at", "9999-12-31T23:59")
    assert result.exit_code == 1
    assert "« 9999-12-31T23:59 » est trop loin dans le passé ou l'avenir" in result.stderr


@pytest.mark.parametrize("command", [["report"], ["print-report"], ["meals", "--pupil", "P001"]])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_far_day_given_to_a_kiosk_command_is_refused_in_french(run, kiosk_dir, command, day):
    result = run("kiosk", command[0], "--data", str(kiosk_dir), *command[1:], "--date", day)
    assert result.exit_code == 1
    assert f"« {day} » est trop loin dans le passé ou l'avenir" in result.stderr


def test_a_day_without_meals_is_said_in_words(run, kiosk_dir):
    result = run("kiosk", "meals", "--data", str(kiosk_dir), "--pupil", "P001", "--date", "2026-12-04",
                 "--at", "2026-11-30T12:05")
    assert result.exit_code == 0 and "le vendredi 4 décembre" in result.stdout, result.output
