"""Refunds over HTTP: the family's form and its follow-up on the portal, the manager's queue (who
may see it, which kiosks it waits for), the pain.001 download, and the mails through a real SMTP
server. Pages are read in English: the msgids, whatever the catalogue says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.mail import outbox
from sync_server.sync import kiosks, ledger
from sync_server.sync.changes import latest_seq
from sync_server.tables import pupils, refund_requests

from .portal_client import start_school, text_of
from .smtp_sink import SmtpSink
from .test_refunds import read_payments

pytestmark = pytest.mark.on_each_database

DEBTOR = {"REFUND_DEBTOR_IBAN": "CH56 0483 5012 3456 7800 9", "REFUND_DEBTOR_NAME": "Restaurant scolaire"}
FORM = {"iban": "CH93 0076 2011 6238 5295 7", "holder": "Anna Müller", "confirm": "y"}


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path, **DEBTOR)
    with school.live.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 42_50, EntryKind.ONLINE_TOPUP, school.clock.now,
                                        "server", reference="pay-1"), school.clock.now)
    yield school
    school.live.stop()


def in_english(browser):
    browser.submit("/language", {"language": "en", "next": "/"}, form_page="/help")
    return browser


def family(school, family_id: str = "F01"):
    return in_english(school.logged_in(family_id))


def manager(school):
    return in_english(school.manager())


def ask(browser, pupil_id: str = "P001", **changes):
    return browser.submit(f"/children/{pupil_id}/refund", {**FORM, **changes})


def stored(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(refund_requests.c.pupil_id, refund_requests.c.status)).all()


def queue_action(browser, path: str, data: dict | None = None):
    return browser.submit(path, data or {}, form_page="/manage/refunds")


def test_a_parent_asks_and_follows_the_refund_until_it_is_paid(school):
    parent = family(school)
    assert "Refund" in text_of(parent.get("/"))  # the child's card leads there
    response = ask(parent)
    assert response.status_code == 302
    page = text_of(parent.get("/children/P001/refund"))
    assert "Requested: the canteen checks it." in page and "CH93 0076 2011 6238 5295 7 (Anna Müller)" in page
    assert "Send the request" not in page  # one open request at a time

    with school.live.write() as conn:  # one kiosk is enrolled and has not synced since
        token = kiosks.enroll(conn, kiosks.issue_code(conn, "K1", school.clock.now), "K1", school.clock.now)
    office = manager(school)
    assert "Léa Müller" in text_of(office.get("/manage/refunds"))
    assert queue_action(office, "/manage/refunds/1/approve").status_code == 302
    queue = text_of(office.get("/manage/refunds"))
    assert "Still waiting for these kiosks to sync: K1 — never seen since it was enrolled" in queue
    assert "the account is on hold until every till has synced" in text_of(parent.get("/children/P001/refund"))

    school.clock.now += timedelta(minutes=3)
    with school.live.write() as conn:
        cursor = latest_seq(conn)
    reported = school.app.test_client().post(  # K1 reports in, past the hold: its heartbeat pays out
        "/api/v1/kiosks/heartbeat", headers={"Authorization": f"Bearer {token}"},
        json={"cursor": str(cursor), "pending": 0, "clock": to_text(school.clock.now), "version": "t"})
    assert reported.status_code == 200, reported.text
    queue = text_of(office.get("/manage/refunds"))
    assert "CHF 42.50" in queue and "Mark as paid" in queue
    assert "Refund of CHF 42.50 booked: the transfer follows." in text_of(parent.get("/children/P001/refund"))

    download = queue_action(office, "/manage/refunds/payments.xml")
    assert download.status_code == 200 and download.mimetype == "application/xml"
    assert read_payments(download.data, "09")["transfers"] == {
        ("REFUND-1", "42.50", "CH9300762011623852957", "Anna Müller")}
    assert "In a payment file since" in text_of(office.get("/manage/refunds"))
    assert queue_action(office, "/manage/refunds/1/paid").status_code == 302
    assert "Paid on" in text_of(parent.get("/children/P001/refund"))
    assert stored(school) == [("P001", "paid")]
    journal = text_of(office.get("/manage/journal"))
    assert "sandra Refund approved refund 1 P001: approved" in journal
    assert "sandra Refund payment file downloaded pain.001 refund 1 CHF 42.50" in journal
    assert "sandra Refund marked paid refund 1 P001: paid, CHF 42.50" in journal

    sink = SmtpSink()
    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port)
        assert outbox.send_due(school.live.engine, settings, school.clock.now).sent == 4
        subjects = [m["Subject"] for m in sink.wait_for(4)]
    finally:
        sink.stop()
    assert len(subjects) == 4 and all("Léa" in subject for subject in subjects)


@pytest.mark.parametrize("changes, says", [
    ({"iban": ""}, "Enter the IBAN of the account to refund."),
    ({"iban": "CH93 0076 2011 6238 5295 8"}, "This IBAN is not valid: check it against your bank statement."),
    ({"iban": "BR18 0036 0305 0000 1000 9795 493C 1"}, "an IBAN from BR cannot be used"),
    ({"holder": " "}, "Enter the name of the account holder."),
    ({"confirm": ""}, "Tick the box to confirm the request."),
])
def test_a_wrong_iban_a_missing_holder_or_no_confirmation_is_refused_in_words(school, changes, says):
    response = ask(family(school), **changes)
    assert response.status_code == 422 and says in text_of(response)
    assert stored(school) == []


def test_a_child_with_nothing_on_the_account_cannot_ask(school):
    parent = family(school)
    page = text_of(parent.get("/children/P003/refund"))
    assert "There is nothing to refund" in page and "Send the request" not in page
    response = ask(parent, "P003", holder="Marc Rochat")
    assert response.status_code == 422 and "nothing to refund" in text_of(response)
    assert stored(school) == []


def test_another_familys_child_is_not_found(school):
    stranger = family(school, "F02")
    assert stranger.get("/children/P001/refund").status_code == 404
    token = stranger.token("/children/P002/refund")
    assert stranger.post("/children/P001/refund", {"csrf_token": token, **FORM}).status_code == 404
    assert stored(school) == []


def test_a_child_who_moves_to_another_family_does_not_show_it_the_first_familys_account(school):
    assert ask(family(school)).status_code == 302
    with school.live.write() as conn:  # the next roster puts Léa with family F02
        conn.execute(update(pupils).where(pupils.c.pupil_id == "P001").values(family_id="F02"))
    page = text_of(family(school, "F02").get("/children/P001/refund"))
    assert "Your requests" not in page and "Anna Müller" not in page and "0076" not in page


def test_a_refund_form_without_its_csrf_token_is_refused(school):
    assert family(school).post("/children/P001/refund", FORM).status_code == 400
    assert stored(school) == []
    ask(family(school))
    assert manager(school).post("/manage/refunds/1/approve", {}).status_code == 400
    assert stored(school) == [("P001", "requested")]


def test_only_a_manager_opens_the_refund_queue_and_acts_on_it(school):
    parent = family(school)
    ask(parent)
    assert school.browser().get("/manage/refunds").headers["Location"] == "/manage/login"
    assert parent.get("/manage/refunds").headers["Location"] == "/manage/login"  # a family is not a manager
    token = parent.token("/children/P001/refund")
    for action in ("approve", "paid", "refuse"):
        response = parent.post(f"/manage/refunds/1/{action}", {"csrf_token": token, "reason": "non"})
        assert response.headers["Location"] == "/manage/login"
    assert stored(school) == [("P001", "requested")]


def test_a_refusal_and_its_reason_reach_the_family(school):
    ask(family(school))
    office = manager(school)
    empty = queue_action(office, "/manage/refunds/1/refuse", {"reason": ""})
    assert "Give the family the reason for the refusal." in text_of(office.get(empty.headers["Location"]))
    queue_action(office, "/manage/refunds/1/refuse", {"reason": "Le titulaire du compte n'est pas un parent."})
    page = text_of(family(school).get("/children/P001/refund"))
    assert "Refused: Le titulaire du compte n'est pas un parent." in page
    assert "Send the request" in page  # a new request may follow
    assert stored(school) == [("P001", "refused")]
