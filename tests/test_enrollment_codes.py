"""A kiosk enrollment code lives 24 hours on the server's clock, is used once, and is for one kiosk."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.store import Store
from kiosk.sync_agent import SyncAgent, SyncError
from sync_server.sync import kiosks


def _fresh_kiosk(folder, kiosk_id: str = "K1") -> SyncAgent:
    store = Store.open(folder / kiosk_id, create=True)
    store.initialize(kiosk_id)
    return SyncAgent(store)


def _issue(server, kiosk_id: str = "K1") -> str:
    with server.write() as conn:
        return kiosks.issue_code(conn, kiosk_id, server.clock())


def test_a_code_used_just_before_its_24_hours_are_up_enrolls_the_kiosk(tmp_path, server):
    code = _issue(server)
    server.clock.now += timedelta(hours=24) - timedelta(seconds=1)
    _fresh_kiosk(tmp_path).enroll(server.url, code)
    assert SyncAgent(Store.open(tmp_path / "K1")).run_round().pulled > 0


def test_a_code_used_after_24_hours_is_refused_and_a_new_one_works(tmp_path, server):
    code = _issue(server)
    server.clock.now += timedelta(hours=24, seconds=1)
    agent = _fresh_kiosk(tmp_path)
    with pytest.raises(SyncError, match="unknown, used or expired"):
        agent.enroll(server.url, code)
    agent.enroll(server.url, _issue(server))


def test_a_code_enrolls_once(tmp_path, server):
    code = _issue(server)
    _fresh_kiosk(tmp_path / "first").enroll(server.url, code)
    with pytest.raises(SyncError, match="unknown, used or expired"):
        _fresh_kiosk(tmp_path / "second").enroll(server.url, code)


def test_a_code_made_before_its_kiosk_was_revoked_no_longer_enrolls_it_and_a_new_one_does(tmp_path, server):
    code = _issue(server, "K7")
    with server.write() as conn:
        assert kiosks.revoke(conn, "K7", server.clock()) is not None
    agent = _fresh_kiosk(tmp_path, "K7")
    with pytest.raises(SyncError, match="unknown, used or expired"):
        agent.enroll(server.url, code)
    agent.enroll(server.url, _issue(server, "K7"))  # the manager's choice, made after the revocation
    assert agent.run_round().pulled > 0
