"""An app server killed under load (SIGKILL to its master and workers, as a crash): the other goes
on serving the same sessions, what the clients retried is booked once, and nothing is lost. And a
throttle store that dies does not stop logins."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from sync_server.db import reading
from sync_server.sync import ledger
from sync_server.tables import entries, reservations

from .scale_city import RESERVED_DAYS, FeedReader, city_on_postgres

KIOSKS = 3
PARENTS = 10
FAMILIES = PARENTS + 1  # one more for the dead throttle store
ROUNDS = 3
MEALS_PER_ROUND = 50
KILL_DEADLINE_S = 60


@pytest.fixture(scope="module")
def town(postgres, server_templates, tmp_path_factory):
    with city_on_postgres("failover", FAMILIES, postgres, server_templates, tmp_path_factory) as made:
        yield made


def test_an_app_server_killed_under_load_loses_nothing_and_books_nothing_twice(town):
    doomed, survivor = town.stack.app_servers
    kiosks = [town.kiosk(f"K{n + 1}") for n in range(KIOSKS)]
    parents = [town.parent(n) for n in range(PARENTS)]
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
            each.serve(FAMILIES, MEALS_PER_ROUND)
            each.sync()
            done.append(each)

    with ThreadPoolExecutor(PARENTS + KIOSKS) as pool:
        working = [pool.submit(kiosk, each) for each in kiosks]
        reserving = pool.map(parent, parents)
        started.set()
        deadline = time.monotonic() + KILL_DEADLINE_S
        while len(done) < (PARENTS * len(RESERVED_DAYS) + KIOSKS * ROUNDS) // 3:  # a third of the work done
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
    with reading(town.engine) as conn:
        on_server = set(conn.execute(select(reservations.c.pupil_id, reservations.c.service_date,
                                            reservations.c.kind)).all())
        kiosk_entries = conn.execute(select(entries.c.id).where(entries.c.origin.like("K%"))).scalars().all()
        assert ledger.verify_balances(conn) == []
    assert on_server == booked
    made = [entry for each in kiosks for entry in each.made]
    assert sorted(kiosk_entries) == sorted(made)
    for each, feed in zip(kiosks, feeds, strict=True):
        assert each.reservations() == booked
        assert sorted(feed.keys("reservation")) == sorted(f"{pupil}/{day}" for pupil, day, _kind in booked)
        assert sorted(feed.keys("entry")) == sorted(made)
    # What the clients retried: nginx's 502 for a request the dying server had taken, nothing else.
    assert {status for browser in parents for status in browser.cut} <= {502}


def test_logins_go_on_when_the_throttles_store_stops_answering(town):
    town.stack.redis.kill()
    town.stack.redis.wait()
    browser = town.parent(FAMILIES - 1)
    assert browser.log_in(town.stack.url, "wrong").status_code == 401
    assert browser.log_in(town.stack.url).status_code == 302
    assert browser.get(f"{town.stack.url}/").status_code == 200
