import pytest

from domain.money import AmountError, check_amount, format_chf, parse_amount


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
     ("1e9", "not an amount"), ("12.345", "more than two decimals"), ("", "not an amount"),
     ("12..3", "not an amount"), ("nan", "not an amount"), ("1 000", "not an amount")],
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
