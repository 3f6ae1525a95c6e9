"""Two requests for the same child's money at once, on PostgreSQL (writers side by side): the
second waits for the first's lock on the balances, then sees what the first set aside, so the
same money is never moved twice."""

from __future__ import annotations

import pytest

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.db import make_engine, writing
from sync_server.money import sibling_transfers
from sync_server.sync import kiosks, ledger

from .conftest import MONDAY_NOON
from .test_feed_concurrency import overlapping

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}


@pytest.fixture
def database() -> str:
    return "postgresql"  # SQLite has one writer at a time: nothing here can race there


@pytest.fixture
def engine(school_database):
    engine = make_engine(school_database.url)
    with writing(engine) as conn:  # Léa has CHF 40; a kiosk never seen since it was enrolled holds transfers back
        ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 40_00, EntryKind.ONLINE_TOPUP, MONDAY_NOON, "server",
                                        reference="pay-1"), MONDAY_NOON)
        kiosks.enroll(conn, kiosks.issue_code(conn, "K1", MONDAY_NOON), "K1", MONDAY_NOON)
    yield engine
    engine.dispose()


def ask(amount: str, source: str = "P001", destination: str = "P003"):
    def work(conn):
        try:
            return sibling_transfers.ask(conn, "F01", source, destination, amount, MONDAY_NOON, canteen=CANTEEN,
                                         portal_url="https://portal.test/")
        except sibling_transfers.TransferError as error:
            return error.render()  # as text: `overlapping` raises any exception it is handed
    return work


@pytest.mark.parametrize("second_way", [("P001", "P003"), ("P003", "P001")])  # the other child's lock first, too
def test_two_transfers_of_the_same_money_at_once_set_it_aside_once(engine, second_way):
    first, second, waited = overlapping(engine, ask("30"), ask("30", *second_way))
    assert waited  # on the first's lock, held until its commit
    assert isinstance(first, sibling_transfers.SiblingTransfer) and first.status is sibling_transfers.Status.WAITING
    assert second == {("P001", "P003"): "Léa has CHF 10.00 that can be moved: enter at most that amount.",
                      ("P003", "P001"): "Zoé has no money that can be moved now."}[second_way]
    with writing(engine) as conn:
        assert [t.amount_cents for t in sibling_transfers.of_family(conn, "F01")] == [30_00]
        assert sibling_transfers.movable(conn, "P001") == 10_00 and ledger.balance(conn, "P001") == 40_00
