"""The server databases tests get (tests/server_databases.py): each its own copy of a template, so
what one test writes never reaches another, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server import families, ledger, managers
from sync_server.db import make_engine, reading, writing
from sync_server.tables import pupils

from .conftest import MONDAY_NOON

pytestmark = pytest.mark.on_each_database


def test_each_copy_of_the_school_starts_as_the_template_whatever_an_earlier_copy_was_given(new_server_database,
                                                                                          tmp_path):
    first = make_engine(new_server_database(tmp_path / "first").url)
    try:
        with writing(first) as conn:
            ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 10_00, EntryKind.ONLINE_TOPUP, MONDAY_NOON,
                                            "server", reference="pay-1"), MONDAY_NOON)
            assert ledger.balance(conn, "P001") == 10_00
    finally:
        first.dispose()
    copy = new_server_database(tmp_path / "second")
    second = make_engine(copy.url)
    try:
        with reading(second) as conn:
            assert ledger.balance(conn, "P001") == 0
            assert conn.execute(select(func.count()).select_from(pupils)).scalar_one() == 4
            letter = copy.letters["F01"]
            assert families.authenticate(conn, letter.login, letter.password).family_id == "F01"
            assert managers.authenticate(conn, "sandra", copy.manager_password) is not None
    finally:
        second.dispose()


def test_a_copy_of_the_bare_schema_holds_no_rows(migrated_database_url):
    engine = make_engine(migrated_database_url)
    try:
        with reading(engine) as conn:
            assert conn.execute(select(func.count()).select_from(pupils)).scalar_one() == 0
    finally:
        engine.dispose()
