"""Transfers between siblings with real kiosks against the server on loopback: the amount is set
aside at once, the kiosks refuse to spend it once they know, and the pair of entries is booked only
when every kiosk has synced past the set-aside; a kiosk that was offline and let the child spend
the money makes the transfer fail, never the balance go below zero."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.corrections import ReversalError
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.meals import Refusal
from domain.roster import RosterError
from kiosk import schema
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server import fleet
from sync_server.admin import audit, pupils, roster_import
from sync_server.admin.errors import FieldErrors
from sync_server.money import sibling_transfers
from sync_server.money.refund_fence import active_kiosks
from sync_server.money.sibling_transfers import Status
from sync_server.sync import kiosks, ledger
from sync_server.tables import entries, mail_outbox

from .conftest import MONDAY_NOON
from .live_server import new_kiosk
from .test_refund_fence import TapsAfterPushing
from .test_upgrades import kiosk_database_at

pytestmark = pytest.mark.on_each_database

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
LEA, ZOE = ("P001", "04A1B2C3"), ("P003", "0A0B0C0D")  # sisters, family F01, primary meals at CHF 7.50


def ask(server, amount: str, source: str = "P001", destination: str = "P003") -> sibling_transfers.SiblingTransfer:
    with server.write() as conn:
        return sibling_transfers.ask(conn, "F01", source, destination, amount, server.clock(), canteen=CANTEEN,
                                     portal_url="https://portal.test/")


def current(server, transfer_id: str) -> sibling_transfers.SiblingTransfer:
    with server.write() as conn:
        return sibling_transfers.find(conn, transfer_id)


def waiting_for(server, transfer) -> list[tuple[str, int | None]]:
    with server.write() as conn:
        return [(k.kiosk_id, k.pending) for k in sibling_transfers.missing(conn, transfer, active_kiosks(conn))]


def ledger_balance(kiosk, pupil_id: str) -> int:
    """The kiosk's ledger sum for the pupil, set-asides not counted."""
    row = kiosk.store.conn.execute("SELECT balance_cents FROM balances WHERE account_id = ?", (pupil_id,)).fetchone()
    return row[0] if row else 0


def never_negative(server, *kiosks) -> None:
    for pupil_id in (LEA[0], ZOE[0]):
        assert server.balance(pupil_id) >= 0
        for kiosk in kiosks:
            assert kiosk.store.balance(pupil_id) >= 0 and ledger_balance(kiosk, pupil_id) >= 0


def converged(server, *kiosks) -> dict[str, int]:
    """Every kiosk holds the server's balances, nothing set aside, sums verified on both sides."""
    found = {pupil_id: server.balance(pupil_id) for pupil_id in (LEA[0], ZOE[0])}
    for kiosk in kiosks:
        assert {pupil_id: kiosk.store.balance(pupil_id) for pupil_id in found} == found
        assert kiosk.store.conn.execute("SELECT COUNT(*) FROM set_aside").fetchone()[0] == 0
        assert kiosk.store.verify_balances() == []
    with server.write() as conn:
        assert ledger.verify_balances(conn) == []
    return found


def funded(tmp_path, server, cents: int, *kiosk_ids: str):
    """Kiosks enrolled and synced, Léa topped up with `cents` in cash at the first, which all know."""
    made = [new_kiosk(tmp_path, server, kiosk_id) for kiosk_id in kiosk_ids]
    for kiosk in made:
        SyncAgent(kiosk.store).run_round()
    made[0].cash_topup(made[0].login("anne", "1234"), LEA[0], cents)
    for kiosk in made:
        SyncAgent(kiosk.store).run_round()
    assert all(kiosk.store.balance(LEA[0]) == cents for kiosk in made)
    return made


def mail_subjects(server) -> list[str]:
    with server.write() as conn:
        return [row.subject for row in conn.execute(select(mail_outbox.c.subject))]


def test_a_transfer_reaches_both_kiosks_as_one_pair_of_entries_once_both_have_synced(tmp_path, server):
    first, second = funded(tmp_path, server, 50_00, "K1", "K2")
    transfer = ask(server, "20")
    assert transfer.status is Status.WAITING and transfer.amount_cents == 20_00
    with server.write() as conn:  # set aside on the server at once: what can be moved drops
        assert sibling_transfers.movable(conn, LEA[0]) == 30_00 and ledger.balance(conn, LEA[0]) == 50_00

    SyncAgent(first.store).run_round()  # K1 has the set-aside; the transfer waits for K2
    assert first.store.balance(LEA[0]) == 30_00 and ledger_balance(first, LEA[0]) == 50_00
    assert current(server, transfer.transfer_id).status is Status.WAITING
    assert [kiosk_id for kiosk_id, _ in waiting_for(server, transfer)] == ["K2"]

    SyncAgent(second.store).run_round()  # K2's heartbeat is the last one waited for: booked
    booked = current(server, transfer.transfer_id)
    assert booked.status is Status.BOOKED
    assert server.balance(LEA[0]) == 30_00 and server.balance(ZOE[0]) == 20_00
    with server.write() as conn:
        pair = conn.execute(select(entries.c.id, entries.c.account_id, entries.c.amount_cents, entries.c.kind)
                            .where(entries.c.reference == transfer.transfer_id).order_by(entries.c.amount_cents)).all()
        journal = [(e.action, e.subject) for e in audit.recent(conn)]
    assert pair == [(booked.debit_id, LEA[0], -20_00, EntryKind.TRANSFER.value),
                    (booked.credit_id, ZOE[0], 20_00, EntryKind.TRANSFER.value)]
    assert ("transfer.book", transfer.transfer_id) in journal and ("transfer.ask", transfer.transfer_id) in journal

    for kiosk in (first, second):  # each kiosk gets the pair at its next sync, the set-aside released
        SyncAgent(kiosk.store).run_round()
    assert converged(server, first, second) == {LEA[0]: 30_00, ZOE[0]: 20_00}
    assert second.tap(ZOE[1], now=MONDAY_NOON).verdict.served  # Zoé eats on the money moved to her


def test_a_child_waiting_on_a_transfer_cannot_be_moved_to_another_family_until_it_is_booked(tmp_path, server):
    first, second = funded(tmp_path, server, 50_00, "K1", "K2")
    transfer = ask(server, "20")
    with server.write() as conn, pytest.raises(FieldErrors) as refused:
        pupils.move(conn, ZOE[0], "F02", server.clock())
    assert "waiting for the kiosks" in refused.value.problems["family_id"].render()
    with server.write() as conn, pytest.raises(RosterError) as by_roster:  # nor by a roster naming another family
        roster_import.import_pupils(conn, *roster_moving_zoe(conn, "F02"), server.clock())
    assert [(e.line, e.message.render()) for e in by_roster.value.errors] == [
        (2, "A transfer between this child and a brother or sister is waiting for the kiosks: move the child once"
            " it is booked.")]
    with server.write() as conn:
        assert pupils.existing(conn, ZOE[0]).family_id == "F01"
    for kiosk in (first, second):
        SyncAgent(kiosk.store).run_round()
    assert current(server, transfer.transfer_id).status is Status.BOOKED
    with server.write() as conn:
        pupils.move(conn, ZOE[0], "F02", server.clock())
        roster_import.import_pupils(conn, *roster_moving_zoe(conn, "F01"), server.clock())  # and back, by roster
        assert pupils.existing(conn, ZOE[0]).family_id == "F01"
    assert server.balance(ZOE[0]) == 20_00  # the money moved to her goes with her


def roster_moving_zoe(conn, family_id: str, pupil_id: str = ZOE[0]) -> tuple[list[str], list[tuple[int, dict]]]:
    """A roster of Zoé (or `pupil_id`) alone, as she is but in `family_id`."""
    zoe = pupils.existing(conn, pupil_id)
    return list(roster_import.SERVER_ROSTER_COLUMNS), [(2, {
        "pupil_id": zoe.pupil_id, "first_name": zoe.first_name, "last_name": zoe.last_name, "class": zoe.class_name,
        "category": zoe.category, "badge_uid": "", "diet": zoe.diet or "", "family_id": family_id,
        "parent_email": ""})]


def test_with_no_kiosk_enrolled_the_transfer_is_booked_at_once(server):
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), LEA[0], 12_00, EntryKind.ONLINE_TOPUP, server.clock(),
                                        "server", reference="pay-1"), server.clock())
    transfer = ask(server, "12.00")
    assert transfer.status is Status.BOOKED
    assert server.balance(LEA[0]) == 0 and server.balance(ZOE[0]) == 12_00


def test_an_offline_kiosk_that_served_the_child_makes_the_transfer_fail_and_no_balance_goes_negative(
        tmp_path, server):
    first, second = funded(tmp_path, server, 30_00, "K1", "K2")

    # K2 loses the network and serves Léa on Monday; meanwhile her family moves CHF 15 to Zoé.
    assert second.tap(LEA[1], now=MONDAY_NOON).verdict.served
    transfer = ask(server, "15")  # the server still sees 30.00
    assert transfer.status is Status.WAITING
    assert second.tap(LEA[1], now=MONDAY_NOON + timedelta(days=1)).verdict.served  # Tuesday, still offline

    # K1 syncs: the 15.00 are out of reach there; it serves Léa once on what is not set aside.
    SyncAgent(first.store).run_round()
    assert first.store.balance(LEA[0]) == 15_00
    wednesday = MONDAY_NOON + timedelta(days=2)
    assert first.tap(LEA[1], now=wednesday).verdict.served
    assert first.tap(ZOE[1], now=wednesday).verdict.reason is Refusal.INSUFFICIENT_BALANCE  # nothing moved yet
    assert [kiosk_id for kiosk_id, _ in waiting_for(server, transfer)] == ["K2"]
    never_negative(server, first, second)

    # K2 comes back; a meal is served during its round, after its push and before its pull, so its
    # heartbeat says one record is pending. K1 has not seen K2's meals: both are waited for.
    thursday = MONDAY_NOON + timedelta(days=3)
    TapsAfterPushing(second.store, lambda: second.tap(LEA[1], now=thursday)).run_round()
    assert waiting_for(server, transfer) == [("K1", 0), ("K2", 1)]
    assert ledger_balance(second, LEA[0]) == 7_50 and second.store.balance(LEA[0]) == 0  # all of it set aside
    refused = second.tap(LEA[1], now=thursday + timedelta(days=1))
    assert refused.verdict.reason is Refusal.INSUFFICIENT_BALANCE and refused.verdict.balance_cents == 0
    never_negative(server, first, second)

    # Each push brings Léa's meals the other kiosk has not pulled: the transfer waits for it, round by round.
    SyncAgent(second.store).run_round()  # Thursday's meal pushed
    assert [kiosk_id for kiosk_id, _ in waiting_for(server, transfer)] == ["K1"]
    SyncAgent(first.store).run_round()  # Wednesday's meal pushed: 30 - 4 × 7.50 = 0 on the server
    assert server.balance(LEA[0]) == 0 and [k for k, _ in waiting_for(server, transfer)] == ["K2"]
    assert current(server, transfer.transfer_id).status is Status.WAITING
    never_negative(server, first, second)
    SyncAgent(second.store).run_round()  # K2 has it all: 0 does not cover 15.00, nothing moves
    cancelled = current(server, transfer.transfer_id)
    assert cancelled.status is Status.CANCELLED and cancelled.debit_id is None
    assert server.balance(LEA[0]) == 0 and server.balance(ZOE[0]) == 0

    for kiosk in (first, second):  # the set-aside released at both
        SyncAgent(kiosk.store).run_round()
    assert converged(server, first, second) == {LEA[0]: 0, ZOE[0]: 0}
    never_negative(server, first, second)
    with server.write() as conn:
        assert conn.execute(select(entries.c.id).where(entries.c.kind == EntryKind.TRANSFER.value)).all() == []
        journal = [(e.action, e.subject) for e in audit.recent(conn)]
    assert ("transfer.cancel", transfer.transfer_id) in journal
    assert "Transfert de Léa à Zoé non effectué" in mail_subjects(server)  # in the family's language


def test_money_left_by_an_offline_kiosk_is_moved_once_every_kiosk_has_its_meals(tmp_path, server):
    first, second = funded(tmp_path, server, 50_00, "K1", "K2")
    assert second.tap(LEA[1], now=MONDAY_NOON).verdict.served  # K2 is offline
    transfer = ask(server, "20")
    assert second.tap(LEA[1], now=MONDAY_NOON + timedelta(days=1)).verdict.served
    SyncAgent(first.store).run_round()
    never_negative(server, first, second)

    SyncAgent(second.store).run_round()  # pushes 2 meals (35.00 left) and applies the set-aside
    assert [kiosk_id for kiosk_id, _ in waiting_for(server, transfer)] == ["K1"]  # K1 still counts 50.00
    assert current(server, transfer.transfer_id).status is Status.WAITING
    SyncAgent(first.store).run_round()  # now K1 counts 35.00 too: booked
    assert current(server, transfer.transfer_id).status is Status.BOOKED
    assert server.balance(LEA[0]) == 15_00 and server.balance(ZOE[0]) == 20_00
    for kiosk in (second, first):
        SyncAgent(kiosk.store).run_round()
        never_negative(server, first, second)
    assert converged(server, first, second) == {LEA[0]: 15_00, ZOE[0]: 20_00}
    assert "Transfert de CHF 20.00 de Léa à Zoé effectué" in mail_subjects(server)


def test_a_kiosk_that_knows_the_set_aside_neither_serves_nor_cancels_a_top_up_with_it(tmp_path, server):
    kiosk = new_kiosk(tmp_path, server, "K1")
    agent = SyncAgent(kiosk.store)
    agent.run_round()
    cashier = kiosk.login("anne", "1234")
    ten = kiosk.cash_topup(cashier, LEA[0], 10_00)
    five = kiosk.cash_topup(cashier, LEA[0], 5_00)
    agent.run_round()
    with server.write() as conn:  # a second kiosk, never seen since its enrollment, holds the transfer back
        kiosks.enroll(conn, kiosks.issue_code(conn, "K9", server.clock()), "K9", server.clock())
    transfer = ask(server, "10")
    agent.run_round()
    assert current(server, transfer.transfer_id).status is Status.WAITING
    assert kiosk.store.balance(LEA[0]) == 5_00  # 15.00 less the 10.00 set aside
    refused = kiosk.tap(LEA[1], now=MONDAY_NOON)
    assert refused.verdict.reason is Refusal.INSUFFICIENT_BALANCE and refused.verdict.balance_cents == 5_00
    kiosk.reverse(cashier, five.entry.id, "wrong pupil")  # the 5.00 not set aside can go back
    with pytest.raises(ReversalError, match="no longer covers"):
        kiosk.reverse(cashier, ten.entry.id, "wrong pupil")  # that would take the money set aside
    agent.run_round()
    assert server.balance(LEA[0]) == 10_00 and kiosk.store.balance(LEA[0]) == 0
    never_negative(server, kiosk)

    with server.write() as conn:  # the kiosks page names the kiosk that holds it back; revoking it books it
        held = {k.kiosk_id: [t.transfer_id for t in k.holding_transfers] for k in fleet.overview(conn, server.clock())}
        assert held == {"K1": [], "K9": [transfer.transfer_id]}
        revoked = fleet.revoke(conn, "K9", "sandra", server.clock(), canteen=CANTEEN, portal_url="https://portal.test/")
    assert [t.transfer_id for t in revoked.settled] == [transfer.transfer_id]  # what the page and command say
    assert current(server, transfer.transfer_id).status is Status.BOOKED
    agent.run_round()
    assert converged(server, kiosk) == {LEA[0]: 0, ZOE[0]: 10_00}


@pytest.mark.parametrize("source, destination, amount, says", [
    ("P001", "P001", "5", "Choose two different children"),
    ("P001", "P002", "5", "Choose the child the money goes to among your children."),  # Noé is family F02's
    ("P002", "P001", "5", "Choose the child the money comes from among your children."),
    ("P001", "P003", "abc", "'abc' is not an amount"),
    ("P001", "P003", "0", "The amount must be greater than zero."),
    ("P001", "P003", "-5", "The amount must be positive"),
    ("P001", "P003", "5.555", "more than two decimals"),
    ("P001", "P003", "40.05", "Léa has CHF 40.00 that can be moved: enter at most that amount."),
    ("P003", "P001", "5", "Zoé has no money that can be moved now."),
    ("P001", "P003", " ", "Give an amount, like 20, 20.50 or 20,50."),
])
def test_a_request_that_cannot_be_made_is_refused_in_words_and_sets_nothing_aside(server, source, destination,
                                                                                   amount, says):
    with server.write() as conn:
        ledger.append(conn, LedgerEntry(new_entry_id(), LEA[0], 40_00, EntryKind.ONLINE_TOPUP, server.clock(),
                                        "server", reference="pay-1"), server.clock())
    with pytest.raises(sibling_transfers.TransferError) as refused:
        ask(server, amount, source, destination)
    assert says in refused.value.render()
    with server.write() as conn:
        assert sibling_transfers.of_family(conn, "F01") == [] and sibling_transfers.movable(conn, LEA[0]) == 40_00


def test_a_kiosk_of_the_last_release_upgrades_to_take_transfer_entries_and_set_asides(tmp_path):
    conn = kiosk_database_at(tmp_path / "kiosk", schema.LATEST - 1)
    conn.execute("INSERT INTO pupils (pupil_id, first_name, last_name, class_name, category) VALUES"
                 " ('P001', 'Léa', 'Müller', '5A', 'primary')")
    conn.close()
    with Store.open(tmp_path / "kiosk") as store:
        with store.transaction():
            store.append_new([LedgerEntry(new_entry_id(), "P001", 20_00, EntryKind.TRANSFER, MONDAY_NOON, "server",
                                          reference="t-1", note="Zoé")])
            store.set_aside("t-2", "P001", 5_00)
        assert store.balance("P001") == 15_00 and store.verify_balances() == []
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"), store.transaction():
            store.conn.execute("INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin)"
                               " VALUES ('x', 'P001', 1, 'gift', '2026-11-30T11:00:00.000000+00:00', 'server')")
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
