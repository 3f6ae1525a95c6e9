"""Payment references for the QR-bill: our check digits against python-stdnum's, and back to the account."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649
from stdnum.ch import esr

from domain.references import (
    MAX_ACCOUNT_NUMBER,
    ReferenceError_,
    account_number,
    creditor_reference,
    grouped,
    is_creditor_reference,
    is_qr_reference,
    mod10_recursive,
    qr_reference,
)

accounts = st.integers(min_value=1, max_value=MAX_ACCOUNT_NUMBER)


def test_the_check_digit_of_the_swiss_implementation_guidelines_example():
    assert mod10_recursive("21000000000313947143000901") == 7  # QRR 21 00000 00003 13947 14300 09017
    assert is_qr_reference("21 00000 00003 13947 14300 09017")
    assert grouped("210000000003139471430009017") == "21 00000 00003 13947 14300 09017"
    assert qr_reference(1234) == "000000000000000000000012347"
    assert creditor_reference(539007547034) == "RF18539007547034"  # ISO 11649's own example


@given(accounts)
def test_every_qr_reference_passes_an_independent_check_and_gives_its_account_back(number):
    reference = qr_reference(number)
    assert len(reference) == 27 and esr.is_valid(reference)
    assert is_qr_reference(grouped(reference)) and account_number(grouped(reference)) == number


@given(accounts)
def test_every_creditor_reference_passes_an_independent_check_and_gives_its_account_back(number):
    reference = creditor_reference(number)
    assert iso11649.is_valid(reference) and is_creditor_reference(reference.lower())
    assert account_number(grouped(reference)) == number


@given(accounts, st.integers(min_value=0, max_value=26), st.integers(min_value=1, max_value=9))
def test_a_single_mistyped_digit_is_caught(number, position, change):
    reference = qr_reference(number)
    digit = (int(reference[position]) + change) % 10
    mistyped = reference[:position] + str(digit) + reference[position + 1:]
    assert not is_qr_reference(mistyped) and account_number(mistyped) is None


@pytest.mark.parametrize("text", ["", "RF00", "RF18 5390 0754 7034 X", "12345", "0" * 27, "RF1853900754703A"])
def test_what_is_not_a_reference_of_ours_gives_no_account(text):
    assert account_number(text) is None


@pytest.mark.parametrize("number", [0, -1, MAX_ACCOUNT_NUMBER + 1, True, 1.0])
def test_an_account_number_outside_the_reference_range_is_refused(number):
    with pytest.raises(ReferenceError_):
        qr_reference(number)
