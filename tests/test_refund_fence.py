"""The refund fence with real kiosks against the server on loopback: the payout waits for every
active kiosk to have applied the hold and pushed what it made before, so no offline activity can
take an account below zero."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from domain.corrections import ReversalError
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.meals import Refusal
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent, SyncError
from refectory.cli import cli
from sync_server.admin import audit
from sync_server.money import refund_fence, refunds
from sync_server.sync import kiosks, ledger
from sync_server.tables import holds

from .conftest import MONDAY_NOON
from .live_server import new_kiosk

pytestmark = pytest.mark.on_each_database

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
LEA = ("P001", "04A1B2C3")
IBAN = "CH93 0076 2011 6238 5295 7"


def ask_and_approve(server, pupil_id: str = "P001") -> refunds.RefundRequest:
    with server.write() as conn:
        request = refunds.ask(conn, "F01", pupil_id, IBAN, "Anna Müller", server.clock(), canteen=CANTEEN,
                              portal_url="https://portal.test/")
        refunds.approve(conn, request.request_id, "sandra", server.clock(), canteen=CANTEEN,
                        portal_url="https://portal.test/")
        refund_fence.release_due(conn, server.clock(), canteen=CANTEEN, portal_url="https://portal.test/")
        return refunds.find(conn, request.request_id)


def current(server, request_id: int) -> refunds.RefundRequest:
    with server.write() as conn:
        return refunds.find(conn, request_id)


def still_waiting_for(server, request: refunds.RefundRequest) -> list[tuple[str, int | None]]:
    with server.write() as conn:
        return [(k.kiosk_id, k.pending) for k in refund_fence.missing(request, refund_fence.active_kiosks(conn))]


class TapsAfterPushing(SyncAgent):
    """A real sync round with a tap slipped in after the push and before the pull: a meal served
    while the round runs, so it is not in the push and the hold is not yet there."""

    def __init__(self, store, tap) -> None:
        super().__init__(store)
        self.tap = tap

    def _push(self, url, token, report) -> None:
        super()._push(url, token, report)
        if self.tap is not None:
            self.tap, tap = None, self.tap
            tap()


def test_the_payout_waits_for_the_offline_kiosk_and_the_balance_ends_at_exactly_zero(tmp_path, server):
    first, second = new_kiosk(tmp_path, server, "K1"), new_kiosk(tmp_path, server, "K2")
    for kiosk in (first, second):
        SyncAgent(kiosk.store).run_round()
    first.cash_topup(first.login("anne", "1234"), "P001", 50_00)
    SyncAgent(first.store).run_round()
    SyncAgent(second.store).run_round()
    assert second.store.balance("P001") == 50_00

    def balances_never_negative():
        assert server.balance("P001") >= 0
        assert first.store.balance("P001") >= 0 and second.store.balance("P001") >= 0

    # K2 loses the network and keeps serving Léa, Monday and Tuesday.
    assert second.tap(LEA[1], now=MONDAY_NOON).verdict.served
    request = ask_and_approve(server)
    assert request.status is refunds.Status.APPROVED
    assert second.tap(LEA[1], now=MONDAY_NOON + timedelta(days=1)).verdict.served

    # K1 syncs: it applies the hold and refuses Léa, but the payout still waits for K2.
    SyncAgent(first.store).run_round()
    refused = first.tap(LEA[1], now=MONDAY_NOON + timedelta(days=1))
    assert not refused.verdict.served and refused.verdict.reason is Refusal.ACCOUNT_ON_HOLD
    assert current(server, request.request_id).status is refunds.Status.APPROVED
    assert [k for k, _pending in still_waiting_for(server, request)] == ["K2"]
    balances_never_negative()

    # K2 comes back; a meal is served in the middle of its round, after the push, before the hold:
    # its heartbeat says one record is pending, so the payout still waits.
    wednesday = MONDAY_NOON + timedelta(days=2)
    TapsAfterPushing(second.store, lambda: second.tap(LEA[1], now=wednesday)).run_round()
    assert second.store.balance("P001") == 50_00 - 3 * 7_50
    assert current(server, request.request_id).status is refunds.Status.APPROVED
    assert still_waiting_for(server, request) == [("K2", 1)]
    refused = second.tap(LEA[1], now=wednesday + timedelta(days=1))
    assert refused.verdict.reason is Refusal.ACCOUNT_ON_HOLD  # the hold is there now
    balances_never_negative()

    # Its next round pushes that meal; the heartbeat after it releases the payout for what is left.
    SyncAgent(second.store).run_round()
    paid_out = current(server, request.request_id)
    assert paid_out.status is refunds.Status.TO_PAY and paid_out.amount_cents == 50_00 - 3 * 7_50
    assert server.balance("P001") == 0

    # Both kiosks get the refund before the hold is lifted: the balance is 0, the account open again.
    for kiosk in (second, first):
        SyncAgent(kiosk.store).run_round()
        assert kiosk.store.balance("P001") == 0 and kiosk.store.hold("P001") is None
        assert kiosk.store.verify_balances() == []
        after = kiosk.tap(LEA[1], now=MONDAY_NOON + timedelta(days=7))
        assert after.verdict.reason is Refusal.INSUFFICIENT_BALANCE
    assert server.balance("P001") == 0
    with server.write() as conn:
        assert conn.execute(holds.select()).all() == []


def test_a_kiosk_past_the_fence_cannot_cancel_a_top_up_the_refund_may_already_have_paid_out(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server, "K1")
    agent = SyncAgent(kiosk.store)
    agent.run_round()
    cashier = kiosk.login("anne", "1234")
    top_up = kiosk.cash_topup(cashier, "P003", 20_00)
    agent.run_round()
    request = ask_and_approve(server, "P003")
    agent.run_round()  # pulls the hold; its heartbeat releases the payout: the server's balance is 0
    assert current(server, request.request_id).status is refunds.Status.TO_PAY
    assert server.balance("P003") == 0 and kiosk.store.balance("P003") == 20_00  # not pulled yet
    with pytest.raises(ReversalError, match="on hold"):
        kiosk.reverse(cashier, top_up.entry.id, "wrong pupil")
    more = kiosk.cash_topup(cashier, "P003", 10_00)  # money in is fine: it stays on the account
    agent.run_round()
    assert server.balance("P003") == kiosk.store.balance("P003") == 10_00
    kiosk.reverse(cashier, more.entry.id, "wrong pupil")  # the hold is lifted: the usual rules again
    agent.run_round()
    assert server.balance("P003") == kiosk.store.balance("P003") == 0


def test_a_re_enrolled_kiosk_must_report_again_and_a_revoked_one_no_longer_holds_the_payout_back(tmp_path, server):
    first, second = new_kiosk(tmp_path, server, "K1"), new_kiosk(tmp_path, server, "K2")
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 30_00, EntryKind.ONLINE_TOPUP, server.clock(), "server",
                                        reference="pay-1"), server.clock())
    for kiosk in (first, second):
        SyncAgent(kiosk.store).run_round()
    request = ask_and_approve(server)
    SyncAgent(second.store).run_round()
    assert [k for k, _ in still_waiting_for(server, request)] == ["K1"]
    # K2's disk is replaced (a restored copy could hold meals the server never saw): it enrolls
    # again the next morning, and what the old K2 reported before that no longer counts.
    server.clock.now += timedelta(hours=20)
    with server.write() as conn:
        code = kiosks.issue_code(conn, "K2", server.clock())
    replacement = Store.open(tmp_path / "K2-new", create=True)
    replacement.initialize("K2")
    SyncAgent(replacement).enroll(server.url, code)
    assert [k for k, _ in still_waiting_for(server, request)] == ["K1", "K2"]
    with pytest.raises(SyncError):  # the old K2, still running somewhere, no longer speaks for K2
        SyncAgent(second.store).run_round()
    assert [k for k, _ in still_waiting_for(server, request)] == ["K1", "K2"]
    with server.write() as conn:  # K1 was stolen: the manager revokes it
        kiosks.revoke(conn, "K1", server.clock())
    assert [k for k, _ in still_waiting_for(server, request)] == ["K2"]
    agent = SyncAgent(replacement)
    agent.run_round()  # its heartbeat releases the payout
    assert current(server, request.request_id).status is refunds.Status.TO_PAY
    assert server.balance("P001") == 0
    agent.run_round()
    assert replacement.balance("P001") == 0 and replacement.hold("P001") is None


def test_revoking_the_kiosk_a_refund_waits_for_books_it_at_once(tmp_path, server, monkeypatch):
    kiosk = new_kiosk(tmp_path, server, "K1")
    SyncAgent(kiosk.store).run_round()
    kiosk.cash_topup(kiosk.login("anne", "1234"), "P001", 20_00)
    SyncAgent(kiosk.store).run_round()
    request = ask_and_approve(server)
    assert [k for k, _pending in still_waiting_for(server, request)] == ["K1"]  # and K1 is never seen again
    monkeypatch.setenv("DATABASE_URL", str(server.engine.url))
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()
    revoked = runner.invoke(cli, ["server", "kiosk-revoke", "K1"], catch_exceptions=False)
    assert revoked.exit_code == 0, revoked.output
    assert "Borne K1 révoquée" in revoked.stdout and "Remboursements comptabilisés" in revoked.stdout
    assert current(server, request.request_id).status is refunds.Status.TO_PAY
    assert server.balance("P001") == 0
    with server.write() as conn:
        [entry] = audit.recent(conn)
    assert (entry.actor.startswith("cli"), entry.action, entry.subject) == (True, "kiosk.revoke", "K1")
    again = runner.invoke(cli, ["server", "kiosk-revoke", "K1"], catch_exceptions=False)
    assert again.exit_code == 0 and "Borne K1 déjà révoquée le " in again.stdout and "rien n'a changé" in again.stdout
    with server.write() as conn:
        assert len(audit.recent(conn)) == 1  # the first revocation, its time kept
    unknown = runner.invoke(cli, ["server", "kiosk-revoke", "K9"], catch_exceptions=False)
    assert unknown.exit_code == 1 and "K9" in unknown.stderr
    with pytest.raises(SyncError):  # K1 can no longer sync
        SyncAgent(kiosk.store).run_round()
