"""A kiosk whose disk died: a replacement device with a new kiosk id enrolls, pulls, and holds
every entry the old one had synced, while what the old one had not sent is lost; the manager sees
the dead kiosk's last contact where it holds a refund back, and revokes it.

A new kiosk id, not the old one: receipt numbers are counted per device and written into each cash
top-up (`K1/1`), so a new device under the old id would hand out `K1/1` a second time."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from refectory.cli import cli
from sync_server.money import refunds
from sync_server.tables import entries

from .live_server import new_kiosk
from .portal_client import start_school

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
PUPILS = ("P001", "P002", "P003", "S001")


def server_entry_ids(live) -> set[str]:
    with live.write() as conn:
        return set(conn.execute(select(entries.c.id)).scalars())


def test_a_replacement_kiosk_holds_everything_the_dead_one_synced_and_the_manager_sees_what_was_lost(
        tmp_path, school_database, monkeypatch):
    school = start_school(school_database, tmp_path)
    live, clock = school.live, school.clock
    try:
        # Kiosk K1 serves and takes cash, and syncs at noon.
        old = new_kiosk(tmp_path / "device-a", live, "K1")
        agent = SyncAgent(old.store, clock=clock)
        agent.run_round()
        anne = old.login("anne", "1234")
        old.cash_topup(anne, "P001", 30_00)
        old.cash_topup(anne, "P003", 20_00)
        assert old.tap("04A1B2C3").verdict.served
        agent.run_round()
        synced = server_entry_ids(live)
        # Then it serves on without reaching the server, and its disk dies.
        clock.now += timedelta(minutes=10)
        unsent = [old.tap("0A0B0C0D").entry.id, old.cash_topup(old.login("anne", "1234"), "P002", 10_00).entry.id]
        assert old.store.pending_push() == 2
        old.store.close()
        shutil.rmtree(tmp_path / "device-a")

        # A refund waits for every active kiosk: the back office names K1 and when it was last seen.
        with live.write() as conn:
            request = refunds.ask(conn, "F01", "P001", "CH93 0076 2011 6238 5295 7", "Anna Müller", clock(),
                                  canteen=CANTEEN, portal_url="https://portal.test/")
            refunds.approve(conn, request.request_id, "sandra", clock(), canteen=CANTEEN,
                            portal_url="https://portal.test/")
        page = school.manager().get("/manage/refunds").text
        # Its last sync, and no "records not yet sent": the server cannot know what K1 did after that.
        assert re.search(r"<strong>K1</strong> —\s*dernier contact le 30.11.2026 12:00\s*</li>", page)

        # The manager revokes K1 (the refund is booked at once) and enrolls the new device as K2.
        monkeypatch.setenv("DATABASE_URL", str(live.engine.url))
        monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
        runner = CliRunner()

        def refectory(*args: str) -> str:
            result = runner.invoke(cli, list(args), catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return result.stdout

        assert "Borne K1 révoquée" in refectory("server", "kiosk-revoke", "K1")
        code = json.loads(refectory("server", "kiosk-code", "K2", "--json"))["code"]
        device = tmp_path / "device-b"
        refectory("kiosk", "init", "--data", str(device), "--kiosk-id", "K2")
        refectory("kiosk", "enroll", "--data", str(device), "--server", live.url, "--code", code)
        report = json.loads(refectory("kiosk", "sync", "--data", str(device), "--json"))
        assert report["pushed"] == 0 and report["entries_added"] == len(server_entry_ids(live))

        with Store.open(device) as new:
            held = {row[0] for row in new.conn.execute("SELECT id FROM entries")}
            assert held == server_entry_ids(live) and synced <= held  # and the refund booked since
            assert not held & set(unsent)  # what K1 had not sent is gone for good
            assert new.verify_balances() == [] and new.pending_push() == 0
            assert {p: new.balance(p) for p in PUPILS} == {p: live.balance(p) for p in PUPILS}
            assert (live.balance("P001"), live.balance("P003")) == (0, 20_00)  # refunded; Zoé's meal lost
            assert new.hold("P001") is None
    finally:
        live.stop()
