"""A server restored from an older backup and the kiosks that had synced with the lost one: real
server, real kiosks over HTTP, the real `refectory server backup` and `restore`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.sync import PUSH_BATCH_MAX
from kiosk import schema
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from kiosk.sync_store import save_enrollment, sync_state
from sync_server.admin import audit
from sync_server.sync import kiosks
from sync_server.sync.changes import latest_seq
from sync_server.tables import cash_counts as server_cash_counts
from sync_server.tables import entries as server_entries

from .conftest import MONDAY_NOON
from .live_server import new_kiosk, start_server
from .portal_client import Browser, start_school, text_of
from .test_upgrades import KioskRows, kiosk_database_at

OLD_ENTRIES = 1_200  # K1's past terms: more than two pushes' worth, so a full re-push takes several


def _json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def _ids(store: Store) -> set[str]:
    return {row[0] for row in store.conn.execute("SELECT id FROM entries")}


@pytest.mark.on_each_database
def test_kiosks_send_again_what_a_restored_server_lost_and_every_balance_agrees_after_one_round_each(
        school_database, tmp_path, run, caplog):
    school = start_school(school_database, tmp_path / "lost")
    clock = school.clock
    first, second = new_kiosk(tmp_path, school.live, "K1"), new_kiosk(tmp_path, school.live, "K2")
    rounds = {kiosk: SyncAgent(kiosk.store, clock=clock) for kiosk in (first, second)}
    for kiosk in (first, second):
        rounds[kiosk].run_round()
    with first.store.transaction():
        for n in range(OLD_ENTRIES):
            first.store.append(LedgerEntry(new_entry_id(), "S001", 1_00, EntryKind.CASH_TOPUP,
                                           MONDAY_NOON - timedelta(days=60, minutes=n), "K1", operator="anne"))
    first.cash_topup(first.login("anne", "1234"), "P001", 30_00)
    first.tap("04A1B2C3")
    second.cash_topup(second.login("anne", "1234"), "P002", 40_00)
    second.tap("04112233445566")
    for kiosk in (first, second, first):
        rounds[kiosk].run_round()
    instance = tmp_path / "lost" / "instance"
    (instance / "config.py").write_text(f"DATABASE_URL = {school_database.url!r}\n", encoding="utf-8")
    backup = _json(run("server", "backup", "--instance", str(instance), "--to", str(tmp_path / "backups"),
                       "--json"))

    clock.now += timedelta(days=1)  # Tuesday: served and topped up on both kiosks, all of it synced
    first.cash_topup(first.login("anne", "1234"), "P003", 20_00)
    first.tap("0A0B0C0D")
    first.tap("04A1B2C3")
    second.tap("04112233445566")
    second.cash_topup(second.login("anne", "1234"), "P001", 10_00)
    second.count_cash(clock.now.date(), "10.00", counted_by="anne")  # the drawer at the day's end
    for kiosk in (first, second):
        rounds[kiosk].run_round()
    late = first.cash_topup(first.login("anne", "1234"), "P002", 5_00).entry  # K2 never pulled this one
    rounds[first].run_round()
    assert late.id not in _ids(second.store)
    made = _ids(first.store) | _ids(second.store)
    assert len(made) == OLD_ENTRIES + 10
    known = sync_state(first.store).server_generation
    school.live.stop()  # the server's disk dies

    restored = run("server", "restore", "--instance", str(instance), backup["file"], "--force", "--json")
    assert restored.exit_code == 0, restored.output
    assert _json(restored)["generation"] not in (None, known)
    server = start_server(school_database.url, instance, clock=clock, migrate=False)
    try:
        for kiosk in (first, second):  # the server is back at its address (here a new port)
            save_enrollment(kiosk.store, server.url, sync_state(kiosk.store).token)
        with caplog.at_level(logging.INFO, logger="kiosk.sync_agent"):
            again = {kiosk: rounds[kiosk].run_round() for kiosk in (first, second)}

        assert all(report.server_restored for report in again.values())
        assert again[first].pushed == OLD_ENTRIES + 6 > 2 * PUSH_BATCH_MAX  # everything, in several pushes
        assert (again[first].accepted, again[second].accepted) == (4, 2)  # what the restored server lacked
        restarts = [r.getMessage() for r in caplog.records if "server restored from a backup" in r.getMessage()]
        assert len(restarts) == 2 and "sending again all 1206 entries" in restarts[0]
        with server.write() as conn:
            on_server = set(conn.execute(select(server_entries.c.id)).scalars())
            booked = conn.execute(select(func.count()).select_from(server_entries)).scalar_one()
            restore_audit = [e for e in audit.recent(conn) if e.action == "server.restore"]
            counts = conn.execute(select(server_cash_counts.c.kiosk_id, server_cash_counts.c.counted_cents)).all()
        assert on_server == made == _ids(first.store) == _ids(second.store) and booked == len(made)
        expected = {"P001": 30_00 - 7_50 - 7_50 + 10_00, "P002": 40_00 - 8_50 - 8_50 + 5_00, "P003": 20_00 - 7_50}
        for pupil, cents in expected.items():
            assert server.balance(pupil) == first.store.balance(pupil) == second.store.balance(pupil) == cents
        assert [e.subject for e in restore_audit] == [Path(backup["file"]).name]
        assert counts == [("K2", 10_00)]  # Tuesday's count, which the lost server had acknowledged
        assert first.store.verify_balances() == second.store.verify_balances() == server.verify_balances() == []

        family = Browser(server.app.test_client())
        letter = school_database.letters["F01"]
        assert family.submit("/login", {"login": letter.login, "password": letter.password}).status_code == 302
        home = text_of(family.get("/"))
        assert "CHF 25.00" in home and "CHF 12.50" in home  # Léa and Zoé

        settled = rounds[first].run_round()
        assert (settled.pushed, settled.entries_added, settled.server_restored) == (0, 0, False)
    finally:
        server.stop()


def test_a_kiosk_upgraded_from_a_release_without_generations_keeps_its_cursors(tmp_path, server):
    with server.write() as conn:
        token = kiosks.enroll(conn, kiosks.issue_code(conn, "K1", server.clock()), "K1", server.clock())
        cursor = latest_seq(conn)
    before_generations = schema.MIGRATIONS.index(schema.V5)  # the last release without them
    conn = kiosk_database_at(tmp_path / "old", before_generations)
    rows = KioskRows()
    rows.write(conn, before_generations)
    conn.execute("BEGIN")
    conn.execute("UPDATE sync_state SET server_url = ?, token = ?, pulled_cursor = ?", (server.url, token, cursor))
    conn.execute("COMMIT")
    conn.close()

    with Store.open(tmp_path / "old") as store:
        assert sync_state(store).server_generation is None
        report = SyncAgent(store, clock=server.clock).run_round()
        state = sync_state(store)
    assert not report.server_restored and state.server_generation
    assert report.pushed == len(rows.waiting) and report.pulled == len(rows.waiting)  # its own, back
    assert state.pushed_seq == len(rows.entries) and int(state.cursor) > cursor
    with server.write() as conn:
        on_server = set(conn.execute(select(server_entries.c.id)).scalars())
    assert on_server == set(rows.waiting)  # what it had sent before the upgrade is not sent again
