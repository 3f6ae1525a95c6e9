"""Topping up from the portal: the child's QR-bill downloaded and mailed, its reference kept for good."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from stdnum.ch import esr

from sync_server.mail import outbox
from sync_server.tables import mail_attachments, mail_outbox

from .portal_client import start_school, text_of
from .qr_scan import scanned
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.on_each_database

QR_IBAN = "CH4431999123000889012"  # the implementation guidelines' QR-IBAN example
CREDITOR = {"QRBILL_IBAN": "CH44 3199 9123 0008 8901 2", "QRBILL_NAME": "Restaurant scolaire des Tilleuls",
            "QRBILL_STREET": "Chemin des Tilleuls", "QRBILL_HOUSE_NUM": "4", "QRBILL_PCODE": "1854",
            "QRBILL_CITY": "Leysin"}


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path, **CREDITOR)
    yield school
    school.live.stop()


def queued(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject)).all()


def shown_reference(page_text: str) -> str:
    return re.search(r"Référence ([\d ]+)", page_text).group(1).strip()


def test_the_top_up_page_shows_the_account_and_the_childs_reference_which_never_changes(school):
    browser = school.logged_in("F01")
    page = text_of(browser.get("/children/P001/topup"))
    assert "CH44 3199 9123 0008 8901 2" in page
    assert "Restaurant scolaire des Tilleuls, Chemin des Tilleuls 4, 1854 Leysin" in page
    reference = shown_reference(page)
    assert esr.is_valid(reference.replace(" ", ""))
    assert shown_reference(text_of(browser.get("/children/P001/topup"))) == reference
    assert shown_reference(text_of(school.logged_in("F01").get("/children/P001/topup"))) == reference
    assert "Recharger" in text_of(browser.get("/"))  # the home page leads there


def test_the_qr_bill_is_downloaded_with_the_amount_and_reference_and_mailed_with_it_attached(school, tmp_path):
    browser = school.logged_in("F01")
    reference = shown_reference(text_of(browser.get("/children/P001/topup")))
    response = browser.submit("/children/P001/qr-bill", {"amount": "50"}, form_page="/children/P001/topup")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename=qr-facture-Lea.pdf' in response.headers["Content-Disposition"]
    code = scanned(response.data, tmp_path)
    assert code[3] == QR_IBAN and code[18:20] == ["50.00", "CHF"]
    assert code[27:29] == ["QRR", reference.replace(" ", "")]
    sink = SmtpSink()
    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port, sender="cantine@example.ch")
        assert outbox.send_due(school.live.engine, settings, school.clock.now).sent == 1
        (message,) = sink.wait_for(1)
    finally:
        sink.stop()
    assert message["To"] == "parent3@example.ch"
    assert message["Subject"] == "QR-facture pour recharger le compte de Léa"
    body = message.get_body(("plain",)).get_content()
    assert "Montant : CHF 50.00." in body and "ordre permanent" in body
    (attached,) = list(message.iter_attachments())
    assert attached.get_filename() == "qr-facture-Lea.pdf" and attached.get_content_type() == "application/pdf"
    assert attached.get_content() == response.data


def test_a_qr_bill_without_an_amount_is_left_open_for_a_standing_order(school, tmp_path):
    browser = school.logged_in("F01")
    response = browser.submit("/children/P001/qr-bill", {"amount": "  "}, form_page="/children/P001/topup")
    assert response.status_code == 200
    assert scanned(response.data, tmp_path)[18:20] == ["", "CHF"]
    assert queued(school)[0][1] == "QR-facture pour recharger le compte de Léa"


@pytest.mark.parametrize("amount, says", [
    ("cinquante", "« cinquante » n'est pas un montant"),
    ("4.50", "Le montant minimum est de CHF 5.00."),
    ("501", "Le montant maximum est de CHF 500.00."),
    ("20.505", "plus de deux décimales"),
])
def test_a_bad_amount_is_refused_in_words_and_nothing_is_mailed(school, amount, says):
    browser = school.logged_in("F01")
    response = browser.submit("/children/P001/qr-bill", {"amount": amount}, form_page="/children/P001/topup")
    assert response.status_code == 422 and says in text_of(response)
    assert queued(school) == []


def test_another_familys_child_gets_no_qr_bill(school):
    browser = school.logged_in("F02")
    assert browser.get("/children/P001/topup").status_code == 404
    response = browser.submit("/children/P001/qr-bill", {"amount": "50"}, form_page="/")
    assert response.status_code == 404 and queued(school) == []


def test_the_qr_bill_form_needs_its_csrf_token(school):
    response = school.logged_in("F01").post("/children/P001/qr-bill", {"amount": "50"})
    assert response.status_code == 400 and queued(school) == []


def test_without_the_canteens_account_the_page_says_to_contact_the_canteen(school):
    school.app.config["QRBILL_IBAN"] = ""
    browser = school.logged_in("F01")
    page = text_of(browser.get("/children/P001/topup"))
    assert "Le paiement par e-banking n'est pas encore disponible" in page and "Référence" not in page
    response = browser.submit("/children/P001/qr-bill", {"amount": "50"}, form_page="/")
    assert response.status_code == 503 and "pas encore disponible" in text_of(response)
    with school.live.write() as conn:
        assert conn.execute(select(func.count()).select_from(mail_attachments)).scalar() == 0
