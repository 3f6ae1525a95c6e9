"""Money read back from the server database is integer centimes, on SQLite and on PostgreSQL, whatever
the query: a column, a balance (a SUM), the running balance of the history (a window sum), the sums
of a statement and a tax year. PostgreSQL sums a BIGINT into a NUMERIC (a Python Decimal), which the
money code refuses: the history page was a 500 there."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.db import make_engine, reading, writing
from sync_server.families import accounts
from sync_server.money import statements
from sync_server.sync import ledger

from .conftest import MONDAY_NOON

pytestmark = pytest.mark.on_each_database

SERVER = Path(__file__).resolve().parent.parent / "sync_server"


def made(cents: int, kind: EntryKind, day: int, *, reverses: LedgerEntry | None = None) -> LedgerEntry:
    moment = datetime(2026, 11, day, 11, tzinfo=UTC)
    return LedgerEntry(new_entry_id(), "P001", cents, kind, moment, "K1" if kind is EntryKind.MEAL else "server",
                       reference=reverses.id if reverses else None, note="erreur" if reverses else None,
                       service_date=moment.date() if kind is EntryKind.MEAL else None)


@pytest.fixture
def engine(school_database):
    """Léa (P001): CHF 50.00 paid online, two meals of CHF 7.50, the second cancelled, CHF 20.05 in cash."""
    meal = made(-7_50, EntryKind.MEAL, 4)
    engine = make_engine(school_database.url)
    with writing(engine) as conn:
        for entry in (made(50_00, EntryKind.ONLINE_TOPUP, 2), made(-7_50, EntryKind.MEAL, 3), meal,
                      made(7_50, EntryKind.REVERSAL, 5, reverses=meal), made(20_05, EntryKind.CASH_TOPUP, 6)):
            ledger.append(conn, entry, MONDAY_NOON)
    yield engine
    engine.dispose()


def exactly(values: list) -> list[tuple[type, object]]:
    """Each value with its type, so that `Decimal('6255')` does not pass for `6255`."""
    return [(type(value), value) for value in values]


def test_a_balance_is_integer_centimes(engine):
    with reading(engine) as conn:
        assert exactly([ledger.balance(conn, "P001"), ledger.balance(conn, "P003")]) == exactly([62_55, 0])
        lea, zoe = accounts.children(conn, "F01")
    assert exactly([lea.balance_cents, zoe.balance_cents]) == exactly([62_55, 0])  # Zoé has no entry yet


def test_the_history_gives_each_amount_and_the_balance_after_it_in_integer_centimes(engine):
    with reading(engine) as conn:
        lines = accounts.history(conn, "P001").lines
    assert exactly([line.amount_cents for line in lines]) == exactly([20_05, 7_50, -7_50, -7_50, 50_00])
    assert exactly([line.balance_after_cents for line in lines]) == exactly([62_55, 42_50, 35_00, 42_50, 50_00])


def test_a_statement_and_a_tax_year_are_integer_centimes(engine):
    with reading(engine) as conn:
        found = statements.statement(conn, "P001", date(2026, 11, 3), date(2026, 11, 30))
        [year] = statements.tax_years(conn, ["P001"], 2026)
    assert exactly([found.opening_cents, found.closing_cents, found.debits_cents, found.credits_cents]) == exactly(
        [50_00, 62_55, 15_00, 27_55])
    assert exactly([line.balance_cents for line in found.lines]) == exactly([42_50, 35_00, 42_50, 62_55])
    assert exactly([year.opening_cents, year.topups_cents, year.meals_cents, year.refunds_cents,
                    year.adjustments_cents, year.closing_cents]) == exactly([0, 70_05, 7_50, 0, 0, 62_55])


def money_sums_outside_the_typed_path() -> list[str]:
    """Where the server's code sums in SQL without `db.sum_cents`/`db.running_cents`: `func.sum(...)`
    or a SUM( in SQL text."""
    found = []
    for path in sorted(SERVER.rglob("*.py")):
        if path == SERVER / "db.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            summed = (isinstance(node, ast.Attribute) and node.attr == "sum" and isinstance(node.value, ast.Name)
                      and node.value.id == "func")
            in_text = isinstance(node, ast.Constant) and isinstance(node.value, str) and "sum(" in node.value.lower()
            if summed or in_text:
                found.append(f"{path.relative_to(SERVER.parent)}:{node.lineno}")
    return found


def test_every_sum_the_server_makes_in_sql_goes_through_the_typed_path():
    assert money_sums_outside_the_typed_path() == []
