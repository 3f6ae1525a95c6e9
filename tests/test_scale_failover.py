"""An app server killed under load (SIGKILL to its master and workers, as a crash): the other goes
on serving the same sessions, what the clients retried is booked once, and nothing is lost."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .scale_city import FAILOVER_FAMILIES, RESERVED_DAYS, FeedReader, on_server, pupil_id

KIOSKS = ("K4", "K5", "K6")
ROUNDS = 3
MEALS_PER_ROUND = 50
KILL_DEADLINE_S = 60


@pytest.fixture
def town(city):
    """The shared city; the app server the test kills is started again after it."""
    yield city
    for server in city.stack.app_servers:
        if not server.running:
            city.stack.restart(server)


def test_an_app_server_killed_under_load_loses_nothing_and_books_nothing_twice(town):
    doomed, survivor = town.stack.app_servers
    kiosks = [town.kiosk(kiosk_id) for kiosk_id in KIOSKS]
    parents = [town.parent(n) for n in FAILOVER_FAMILIES]
    pupils = {pupil_id(n) for n in FAILOVER_FAMILIES}
    for browser in parents:  # every session made on the server about to die
        assert browser.log_in(doomed.url).status_code == 302
    booked = {(browser.child, day.isoformat(), "normal") for browser in parents for day in RESERVED_DAYS}
    done, started = [], threading.Event()

    def parent(browser) -> list[int]:
        started.wait()
        statuses = []
        for day in RESERVED_DAYS:
            statuses.append(browser.reserve(town.stack.url, day).status_code)
            done.append(day)
        return statuses

    def kiosk(each) -> None:
        started.wait()
        for _round in range(ROUNDS):
            each.serve(FAILOVER_FAMILIES, MEALS_PER_ROUND)
            each.sync()
            done.append(each)

    with ThreadPoolExecutor(len(parents) + len(kiosks)) as pool:
        working = [pool.submit(kiosk, each) for each in kiosks]
        reserving = pool.map(parent, parents)
        started.set()
        deadline = time.monotonic() + KILL_DEADLINE_S
        while len(done) < (len(parents) * len(RESERVED_DAYS) + len(kiosks) * ROUNDS) // 3:  # a third of the work done
            assert time.monotonic() < deadline, "the load did not get going"
            time.sleep(0.01)
        doomed.kill()
        assert all(statuses == [302] * len(RESERVED_DAYS) for statuses in reserving)
        for each in working:
            each.result()
    assert not doomed.running and survivor.running

    for browser in parents:  # the sessions the dead server made, read by the other
        assert browser.get(f"{town.stack.url}/").status_code == 200
        assert browser.get(f"{survivor.url}/").status_code == 200
    feeds = [FeedReader(town, each) for each in kiosks]
    for each, feed in zip(kiosks, feeds, strict=True):
        each.sync()
        feed.drain()
    reserved, sent = on_server(town, pupils, kiosks)
    assert reserved == booked
    made = sorted(entry for each in kiosks for entry in each.made)
    assert sorted(sent) == made
    for each, feed in zip(kiosks, feeds, strict=True):
        assert each.reservations(pupils) == booked
        assert feed.keys("reservation", lambda key: key.split("/")[0] in pupils) == sorted(
            f"{pupil}/{day}" for pupil, day, _kind in booked)
        assert feed.keys("entry", set(made).__contains__) == made
    # What the clients retried: nginx's 502 for a request the dying server had taken, nothing else.
    assert {status for browser in parents for status in browser.cut} <= {502}
