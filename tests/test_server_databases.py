"""The server databases tests get (tests/server_databases.py): each holds exactly what its template
holds, whatever an earlier test wrote, on SQLite and on PostgreSQL (where databases are reused)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.admin import managers
from sync_server.db import make_engine, reading, writing
from sync_server.families import accounts
from sync_server.sync import ledger
from sync_server.tables import entries, pupils

from .conftest import MONDAY_NOON

pytestmark = pytest.mark.on_each_database


def credit_and_read_back(url: str) -> int:
    """Credit Léa once; the seq the ledger gave the entry."""
    engine = make_engine(url)
    try:
        with writing(engine) as conn:
            ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 10_00, EntryKind.ONLINE_TOPUP, MONDAY_NOON,
                                            "server", reference="pay-1"), MONDAY_NOON)
            return conn.execute(select(func.max(entries.c.seq))).scalar_one()
    finally:
        engine.dispose()


def test_a_database_given_back_is_the_template_again_for_the_next_test(request, database, server_templates,
                                                                        tmp_path):
    cluster = request.getfixturevalue("postgres") if database == "postgresql" else None
    first = server_templates.copy(database, tmp_path / "first", postgres=cluster)
    first_seq = credit_and_read_back(first.url)
    server_templates.give_back(first)
    again = server_templates.copy(database, tmp_path / "again", postgres=cluster)
    try:
        assert again.name == first.name  # on PostgreSQL the same database, reset; on SQLite a new file
        engine = make_engine(again.url)
        try:
            with reading(engine) as conn:
                assert ledger.balance(conn, "P001") == 0
                assert conn.execute(select(func.count()).select_from(pupils)).scalar_one() == 4
                letter = again.letters["F01"]
                assert accounts.authenticate(conn, letter.login, letter.password).family_id == "F01"
                assert managers.authenticate(conn, "sandra", again.manager_password) is not None
        finally:
            engine.dispose()
        assert credit_and_read_back(again.url) == first_seq  # the sequences start where the template's do
    finally:
        server_templates.give_back(again)


def test_two_databases_of_one_test_are_apart(new_server_database, tmp_path):
    first, second = new_server_database(tmp_path / "first"), new_server_database(tmp_path / "second")
    credit_and_read_back(first.url)
    engine = make_engine(second.url)
    try:
        with reading(engine) as conn:
            assert ledger.balance(conn, "P001") == 0
    finally:
        engine.dispose()


def test_a_copy_of_the_bare_schema_holds_no_rows(migrated_database_url):
    engine = make_engine(migrated_database_url)
    try:
        with reading(engine) as conn:
            assert conn.execute(select(func.count()).select_from(pupils)).scalar_one() == 0
    finally:
        engine.dispose()
