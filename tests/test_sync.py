"""Kiosk and server over real HTTP: enrollment, bootstrap, push and pull, server-made credits."""

from __future__ import annotations

import json

import pytest

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.sync import Change, ChangeType
from kiosk import sync_store
from kiosk.service import AuthError
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent, SyncError
from kiosk.sync_store import sync_state
from sync_server.admin import cashiers
from sync_server.admin.errors import AdminError
from sync_server.sync import kiosks, ledger

from .conftest import MONDAY_NOON
from .live_server import new_kiosk

pytestmark = pytest.mark.on_each_database


def test_a_fresh_kiosk_pulls_pupils_badges_prices_and_cashiers_then_serves(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    report = SyncAgent(kiosk.store).run_round()
    assert report.pulled >= 4 + 4 + 1 + 1  # pupils, badges, the cashier, the price
    assert kiosk.pupil_for(uid="04A1B2C3").first_name == "Léa"
    assert kiosk.store.settings().prices_cents["primary"] == 7_50
    cashier = kiosk.login("anne", "1234")  # the PIN hash came from the server
    kiosk.cash_topup(cashier, "P001", 20_00)
    assert kiosk.tap("04A1B2C3").verdict.balance_cents == 12_50


def test_a_cashier_badge_set_on_the_server_opens_cashier_mode_at_the_kiosk(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    with server.write() as conn:
        cashiers.add_cashier(conn, "marc", "Marc Python", "5678", MONDAY_NOON, badge="04:de:ad:00")
    SyncAgent(kiosk.store).run_round()
    assert kiosk.login_with_badge("04DEAD00").name == "Marc Python"
    with server.write() as conn:
        cashiers.add_cashier(conn, "marc", "Marc Python", "5678", MONDAY_NOON)  # the badge was lost
    SyncAgent(kiosk.store).run_round()
    with pytest.raises(AuthError):
        kiosk.login_with_badge("04DEAD00")


@pytest.mark.parametrize("uid, says", [("04A1B2C3", "belongs to a pupil"), ("04DEAD00", "already cashier marc")])
def test_the_server_refuses_a_cashier_badge_already_in_use(server, uid, says):
    with server.write() as conn:
        cashiers.add_cashier(conn, "marc", "Marc Python", "5678", MONDAY_NOON, badge="04DEAD00")
    with pytest.raises(AdminError) as refused, server.write() as conn:
        cashiers.add_cashier(conn, "anne", "Anne Roch", "1234", MONDAY_NOON, badge=uid)
    assert says in str(refused.value)


def test_what_a_kiosk_made_reaches_the_server_once_and_the_balances_agree(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    agent = SyncAgent(kiosk.store)
    agent.run_round()
    cashier = kiosk.login("anne", "1234")
    kiosk.cash_topup(cashier, "P001", 20_00)
    kiosk.tap("04A1B2C3")
    first = agent.run_round()
    assert (first.pushed, first.accepted, first.entries_added) == (2, 2, 0)  # its own entries come back: no-op
    assert server.balance("P001") == kiosk.store.balance("P001") == 12_50
    again = agent.run_round()
    assert (again.pushed, again.pulled) == (0, 0)
    assert kiosk.store.pending_push() == 0 and kiosk.store.verify_balances() == []


def test_a_credit_made_on_the_server_reaches_every_kiosk(tmp_path, server):
    first, second = new_kiosk(tmp_path, server, "K1"), new_kiosk(tmp_path, server, "K2")
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), "P002", 50_00, EntryKind.ONLINE_TOPUP,
                                        MONDAY_NOON, "server", reference="pay-123"), MONDAY_NOON)
    for kiosk in (first, second):
        SyncAgent(kiosk.store).run_round()
        assert kiosk.store.balance("P002") == 50_00
    second.tap("04112233445566")  # Noé eats at kiosk K2
    SyncAgent(second.store).run_round()
    SyncAgent(first.store).run_round()
    assert first.store.balance("P002") == second.store.balance("P002") == server.balance("P002") == 41_50


def test_an_entry_for_a_pupil_the_server_does_not_know_is_quarantined_and_the_outbox_moves_on(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    SyncAgent(kiosk.store).run_round()
    with kiosk.store.transaction():  # a pupil created on this kiosk only (local roster import)
        from domain.meals import Pupil

        kiosk.store.upsert_pupil(Pupil("LOCAL1", "Ana", "Local", "1A", "primary"))
    kiosk.cash_topup(kiosk.login("anne", "1234"), "LOCAL1", 10_00)
    report = SyncAgent(kiosk.store).run_round()
    assert report.rejected == [{"id": report.rejected[0]["id"], "reason": "unknown pupil LOCAL1"}]
    assert kiosk.store.pending_push() == 0  # answered, so not sent again
    with server.write() as conn:
        from sync_server.tables import quarantine

        rows = conn.execute(quarantine.select()).all()
    assert [(r.kiosk_id, r.reason) for r in rows] == [("K1", "unknown pupil LOCAL1")]


def test_an_enrollment_code_works_once_and_only_for_its_kiosk(tmp_path, server):
    with server.write() as conn:
        code = kiosks.issue_code(conn, "K7", server.clock())
    stranger = Store.open(tmp_path / "K8", create=True)
    stranger.initialize("K8")
    with pytest.raises(SyncError, match="403"):
        SyncAgent(stranger).enroll(server.url, code)
    own = Store.open(tmp_path / "K7", create=True)
    own.initialize("K7")
    SyncAgent(own).enroll(server.url, code.lower())  # typed in lower case: still the code
    again = Store.open(tmp_path / "K7b", create=True)
    again.initialize("K7")
    with pytest.raises(SyncError, match="403"):
        SyncAgent(again).enroll(server.url, code)
    assert sync_state(own).token and not sync_state(again).token


def test_an_unreachable_server_fails_the_round_and_leaves_the_outbox_for_the_next(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    SyncAgent(kiosk.store).run_round()
    kiosk.cash_topup(kiosk.login("anne", "1234"), "P001", 20_00)
    server.stop()
    with pytest.raises(SyncError, match="unreachable"):
        SyncAgent(kiosk.store).run_round()
    state = sync_state(kiosk.store)
    assert kiosk.store.pending_push() == 1 and "unreachable" in state.last_error
    assert state.last_attempt_at >= state.last_sync_at


def test_a_revoked_kiosk_is_refused_and_says_so(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server)
    with server.write() as conn:
        kiosks.revoke(conn, "K1", MONDAY_NOON)
    with pytest.raises(SyncError, match="401"):
        SyncAgent(kiosk.store).run_round()


def test_the_outbox_sends_each_entry_exactly_as_its_sync_record(service, cashier):
    done = service.cash_topup(cashier, "P001", 20_00)
    meal = service.tap("04A1B2C3").entry
    assert [json.loads(text) for _seq, _id, text in service.store.outbox(10)] == [done.entry.to_record(),
                                                                              meal.to_record()]



def test_a_pair_of_settings_saved_together_but_pulled_apart_never_stops_the_counter(store, service, cashier):
    """The manager saves the service's start and end at once; a pull may bring them in two pages
    (or two write chunks). In between, the kiosk serves on the hours it had; then on the new ones."""
    service.cash_topup(cashier, "P001", 30_00)
    old = store.settings()
    start, end = (Change(seq, ChangeType.SETTING, key, {"key": key, "value": value})
                  for seq, key, value in ((41, "service.start", "14:30"), (42, "service.end", "16:00")))
    sync_store.apply_page(store, [start], "41", MONDAY_NOON)  # 14:30 is after the stored end
    assert (store.settings().service_start, store.settings().service_end) == (old.service_start, old.service_end)
    assert service.tap("04A1B2C3", now=MONDAY_NOON).verdict.served  # 12:00 in Zurich: within the hours it had
    sync_store.apply_page(store, [end], "42", MONDAY_NOON)
    settings = store.settings()
    assert (settings.service_start.isoformat(), settings.service_end.isoformat()) == ("14:30:00", "16:00:00")


def test_a_setting_waiting_for_its_pair_is_forgotten_when_the_server_turns_out_restored(store, service):
    """It came from the lost server's feed, which the restored one may not have: the pull starts over."""
    sync_store.follow_generation(store, "before")
    late_start = Change(41, ChangeType.SETTING, "service.start", {"key": "service.start", "value": "14:30"})
    sync_store.apply_page(store, [late_start], "41", MONDAY_NOON)  # waits: after the stored end
    assert sync_store.follow_generation(store, "restored") == "before"
    end = Change(7, ChangeType.SETTING, "service.end", {"key": "service.end", "value": "16:00"})
    sync_store.apply_page(store, [end], "7", MONDAY_NOON)
    settings = store.settings()
    assert (settings.service_start.isoformat(), settings.service_end.isoformat()) == ("11:00:00", "16:00:00")
