"""Backups and restores: the kiosk's while another process serves, the server's onto a new machine
(SQLite and PostgreSQL), damaged backups refused with nothing changed, live databases kept, and the
rotation that decides which backups stay."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from domain.backups import backup_name, taken_at, to_delete
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.sync import Change, ChangeType
from kiosk import sync_store
from kiosk.config import write_default_config
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server.sync import ledger

from .conftest import MONDAY_NOON, fund_and_open_all_day, snapshot
from .crash_worker import OPERATIONS
from .live_server import Clock, new_kiosk, start_server
from .portal_client import Browser, start_school, text_of

WORKER = Path(__file__).resolve().with_name("crash_worker.py")
DEADLINE = 120  # seconds: generous, for a busy machine


def _json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def _entry_ids(data_dir: Path) -> set[str]:
    with Store.open(data_dir) as store:
        return {row[0] for row in store.conn.execute("SELECT id FROM entries")}


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # a run of bytes flipped in the middle of the file
        middle = len(data) // 2
        data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
        path.write_bytes(data)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- kiosk ----------------------------------------------------------------------------------------

def test_a_kiosk_backup_taken_while_another_process_serves_holds_everything_acknowledged_before_it(
        kiosk_dir, tmp_path, run):
    for pupil in ("P001", "P002", "P003", "S001"):
        fund_and_open_all_day(kiosk_dir, pupil, 150_00)
    write_default_config(kiosk_dir)  # as `kiosk init` does
    worker = subprocess.Popen([sys.executable, str(WORKER), str(kiosk_dir), "7"], stdout=subprocess.PIPE, text=True)
    acknowledged: list[str] = []
    enough = threading.Event()

    def read() -> None:
        for line in worker.stdout:
            if line.startswith("ACK "):
                acknowledged.append(line.split()[1])
                if len(acknowledged) >= 100:
                    enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert enough.wait(DEADLINE), "the worker acknowledged nothing"
        before = list(acknowledged)  # acknowledged before the backup began
        made = run("kiosk", "backup", "--data", str(kiosk_dir), "--to", str(tmp_path / "backups"), "--json")
        assert worker.poll() is None, "the worker ended before the backup: nothing ran beside it"
        assert worker.wait(DEADLINE) == 0
    finally:
        worker.kill()
        reader.join(DEADLINE)
        worker.stdout.close()
    assert len(acknowledged) > len(before)  # the worker went on serving through the backup

    assert made.exit_code == 0, made.output
    backup = _json(made)
    assert Path(backup["file"]).name.startswith("kiosk-K1-") and backup["size_bytes"] > 0
    assert Path(backup["config"]).read_text(encoding="utf-8") == (kiosk_dir / "kiosk.toml").read_text(encoding="utf-8")
    restored = run("kiosk", "restore", "--data", str(tmp_path / "new"), backup["file"], "--json")
    assert restored.exit_code == 0, restored.output
    ids = _entry_ids(tmp_path / "new")
    assert set(before) <= ids and backup["entries"] == len(ids) == _json(restored)["entries"]
    with Store.open(tmp_path / "new") as store:
        assert store.verify_balances() == []
        assert store.kiosk_id == "K1"
    assert len(acknowledged) <= OPERATIONS


@pytest.mark.parametrize("how", ["bytes flipped", "truncated"])
def test_a_damaged_kiosk_backup_is_refused_and_the_live_database_is_untouched(kiosk_dir, tmp_path, run, how):
    fund_and_open_all_day(kiosk_dir, "P001", 20_00)
    made = _json(run("kiosk", "backup", "--data", str(kiosk_dir), "--to", str(tmp_path / "backups"), "--json"))
    _damage(Path(made["file"]), how)
    before, files = snapshot(kiosk_dir), sorted(p.name for p in kiosk_dir.iterdir())

    refused = run("kiosk", "restore", "--data", str(kiosk_dir), made["file"], "--force")
    assert refused.exit_code == 1
    assert "endommagé" in refused.stderr and "rien n'a été modifié" in refused.stderr
    assert snapshot(kiosk_dir) == before and sorted(p.name for p in kiosk_dir.iterdir()) == files
    assert run("kiosk", "restore", "--data", str(tmp_path / "new"), made["file"]).exit_code == 1
    assert not (tmp_path / "new" / "kiosk.db").exists()


def test_a_kiosk_restore_over_a_live_database_needs_force_and_keeps_the_replaced_one(kiosk_dir, tmp_path, run):
    fund_and_open_all_day(kiosk_dir, "P001", 20_00)
    made = _json(run("kiosk", "backup", "--data", str(kiosk_dir), "--to", str(tmp_path / "backups"), "--json"))
    with Store.open(kiosk_dir) as store:  # served after the backup
        later = KioskService(store, clock=lambda: MONDAY_NOON).tap("04A1B2C3", now=MONDAY_NOON).entry
    before = snapshot(kiosk_dir)

    refused = run("kiosk", "restore", "--data", str(kiosk_dir), made["file"])
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert snapshot(kiosk_dir) == before

    forced = run("kiosk", "restore", "--data", str(kiosk_dir), made["file"], "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert later.id not in _entry_ids(kiosk_dir)
    kept = Path(_json(forced)["replaced"])
    assert kept.parent == kiosk_dir and kept.name.startswith("kiosk.replaced-")
    kept_copy = tmp_path / "kept"
    kept_copy.mkdir()
    (kept_copy / "kiosk.db").write_bytes(kept.read_bytes())
    assert later.id in _entry_ids(kept_copy)


def test_a_restored_kiosk_numbers_its_receipts_after_those_it_issued_since_the_backup(tmp_path, server, run):
    kiosk = new_kiosk(tmp_path, server, "K1")
    SyncAgent(kiosk.store, clock=server.clock).run_round()
    anne = kiosk.login("anne", "1234")
    assert kiosk.cash_topup(anne, "P001", 10_00).receipt_no == 1
    made = _json(run("kiosk", "backup", "--data", str(tmp_path / "K1"), "--to", str(tmp_path / "backups"), "--json"))
    second = kiosk.cash_topup(anne, "P002", 20_00)
    cancelled = kiosk.reverse(anne, second.entry.id, "mauvais élève")
    assert (second.receipt_no, cancelled.receipt_no) == (2, 3)
    SyncAgent(kiosk.store, clock=server.clock).run_round()
    kiosk.store.close()  # the kiosk's disk dies; its backup is put back

    assert run("kiosk", "restore", "--data", str(tmp_path / "K1"), made["file"], "--force").exit_code == 0
    with Store.open(tmp_path / "K1") as store:
        restored = KioskService(store, clock=server.clock)
        SyncAgent(store, clock=server.clock).run_round()
        third = restored.cash_topup(restored.login("anne", "1234"), "P003", 30_00)
        assert (third.receipt_no, third.entry.reference) == (4, "K1/4")
        assert restored.receipt(2).operation.entry.id == second.entry.id  # reprinted as it was
        assert restored.receipt(3).operation.entry.id == cancelled.entry.id
        references = [r for (r,) in store.conn.execute("SELECT reference FROM entries WHERE kind = 'cash_topup'")]
    assert sorted(references) == ["K1/1", "K1/2", "K1/4"]


def test_the_kiosk_backup_keeps_the_ones_the_rotation_keeps_and_never_the_one_it_just_made(kiosk_dir, tmp_path, run):
    write_default_config(kiosk_dir)
    backups = tmp_path / "backups"
    backups.mkdir()
    old = [backup_name("kiosk-K1", datetime(2020, 1, day, 3, tzinfo=UTC), suffix) for day in (1, 2, 3)
           for suffix in (".db", ".sha256", ".toml")]
    for name in [*old, "kiosk-K2-20200101T030000Z.db", "notes.txt"]:
        (backups / name).write_text("x")
    made = _json(run("kiosk", "backup", "--data", str(kiosk_dir), "--to", str(backups), "--keep-daily", "0",
                     "--keep-weekly", "1", "--json"))
    assert sorted(made["deleted"]) == sorted(name for name in old if name.endswith(".db"))
    assert sorted(p.name for p in backups.iterdir() if not p.name.startswith(".")) == sorted(
        [Path(made["file"]).name, Path(made["file"]).with_suffix(".sha256").name, Path(made["config"]).name,
         "kiosk-K2-20200101T030000Z.db", "notes.txt"])


# -- server ---------------------------------------------------------------------------------------

def _configured(instance: Path, url: str) -> Path:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(f"DATABASE_URL = {url!r}\n", encoding="utf-8")
    return instance


def _new_machine(new_server_database, folder: Path, run) -> Path:
    """A new server as the installation leaves it: its own database, migrated and empty (`server init`)."""
    instance = _configured(folder / "instance", new_server_database(folder, seeded=False).url)
    assert run("server", "init", "--instance", str(instance)).exit_code == 0
    return instance


@pytest.mark.on_each_database
def test_a_server_backup_restored_on_a_new_machine_serves_the_same_balances_and_portal_logins(
        database, school_database, new_server_database, tmp_path, run):
    school = start_school(school_database, tmp_path / "old")
    try:
        with school.live.write() as conn:
            ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 42_50, EntryKind.ONLINE_TOPUP, MONDAY_NOON,
                                            "server", reference="t"), MONDAY_NOON)
            ledger.ingest(conn, "K1", [LedgerEntry(new_entry_id(), "P002", -8_50, EntryKind.MEAL, MONDAY_NOON, "K1",
                                                   service_date=date(2026, 11, 30))], [{}], MONDAY_NOON)
        old = _configured(tmp_path / "old" / "instance", school_database.url)
        (old / "documents").mkdir(exist_ok=True)
        (old / "documents" / "rules.pdf").write_bytes(b"%PDF-1.4 rules")
        made = run("server", "backup", "--instance", str(old), "--to", str(tmp_path / "backups"), "--json")
        assert made.exit_code == 0, made.output
        backup = _json(made)
        assert backup["database"] == database and backup["entries"] == 2

        refused = run("server", "restore", "--instance", str(old), backup["file"])  # the old machine still serves
        assert refused.exit_code == 1 and "--force" in refused.stderr
        assert school.live.balance("P001") == 42_50
    finally:
        school.live.stop()

    new = _new_machine(new_server_database, tmp_path / "new", run)
    restored = run("server", "restore", "--instance", str(new), backup["file"], "--json")
    assert restored.exit_code == 0, restored.output
    assert (new / "documents" / "rules.pdf").read_bytes() == b"%PDF-1.4 rules"
    assert (new / "secret_key").read_bytes() == (old / "secret_key").read_bytes()
    balances = {pupil: _json(run("server", "balance", "--instance", str(new), pupil, "--json"))["balance_cents"]
                for pupil in ("P001", "P002")}
    assert balances == {"P001": 42_50, "P002": -8_50}
    url = (new / "config.py").read_text(encoding="utf-8").split("=", 1)[1].strip().strip("'")
    live = start_server(url, new, clock=Clock(), migrate=False)
    try:
        letter = school_database.letters["F01"]
        browser = Browser(live.app.test_client())
        assert browser.submit("/login", {"login": letter.login, "password": letter.password}).status_code == 302
        assert "CHF 42.50" in text_of(browser.get("/"))
        assert live.verify_balances() == []
    finally:
        live.stop()


@pytest.mark.on_each_database
def test_a_damaged_server_backup_is_refused_and_nothing_changes(school_database, new_server_database, tmp_path, run):
    old = _configured(tmp_path / "old", school_database.url)
    backup = Path(_json(run("server", "backup", "--instance", str(old), "--to", str(tmp_path / "backups"),
                            "--json"))["file"])
    new = _new_machine(new_server_database, tmp_path / "new", run)
    files = _files(new.parent)
    for how in ("bytes flipped", "truncated"):
        damaged = backup.with_name(f"{how.replace(' ', '-')}.tar.gz")
        damaged.write_bytes(backup.read_bytes())
        _damage(damaged, how)
        refused = run("server", "restore", "--instance", str(new), str(damaged), "--force")
        assert refused.exit_code == 1, how
        assert "endommagé" in refused.stderr and "rien n'a été modifié" in refused.stderr
        assert _files(new.parent) == files
    result = run("server", "restore", "--instance", str(new), str(backup))
    assert result.exit_code == 0, result.stderr  # the sound one is taken


# -- rotation -------------------------------------------------------------------------------------

def _daily(first: datetime, days: int, hour: int = 3) -> dict[str, datetime]:
    return {backup_name("kiosk-K1", moment, ".db"): moment
            for moment in (first.replace(hour=hour) + timedelta(days=n) for n in range(days))}


def test_the_rotation_keeps_the_newest_of_each_recent_day_and_of_each_recent_week():
    taken = _daily(datetime(2026, 9, 1, tzinfo=UTC), 120)  # 1 September to 29 December 2026
    taken.update(_daily(datetime(2026, 12, 28, tzinfo=UTC), 2, hour=15))  # two days with a second backup
    kept = sorted(set(taken) - set(to_delete(taken, keep_daily=14, keep_weekly=8)), key=taken.get)

    days = {taken[name].date() for name in kept}
    last = date(2026, 12, 29)
    assert {last - timedelta(days=n) for n in range(14)} <= days
    assert all(taken[name].hour == 15 for name in kept if taken[name].date() in (date(2026, 12, 28), last))
    weeks = sorted({taken[name].isocalendar()[:2] for name in kept})
    assert len(weeks) == 8 and weeks[-1] == (2026, 53)
    for week in weeks:  # each week's newest backup (a Sunday, or the last day there is)
        newest = max((n for n in taken if taken[n].isocalendar()[:2] == week), key=taken.get)
        assert newest in kept
    assert len(kept) == len(days)  # one per day kept, never two


def test_the_rotation_counts_days_that_have_a_backup_so_a_device_off_for_weeks_keeps_its_last_ones():
    taken = _daily(datetime(2026, 3, 2, tzinfo=UTC), 5)  # then nothing until now
    assert to_delete(taken, keep_daily=14, keep_weekly=8) == []
    assert to_delete(taken, keep_daily=2, keep_weekly=0) == sorted(taken, key=taken.get)[:3]


def test_the_rotation_never_deletes_the_backup_just_made_even_with_nothing_to_keep():
    taken = _daily(datetime(2026, 3, 2, tzinfo=UTC), 3)
    newest = max(taken, key=taken.get)
    assert to_delete(taken, keep_daily=0, keep_weekly=0, always_keep=[newest]) == sorted(
        set(taken) - {newest}, key=taken.get)


def test_backup_names_carry_their_utc_instant_and_other_names_are_not_backups():
    moment = datetime(2026, 11, 30, 12, 0, 5, 999, tzinfo=UTC)
    name = backup_name("server", moment, ".tar.gz")
    assert name == "server-20261130T120005Z.tar.gz"
    assert taken_at(name, "server", ".tar.gz") == moment.replace(microsecond=0)
    for other in ("server-20261399T120005Z.tar.gz", "server-20261130T120005Z.tar.gz.partial",
                  "kiosk-K1-20261130T120005Z.db", "server-x.tar.gz"):
        assert taken_at(other, "server", ".tar.gz") is None


def test_a_cancellation_coming_back_after_later_top_ups_takes_back_its_own_receipt_number(store, service, cashier):
    """A restored kiosk's own entries may come back out of order (the server books a batch's
    reversals after its other entries): the cancellation of receipt 2 was receipt 3."""
    service.cash_topup(cashier, "P001", 10_00)  # receipt 1, in the backup
    at = MONDAY_NOON
    second = LedgerEntry(new_entry_id(), "P002", 20_00, EntryKind.CASH_TOPUP, at, "K1", operator="anne",
                         reference="K1/2")
    fourth = LedgerEntry(new_entry_id(), "P003", 30_00, EntryKind.CASH_TOPUP, at, "K1", operator="anne",
                         reference="K1/4")
    cancelled = LedgerEntry(new_entry_id(), "P002", -20_00, EntryKind.REVERSAL, at, "K1", operator="anne",
                            reference=second.id, note="mauvais élève")
    back = [Change(seq, ChangeType.ENTRY, entry.id, entry.to_record())
            for seq, entry in enumerate((second, fourth, cancelled), start=10)]
    sync_store.apply_page(store, back, "12", MONDAY_NOON)
    assert store.receipt_numbers() == [1, 2, 3, 4]
    assert service.receipt(3).operation.entry.id == cancelled.id
    assert service.cash_topup(cashier, "P001", 5_00).receipt_no == 5
