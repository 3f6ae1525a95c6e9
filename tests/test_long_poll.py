"""Long-poll pulls: a kiosk's pull that waits answers as soon as a change commits, or empty after its
wait, holding no database connection meanwhile; a running kiosk hears of a credit within seconds
while its rounds are an hour apart, backs off quietly when the server is gone, and stops at once."""

from __future__ import annotations

import logging
import statistics
import threading
import time

import pytest
import requests

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from kiosk.store import Store
from kiosk.sync_scheduler import SyncScheduler
from kiosk.sync_store import sync_state
from sync_server.admin import canteen_settings
from sync_server.sync import feed_wait, kiosks, ledger
from sync_server.sync.changes import latest_seq

from .fault_proxy import FaultProxy
from .live_server import new_kiosk

DEADLINE_S = 30.0


def until(condition, what: str, deadline_s: float = DEADLINE_S):
    """Wait for `condition()` to be true (returns it), failing after a generous deadline."""
    deadline = time.monotonic() + deadline_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {deadline_s} s"
        time.sleep(0.01)
    return found


def credit(server, pupil_id: str = "P001", cents: int = 20_00) -> None:
    """An online top-up booked on the server, as the payment webhook books it."""
    now = server.clock()
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), pupil_id, cents, EntryKind.ONLINE_TOPUP, now, "server",
                                        reference=f"T{new_entry_id()[-12:]}"), now)


def token_of(kiosk) -> str:
    return sync_state(kiosk.store).token


def pull(server, token: str, **params) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/sync/pull", params=params,
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)


def feed_end(server) -> int:
    with server.write() as conn:
        return latest_seq(conn)


@pytest.mark.on_each_database
def test_a_waiting_pull_answers_within_a_second_of_a_change_committed_elsewhere(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    watcher = feed_wait.watcher(server.engine)
    for pause in (0, 1):  # then again after a pause, when the watcher has had nobody waiting for a while
        time.sleep(pause)
        since = feed_end(server)
        answers = []
        waiting = threading.Thread(target=lambda since=since, answers=answers: answers.append(
            (pull(server, token, since=since, wait=20), time.monotonic())))
        waiting.start()
        until(lambda: watcher.waiting == 1, "the pull waits")
        # a waiting pull holds no database connection (the kiosk's enrollment may still be giving its back)
        until(lambda: server.engine.pool.checkedout() == 0, "no connection checked out while the pull waits")
        credit(server)
        committed = time.monotonic()
        waiting.join(DEADLINE_S)
        (answer, answered), = answers
        body = answer.json()
        assert answer.status_code == 200
        assert [(c["type"], c["record"]["amount_cents"]) for c in body["changes"]] == [("entry", 20_00)]
        assert int(body["next"]) > since and body["more"] is False
        assert answered - committed < 1.0


def test_a_kiosk_revoked_while_its_pull_waits_gets_nothing_that_came_after(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    since, answers = feed_end(server), []
    waiting = threading.Thread(target=lambda: answers.append(pull(server, token, since=since, wait=20)))
    waiting.start()
    until(lambda: feed_wait.watcher(server.engine).waiting == 1, "the pull waits")
    with server.write() as conn:
        kiosks.revoke(conn, "K1", server.clock())
    credit(server)
    waiting.join(DEADLINE_S)
    (answer,) = answers
    assert answer.status_code == 401 and "entry" not in answer.text


@pytest.mark.on_each_database
def test_a_waiting_pull_with_nothing_new_answers_empty_after_its_wait(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    since = feed_end(server)
    started = time.monotonic()
    answer = pull(server, token, since=since, wait=1)
    took = time.monotonic() - started
    assert answer.status_code == 200
    assert answer.json()["changes"] == [] and answer.json()["next"] == str(since)
    assert 1.0 <= took < 10


@pytest.mark.on_each_database
def test_a_calm_change_such_as_a_new_price_comes_at_the_end_of_the_wait_without_waking_it(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    since = feed_end(server)
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(pull(server, token, since=since, wait=1)))
    started = time.monotonic()
    waiting.start()
    until(lambda: feed_wait.watcher(server.engine).waiting == 1, "the pull waits")
    with server.write() as conn:
        canteen_settings.set_setting(conn, "price.primary", "8.00", server.clock())
    waiting.join(DEADLINE_S)
    assert time.monotonic() - started >= 1.0  # a reservation, a menu or a price does not wake every kiosk
    (answer,) = answers
    assert [(c["type"], c["key"]) for c in answer.json()["changes"]] == [("setting", "price.primary")]


def test_a_pull_with_something_new_answers_at_once_whatever_its_wait(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    started = time.monotonic()
    answer = pull(server, token, since=0, limit=5, wait=30)
    assert answer.status_code == 200 and len(answer.json()["changes"]) == 5 and answer.json()["more"] is True
    assert time.monotonic() - started < 10


def test_a_wait_outside_0_to_30_seconds_is_refused(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    for wait in ("31", "-1", "1.5", "abc", ""):
        answer = pull(server, token, since=0, wait=wait)
        assert (answer.status_code, answer.json()["title"]) == (422, "Bad wait"), wait


def test_many_waiting_pulls_hold_no_database_connection_and_all_hear_one_change(tmp_path, server):
    token = token_of(new_kiosk(tmp_path, server))
    since = feed_end(server)
    answers = []
    waits = [threading.Thread(target=lambda: answers.append(pull(server, token, since=since, wait=20)))
             for _ in range(30)]
    for thread in waits:
        thread.start()
    watcher = feed_wait.watcher(server.engine)
    until(lambda: watcher.waiting == 30, "30 pulls wait")
    assert server.engine.pool.checkedout() == 0
    credit(server)
    for thread in waits:
        thread.join(DEADLINE_S)
    assert sorted(len(a.json()["changes"]) for a in answers) == [1] * 30


# -- a running kiosk ---------------------------------------------------------------------------


@pytest.fixture
def running_kiosk(tmp_path, server):
    """An enrolled kiosk whose scheduler runs a round every hour and long-polls between them."""
    kiosk = new_kiosk(tmp_path, server)
    rounds = threading.Semaphore(0)
    scheduler = SyncScheduler(kiosk.store.path.parent, interval=3600, jitter=0, long_poll_spacing=0.1,
                              on_round=lambda _outcome: rounds.release())
    scheduler.start()
    assert rounds.acquire(timeout=DEADLINE_S), "the first round did not end"
    yield kiosk, scheduler
    scheduler.stop()


def test_a_credit_booked_on_the_server_reaches_a_running_kiosk_within_seconds(server, running_kiosk):
    kiosk, _scheduler = running_kiosk
    watcher = feed_wait.watcher(server.engine)
    took = []
    for n in range(1, 6):
        until(lambda: watcher.waiting == 1, "the kiosk's long-poll waits on the server")
        credit(server, cents=10_00)
        booked = time.monotonic()
        until(lambda n=n: kiosk.store.balance("P001") == n * 10_00, "the credit reaches the kiosk")
        took.append(time.monotonic() - booked)
    print(f"\ncredit to kiosk: median {statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms"
          " (rounds an hour apart)")
    assert max(took) < 5


def test_with_the_server_gone_the_kiosk_backs_off_quietly_and_stops_at_once(tmp_path, server, caplog):
    kiosk = new_kiosk(tmp_path, server)
    data = kiosk.store.path.parent
    scheduler = SyncScheduler(data, interval=3600, jitter=0, long_poll_retry=0.2)
    caplog.set_level(logging.DEBUG, logger="kiosk.sync_scheduler")
    scheduler.start()
    watcher = feed_wait.watcher(server.engine)
    until(lambda: watcher.waiting == 1, "the kiosk's long-poll waits on the server")
    server.stop()  # the waiting pull is answered, then every new one is refused
    until(lambda: scheduler.long_poll_failures >= 1, "the long-poll fails")
    first = time.monotonic()
    until(lambda: scheduler.long_poll_failures >= 4, "four failed long-polls")
    assert time.monotonic() - first >= 0.2 + 0.4 + 0.8 - 0.05  # each retry waits twice as long as the last
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "long-poll" in r.getMessage()]
    assert len(warnings) == 1  # one line when it stops working, not one per try

    with Store.open(data) as store:  # the kiosk still serves, from its own ledger
        assert store.balance("P001") == 0

    stopping = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - stopping < 2
    assert not scheduler._poll_thread.is_alive()


def test_stop_ends_a_long_poll_waiting_on_the_server_at_once(server, running_kiosk):
    _kiosk, scheduler = running_kiosk
    until(lambda: feed_wait.watcher(server.engine).waiting == 1, "the kiosk's long-poll waits on the server")
    stopping = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - stopping < 2
    assert not scheduler._poll_thread.is_alive()


def test_a_long_poll_that_lost_the_server_comes_back_by_itself(tmp_path, server):
    with FaultProxy("127.0.0.1", server.port) as proxy:
        kiosk = new_kiosk(tmp_path, server, url=proxy.url)
        scheduler = SyncScheduler(kiosk.store.path.parent, interval=3600, jitter=0, long_poll_retry=0.2,
                                  long_poll_spacing=0.1)
        scheduler.start()
        try:
            watcher = feed_wait.watcher(server.engine)
            until(lambda: watcher.waiting == 1, "the kiosk's long-poll waits on the server")
            proxy.refuse()  # the pull already waiting still answers; the next ones are refused
            credit(server)
            until(lambda: scheduler.long_poll_failures >= 1, "the long-poll fails")
            proxy.accept_again()
            until(lambda: watcher.waiting == 1, "the long-poll waits on the server again")
            credit(server)
            booked = time.monotonic()
            until(lambda: kiosk.store.balance("P001") == 2 * 20_00, "the second credit reaches the kiosk")
            assert time.monotonic() - booked < 5
            assert scheduler.long_poll_failures == 0
        finally:
            scheduler.stop()
