"""The manager's back office: its own login, bank files uploaded with their report (whatever amounts
and names a real or hostile file carries), the credits without a known reference assigned by hand,
the journal, and the kiosks' records the server set aside."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, insert, select
from werkzeug.test import EnvironBuilder

from domain.clock import local
from domain.entries import EntryKind
from refectory.testing.camt import camt054, entry, tx
from sync_server.admin import managers
from sync_server.money import bank_import
from sync_server.tables import bank_credits, entries

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
    browser = school.manager()
    assert "Sandra Morel" in text_of(browser.get("/manage/"))
    assert browser.get("/").headers["Location"].startswith("/login")  # nor is a manager a family


def test_a_wrong_manager_password_is_refused_and_a_new_password_ends_the_session(school):
    refused = school.browser().submit("/manage/login", {"login": "sandra", "password": "not-it-at-all"})
    assert refused.status_code == 401 and "Identifiant ou mot de passe incorrect" in text_of(refused)
    browser = school.manager()
    with school.live.write() as conn:
        managers.set_manager(conn, "sandra", "Sandra Morel", school.clock.now)
    assert browser.get("/manage/").headers["Location"] == "/manage/login"


def test_an_uploaded_bank_file_books_what_it_can_and_reports_the_rest(school):
    browser = school.manager()
    report = upload(browser, bank_file(school))
    says = text_of(report)
    assert report.status_code == 200
    assert "1 crédit comptabilisé, 0 déjà importé, 1 à attribuer à la main." in says
    assert "Comptabilisé : CHF 100.00" in says and "P001" in says and "Anna Müller" in says
    assert bank_topups(school) == [("P001", 100_00)]
    again = text_of(upload(browser, bank_file(school)))
    assert "0 crédit comptabilisé, 2 déjà importés, 0 à attribuer à la main." in again
    assert bank_topups(school) == [("P001", 100_00)]


def test_a_bank_file_larger_than_the_portals_2_mb_limit_is_accepted(school):
    padded = bank_file(school).replace(b"<Document", b"<!--" + b" " * 3_000_000 + b"--><Document", 1)
    browser = school.manager()
    builder = EnvironBuilder("/manage/bank", base_url=BASE, method="POST", headers={"Referer": BASE + "/manage/bank"},
                             data={"csrf_token": browser.token("/manage/bank"),
                                   "bank_file": (BytesIO(padded), "big.xml")})
    environ = builder.get_environ()
    try:
        answer = browser.client.open(environ)
    finally:
        environ["wsgi.input"].close()  # werkzeug's test client leaves a large body's temporary file open
    assert answer.status_code == 200 and "1 crédit comptabilisé" in text_of(answer)


def test_a_file_that_is_not_a_bank_file_is_refused_in_words_and_books_nothing(school):
    answer = upload(school.manager(), b"pupil_id,amount\nP001,100\n", "export.csv")
    assert answer.status_code == 422 and "camt" in text_of(answer)
    assert bank_topups(school) == []


def test_the_upload_needs_its_csrf_token(school):
    browser = school.manager()
    answer = browser.post("/manage/bank", {"bank_file": (BytesIO(bank_file(school)), "camt054.xml")})
    assert answer.status_code == 400 and bank_topups(school) == []


def test_a_waiting_credit_is_assigned_to_a_pupil_once_from_the_list(school):
    browser = school.manager()
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
    browser = school.manager()
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
    browser = school.manager()
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


def assign_form(page: str, bank_reference: str) -> str:
    """The action of the assign form shown under `bank_reference` on the waiting list."""
    shown = page.index(html.escape(bank_reference))
    return html.unescape(re.compile(r'<form method="post" action="([^"]+)"').search(page, shown).group(1))


def entry_count(school) -> int:
    with school.live.write() as conn:
        return conn.execute(select(func.count()).select_from(entries)).scalar_one()


def test_a_batch_credit_named_after_its_entry_is_assigned_from_the_waiting_list(school):
    manager = school.manager()
    batch = entry("50.00", [tx("-", "20.00", note="Repas Zoé", payer="Famille Rochat"),
                            tx("-", "30.00", note="Repas Léa", payer="Famille Müller")], entry_ref="SL/ASH")
    answer = upload(manager, camt054(batch.replace("<Refs><AcctSvcrRef>-</AcctSvcrRef></Refs>", "")))
    assert "0 crédit comptabilisé, 0 déjà importé, 2 à attribuer à la main." in text_of(answer)
    page = manager.get("/manage/bank/waiting").text
    action = assign_form(page, "SL/ASH/1")
    done = manager.submit(action, {"pupil_id": "P003"}, form_page="/manage/bank/waiting")
    assert done.status_code == 302 and school.live.balance("P003") == 20_00
    after = text_of(manager.get("/manage/bank/waiting"))
    assert "CHF 20.00 crédité à P003." in after and "SL/ASH/1" not in after and "SL/ASH/2" in after


def test_a_credit_no_account_can_hold_refuses_the_uploaded_file_whole(school):
    manager = school.manager()
    data = camt054(entry("100.00", [tx("B-1", "100.00", reference=school.references["P001"])]),
                   entry("92233720368547758.07", [tx("B-2", "92233720368547758.07", note="?")], entry_ref="E-2"),
                   ).replace(b"<Ntry>", b"\n<Ntry>")
    answer = upload(manager, data)
    assert answer.status_code == 422
    assert "Crédit B-2, ligne 3 : Le montant maximum est de CHF 10'000.00." in text_of(answer)
    assert entry_count(school) == 0 and "Aucun crédit en attente." in text_of(manager.get("/manage/bank/waiting"))


def test_a_credit_kept_before_the_bound_cannot_be_assigned_and_the_account_stays_readable(school):
    manager = school.manager()
    with school.live.write() as conn:  # as an import before the bound could have left it
        conn.execute(insert(bank_credits).values(
            bank_reference="OLD-1", amount_cents=92233720368547758_07, currency="CHF", reference=None,
            booked_on="2026-11-27", payer="?", note=None, imported_at="2026-11-27T10:00:00.000000Z"))
    page = manager.get("/manage/bank/waiting").text
    refused = manager.submit(assign_form(page, "OLD-1"), {"pupil_id": "P003"}, form_page="/manage/bank/waiting")
    assert refused.status_code == 302
    says = text_of(manager.get("/manage/bank/waiting"))
    assert "Le crédit bancaire « OLD-1 » ne peut pas être crédité : Le montant maximum est de CHF 10'000.00." in says
    assert entry_count(school) == 0 and school.live.balance("P003") == 0
    home = school.logged_in("F01").get("/")
    assert home.status_code == 200 and "Zoé" in text_of(home)


def test_the_audits_50_mb_file_of_303699_credits_is_refused_in_words_and_writes_nothing(school):
    manager = school.manager()
    credits = "".join(f'<Ntry><Amt Ccy="CHF">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
                      f"<AcctSvcrRef>R-{n:06d}</AcctSvcrRef><AddtlNtryInf>{'x' * 50}</AddtlNtryInf></Ntry>"
                      for n in range(303_699))
    data = camt054(credits)
    assert len(data) > 50_000_000
    form = {"csrf_token": manager.token("/manage/bank"), "bank_file": (BytesIO(data), "big.xml")}
    builder = EnvironBuilder("/manage/bank", base_url=BASE, method="POST", headers={"Referer": BASE + "/manage/bank"},
                             data=form)
    environ = builder.get_environ()
    try:
        answer = manager.client.open(environ)
    finally:
        environ["wsgi.input"].close()  # werkzeug's test client leaves a large body's temporary file open
    assert answer.status_code == 422
    says = f"Ce fichier fait {len(data) / 1024 / 1024:.1f} Mo ; un fichier bancaire fait au plus 32 Mo."
    assert says in text_of(answer)
    assert entry_count(school) == 0
