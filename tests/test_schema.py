"""The kiosk database: durable settings, numbered migrations, and a ledger that cannot be edited."""

import sqlite3

import pytest

from kiosk import schema
from kiosk.store import Store


def test_a_store_opens_with_wal_full_sync_and_foreign_keys(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_new_database_is_at_the_latest_schema_and_reopening_migrates_nothing(tmp_path):
    with Store.open(tmp_path, create=True) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    with Store.open(tmp_path) as store:
        assert schema.migrate(store.conn) == schema.LATEST


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path, monkeypatch):
    with Store.open(tmp_path, create=True) as store:
        store.initialize("K1")
    broken = "CREATE TABLE half_done (x INTEGER);\nSELECT * FROM no_such_table;"
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "LATEST", len(schema.MIGRATIONS))
    with pytest.raises(sqlite3.OperationalError):
        Store.open(tmp_path)
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST - 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    assert conn.execute("SELECT kiosk_id FROM kiosk").fetchone() == ("K1",)


def test_a_database_from_newer_software_is_refused(tmp_path):
    Store.open(tmp_path, create=True).close()
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    conn.close()
    with pytest.raises(schema.SchemaTooNewError):
        Store.open(tmp_path)


def test_ledger_entries_can_be_neither_changed_nor_deleted(service, cashier, store):
    topup = service.cash_topup(cashier, "P001", 20_00)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        store.conn.execute("UPDATE entries SET amount_cents = 1 WHERE id = ?", (topup.entry.id,))
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        store.conn.execute("DELETE FROM entries WHERE id = ?", (topup.entry.id,))
    assert store.balance("P001") == 20_00


def test_an_entry_cannot_be_reversed_twice_even_bypassing_the_service(service, cashier, store):
    topup = service.cash_topup(cashier, "P001", 20_00)
    service.reverse(cashier, topup.entry.id, "erreur")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute(
            "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin, note, reverses)"
            " VALUES ('x', 'P001', -2000, 'reversal', '2026-11-30T11:00:00.000000+00:00', 'K1', 'again', ?)",
            (topup.entry.id,),
        )


def test_an_entry_for_an_unknown_account_is_refused_by_the_database(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute(
            "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin)"
            " VALUES ('y', 'NOBODY', 500, 'cash_topup', '2026-11-30T11:00:00.000000+00:00', 'K1')"
        )
