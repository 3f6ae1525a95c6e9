"""The manager's back office: its own login, bank files uploaded with their report, and the credits
without a known reference assigned by hand."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from domain.clock import local
from domain.entries import EntryKind
from refectory.testing.camt import camt054, entry, tx
from sync_server import bank_import, managers
from sync_server.tables import entries

from .kiosk_push import enroll, meal, push, reversal
from .portal_client import BASE, start_school, text_of

pytestmark = pytest.mark.on_each_database


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    with school.live.write() as conn:
        school.references = {"P001": bank_import.payment_reference(conn, "P001", qr_iban=True)}
    yield school
    school.live.stop()


def manager_browser(school, password: str | None = None):
    browser = school.browser()
    response = browser.submit("/manage/login", {"login": "sandra", "password": password or school.manager_password})
    assert response.status_code == 302 and response.headers["Location"] == "/manage/", text_of(response)
    return browser


def upload(browser, data: bytes, name: str = "camt054.xml"):
    return browser.post("/manage/bank",
                        {"csrf_token": browser.token("/manage/bank"), "bank_file": (BytesIO(data), name)})


def bank_file(school) -> bytes:
    return camt054(
        entry("100.00", [tx("B-1", "100.00", reference=school.references["P001"], payer="Anna Müller")]),
        entry("30.00", [tx("B-4", "30.00", note="Repas Zoé", payer="Famille Rochat")], entry_ref="E-3"))


def bank_topups(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(entries.c.account_id, entries.c.amount_cents)
                            .where(entries.c.kind == EntryKind.BANK_TOPUP.value).order_by(entries.c.seq)).all()


def test_only_a_manager_opens_the_back_office_and_a_manager_is_not_a_family(school):
    for path in ("/manage/", "/manage/bank", "/manage/bank/waiting", "/manage/quarantine"):
        assert school.browser().get(path).headers["Location"] == "/manage/login"
        assert school.logged_in("F01").get(path).headers["Location"] == "/manage/login"  # a family is not a manager
    browser = manager_browser(school)
    assert "Sandra Morel" in text_of(browser.get("/manage/"))
    assert browser.get("/").headers["Location"].startswith("/login")  # nor is a manager a family


def test_a_wrong_manager_password_is_refused_and_a_new_password_ends_the_session(school):
    refused = school.browser().submit("/manage/login", {"login": "sandra", "password": "not-it-at-all"})
    assert refused.status_code == 401 and "Identifiant ou mot de passe incorrect" in text_of(refused)
    browser = manager_browser(school)
    with school.live.write() as conn:
        managers.set_manager(conn, "sandra", "Sandra Morel", school.clock.now)
    assert browser.get("/manage/").headers["Location"] == "/manage/login"


def test_an_uploaded_bank_file_books_what_it_can_and_reports_the_rest(school):
    browser = manager_browser(school)
    report = upload(browser, bank_file(school))
    says = text_of(report)
    assert report.status_code == 200
    assert "1 crédit(s) comptabilisé(s), 0 déjà importé(s), 1 à attribuer à la main." in says
    assert "Comptabilisé : CHF 100.00" in says and "P001" in says and "Anna Müller" in says
    assert bank_topups(school) == [("P001", 100_00)]
    again = text_of(upload(browser, bank_file(school)))
    assert "0 crédit(s) comptabilisé(s), 2 déjà importé(s), 0 à attribuer à la main." in again
    assert bank_topups(school) == [("P001", 100_00)]


def test_a_bank_file_larger_than_the_portals_2_mb_limit_is_accepted(school):
    padded = bank_file(school).replace(b"<Document", b"<!--" + b" " * 3_000_000 + b"--><Document", 1)
    browser = manager_browser(school)
    builder = EnvironBuilder("/manage/bank", base_url=BASE, method="POST", headers={"Referer": BASE + "/manage/bank"},
                             data={"csrf_token": browser.token("/manage/bank"),
                                   "bank_file": (BytesIO(padded), "big.xml")})
    environ = builder.get_environ()
    try:
        answer = browser.client.open(environ)
    finally:
        environ["wsgi.input"].close()  # werkzeug's test client leaves a large body's temporary file open
    assert answer.status_code == 200 and "1 crédit(s) comptabilisé(s)" in text_of(answer)


def test_a_file_that_is_not_a_bank_file_is_refused_in_words_and_books_nothing(school):
    answer = upload(manager_browser(school), b"pupil_id,amount\nP001,100\n", "export.csv")
    assert answer.status_code == 422 and "camt" in text_of(answer)
    assert bank_topups(school) == []


def test_the_upload_needs_its_csrf_token(school):
    browser = manager_browser(school)
    answer = browser.post("/manage/bank", {"bank_file": (BytesIO(bank_file(school)), "camt054.xml")})
    assert answer.status_code == 400 and bank_topups(school) == []


def test_a_waiting_credit_is_assigned_to_a_pupil_once_from_the_list(school):
    browser = manager_browser(school)
    upload(browser, bank_file(school))
    listed = text_of(browser.get("/manage/bank/waiting"))
    assert "CHF 30.00" in listed and "Famille Rochat" in listed and "Repas Zoé" in listed
    empty = browser.submit("/manage/bank/waiting/B-4", {"pupil_id": " "}, form_page="/manage/bank/waiting")
    assert empty.status_code == 302
    assert "Indiquez l'identifiant de l'élève." in text_of(browser.get("/manage/bank/waiting"))
    wrong = browser.submit("/manage/bank/waiting/B-4", {"pupil_id": "P999"}, form_page="/manage/bank/waiting")
    assert wrong.status_code == 302 and "P999" in text_of(browser.get("/manage/bank/waiting"))
    assert bank_topups(school) == [("P001", 100_00)]
    before = school.live.balance("P003")
    done = browser.submit("/manage/bank/waiting/B-4", {"pupil_id": "P003"}, form_page="/manage/bank/waiting")
    assert done.status_code == 302
    page = text_of(browser.get("/manage/bank/waiting"))
    assert "CHF 30.00 crédité à P003." in page and "Aucun crédit en attente." in page
    assert school.live.balance("P003") == before + 30_00
    again = browser.submit("/manage/bank/waiting/B-4", {"pupil_id": "P003"}, form_page="/manage/bank/waiting")
    assert again.status_code == 302 and school.live.balance("P003") == before + 30_00


def test_the_journal_records_each_action_of_the_staff_with_who_and_when(school):
    browser = manager_browser(school)
    upload(browser, bank_file(school))
    browser.submit("/manage/bank/waiting/B-4", {"pupil_id": "NOPE"}, form_page="/manage/bank/waiting")  # refused
    browser.submit("/manage/bank/waiting/B-4", {"pupil_id": "P003"}, form_page="/manage/bank/waiting")
    journal = text_of(browser.get("/manage/journal"))
    newest_first = ["30.11.2026 12:00 sandra Crédit bancaire attribué B-4 CHF 30.00 to P003",
                    "30.11.2026 12:00 sandra Fichier bancaire importé camt054.xml 1 credited, 0 already there,"
                    " 1 to assign",
                    "30.11.2026 12:00 sandra Connexion sandra from 127.0.0.1"]
    assert all(line in journal for line in newest_first)
    assert [journal.index(line) for line in newest_first] == sorted(journal.index(line) for line in newest_first)
    assert journal.count("30.11.2026 12:00 sandra") == 3
    assert "NOPE" not in journal  # a refused action leaves no entry
    assert school.logged_in("F01").get("/manage/journal").headers["Location"] == "/manage/login"


def test_the_manager_sees_what_a_kiosk_sent_that_was_held_or_refused_and_when_a_held_one_counts(school):
    enroll(school.live)
    original = meal(-7_50)
    held, refused = reversal(original), dict(meal(-8_00), account_id="P999")
    push(school.live, held, refused)
    browser = manager_browser(school)
    assert "Enregistrements des bornes mis de côté (2)" in text_of(browser.get("/manage/"))
    page = text_of(browser.get("/manage/quarantine"))
    assert f"En attente de l'écriture {original['id']}" in page and "CHF 7.50" in page
    assert "Refusé : unknown pupil P999" in page and "CHF -8.00" in page
    school.clock.now += timedelta(minutes=5)
    push(school.live, original)
    assert "Enregistrements des bornes mis de côté (1)" in text_of(browser.get("/manage/"))
    page = text_of(browser.get("/manage/quarantine"))
    booked = local(school.clock.now).strftime("%d.%m.%Y %H:%M")
    assert f"Comptabilisé le {booked}, une fois son écriture arrivée" in page and "En attente" not in page
