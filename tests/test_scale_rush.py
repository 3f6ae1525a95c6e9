"""The morning rush in small, on two app servers behind nginx on PostgreSQL: parents log in and
reserve while kiosks push their meals and pull; every reservation reaches every kiosk once, every
kiosk entry is on the server once. And the login throttle counts across the app servers, and lets
parents in when its store dies (the last test here: the shared city's Redis stays dead)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from .scale_city import RESERVED_DAYS, RUSH_FAMILIES, FeedReader, on_server, pupil_id

KIOSKS = ("K1", "K2", "K3")
RUSH_PARENTS = RUSH_FAMILIES[:24]
THROTTLED = RUSH_FAMILIES[24:26]  # an account, then an address, that wrong passwords lock out
STORE_DIES = RUSH_FAMILIES[26]  # logs in with the throttle's store dead
ROUNDS = 2
MEALS_PER_ROUND = 50


def days_of(n: int) -> tuple:
    return RESERVED_DAYS[n % 4], RESERVED_DAYS[(n + 1) % 4]


def test_every_reservation_of_a_rush_reaches_every_kiosk_once_and_every_kiosk_entry_is_booked_once(city):
    kiosks = [city.kiosk(kiosk_id) for kiosk_id in KIOSKS]
    feeds = [FeedReader(city, kiosk) for kiosk in kiosks]
    booked = {(pupil_id(n), day.isoformat(), "normal") for n in RUSH_PARENTS for day in days_of(n)}
    pupils = {pupil_id(n) for n in RUSH_FAMILIES}
    rushing = threading.Event()

    def parent(n: int) -> list[int]:
        browser = city.parent(n)
        rushing.wait()
        statuses = [browser.log_in(city.stack.url).status_code, browser.get(f"{city.stack.url}/").status_code]
        for day in days_of(n):
            statuses.append(browser.reserve(city.stack.url, day).status_code)
        return statuses + browser.cut

    def kiosk(n: int) -> None:
        rushing.wait()
        for _round in range(ROUNDS):
            kiosks[n].serve(RUSH_FAMILIES, MEALS_PER_ROUND)
            kiosks[n].sync()
            feeds[n].drain()

    with ThreadPoolExecutor(8 + len(KIOSKS)) as pool:
        working = [pool.submit(kiosk, n) for n in range(len(KIOSKS))]
        parents = pool.map(parent, RUSH_PARENTS)
        rushing.set()
        assert all(statuses == [302, 200, 302, 302] for statuses in parents)
        for done in working:
            done.result()
    for n in range(len(KIOSKS)):
        kiosks[n].sync()
        feeds[n].drain()

    reserved, sent = on_server(city, pupils, kiosks)
    assert reserved == booked
    made = sorted(entry for each in kiosks for entry in each.made)
    assert sorted(sent) == made
    expected_keys = sorted(f"{pupil}/{day}" for pupil, day, _kind in booked)
    for each, feed in zip(kiosks, feeds, strict=True):
        assert each.reservations(pupils) == booked
        assert feed.keys("reservation", lambda key: key.split("/")[0] in pupils) == expected_keys
        assert feed.keys("entry", set(made).__contains__) == made
        assert len({change["seq"] for change in feed.seen}) == len(feed.seen)
    assert [each.failed_rounds for each in kiosks] == [0] * len(KIOSKS) and all(feed.cut == [] for feed in feeds)


def test_the_login_throttle_counts_across_app_servers_per_account_and_per_address(city):
    first, second = (server.url for server in city.stack.app_servers)
    account, address = THROTTLED
    for n in range(5):  # wrong passwords for one account, each from another address
        assert city.parent(account, address=f"127.0.3.{n + 1}").log_in(first, "wrong").status_code == 401
    refused = city.parent(account, address="127.0.3.9").log_in(second)
    assert refused.status_code == 429 and "Trop de tentatives" in refused.text

    for n in range(5):  # five different logins from one address
        assert city.parent(address, address="127.0.4.1").log_in(first, "wrong", login=f"guess{n}").status_code == 401
    refused = city.parent(address, address="127.0.4.1").log_in(second)
    assert refused.status_code == 429 and "Trop de tentatives" in refused.text


def test_logins_go_on_when_the_throttles_store_stops_answering(city):
    city.stack.redis.kill()
    city.stack.redis.wait()
    browser = city.parent(STORE_DIES)
    assert browser.log_in(city.stack.url, "wrong").status_code == 401
    assert browser.log_in(city.stack.url).status_code == 302
    assert browser.get(f"{city.stack.url}/").status_code == 200
