"""A city's kiosks each follow their own school: a kiosk learns its school's pupils and money and
what is for every kiosk, a top-up wakes only its school's waiting pulls, a pupil who changes
school arrives whole (badges, hold, reservations, balance) at the new school's kiosks and is
refused at the old one's; and every kiosk's cursor still walks the whole feed."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
import requests
from sqlalchemy import update

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.meals import HoldReason, Refusal, ReservationKind
from kiosk.sync_agent import SyncAgent
from kiosk.sync_store import sync_state
from sync_server.admin import cashiers
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.roster_import import publish_pupil
from sync_server.families import exclusions, reservations
from sync_server.families.letters import canteen
from sync_server.fleet import overview
from sync_server.sync import feed_wait, kiosks, ledger
from sync_server.sync.changes import latest_seq
from sync_server.tables import pupils

from .live_server import new_kiosk

pytestmark = pytest.mark.on_each_database

DEADLINE_S = 30.0
NORD_WAIT_S = 6.0
WATCHER_START_S = 3.0
LEA, NOE = "P001", "P002"  # badges 04A1B2C3 and 04:11:22:33:44:55:66 (tests/conftest.py)
LEA_BADGE, NOE_BADGE = "04A1B2C3", "04112233445566"


def credit(server, pupil_id: str, cents: int) -> None:
    now = server.clock()
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), pupil_id, cents, EntryKind.ONLINE_TOPUP, now, "server",
                                        reference=f"T{new_entry_id()[-12:]}"), now)


def move(server, pupil_id: str, school: str | None) -> None:
    with server.write() as conn:
        publish_pupil(conn, pupil_id, server.clock(), school=school)


def pull(server, kiosk, **params) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/sync/pull", params=params, timeout=60,
                        headers={"Authorization": f"Bearer {sync_state(kiosk.store).token}"})


def started(watcher, threads: list[threading.Thread]) -> list[threading.Thread]:
    """Start waiting threads and return them once each sleeps on the feed."""
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while watcher.waiting < len(threads):
        assert time.monotonic() < deadline, f"{watcher.waiting} of {len(threads)} wait"
        time.sleep(0.01)
    return threads


@pytest.fixture
def city(tmp_path, server):
    """Léa at school Nord, Noé at school Sud; a kiosk at each and one that serves every school,
    each synced once."""
    move(server, LEA, "nord")
    move(server, NOE, "sud")
    found = {name: new_kiosk(tmp_path, server, kiosk_id, school=school)
             for name, kiosk_id, school in (("nord", "KN", "nord"), ("sud", "KS", "sud"), ("every", "KA", None))}
    for kiosk in found.values():
        SyncAgent(kiosk.store).run_round()
    return found


def test_each_kiosk_serves_its_own_school_and_gets_only_its_money(server, city):
    credit(server, LEA, 20_00)
    credit(server, NOE, 30_00)
    reports = {name: SyncAgent(kiosk.store).run_round() for name, kiosk in city.items()}
    assert city["nord"].store.balance(LEA) == 20_00 and city["nord"].store.entries(NOE) == []
    assert city["sud"].store.balance(NOE) == 30_00 and city["sud"].store.entries(LEA) == []
    assert city["every"].store.balance(LEA) == 20_00 and city["every"].store.balance(NOE) == 30_00
    assert reports["nord"].entries_added == reports["sud"].entries_added == 1
    assert city["nord"].tap(LEA_BADGE).verdict.served
    assert city["nord"].tap(NOE_BADGE).verdict.reason is Refusal.PUPIL_INACTIVE  # another school's pupil
    assert city["sud"].tap(LEA_BADGE).verdict.reason is Refusal.PUPIL_INACTIVE
    with server.write() as conn:
        head = latest_seq(conn)
    assert {sync_state(kiosk.store).cursor for kiosk in city.values()} == {str(head)}  # all walked the whole feed


def test_a_top_up_wakes_the_waiting_pull_of_its_school_only(server, city):
    watcher = feed_wait.watcher(server.engine)
    answers: dict[str, tuple[requests.Response, float]] = {}

    def wait(name: str) -> None:
        kiosk = city[name]
        answer = pull(server, kiosk, since=sync_state(kiosk.store).cursor, wait=25)
        answers[name] = (answer, time.monotonic())

    waiting = started(watcher, [threading.Thread(target=wait, args=(name,)) for name in ("nord", "sud")])
    credit(server, NOE, 5_00)
    committed = time.monotonic()
    waiting[1].join(DEADLINE_S)
    answer, answered = answers["sud"]
    assert [(c["type"], c["record"]["account_id"]) for c in answer.json()["changes"]] == [("entry", NOE)]
    assert answered - committed < 10  # well before its 25 s wait ended
    assert "nord" not in answers and watcher.waiting == 1  # Nord's kiosk sleeps on
    with server.write() as conn:  # a change for every kiosk wakes it
        cashiers.add_cashier(conn, "marc", "Marc Python", "5678", server.clock())
    waiting[0].join(DEADLINE_S)
    answer, _ = answers["nord"]
    assert [(c["type"], c["key"]) for c in answer.json()["changes"]] == [("cashier", "marc")]


def test_a_top_up_does_not_even_end_the_other_schools_waits(server):
    """What lets one server hold a city's kiosks: a wait of another school is not woken, not
    even to look again, and ends only at its own time."""
    with server.write() as conn:  # set-up: Noé's row says Sud (no change recorded, so no wake-up)
        conn.execute(update(pupils).where(pupils.c.pupil_id == NOE).values(school="sud"))
        start = latest_seq(conn)
    watcher = feed_wait.watcher(server.engine)
    ended: dict[str, float] = {}

    def feed_end() -> int:
        with server.write() as conn:
            return latest_seq(conn)

    def wait(school: str, timeout: float) -> None:
        watcher.wait_until(feed_end, lambda end: end > start, timeout, school=school)
        ended[school] = time.monotonic()

    looks = []  # the watcher wakes every waiter once as it starts: let that pass first
    watcher.wait_until(lambda: looks.append(1), lambda _: len(looks) > 1, WATCHER_START_S)
    began = time.monotonic()
    waiting = started(watcher, [threading.Thread(target=wait, args=("nord", NORD_WAIT_S)),
                                threading.Thread(target=wait, args=("sud", DEADLINE_S))])
    credit(server, NOE, 5_00)
    for thread in waiting:
        thread.join(DEADLINE_S)
    assert ended["sud"] < ended["nord"]
    assert ended["nord"] - began >= NORD_WAIT_S  # woken, it would have seen the feed move and answered


def test_the_kiosks_page_counts_behind_only_what_a_kiosk_would_pull(server, city):
    for _ in range(3):
        credit(server, NOE, 1_00)
    with server.write() as conn:  # as the kiosks' last heartbeats, before these credits, left them
        behind = {health.kiosk_id: health.behind for health in overview(conn, server.clock())}
    assert behind == {"KN": 0, "KS": 3, "KA": 3}


def test_a_pupil_who_changes_school_arrives_whole_and_is_refused_at_the_old_one(server, city):
    credit(server, LEA, 40_00)
    SyncAgent(city["nord"].store).run_round()
    assert city["nord"].tap(LEA_BADGE).verdict.served  # a meal at Nord, pushed before the move
    SyncAgent(city["nord"].store).run_round()
    wednesday = date(2026, 12, 2)
    with server.write() as conn:
        reservations.change_for_pupil(conn, LEA, wednesday, ReservationKind.SPECIAL, server.clock(),
                                      override="moving", settings=current_settings(conn),
                                      portal_url="https://portal.example", canteen=canteen(server.app.config))
        exclusions.exclude(conn, LEA, "unpaid meals", server.clock())
    move(server, LEA, "sud")
    for kiosk in city.values():
        SyncAgent(kiosk.store).run_round()
    with server.write() as conn:
        on_server = ledger.balance(conn, LEA)
    assert on_server == 40_00 - 7_50
    at_sud = city["sud"].store.counter_facts(LEA_BADGE, wednesday)
    assert at_sud.pupil.active and at_sud.balance_cents == on_server  # her badge and whole ledger came with her
    assert (at_sud.hold, at_sud.reservation) == (HoldReason.MANAGER, ReservationKind.SPECIAL)
    assert city["nord"].tap(LEA_BADGE).verdict.reason is Refusal.PUPIL_INACTIVE
    with server.write() as conn:
        exclusions.lift(conn, LEA, server.clock())
    SyncAgent(city["sud"].store).run_round()
    assert city["sud"].tap(LEA_BADGE).verdict.reason is Refusal.ALREADY_SERVED  # today's meal, eaten at Nord


def test_a_kiosk_keeps_the_school_it_synced_for(server, city):
    with server.write() as conn:
        with pytest.raises(kiosks.EnrollmentError, match="has synced for school nord"):
            kiosks.issue_code(conn, "KN", server.clock(), "sud")
        assert kiosks.issue_code(conn, "KN", server.clock(), "nord")  # a new machine for the same kiosk
        kiosks.issue_code(conn, "K-new", server.clock(), "sud")
        assert kiosks.issue_code(conn, "K-new", server.clock(), "nord")  # never synced: still free to change

