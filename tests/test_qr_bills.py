"""The top-up QR-bill, read back the way a banking app reads it: the PDF page rendered by poppler's
pdftoppm, the QR code decoded by zbarimg, every field checked against the Swiss Payment Code."""

from __future__ import annotations

import pytest
from stdnum import iso11649
from stdnum.ch import esr

from sync_server.money import bank_import
from sync_server.money.qr_bills import Creditor, QrBillError, qr_bill_pdf

from .qr_scan import scanned

QR_IBAN = "CH4431999123000889012"  # the implementation guidelines' QR-IBAN example
PLAIN_IBAN = "CH9300762011623852957"
ADDRESS = {"name": "Restaurant scolaire des Tilleuls", "street": "Chemin des Tilleuls", "house_num": "4",
           "pcode": "1854", "city": "Leysin"}


def test_a_bill_on_a_qr_iban_carries_the_pupils_qr_reference_and_the_amount(server, tmp_path):
    with server.write() as conn:
        pdf = qr_bill_pdf(conn, Creditor(QR_IBAN, **ADDRESS), "P001", 100_00, "fr")
        expected_reference = bank_import.payment_reference(conn, "P001", qr_iban=True)
    code = scanned(pdf, tmp_path)
    assert code[:4] == ["SPC", "0200", "1", QR_IBAN]
    assert code[4:11] == ["S", ADDRESS["name"], "Chemin des Tilleuls", "4", "1854", "Leysin", "CH"]
    assert code[11:18] == [""] * 7  # the ultimate creditor, reserved
    assert code[18:20] == ["100.00", "CHF"]
    assert code[27:29] == ["QRR", expected_reference] and esr.is_valid(code[28])
    assert code[29] == "Léa Müller (5A)" and code[30] == "EPD"


def test_a_bill_on_a_plain_iban_uses_the_rf_reference_and_may_leave_the_amount_open(server, tmp_path):
    with server.write() as conn:
        pdf = qr_bill_pdf(conn, Creditor(PLAIN_IBAN, **ADDRESS), "P002", None, "fr")
    code = scanned(pdf, tmp_path)
    assert code[3] == PLAIN_IBAN and code[18:20] == ["", "CHF"]  # a standing order sets its own amount
    assert code[27] == "SCOR" and iso11649.is_valid(code[28])
    with server.write() as conn:
        assert bank_import.payment_reference(conn, "P002", qr_iban=False) == code[28]


def test_the_bill_of_an_unknown_pupil_or_without_the_canteens_account_is_refused(server):
    with pytest.raises(QrBillError, match="Unknown pupil"), server.write() as conn:
        qr_bill_pdf(conn, Creditor(QR_IBAN, **ADDRESS), "NOPE", None, "fr")
    with pytest.raises(QrBillError, match="QRBILL_IBAN"):
        Creditor.from_config({"QRBILL_NAME": "Cantine", "QRBILL_PCODE": "1854", "QRBILL_CITY": "Leysin"})
    with pytest.raises(QrBillError, match="cannot be made"), server.write() as conn:
        qr_bill_pdf(conn, Creditor("CH0000000000000000000", **ADDRESS), "P001", None, "fr")
