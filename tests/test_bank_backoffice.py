"""Bank credits in the back office with the amounts and names a real or hostile file can carry:
a batch's credits named after their entry, and amounts no account can hold."""

from __future__ import annotations

import html
import re
from io import BytesIO

import pytest
from sqlalchemy import func, insert, select
from werkzeug.test import EnvironBuilder

from refectory.testing.camt import camt054, entry, tx
from sync_server import bank_import
from sync_server.tables import bank_credits, entries

from .portal_client import BASE, start_school, text_of

pytestmark = pytest.mark.on_each_database


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    with school.live.write() as conn:
        school.references = {"P001": bank_import.payment_reference(conn, "P001", qr_iban=True)}
    yield school
    school.live.stop()


@pytest.fixture
def manager(school):
    browser = school.browser()
    answer = browser.submit("/manage/login", {"login": "sandra", "password": school.manager_password})
    assert answer.status_code == 302, text_of(answer)
    return browser


def upload(browser, data: bytes):
    return browser.post("/manage/bank", {"csrf_token": browser.token("/manage/bank"),
                                         "bank_file": (BytesIO(data), "camt054.xml")})


def assign_form(page: str, bank_reference: str) -> str:
    """The action of the assign form shown under `bank_reference` on the waiting list."""
    shown = page.index(html.escape(bank_reference))
    return html.unescape(re.compile(r'<form method="post" action="([^"]+)"').search(page, shown).group(1))


def entry_count(school) -> int:
    with school.live.write() as conn:
        return conn.execute(select(func.count()).select_from(entries)).scalar_one()


def test_a_batch_credit_named_after_its_entry_is_assigned_from_the_waiting_list(school, manager):
    batch = entry("50.00", [tx("-", "20.00", note="Repas Zoé", payer="Famille Rochat"),
                            tx("-", "30.00", note="Repas Léa", payer="Famille Müller")], entry_ref="SL/ASH")
    answer = upload(manager, camt054(batch.replace("<Refs><AcctSvcrRef>-</AcctSvcrRef></Refs>", "")))
    assert "0 crédit(s) comptabilisé(s), 0 déjà importé(s), 2 à attribuer à la main." in text_of(answer)
    page = manager.get("/manage/bank/waiting").text
    action = assign_form(page, "SL/ASH/1")
    done = manager.submit(action, {"pupil_id": "P003"}, form_page="/manage/bank/waiting")
    assert done.status_code == 302 and school.live.balance("P003") == 20_00
    after = text_of(manager.get("/manage/bank/waiting"))
    assert "CHF 20.00 crédité à P003." in after and "SL/ASH/1" not in after and "SL/ASH/2" in after


def test_a_credit_no_account_can_hold_refuses_the_uploaded_file_whole(school, manager):
    data = camt054(entry("100.00", [tx("B-1", "100.00", reference=school.references["P001"])]),
                   entry("92233720368547758.07", [tx("B-2", "92233720368547758.07", note="?")], entry_ref="E-2"),
                   ).replace(b"<Ntry>", b"\n<Ntry>")
    answer = upload(manager, data)
    assert answer.status_code == 422
    assert "Crédit B-2, ligne 3 : Le montant maximum est de CHF 10'000.00." in text_of(answer)
    assert entry_count(school) == 0 and "Aucun crédit en attente." in text_of(manager.get("/manage/bank/waiting"))


def test_a_credit_kept_before_the_bound_cannot_be_assigned_and_the_account_stays_readable(tmp_path, school, manager):
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



def test_the_audits_50_mb_file_of_303699_credits_is_refused_in_words_and_writes_nothing(school, manager):
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
