"""The server keeps each account's balance as it books entries: after every kind of push (new,
sent again, partly refused, a reversal held for its entry), every server entry and the migration
that starts it from an existing ledger, each kept balance is the sum of the account's entries, on
SQLite and PostgreSQL; and the check that compares them names an account that drifted."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import delete, insert, text

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.money import MAX_BALANCE_CENTS, AmountError
from sync_server.db import alembic_config, make_engine, upgrade, writing
from sync_server.sync import ledger
from sync_server.tables import account_balances, entries

from .conftest import MONDAY_NOON
from .kiosk_push import cash_topup, enroll, meal, push, reversal

PUPILS = ("P001", "P002", "P003")


@pytest.fixture
def api(server):
    return enroll(server)


def of(record: dict, pupil_id: str) -> dict:
    return {**record, "account_id": pupil_id}


def balances_and_drift(live) -> tuple[dict[str, int], list]:
    with live.write() as conn:
        return {pupil: ledger.balance(conn, pupil) for pupil in PUPILS}, ledger.verify_balances(conn)


@pytest.mark.on_each_database
def test_every_push_and_server_entry_moves_the_kept_balances_by_what_it_booked(api):
    first = [cash_topup(50_00), meal(), of(meal(-9_00), "P002")]
    assert [ack["status"] for ack in push(api, *first)] == ["accepted"] * 3
    assert balances_and_drift(api) == ({"P001": 42_50, "P002": -9_00, "P003": 0}, [])

    again = [*first, meal()]  # a lost acknowledgement: sent again with a new meal, sorted out one by one
    assert [ack["status"] for ack in push(api, *again)] == ["duplicate"] * 3 + ["accepted"]
    assert balances_and_drift(api) == ({"P001": 35_00, "P002": -9_00, "P003": 0}, [])

    unknown, zoé = of(meal(), "P999"), of(meal(), "P003")
    assert [ack["status"] for ack in push(api, unknown, zoé)] == ["rejected", "accepted"]
    assert balances_and_drift(api) == ({"P001": 35_00, "P002": -9_00, "P003": -7_50}, [])

    original = of(meal(-9_00), "P002")
    cancel = reversal(original)
    push(api, cancel)  # held until its meal arrives: no money yet
    assert balances_and_drift(api) == ({"P001": 35_00, "P002": -9_00, "P003": -7_50}, [])
    push(api, original)  # the meal and its held cancellation, booked together
    assert balances_and_drift(api) == ({"P001": 35_00, "P002": -9_00, "P003": -7_50}, [])

    with api.write() as conn:
        ledger.append_many(conn, [
            LedgerEntry(new_entry_id(), "P002", 20_00, EntryKind.ONLINE_TOPUP, MONDAY_NOON, "server", reference="p1"),
            LedgerEntry(new_entry_id(), "P003", 7_50, EntryKind.ADJUSTMENT, MONDAY_NOON, "server", operator="sandra",
                        note="geste"),
            LedgerEntry(new_entry_id(), "P002", 1_00, EntryKind.ADJUSTMENT, MONDAY_NOON, "server", operator="sandra",
                        note="arrondi")], MONDAY_NOON)
    assert balances_and_drift(api) == ({"P001": 35_00, "P002": 12_00, "P003": 0}, [])


@pytest.mark.on_each_database
def test_server_entries_refused_for_their_amount_leave_every_balance_as_it_was(api):
    push(api, cash_topup(50_00))
    with api.write() as conn, pytest.raises(AmountError):
        ledger.append_many(conn, [
            LedgerEntry(new_entry_id(), "P002", 5_00, EntryKind.ADJUSTMENT, MONDAY_NOON, "server", operator="sandra",
                        note="geste"),
            LedgerEntry(new_entry_id(), "P001", MAX_BALANCE_CENTS, EntryKind.ADJUSTMENT, MONDAY_NOON, "server",
                        operator="sandra", note="erreur de frappe")], MONDAY_NOON)
    assert balances_and_drift(api) == ({"P001": 50_00, "P002": 0, "P003": 0}, [])


def test_the_upgrade_starts_each_balance_from_the_ledger_already_there(database_url):
    """A server of the previous release, with entries, upgraded: balances and statements agree."""
    command.upgrade(alembic_config(database_url), "0017")
    engine = make_engine(database_url)
    try:
        with writing(engine) as conn:
            conn.execute(text("INSERT INTO families (family_id) VALUES ('F01')"))
            conn.execute(text("INSERT INTO pupils (pupil_id, family_id, first_name, last_name, class_name, category,"
                              " diet, active) VALUES ('P001', 'F01', 'Léa', 'Müller', '5A', 'primary', '', :yes),"
                              " ('P002', 'F01', 'Zoé', 'Müller', '5A', 'primary', '', :yes),"
                              " ('P003', 'F01', 'Noé', 'Müller', '5A', 'primary', '', :yes)"), {"yes": True})
            conn.execute(insert(entries), [
                {"id": new_entry_id(), "account_id": pupil, "amount_cents": cents, "kind": "adjustment",
                 "occurred_at": to_text(MONDAY_NOON), "origin": "server", "received_at": to_text(MONDAY_NOON)}
                for pupil, cents in (("P001", 50_00), ("P001", -7_50), ("P002", -9_00), ("P002", 9_00))])
        upgrade(database_url)
        with writing(engine) as conn:
            assert ({pupil: ledger.balance(conn, pupil) for pupil in PUPILS}, ledger.verify_balances(conn)) \
                == ({"P001": 42_50, "P002": 0, "P003": 0}, [])
    finally:
        engine.dispose()


@pytest.mark.on_each_database
def test_the_check_names_an_account_whose_kept_balance_is_not_the_sum_of_its_entries(api):
    push(api, cash_topup(50_00), of(meal(), "P002"))
    with api.write() as conn:  # what no code of the server does: an entry written past the ledger
        conn.execute(insert(entries).values(id=new_entry_id(), account_id="P001", amount_cents=-7_50, kind="meal",
                                            occurred_at=to_text(MONDAY_NOON), origin="K1",
                                            received_at=to_text(MONDAY_NOON)))
        conn.execute(delete(account_balances).where(account_balances.c.account_id == "P002"))
        assert ledger.verify_balances(conn) == [("P001", 50_00, 42_50), ("P002", None, -7_50)]
