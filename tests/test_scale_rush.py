"""The morning rush in small, on two app servers behind nginx on PostgreSQL: parents log in and
reserve while kiosks push their meals and pull; every reservation reaches every kiosk once, every
kiosk entry is on the server once. And the login throttle counts across the app servers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from sync_server.db import reading
from sync_server.sync import ledger
from sync_server.tables import entries, reservations

from .scale_city import RESERVED_DAYS, FeedReader, city_on_postgres

KIOSKS = 3
RUSH_PARENTS = 24
FAMILIES = RUSH_PARENTS + 2  # two more for the throttle
ROUNDS = 2
MEALS_PER_ROUND = 50


@pytest.fixture(scope="module")
def town(postgres, server_templates, tmp_path_factory):
    with city_on_postgres("rush", FAMILIES, postgres, server_templates, tmp_path_factory) as made:
        yield made


def test_every_reservation_of_a_rush_reaches_every_kiosk_once_and_every_kiosk_entry_is_booked_once(town):
    kiosks = [town.kiosk(f"K{n + 1}") for n in range(KIOSKS)]
    feeds = [FeedReader(town, kiosk) for kiosk in kiosks]
    booked = {(pupil, day.isoformat(), "normal") for n in range(RUSH_PARENTS)
              for pupil, day in [(f"P{n:03d}", RESERVED_DAYS[n % 4]), (f"P{n:03d}", RESERVED_DAYS[(n + 1) % 4])]}
    rushing = threading.Event()

    def parent(n: int) -> list[int]:
        browser = town.parent(n)
        rushing.wait()
        statuses = [browser.log_in(town.stack.url).status_code, browser.get(f"{town.stack.url}/").status_code]
        for day in (RESERVED_DAYS[n % 4], RESERVED_DAYS[(n + 1) % 4]):
            statuses.append(browser.reserve(town.stack.url, day).status_code)
        return statuses + browser.cut

    def kiosk(n: int) -> None:
        rushing.wait()
        for _round in range(ROUNDS):
            kiosks[n].serve(FAMILIES, MEALS_PER_ROUND)
            kiosks[n].sync()
            feeds[n].drain()

    with ThreadPoolExecutor(8 + KIOSKS) as pool:
        working = [pool.submit(kiosk, n) for n in range(KIOSKS)]
        parents = pool.map(parent, range(RUSH_PARENTS))
        rushing.set()
        assert all(statuses == [302, 200, 302, 302] for statuses in parents)
        for done in working:
            done.result()
    for n in range(KIOSKS):
        kiosks[n].sync()
        feeds[n].drain()

    with reading(town.engine) as conn:
        on_server = set(conn.execute(select(reservations.c.pupil_id, reservations.c.service_date,
                                            reservations.c.kind)).all())
        kiosk_entries = conn.execute(select(entries.c.id).where(entries.c.origin.like("K%"))).scalars().all()
        assert ledger.verify_balances(conn) == []
    assert on_server == booked
    made = [entry for each in kiosks for entry in each.made]
    assert sorted(kiosk_entries) == sorted(made)
    expected_keys = sorted(f"{pupil}/{day}" for pupil, day, _kind in booked)
    for each, feed in zip(kiosks, feeds, strict=True):
        assert each.reservations() == booked
        assert sorted(feed.keys("reservation")) == expected_keys
        assert sorted(feed.keys("entry")) == sorted(made)
        assert len({change["seq"] for change in feed.seen}) == len(feed.seen)
    assert [each.failed_rounds for each in kiosks] == [0] * KIOSKS and all(feed.cut == [] for feed in feeds)


def test_the_login_throttle_counts_across_app_servers_per_account_and_per_address(town):
    first, second = (server.url for server in town.stack.app_servers)
    target = RUSH_PARENTS  # a family nobody else logs in as
    for n in range(5):  # wrong passwords for one account, each from another address
        assert town.parent(target, address=f"127.0.3.{n + 1}").log_in(first, "wrong").status_code == 401
    refused = town.parent(target, address="127.0.3.9").log_in(second)
    assert refused.status_code == 429 and "Trop de tentatives" in refused.text

    for n in range(5):  # five different logins from one address
        assert town.parent(target + 1, address="127.0.4.1").log_in(first, "wrong", login=f"guess{n}").status_code == 401
    refused = town.parent(target + 1, address="127.0.4.1").log_in(second)
    assert refused.status_code == 429 and "Trop de tentatives" in refused.text
