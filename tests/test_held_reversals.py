"""A kiosk's reversal of an entry the server has never seen, pushed over HTTP on SQLite and
PostgreSQL: it holds no money and waits in quarantine until that entry arrives, so a refund
never pays out money it made up; then it counts like any reversal."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.money import refunds
from sync_server.sync import ledger
from sync_server.tables import entries, quarantine

from .conftest import MONDAY_NOON
from .kiosk_push import enroll, enrolled_server, meal, push, reversal

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
URL = "https://portal.test/"
DEBTOR = {"REFUND_DEBTOR_IBAN": "CH56 0483 5012 3456 7800 9", "REFUND_DEBTOR_NAME": "Restaurant scolaire"}


@pytest.fixture
def api(database_url, tmp_path):
    live = enrolled_server(database_url, tmp_path)
    yield live
    live.stop()


def waiting(api) -> list[tuple[str, str | None, str | None]]:
    with api.write() as conn:
        return [tuple(row) for row in conn.execute(select(quarantine.c.record_id, quarantine.c.waiting_for,
                                                          quarantine.c.released_at).order_by(quarantine.c.id))]


def booked(api, entry_id: str) -> bool:
    with api.write() as conn:
        return conn.execute(select(entries.c.id).where(entries.c.id == entry_id)).first() is not None


def test_a_reversal_of_an_unseen_entry_holds_no_money_until_that_entry_arrives(api):
    original = meal(-9_999_95)
    cancel = reversal(original)
    [ack] = push(api, cancel)
    assert ack == {"id": cancel["id"], "status": "accepted",
                   "reason": f"held until the entry it reverses ({original['id']}) arrives"}
    assert api.balance("P001") == 0 and not booked(api, cancel["id"])
    assert waiting(api) == [(cancel["id"], original["id"], None)]
    assert push(api, cancel)[0]["status"] == "duplicate"  # sent again after a lost answer: still held once
    assert push(api, original)[0]["status"] == "accepted"
    assert booked(api, cancel["id"]) and api.balance("P001") == 0  # the meal and its cancellation
    assert waiting(api) == [(cancel["id"], original["id"], to_text(MONDAY_NOON))]
    assert push(api, cancel)[0]["status"] == "duplicate"


def test_a_held_reversal_that_does_not_cancel_its_entry_exactly_stays_in_quarantine(api):
    original = meal(-7_50)
    cancel = reversal(original, cents=70_00)
    push(api, cancel)
    push(api, original)
    assert not booked(api, cancel["id"]) and api.balance("P001") == -7_50
    with api.write() as conn:
        row = conn.execute(select(quarantine.c.waiting_for, quarantine.c.reason)).one()
    assert tuple(row) == (None, "a reversal must cancel its entry exactly")


def test_a_reversal_sent_before_its_entry_in_the_same_batch_counts_at_once(api):
    original = meal()
    cancel = reversal(original)
    assert [a["status"] for a in push(api, cancel, original)] == ["accepted", "accepted"]
    assert booked(api, cancel["id"]) and api.balance("P001") == 0 and waiting(api) == []


def test_a_held_reversal_never_reaches_a_refund_or_its_payment_file(api):
    with api.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 40_00, EntryKind.ONLINE_TOPUP, MONDAY_NOON, "server",
                                        reference="pay-1"), MONDAY_NOON)
    push(api, reversal(meal(-9_999_95)))  # would make Léa's 40.00 into 10'039.95
    assert api.balance("P001") == 40_00
    with api.write() as conn:
        request = refunds.ask(conn, "F01", "P001", "CH93 0076 2011 6238 5295 7", "Anna Müller", MONDAY_NOON,
                              canteen=CANTEEN, portal_url=URL)
        approved = refunds.approve(conn, request.request_id, "sandra", MONDAY_NOON, canteen=CANTEEN, portal_url=URL)
        cursor = str(approved.fence_seq)  # the kiosk has pulled the hold
    answer = requests.post(f"{api.url}/api/v1/kiosks/heartbeat", timeout=30,
                           headers={"Authorization": f"Bearer {api.token}"},
                           json={"cursor": cursor, "pending": 0, "clock": to_text(MONDAY_NOON), "version": "test"})
    assert answer.status_code == 200, answer.text
    with api.write() as conn:
        paid = refunds.find(conn, request.request_id)
        document, _due = refunds.payment_file(conn, DEBTOR, MONDAY_NOON)
    assert (paid.status, paid.amount_cents) == (refunds.Status.TO_PAY, 40_00)
    assert b"<InstdAmt Ccy=\"CHF\">40.00</InstdAmt>" in document and b"10039.95" not in document
    assert api.balance("P001") == 0



def test_an_entry_is_cancelled_once_whatever_its_second_reversal_comes_with(api):
    """A kiosk restored from a backup that had not seen its first cancellation cancels again."""
    original = meal(-7_50)
    first, again = reversal(original), reversal(original)
    push(api, original, first)
    [ack] = push(api, again)  # a later push
    twice = f"the entry it reverses ({original['id']}) is already cancelled by {first['id']}"
    assert ack == {"id": again["id"], "status": "rejected", "reason": twice}
    assert api.balance("P001") == 0 and not booked(api, again["id"])
    other = meal(-8_50)
    one, two = reversal(other), reversal(other)
    assert [a["status"] for a in push(api, other, one, two)] == ["accepted", "accepted", "rejected"]  # one push
    assert api.balance("P001") == 0


def test_two_held_reversals_of_one_entry_book_one_when_it_arrives(api):
    original = meal(-7_50)
    first, again = reversal(original), reversal(original)
    assert push(api, first)[0]["status"] == "accepted"  # held
    [ack] = push(api, again)
    assert ack["status"] == "rejected" and ack["reason"].endswith(f"already cancelled by {first['id']}")
    push(api, original)
    assert booked(api, first["id"]) and not booked(api, again["id"]) and api.balance("P001") == 0


def test_two_reversals_of_one_entry_pushed_at_the_same_moment_book_one_and_refuse_the_other(api):
    first_token = api.token
    second_token = enroll(api, "K2").token
    known = {first_token: meal(-7_50), second_token: {**meal(-7_50), "origin": "K2"}}
    for token, entry in known.items():
        push_as(api, token, [entry])
    tries = []
    for _attempt in range(5):
        original = meal(-7_50)
        push_as(api, first_token, [original])
        barrier, answers = threading.Barrier(2), []

        def send(token: str, record: dict, barrier=barrier, answers=answers) -> None:
            barrier.wait()  # each with an entry the server has, as a kiosk restored from a backup resends all
            answers.append(push_as(api, token, [known[token], record], expect=None, ack=1))

        threads = [threading.Thread(target=send, args=(first_token, reversal(original))),
                   threading.Thread(target=send, args=(second_token, {**reversal(original), "origin": "K2"}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        tries.append(sorted(answer["status"] for answer in answers))
    assert tries == [["accepted", "rejected"]] * 5  # never a 500, never both
    assert api.balance("P001") == -2 * 7_50  # the two meals kept, each try's meal cancelled once


def push_as(api, token: str, records: list[dict], expect: int | None = 200, ack: int = 0) -> dict:
    """The push's `ack`-th acknowledgement; {"status": code} when it was not a 200 (with `expect` None)."""
    answer = requests.post(f"{api.url}/api/v1/sync/push", json={"records": records}, timeout=60,
                           headers={"Authorization": f"Bearer {token}"})
    if expect is not None:
        assert answer.status_code == expect, answer.text
    return answer.json()["acks"][ack] if answer.status_code == 200 else {"status": str(answer.status_code)}
