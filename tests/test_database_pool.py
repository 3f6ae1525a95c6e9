"""A rush that takes every database connection: requests wait briefly for one, then get an honest
503 (a problem for kiosks, a page for people) instead of a 500 after half a minute, and the server
answers again as soon as a connection comes free."""

from __future__ import annotations

import logging
import time

import pytest
import requests

from domain.sync import SyncErrorCode
from kiosk.sync_agent import SyncAgent, SyncError
from sync_server.sync import kiosks

from .live_server import Clock, new_kiosk, start_server
from .portal_client import School, text_of

POOL_TIMEOUT_S = 1
QUICK_S = 10  # far below SQLAlchemy's former 30 s wait, and generous for a loaded machine


@pytest.fixture
def database() -> str:
    return "postgresql"  # SQLite keeps SQLAlchemy's own pool


@pytest.fixture
def school(school_database, tmp_path):
    """The test school on a server whose pool holds one connection, waited for one second."""
    clock = Clock()
    live = start_server(school_database.url, tmp_path / "instance", clock=clock, migrate=False,
                        DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=POOL_TIMEOUT_S)
    yield School(live, clock, dict(school_database.letters), school_database.manager_password)
    live.stop()


def pull(school: School, token: str) -> requests.Response:
    return requests.get(f"{school.live.url}/api/v1/sync/pull", params={"since": "0"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)


def timed(call):
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_with_every_connection_taken_kiosks_and_parents_get_a_quick_503_then_200_once_one_is_free(
        school, tmp_path, caplog):
    with school.live.write() as conn:
        code = kiosks.issue_code(conn, "K9", school.clock())
    token = requests.post(f"{school.live.url}/api/v1/kiosks/enroll", json={"code": code, "kiosk_id": "K9"},
                          timeout=60).json()["token"]
    kiosk = new_kiosk(tmp_path / "kiosks", school.live)
    parent, manager = school.logged_in("F01"), school.manager()
    assert pull(school, token).status_code == 200 and parent.get("/").status_code == 200

    held = school.live.engine.connect()  # the pool's only connection
    with caplog.at_level(logging.WARNING):
        busy, kiosk_waited = timed(lambda: pull(school, token))
        page, parent_waited = timed(lambda: parent.get("/"))
        office = manager.get("/manage/")
        ready = requests.get(f"{school.live.url}/readyz", timeout=60)
        with pytest.raises(SyncError) as failed:
            SyncAgent(kiosk.store).run_round()
    held.close()

    assert busy.status_code == 503 and kiosk_waited < QUICK_S
    assert busy.headers["Content-Type"] == "application/problem+json"
    assert busy.headers["Retry-After"].isdigit()
    assert busy.json()["status"] == 503 and "busy" in busy.json()["detail"]
    assert page.status_code == 503 and parent_waited < QUICK_S and page.headers["Retry-After"].isdigit()
    assert "Le serveur est très sollicité" in text_of(page)
    assert office.status_code == 503 and "Serveur très sollicité" in text_of(office)
    assert failed.value.reason is SyncErrorCode.SERVER_ERROR  # retried with backoff, not taken as a refusal
    assert ready.status_code == 503 and ready.json()["problem"] == "database_busy"  # not "unreachable"
    assert ready.headers["Retry-After"].isdigit()
    warned = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warned) == 5 and all(record.exc_info is None for record in warned)
    assert any("not ready: database_busy" in record.getMessage() for record in warned)
    assert "answered 503" in warned[0].getMessage() and "Checked out connections: 1" in warned[0].getMessage()

    assert pull(school, token).status_code == 200
    assert parent.get("/").status_code == 200 and manager.get("/manage/").status_code == 200
    assert requests.get(f"{school.live.url}/readyz", timeout=60).status_code == 200
    SyncAgent(kiosk.store).run_round()

