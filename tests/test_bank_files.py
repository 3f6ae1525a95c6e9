"""Reading credits from camt.054 and camt.053 files, written here after the Swiss Payment Standards
implementation guidelines (SIX, camt.053/054 .001.04 and .001.08): booked credits only, batch
entries split into their transactions, the bank's reference kept for idempotent imports."""

from __future__ import annotations

from datetime import date

import pytest

from domain.references import creditor_reference, qr_reference
from refectory.testing.camt import camt053, camt054, entry, tx
from sync_server.bank_files import BankCredit, BankFileError, read_credits

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
])
def test_a_file_that_is_not_a_camt_file_is_refused_in_words(data, says):
    with pytest.raises(BankFileError, match=says):
        read_credits(data)


@pytest.mark.parametrize("amount", ["-5.00", "12.345", "abc", "0"])
def test_a_credit_with_an_impossible_amount_refuses_the_file(amount):
    with pytest.raises(BankFileError, match="B-1: the amount"):
        read_credits(camt054(entry(amount, [tx("B-1", amount, reference=QRR_LEA)])))
