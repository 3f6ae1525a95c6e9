"""Transfers between siblings over HTTP: the family's form, its confirmation and result, the
refusals in words, the journal in the back office, and the mail through a real SMTP server. Pages
are read in English (the msgids), and once in French."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.mail import outbox
from sync_server.money import refunds
from sync_server.sync import kiosks, ledger
from sync_server.tables import entries, sibling_transfers

from .portal_client import start_school, text_of
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.on_each_database

FORM = {"from_pupil": "P001", "to_pupil": "P003", "amount": "12.50"}


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    with school.live.write() as conn:  # Léa has CHF 42.50; her sister Zoé nothing
        ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 42_50, EntryKind.ONLINE_TOPUP, school.clock.now,
                                        "server", reference="pay-1"), school.clock.now)
    yield school
    school.live.stop()


def family(school, family_id: str = "F01", language: str = "en"):
    browser = school.logged_in(family_id)
    browser.submit("/language", {"language": language, "next": "/"}, form_page="/help")
    return browser


def review(browser, **changes):
    return browser.submit("/transfer", {**FORM, **changes})


def confirm(browser, **changes):
    return browser.submit("/transfer/confirm", {**FORM, **changes}, form_page="/transfer")


def confirmation_id(page) -> str:
    """The transfer id the confirmation page gives its form."""
    found = re.search(r'name="transfer_id" type="hidden" value="([^"]+)"', page.text)
    assert found, "no transfer id on the confirmation page"
    return found.group(1)


def stored(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(sibling_transfers.c.from_pupil, sibling_transfers.c.to_pupil,
                                   sibling_transfers.c.amount_cents, sibling_transfers.c.status)).all()


def test_a_parent_moves_money_from_one_child_to_the_other_and_is_told_by_mail(school):
    parent = family(school)
    home = text_of(parent.get("/"))
    assert "Transfer between your children" in home
    form = text_of(parent.get("/transfer"))
    assert "Léa (CHF 42.50 can be moved)" in form and "Zoé (CHF 0.00 can be moved)" in form

    checked = review(parent)
    assert checked.status_code == 200
    page = text_of(checked)
    assert "CHF 12.50 from Léa to Zoé" in page
    assert "CHF 42.50 can be spent now, CHF 30.00 after" in page and "CHF 0.00 now, CHF 12.50 after" in page
    assert stored(school) == []  # nothing written before the confirmation

    transfer_id = confirmation_id(checked)
    done = confirm(parent, transfer_id=transfer_id)
    assert done.status_code == 302 and done.headers["Location"] == f"/transfers/{transfer_id}"
    again = confirm(parent, transfer_id=transfer_id)  # a double click: the same transfer, once
    assert again.status_code == 302 and again.headers["Location"] == f"/transfers/{transfer_id}"
    result = text_of(parent.get(done.headers["Location"]))
    assert "Done: the money is on the account of Zoé." in result
    assert "Léa Müller Balance CHF 30.00" in result and "Zoé Rochat Balance CHF 12.50" in result
    assert stored(school) == [("P001", "P003", 12_50, "booked")]
    history = text_of(parent.get("/children/P003/history"))
    assert "Sibling transfer (Léa) +12.50" in history
    assert "Sibling transfer (Zoé) -12.50" in text_of(parent.get("/children/P001/history"))
    assert "Transfer done" in text_of(parent.get("/transfer"))  # the latest transfers, with their state

    office = school.manager()
    office.submit("/language", {"language": "en", "next": "/"}, form_page="/help")
    journal = text_of(office.get("/manage/journal"))
    assert "server Transfer between siblings booked" in journal and "P001 → P003: CHF 12.50; entries" in journal
    assert "family:F01 Transfer between siblings asked (amount set aside)" in journal

    sink = SmtpSink()
    try:
        assert outbox.send_due(school.live.engine, outbox.SmtpSettings(host="127.0.0.1", port=sink.port),
                               school.clock.now).sent == 1
        (mail,) = sink.wait_for(1)
    finally:
        sink.stop()
    assert mail["Subject"] == "Transfer of CHF 12.50 from Léa to Zoé done"
    assert "CHF 12.50 went from the account of Léa to the account of Zoé." in mail.get_content()


def test_with_a_kiosk_to_wait_for_the_amount_is_set_aside_at_once_and_said_so(school):
    with school.live.write() as conn:  # enrolled, never synced since
        kiosks.enroll(conn, kiosks.issue_code(conn, "K1", school.clock.now), "K1", school.clock.now)
    parent = family(school, language="fr")
    result = text_of(parent.get(confirm(parent, amount="40").headers["Location"]))
    assert "Transfert de CHF 40.00 de Léa à Zoé" in result
    assert "Le montant est mis de côté sur le compte de Léa." in result
    home = text_of(parent.get("/"))
    assert "Solde CHF 42.50 Dont CHF 40.00 mis de côté pour un transfert à un frère ou une sœur." in home
    assert "Léa (CHF 2.50 transférables)" in text_of(parent.get("/transfer"))
    refused = confirm(parent, amount="5")  # only 2.50 left to move
    assert refused.status_code == 422
    assert "Léa n’a que CHF 2.50 à transférer : indiquez au plus ce montant." in text_of(refused)
    with school.live.write() as conn:
        assert conn.execute(select(entries.c.id).where(entries.c.kind == "transfer")).all() == []
    assert stored(school) == [("P001", "P003", 40_00, "waiting")]


@pytest.mark.parametrize("changes, says", [
    ({"to_pupil": "P001"}, "Choose two different children: the money goes from one to the other."),
    ({"to_pupil": "P002"}, "Choose the child the money goes to among your children."),  # family F02's Noé
    ({"from_pupil": "P002"}, "Choose the child the money comes from among your children."),
    ({"from_pupil": "P999"}, "Choose the child the money comes from among your children."),
    ({"amount": ""}, "Give an amount, like 20, 20.50 or 20,50."),
    ({"amount": "douze"}, "'douze' is not an amount"),
    ({"amount": "0"}, "The amount must be greater than zero."),
    ({"amount": "-3"}, "The amount must be positive"),
    ({"amount": "1.005"}, "has more than two decimals"),
    ({"amount": "42.55"}, "Léa has CHF 42.50 that can be moved: enter at most that amount."),
    ({"from_pupil": "P003", "to_pupil": "P001"}, "Zoé has no money that can be moved now."),
])
def test_a_transfer_that_cannot_be_made_is_refused_in_words_at_each_step(school, changes, says):
    parent = family(school)
    for step in (review, confirm):
        response = step(parent, **changes)
        assert response.status_code == 422 and says in text_of(response)
    assert stored(school) == []


def test_no_transfer_while_a_refund_is_open_for_either_child(school):
    with school.live.write() as conn:
        refunds.ask(conn, "F01", "P001", "CH93 0076 2011 6238 5295 7", "Anna Müller", school.clock.now,
                    canteen={}, portal_url="https://portal.test/")
    response = review(family(school))
    assert response.status_code == 422
    assert "A refund of the balance of Léa is in progress: no transfer until it is done." in text_of(response)
    assert stored(school) == []


def test_a_family_with_one_child_has_no_transfer_and_sees_no_other_familys(school):
    assert confirm(family(school)).status_code == 302
    (transfer_id,) = [row.transfer_id for row in _ids(school)]
    other = family(school, "F02")
    assert "Transfer between your children" not in text_of(other.get("/"))
    assert "only one child" in text_of(other.get("/transfer"))
    assert other.get(f"/transfers/{transfer_id}").status_code == 404
    assert other.get("/transfers/no-such-transfer").status_code == 404
    assert "Léa" not in text_of(other.get("/transfer"))


def test_a_confirmation_id_that_is_not_the_familys_own_is_refused(school):
    assert confirm(family(school), transfer_id="0190c2a4-0000-7000-8000-000000000001").status_code == 302
    stolen = confirm(family(school), transfer_id="0190c2a4-0000-7000-8000-000000000001", amount="1")
    assert stolen.status_code == 302  # the family's own: the same transfer, not a second one
    with school.live.write() as conn:
        conn.execute(sibling_transfers.update().values(family_id="F02"))
    for transfer_id in ("0190c2a4-0000-7000-8000-000000000001", "not-an-id"):
        refused = confirm(family(school), transfer_id=transfer_id)
        assert refused.status_code == 422
        assert "This confirmation is no longer valid: check the transfer again." in text_of(refused)
    assert stored(school) == [("P001", "P003", 12_50, "booked")]


def test_the_transfer_forms_need_their_csrf_token_and_a_login(school):
    parent = family(school)
    assert parent.post("/transfer", FORM).status_code == 400
    assert parent.post("/transfer/confirm", FORM).status_code == 400
    for path in ("/transfer", "/transfers/x"):
        assert school.browser().get(path).headers["Location"].startswith("/login")
    assert stored(school) == []


def _ids(school):
    with school.live.write() as conn:
        return conn.execute(select(sibling_transfers.c.transfer_id)).all()
