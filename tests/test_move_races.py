"""A child moved at the very moment something else happens to it, on PostgreSQL (where writers run
side by side) and SQLite: to another family while the old family asks for a refund or a transfer
(one of the two is refused, so no money of one family reaches another's child or IBAN); to another
school while a kiosk pushes one of its meals (the meal reaches the new school's kiosks)."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.messages import RefectoryError
from sync_server.admin import pupils, roster_import
from sync_server.admin.errors import FieldErrors
from sync_server.db import reading
from sync_server.money import refunds, sibling_transfers
from sync_server.sync import kiosks, ledger
from sync_server.tables import changes

from .kiosk_push import enroll, meal, push
from .test_sibling_transfers import roster_moving_zoe

pytestmark = pytest.mark.on_each_database

MAILS = {"canteen": {"name": "Réfectoire"}, "portal_url": "https://portal.test/"}
TRIALS = 10


def at_once(*steps) -> list[bool]:
    """Each step in its own thread, started together; whether each went through."""
    barrier, done = threading.Barrier(len(steps)), [False] * len(steps)

    def run(index: int) -> None:
        barrier.wait()
        try:
            steps[index]()
        except (FieldErrors, RefectoryError):
            return
        done[index] = True

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return done


def credit(server, pupil_id: str, cents: int) -> None:
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), pupil_id, cents, EntryKind.ONLINE_TOPUP, server.clock(),
                                        "server", reference=new_entry_id()), server.clock())


def move(server, family_id: str) -> None:
    with server.write() as conn:
        pupils.move(conn, "P001", family_id, server.clock())


@pytest.mark.parametrize("asked", ["refund", "transfer"])
def test_a_move_to_another_family_and_a_refund_or_transfer_asked_at_once_never_both_go_through(server, asked):
    credit(server, "P001", 50_00)
    credit(server, "P003", 50_00)

    def ask() -> None:
        with server.write() as conn:
            if asked == "refund":
                refunds.ask(conn, "F01", "P001", "CH93 0076 2011 6238 5295 7", "A. Parent", server.clock(), **MAILS)
            else:  # booked at once: no kiosk is enrolled to wait for
                sibling_transfers.ask(conn, "F01", "P003", "P001", "1", server.clock(), **MAILS)

    enroll(server)  # a transfer waits for kiosk K1 to have heard of it: the move must wait for its booking
    for _trial in range(TRIALS):
        asked_done, moved = at_once(ask, lambda: move(server, "F02"))
        assert asked_done != moved  # one of the two waited for the other and was refused
        if moved:
            move(server, "F01")  # back, for the next trial
        elif asked == "refund":  # settled, so that the child can move again
            with server.write() as conn:
                [request] = refunds.with_status(conn, refunds.Status.REQUESTED)
                refunds.refuse(conn, request.request_id, "sandra", "test", server.clock(), **MAILS)
        else:
            heard_everything(server)  # the transfer is booked, and the child can move again


def heard_everything(server) -> None:
    """Kiosk K1 pulls the whole feed and says so in a heartbeat (what books a waiting transfer)."""
    headers, cursor = {"Authorization": f"Bearer {server.token}"}, "0"
    while True:
        page = requests.get(f"{server.url}/api/v1/sync/pull", params={"since": cursor, "limit": 1000},
                            headers=headers, timeout=30).json()
        cursor = page["next"]
        if not page["more"]:
            break
    requests.post(f"{server.url}/api/v1/kiosks/heartbeat", headers=headers, timeout=30, json={
        "cursor": cursor, "pending": 0, "version": "test", "clock": to_text(server.clock())}).raise_for_status()


def test_a_meal_pushed_while_its_pupil_changes_school_reaches_the_new_schools_kiosks(server):
    with server.write() as conn:
        roster_import.publish_pupil(conn, "P001", server.clock(), school="Nord")
        code = kiosks.issue_code(conn, "K1", server.clock(), "Nord")
    server.token = requests.post(f"{server.url}/api/v1/kiosks/enroll", json={"code": code, "kiosk_id": "K1"},
                                 timeout=30).json()["token"]
    school = "Nord"
    for _trial in range(TRIALS):
        school = "Sud" if school == "Nord" else "Nord"
        record = meal()

        def to_school(school: str = school) -> None:
            with server.write() as conn:
                roster_import.publish_pupil(conn, "P001", server.clock(), school=school)

        at_once(lambda record=record: push(server, record), to_school)
        with server.write() as conn:
            published_to = set(conn.execute(select(changes.c.school).where(
                changes.c.type == "entry", changes.c.key == record["id"])).scalars())
        assert school in published_to, (school, published_to)  # the kiosks of her school pull it


def test_a_roster_preview_moving_a_child_holds_nothing_back_while_it_is_shown(server):
    """The preview only reads: a transfer asked meanwhile goes through at once (a lock taken by the
    preview would make it wait, and on PostgreSQL hold back every kiosk's pull)."""
    credit(server, "P003", 50_00)
    with reading(server.engine) as conn:
        roster_import.plan_import(conn, *roster_moving_zoe(conn, "F02", "P001"))
        assert at_once(lambda: transfer(server)) == [True]


def transfer(server) -> None:
    with server.write() as conn:
        sibling_transfers.ask(conn, "F01", "P003", "P001", "1", server.clock(), **MAILS)
