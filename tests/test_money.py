import re

import pytest

from domain.money import (
    MAX_BALANCE_CENTS,
    AmountError,
    check_amount,
    check_balance,
    format_chf,
    parse_amount,
)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("20", 2000), ("20.5", 2050), ("20.50", 2050), ("20,50", 2050), (" 7 ", 700), ("0.05", 5),
     ("1'234.50", 123450), ("CHF 12.30", 1230), ("+3", 300)],
)
def test_amounts_are_parsed_into_centimes(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("-5", "positive"), ("0", "greater than zero"), ("0.00", "greater than zero"), ("abc", "not an amount"),
     ("1e9", "not an amount"), ("12.345", "more than two decimals"), ("", "Give an amount"),
     ("12..3", "not an amount"), ("nan", "not an amount"), ("1 000", "not an amount"),
     ("٢٠", "not an amount")],
)
def test_bad_amounts_are_refused_with_a_precise_message(text, fragment):
    with pytest.raises(AmountError) as error:
        parse_amount(text)
    assert fragment in str(error.value)


def test_an_amount_over_the_maximum_is_refused_naming_the_maximum():
    with pytest.raises(AmountError, match=r"maximum amount is CHF 500\.00"):
        parse_amount("500.05", maximum_cents=500_00)
    assert parse_amount("500", maximum_cents=500_00) == 500_00


def test_cash_amounts_must_be_multiples_of_five_centimes():
    assert parse_amount("20.05", cash=True) == 2005
    with pytest.raises(AmountError, match=r"multiple of 0\.05"):
        parse_amount("20.03", cash=True)
    with pytest.raises(AmountError, match=r"multiple of 0\.05"):
        check_amount(1001, cash=True)


def test_zero_is_accepted_only_when_the_minimum_allows_it():
    assert parse_amount("0", minimum_cents=0) == 0
    with pytest.raises(AmountError, match=r"minimum amount is CHF 5\.00"):
        check_amount(400, minimum_cents=500)


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "CHF 0.00"), (5, "CHF 0.05"), (2050, "CHF 20.50"), (123450, "CHF 1'234.50"),
     (123456789, "CHF 1'234'567.89"), (-700, "CHF -7.00")],
)
def test_amounts_are_formatted_swiss_style(cents, text):
    assert format_chf(cents) == text


def test_formatting_refuses_anything_but_integer_centimes():
    with pytest.raises(TypeError):
        format_chf(20.5)


@pytest.mark.parametrize(("text", "cents"), [("20", 2000), ("20.5", 2050), ("20.50", 2050), (" 7.05\n", 705),
                                             ("0000012.30", 1230)])
def test_a_machine_written_amount_is_a_plain_decimal(text, cents):
    assert parse_amount(text, plain=True) == cents


@pytest.mark.parametrize(("text", "says"), [
    ("NaN", "'NaN' is not a plain decimal amount such as 20.50."), ("Infinity", "'Infinity' is not a plain"),
    ("-Infinity", "is not a plain"), ("1E+2", "'1E+2' is not a plain"), ("1e2", "is not a plain"),
    ("20,50", "is not a plain"), ("1'000", "is not a plain"), ("CHF 20", "is not a plain"), (".5", "is not a plain"),
    ("20.", "is not a plain"), ("0x14", "is not a plain"), ("٢٠", "is not a plain"), ("20.505", "more than two"),
    ("100000000000000000000.00", "The maximum amount is CHF 1'000'000'000.00."),
])
def test_a_machine_written_amount_that_is_not_a_plain_decimal_is_refused_in_words(text, says):
    with pytest.raises(AmountError, match=re.escape(says)):
        parse_amount(text, plain=True)


def test_no_amount_is_larger_than_what_a_balance_can_hold_whatever_the_maximum_asked():
    assert parse_amount("1000000000") == MAX_BALANCE_CENTS
    for text in ("1000000000.01", "9" * 5000):  # a page of digits is refused without being read as a number
        with pytest.raises(AmountError, match=r"maximum amount is CHF 1'000'000'000\.00"):
            parse_amount(text, maximum_cents=10**30)
    with pytest.raises(AmountError, match=r"maximum amount is CHF 1'000'000'000\.00"):
        check_amount(2**63)


def test_a_typed_amount_too_long_to_show_is_quoted_briefly():
    with pytest.raises(AmountError) as refused:
        parse_amount("12" * 40 + "x")
    assert str(refused.value) == "'" + ("12" * 10) + "…' is not an amount: write it like 20, 20.50 or 20,50."


def test_a_balance_never_leaves_the_range_an_account_can_hold():
    assert check_balance(MAX_BALANCE_CENTS - 5, 5) == MAX_BALANCE_CENTS
    assert check_balance(-MAX_BALANCE_CENTS, 0) == -MAX_BALANCE_CENTS
    with pytest.raises(AmountError, match=r"An entry of CHF 0\.06 would take the balance to CHF 1'000'000'000\.01"):
        check_balance(MAX_BALANCE_CENTS - 5, 6)
    with pytest.raises(AmountError, match=r"beyond the CHF 1'000'000'000\.00 an account can hold"):
        check_balance(-MAX_BALANCE_CENTS, -1)
