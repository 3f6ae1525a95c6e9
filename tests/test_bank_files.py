"""Reading credits from camt.054 and camt.053 files, written here after the Swiss Payment Standards
implementation guidelines (SIX, camt.053/054 .001.04 and .001.08): booked credits only, batch
entries split into their transactions, the bank's reference kept for idempotent imports."""

from __future__ import annotations

from datetime import date

import pytest

from domain.references import creditor_reference, qr_reference
from refectory.testing.camt import camt053, camt054, entry, tx
from sync_server.money.bank_files import (
    MAX_BANK_FILE_BYTES,
    MAX_CREDITS_PER_FILE,
    BankCredit,
    BankFileError,
    read_credits,
)

QRR_LEA = qr_reference(1001)
RF_NOE = creditor_reference(1002)


def test_a_credit_notification_gives_each_booked_credit_with_its_reference_and_payer():
    data = camt054(
        entry("150.00", [tx("B-1", "100.00", reference=QRR_LEA, payer="Anna Müller"),
                         tx("B-2", "50.00", reference=RF_NOE, scheme="SCOR", payer="Paul Favre")]),
        entry("20.00", [tx("B-3", "20.00", reference="000000000000000000000099999", payer="Inconnu")], entry_ref="E-2"),
        entry("30.00", [tx("B-4", "30.00", note="Repas Zoé décembre", payer="Famille Rochat")], entry_ref="E-3"),
        entry("45.00", [tx("B-5", "45.00", reference=QRR_LEA)], direction="DBIT", entry_ref="E-4"),  # a debit
        entry("10.00", [tx("B-6", "10.00", reference=QRR_LEA)], status="PDNG", entry_ref="E-5"),  # not booked yet
    )
    assert read_credits(data) == [
        BankCredit("B-1", 100_00, "CHF", QRR_LEA, date(2026, 12, 1), "Anna Müller", None),
        BankCredit("B-2", 50_00, "CHF", RF_NOE, date(2026, 12, 1), "Paul Favre", None),
        BankCredit("B-3", 20_00, "CHF", "000000000000000000000099999", date(2026, 12, 1), "Inconnu", None),
        BankCredit("B-4", 30_00, "CHF", None, date(2026, 12, 1), "Famille Rochat", "Repas Zoé décembre"),
    ]


def test_a_statement_in_the_older_version_reads_the_same_credits():
    data = camt053(entry("100.00", [tx("B-1", "100.00", reference=QRR_LEA, payer="Anna Müller", version=4)],
                         version=4), version=4)
    assert read_credits(data) == [BankCredit("B-1", 100_00, "CHF", QRR_LEA, date(2026, 12, 1), "Anna Müller", None)]


def test_the_same_credit_in_a_notification_and_a_statement_has_the_same_bank_reference():
    notified = read_credits(camt054(entry("100.00", [tx("B-1", "100.00", reference=QRR_LEA)])))
    stated = read_credits(camt053(entry("100.00", [tx("B-1", "100.00", reference=QRR_LEA, version=4)], version=4)))
    assert [c.bank_reference for c in notified] == [c.bank_reference for c in stated] == ["B-1"]


def test_an_entry_without_transaction_details_is_one_credit_under_the_entry_reference():
    data = camt054(entry("75.50", [], entry_ref="E-9").replace("<NtryDtls></NtryDtls>", ""))
    assert read_credits(data) == [BankCredit("E-9", 75_50, "CHF", None, date(2026, 12, 1), None, None)]


@pytest.mark.parametrize("data, says", [
    (b"not xml at all", "not a readable XML bank file"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.09'><CstmrCdtTrfInitn/></Document>",
     "not a camt.053 or camt.054"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     b"<Document>&b;</Document>", "not a readable XML bank file"),
    (b'<?xml version="1.0" encoding="foo"?><Document/>', "not a readable XML bank file: unknown encoding: foo"),
])
def test_a_file_that_is_not_a_camt_file_is_refused_in_words(data, says):
    with pytest.raises(BankFileError, match=says):
        read_credits(data)


def pretty(data: bytes) -> bytes:
    """The file as banks write it: an element per line."""
    return data.replace(b"><", b">\n<")


def line_of(data: bytes, text: bytes, after: bytes = b"") -> int:
    return data[:data.index(text, data.index(after))].count(b"\n") + 1


@pytest.mark.parametrize(("amount", "says"), [
    ("-5.00", "The amount must be positive"), ("0", "greater than zero"), ("0.00", "greater than zero"),
    ("12.345", "more than two decimals"), ("abc", "is not a plain decimal amount"), ("", "is not a plain decimal"),
    ("NaN", "'NaN' is not a plain decimal amount"), ("Infinity", "'Infinity' is not a plain decimal amount"),
    ("1E+2", "'1E+2' is not a plain decimal amount"), ("1'000.00", "is not a plain decimal amount"),
    ("20,50", "is not a plain decimal amount"), ("100000000000000000000.00", "The maximum amount is"),
    ("92233720368547758.07", "The maximum amount is"), ("9" * 5000, "The maximum amount is"),
])
def test_one_impossible_amount_refuses_the_whole_file_naming_the_credit_and_its_line(amount, says):
    data = pretty(camt054(entry("100.00", [tx("B-1", "100.00", reference=QRR_LEA)]),
                          entry(amount, [tx("B-2", amount, reference=RF_NOE, scheme="SCOR")], entry_ref="E-2"),
                          entry("5.00", [tx("B-3", "5.00", reference=QRR_LEA)], entry_ref="E-3")))
    with pytest.raises(BankFileError) as refused:
        read_credits(data)
    line = line_of(data, b"<Amt", after=b"<AcctSvcrRef>B-2")
    assert str(refused.value).startswith(f"Credit B-2, line {line}: ") and says in str(refused.value)


def test_a_credit_above_the_canteens_maximum_refuses_the_file_and_one_at_it_is_read():
    at_most = camt054(entry("10000.00", [tx("B-1", "10000.00", reference=QRR_LEA)]))
    assert [c.amount_cents for c in read_credits(at_most, maximum_cents=10_000_00)] == [10_000_00]
    above = camt054(entry("10000.05", [tx("B-1", "10000.05", reference=QRR_LEA)]))
    with pytest.raises(BankFileError, match=r"Credit B-1, line 1: The maximum amount is CHF 10'000\.00\."):
        read_credits(above, maximum_cents=10_000_00)


def test_a_credit_without_any_amount_refuses_the_file_with_its_line():
    data = pretty(camt054(entry("5.00", [tx("B-1", "5.00", reference=QRR_LEA).replace(
        '<Amt Ccy="CHF">5.00</Amt>', "")]).replace('<Amt Ccy="CHF">5.00</Amt>', "")))
    with pytest.raises(BankFileError, match=f"Credit B-1, line {line_of(data, b'<TxDtls>')}: the amount is missing"):
        read_credits(data)


@pytest.mark.parametrize(("transactions", "total"), [
    ([tx("B-1", "40.00", reference=QRR_LEA), tx("B-2", "40.00", reference=RF_NOE, scheme="SCOR")], "80.00"),
    ([tx("B-1", "40.00", reference=QRR_LEA)], "40.00"),
], ids=["more than booked", "less than booked"])
def test_a_batch_entry_whose_transactions_do_not_add_up_to_what_the_bank_booked_refuses_the_file(transactions, total):
    data = pretty(camt054(entry("50.00", transactions, entry_ref="E-9")))
    with pytest.raises(BankFileError, match=f"Entry E-9, line {line_of(data, b'<Ntry>')}: its transactions add up"
                                            f" to {total}, not to the 50.00 the bank booked"):
        read_credits(data)


def test_an_entry_booked_net_of_the_banks_charges_or_with_a_debit_without_amount_is_read_as_before():
    charged = camt054(entry("49.50", [tx("B-1", "30.00", reference=QRR_LEA), tx("B-2", "20.00", reference=QRR_LEA)])
                      .replace("<BkTxCd/>", '<BkTxCd/><Chrgs><TtlChrgsAndTaxAmt Ccy="CHF">0.50</TtlChrgsAndTaxAmt>'
                                            "</Chrgs>"))
    assert [c.amount_cents for c in read_credits(charged)] == [30_00, 20_00]
    debit = tx("B-9", "0").replace('<Amt Ccy="CHF">0</Amt>', "").replace("<CdtDbtInd>CRDT", "<CdtDbtInd>DBIT")
    mixed = camt054(entry("30.00", [tx("B-1", "30.00", reference=QRR_LEA), debit]))
    assert [c.bank_reference for c in read_credits(mixed)] == ["B-1"]


def test_batch_transactions_without_their_own_amounts_do_not_each_take_the_entrys():
    no_amount = tx("B-1", "0").replace('<Amt Ccy="CHF">0</Amt>', "")
    data = pretty(camt054(entry("50.00", [no_amount.replace("B-1", "A1"), no_amount.replace("B-1", "A2")])))
    with pytest.raises(BankFileError, match=f"Credit A1, line {line_of(data, b'<TxDtls>')}: the amount is missing"):
        read_credits(data)
    alone = camt054(entry("50.00", [no_amount.replace("B-1", "A1")]))  # the entry's one transaction: its amount
    assert [(c.bank_reference, c.amount_cents) for c in read_credits(alone)] == [("A1", 50_00)]


def test_a_batch_transaction_without_its_own_reference_is_named_after_its_entry():
    data = camt054(entry("30.00", [tx("X", "10.00", reference=QRR_LEA), tx("Y", "20.00", note="Repas")],
                         entry_ref="SL/ASH").replace("<Refs><AcctSvcrRef>X</AcctSvcrRef></Refs>", "")
                   .replace("<Refs><AcctSvcrRef>Y</AcctSvcrRef></Refs>", ""))
    assert [c.bank_reference for c in read_credits(data)] == ["SL/ASH/1", "SL/ASH/2"]


def test_a_file_larger_than_the_limit_is_refused_in_words_without_being_parsed():
    data = b"<" * (MAX_BANK_FILE_BYTES + 1)  # not even XML: parsing it would say so
    with pytest.raises(BankFileError, match="a bank file may hold at most 32 MB"):
        read_credits(data)


def many_credits(count: int) -> bytes:
    return camt054(*(entry("5.00", [tx(f"B-{n}", "5.00", reference=QRR_LEA)], entry_ref=f"E-{n}")
                     for n in range(count)))


def test_a_file_with_more_credits_than_the_limit_is_refused_at_the_first_one_too_many():
    data = pretty(many_credits(MAX_CREDITS_PER_FILE + 1)) + b"\n<not-xml"  # the rest is never read
    with pytest.raises(BankFileError) as refused:
        read_credits(data)
    assert str(refused.value).startswith("This file holds more than 10'000 credits (line ")


def test_a_file_with_as_many_credits_as_the_limit_is_read_whole():
    credits = read_credits(many_credits(MAX_CREDITS_PER_FILE))
    assert len(credits) == MAX_CREDITS_PER_FILE and credits[-1].bank_reference == f"B-{MAX_CREDITS_PER_FILE - 1}"
