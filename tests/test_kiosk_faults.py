"""The kiosk under faults of the machine: a full disk, a printer that cannot take the bytes, a
read-only, damaged or empty database.

Before the money is committed, a fault is an error with a clear message (French on the screen and
the command line, a code under `--json`, the precise cause in the log) and nothing is written.
After it, the operation has succeeded: what failed is the receipt, reported beside it.

Full disks are real: a small tmpfs mounted by the test (the suite runs as root) and filled up.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.clock import ClockOutOfRange
from domain.i18n import gettext_for
from domain.meals import Refusal
from hardware.printer import PrinterError, open_printer
from hardware.readers import BadgeRead, tap_virtual
from kiosk.config import CanteenInfo
from kiosk.counter import Counter
from kiosk.printing import deliver
from kiosk.receipts import test_receipt as a_test_receipt
from kiosk.roster_import import import_roster
from kiosk.service import KioskService
from kiosk.store import DB_NAME, Store
from kiosk.store_faults import DiskFullError
from kiosk.sync_agent import RoundReport
from kiosk.sync_scheduler import SyncScheduler
from tests.conftest import MONDAY_NOON, fund_and_open_all_day, listening
from tests.live_server import new_kiosk

AT = "2026-11-30T12:05"  # a Monday at noon, Zurich time
LEA = "04A1B2C3"
DEADLINE_S = 120.0
DISK_FULL_FR = "Le disque de la borne est plein : rien n'a été enregistré."
french = gettext_for("fr")


# -- machinery -----------------------------------------------------------------------------

@contextmanager
def small_disk(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` for the duration."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk`; removing the returned file gives them back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    try:
        while True:
            os.write(fd, b"\0")
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def refectory(*args: str) -> subprocess.CompletedProcess:
    """A real `refectory` process: what a cashier's terminal shows, tracebacks included."""
    return subprocess.run([sys.executable, "-m", "refectory", *args], capture_output=True, text=True,
                          timeout=DEADLINE_S)


def topup(kiosk_dir: Path, at: str = AT) -> tuple[str, ...]:
    return ("kiosk", "topup", "--data", str(kiosk_dir), "--cashier", "anne", "--pin", "1234", "--pupil", "P001",
            "--amount", "20", "--at", at)


def tap(kiosk_dir: Path) -> tuple[str, ...]:
    return ("kiosk", "tap", "--data", str(kiosk_dir), LEA, "--at", AT)


def use_printer(kiosk_dir: Path, connection: str) -> None:
    (kiosk_dir / "kiosk.toml").write_text(f'[printer]\nconnection = "{connection}"\n', encoding="utf-8")


def balance(kiosk_dir: Path, pupil_id: str = "P001") -> int:
    with Store.open(kiosk_dir) as store:
        return store.balance(pupil_id)


def make_kiosk(data: Path, roster_file: Path) -> Path:
    with Store.open(data, create=True) as store:
        store.initialize("K1")
        import_roster(store, roster_file, MONDAY_NOON)
        KioskService(store).add_cashier("anne", "Anne Roch", "1234")
    return data


def no_traceback(process: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in process.stderr and "Exception ignored" not in process.stderr, process.stderr


@pytest.fixture
def kiosk_on_small_disk(tmp_path: Path, roster_file: Path) -> Iterator[Path]:
    """An initialised kiosk (four pupils, cashier anne) whose data folder is a 4 MB disk of its own."""
    with small_disk(tmp_path / "disk") as disk:
        yield make_kiosk(disk / "kiosk", roster_file)


# -- after the commit: the receipt's failure is the receipt's alone ------------------------

def test_a_top_up_whose_receipt_finds_the_disk_full_is_recorded_and_says_the_receipt_was_not_printed(
        run, kiosk_dir, tmp_path):
    with small_disk(tmp_path / "receipts-disk", "256k") as disk:
        use_printer(kiosk_dir, f"virtual:{disk / 'receipts'}")
        filler = fill(disk)

        process = refectory(*topup(kiosk_dir), "--json")
        no_traceback(process)
        assert process.returncode == 0
        answer = json.loads(process.stdout)
        assert answer["ok"] is True and answer["receipt_no"] == 1 and answer["balance_cents"] == 20_00
        assert answer["printed"] is False and answer["drawer_opened"] is False
        assert "plus de place pour écrire le reçu" in answer["print_problem"]

        human = run(*topup(kiosk_dir, "2026-11-30T12:06"))
        assert human.exit_code == 0
        assert "Reçu NON imprimé" in human.stdout and f"refectory kiosk reprint --data {kiosk_dir} 2" in human.stdout
        assert balance(kiosk_dir) == 40_00
        assert sorted(p.name for p in (disk / "receipts").glob("receipt-*")) == []  # nothing half-written

        filler.unlink()
        reprint = run("kiosk", "reprint", "--data", str(kiosk_dir), "1", "--json")
        assert reprint.exit_code == 0 and json.loads(reprint.stdout)["printed"] is True
        assert "Duplicata" in (disk / "receipts" / "receipt-1.txt").read_text(encoding="utf-8")


def test_a_file_printer_that_cannot_take_the_bytes_is_not_reported_as_printed(kiosk_dir):
    use_printer(kiosk_dir, "file:/dev/full")
    process = refectory(*topup(kiosk_dir), "--json")
    no_traceback(process)  # python-escpos's own close used to retry the flush and print its failure
    assert process.returncode == 0
    answer = json.loads(process.stdout)
    assert answer["ok"] is True and answer["balance_cents"] == 20_00
    assert answer["printed"] is False and answer["drawer_opened"] is False
    assert "file:/dev/full" in answer["print_problem"] and "plus de place" in answer["print_problem"]
    assert balance(kiosk_dir) == 20_00


def test_a_print_job_counts_as_done_only_once_its_bytes_are_written_and_flushed(tmp_path):
    receipt = a_test_receipt(CanteenInfo(), "K1", MONDAY_NOON, french)
    with small_disk(tmp_path / "disk", "64k") as disk:
        fill(disk)
        for connection in ("file:/dev/full", f"file:{disk / 'printer.out'}"):
            printer = open_printer(connection)
            with pytest.raises(PrinterError, match="no space left"):
                printer.print_receipt(receipt)
            with pytest.raises(PrinterError, match="no space left"):
                printer.open_drawer()


def test_a_receipt_folder_that_cannot_be_made_is_a_print_problem_after_the_commit_not_an_error(kiosk_dir):
    (kiosk_dir / "not-a-folder").write_text("", encoding="utf-8")
    use_printer(kiosk_dir, f"virtual:{kiosk_dir / 'not-a-folder' / 'receipts'}")
    process = refectory(*topup(kiosk_dir), "--json")
    assert process.returncode == 0, process.stderr
    answer = json.loads(process.stdout)
    assert answer["ok"] is True and answer["printed"] is False and answer["print_problem"]
    assert balance(kiosk_dir) == 20_00


class DriverWithABug:
    """A printer driver failing in a way nobody foresaw (python-escpos and its USB or serial
    libraries can raise more than OSError)."""

    def open_drawer(self) -> None:
        raise KeyError("pin")

    def print_receipt(self, receipt) -> None:
        raise AttributeError("'NoneType' object has no attribute 'write'")


def test_a_driver_failing_in_an_unforeseen_way_is_a_print_problem_with_its_traceback_in_the_log(caplog):
    receipt = a_test_receipt(CanteenInfo(), "K1", MONDAY_NOON, french)
    with caplog.at_level(logging.ERROR):
        outcome = deliver(DriverWithABug(), receipt, open_drawer=True)
    assert (outcome.printed, outcome.drawer_opened) == (False, False)
    assert outcome.problem.render(french) == ("erreur inattendue de l'imprimante (AttributeError) ;"
                                              " détails dans le journal de la borne")
    assert "Printing a receipt failed unexpectedly" in caplog.text and "NoneType" in caplog.text


# -- before the commit: a fault of the machine is an error that writes nothing -------------

def test_a_tap_on_a_full_disk_is_an_error_with_a_code_and_a_clear_message_and_costs_nothing(
        run, kiosk_on_small_disk, caplog):
    kiosk = kiosk_on_small_disk
    assert run(*topup(kiosk), "--json").exit_code == 0
    filler = fill(kiosk.parent)
    with caplog.at_level(logging.ERROR):
        result = run(*tap(kiosk), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"ok": False, "error": "disk_full", "message": (
        "Le disque de la borne est plein : rien n'a été enregistré. Libérez de la place, puis réessayez.")}
    assert "Erreur : " + DISK_FULL_FR in result.stderr
    # The log says which file and what SQLite said: "database or disk is full", or "disk I/O error"
    # when a process opening the database finds no room for its WAL index.
    assert f"Kiosk database {kiosk / DB_NAME}: disk full (SQLITE_" in caplog.text

    process = refectory(*topup(kiosk, "2026-11-30T12:06"))
    no_traceback(process)
    assert process.returncode == 1 and DISK_FULL_FR in process.stderr and process.stdout == ""

    filler.unlink()
    assert balance(kiosk) == 20_00  # neither the meal nor the second top-up
    assert json.loads(run(*tap(kiosk), "--json").stdout)["served"] is True


def test_when_the_disk_fills_under_a_running_kiosk_each_operation_fails_whole_and_the_next_one_works(
        kiosk_on_small_disk):
    kiosk = kiosk_on_small_disk
    with Store.open(kiosk) as store:
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        anne = service.login("anne", "1234")
        service.cash_topup(anne, "P001", 20_00)
        before = list(store.conn.iterdump())
        filler = fill(kiosk.parent)

        with pytest.raises(DiskFullError) as tapped:
            service.tap(LEA)
        assert tapped.value.render(french).startswith(DISK_FULL_FR)
        with pytest.raises(DiskFullError):
            service.cash_topup(anne, "P001", 10_00)
        with pytest.raises(DiskFullError):
            service.set_setting("price.primary", "7.50")
        assert list(store.conn.iterdump()) == before

        filler.unlink()
        assert service.tap(LEA).verdict.served
        assert store.balance("P001") == 13_00
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_counter_shows_a_tap_it_cannot_record_as_a_red_verdict_and_serves_the_next_badge(kiosk_on_small_disk):
    kiosk = kiosk_on_small_disk
    fund_and_open_all_day(kiosk, "P001", 20_00)
    with Store.open(kiosk) as store:
        counter = Counter(KioskService(store, clock=lambda: MONDAY_NOON))
        filler = fill(kiosk.parent)
        refused = counter.tap(BadgeRead(LEA, "test")).result
        assert (refused.verdict.served, refused.verdict.reason, refused.entry) == (False, Refusal.KIOSK_FAULT, None)
        assert refused.verdict.message.render(french).startswith(DISK_FULL_FR)
        filler.unlink()
        assert counter.tap(BadgeRead(LEA, "test")).result.verdict.served


@pytest.mark.parametrize("reads", [datetime(1970, 1, 1, 0, 2, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)],
                         ids=["lost its date", "far ahead"])
def test_a_kiosk_whose_clock_is_out_of_range_records_nothing_and_says_to_set_it(kiosk_dir, reads):
    fund_and_open_all_day(kiosk_dir, "P001", 20_00)
    with Store.open(kiosk_dir) as store:
        served = KioskService(store, clock=lambda: MONDAY_NOON).tap(LEA)
        before = list(store.conn.iterdump())
        service = KioskService(store, clock=lambda: reads)
        refused = Counter(service).tap(BadgeRead(LEA, "test")).result
        assert (refused.verdict.served, refused.verdict.reason, refused.entry) == (False, Refusal.KIOSK_FAULT, None)
        assert refused.verdict.message.render(french) == (
            f"L'horloge de la borne indique {reads:%d.%m.%Y %H:%M} : réglez la date et l'heure, puis réessayez.")
        cashier = service.login("anne", "1234")
        for operation in (lambda: service.cash_topup(cashier, "P001", 10_00),
                          lambda: service.reverse(cashier, served.entry.id, "double passage")):
            with pytest.raises(ClockOutOfRange):
                operation()
        assert list(store.conn.iterdump()) == before


def test_a_tap_failing_in_an_unforeseen_way_is_a_red_verdict_with_its_traceback_in_the_log(kiosk_dir, caplog):
    store = Store.open(kiosk_dir)
    counter = Counter(KioskService(store, clock=lambda: MONDAY_NOON))
    store.close()  # the counter's connection gone from under it: no fault of the disk, a bug
    with caplog.at_level(logging.ERROR):
        refused = counter.tap(BadgeRead(LEA, "test")).result
    assert (refused.verdict.served, refused.verdict.reason) == (False, Refusal.KIOSK_FAULT)
    assert refused.verdict.message.render(french) == ("La borne n'a pas pu traiter ce badge (voir le journal de"
                                                      " la borne). Adressez-vous à la caisse.")
    assert f"Tap of badge '{LEA}' failed" in caplog.text and "closed database" in caplog.text


def test_kiosk_listen_on_a_disk_that_fills_says_so_for_each_tap_and_carries_on(kiosk_on_small_disk):
    kiosk = kiosk_on_small_disk
    fund_and_open_all_day(kiosk, "P001", 20_00)
    with listening(kiosk) as listen:
        assert listen.next()["status"] == "ready"
        filler = fill(kiosk.parent)
        tap_virtual(kiosk / "virtual-reader.sock", LEA)
        refused = listen.next("tap")
        assert (refused["served"], refused["reason"], refused["entry_id"]) == (False, "kiosk_fault", None)
        assert refused["message"].startswith(DISK_FULL_FR)
        filler.unlink()
        tap_virtual(kiosk / "virtual-reader.sock", LEA)
        served = listen.next("tap")
        assert (served["served"], served["balance_cents"]) == (True, 13_00)
        assert listen.process.poll() is None


def test_a_sync_round_on_a_full_disk_is_a_failed_round_that_backs_off_not_a_crash(tmp_path, server):
    with small_disk(tmp_path / "disk") as disk:
        kiosk = new_kiosk(disk, server)
        kiosk.store.close()
        scheduler = SyncScheduler(disk / "K1", interval=60, jitter=0)
        filler = fill(disk)
        failed = scheduler.run_round()
        assert isinstance(failed, DiskFullError) and scheduler.backoff_seconds() == 120
        filler.unlink()
        assert isinstance(scheduler.run_round(), RoundReport)
        scheduler.stop()


def test_a_kiosk_init_that_finds_the_disk_full_leaves_no_database_behind(run, tmp_path):
    with small_disk(tmp_path / "disk", "320k") as disk:
        filler = fill(disk)
        data = disk / "kiosk"
        data.mkdir()
        result = run("kiosk", "init", "--data", str(data), "--kiosk-id", "K1", "--json")
        assert result.exit_code == 1 and json.loads(result.stdout)["error"] == "disk_full"
        assert not (data / DB_NAME).exists()  # an empty file would be refused as damaged from then on
        filler.unlink()
        assert run("kiosk", "init", "--data", str(data), "--kiosk-id", "K1").exit_code == 0


@pytest.fixture
def read_only_kiosk(tmp_path: Path, roster_file: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as disk:
        kiosk = make_kiosk(disk / "kiosk", roster_file)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        yield kiosk


def test_a_read_only_database_is_an_error_that_names_the_file(run, read_only_kiosk, caplog):
    with caplog.at_level(logging.ERROR):
        result = run(*tap(read_only_kiosk), "--json")
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["error"] == "database_read_only"
    assert answer["message"] == (f"La base de données de la borne {read_only_kiosk / DB_NAME} ne peut pas être écrite"
                                 " (fichier ou dossier en lecture seule) : rien n'a été enregistré.")
    assert f"Kiosk database {read_only_kiosk / DB_NAME}: database read only (SQLITE_" in caplog.text
    process = refectory(*topup(read_only_kiosk))
    no_traceback(process)
    assert process.returncode == 1 and "lecture seule" in process.stderr


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:8192])  # its first two pages


def garble(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 16)


@pytest.mark.parametrize("damage", [cut_short, garble], ids=["truncated", "garbage"])
def test_a_damaged_database_is_refused_with_the_restore_instruction_and_left_as_it_is(run, kiosk_dir, damage,
                                                                                     caplog):
    database = kiosk_dir / DB_NAME  # closed, so checkpointed: every page is in this file
    damage(database)
    damaged = database.read_bytes()
    with caplog.at_level(logging.ERROR):
        for command in (tap(kiosk_dir), topup(kiosk_dir), ("kiosk", "balance", "--data", str(kiosk_dir),
                                                           "--pupil", "P001")):
            result = run(*command, "--json")
            assert result.exit_code == 1, command
            answer = json.loads(result.stdout)
            assert answer["error"] == "database_damaged"
            assert answer["message"] == (f"La base de données de la borne {database} est endommagée :"
                                         " restaurez la dernière sauvegarde.")
    assert f"Kiosk database {database}: database damaged (SQLITE_" in caplog.text
    assert database.read_bytes() == damaged


def test_an_empty_database_file_is_refused_as_damaged_not_taken_for_a_new_one(run, kiosk_dir):
    database = kiosk_dir / DB_NAME
    database.write_bytes(b"")
    for command in (tap(kiosk_dir), ("kiosk", "init", "--data", str(kiosk_dir), "--kiosk-id", "K1")):
        result = run(*command, "--json")
        assert result.exit_code == 1, command
        answer = json.loads(result.stdout)
        assert answer["error"] == "database_damaged"
        assert f"La base de données de la borne {database} est vide (0 octet)" in answer["message"]
        assert "Restaurez la dernière sauvegarde" in answer["message"]
    assert database.stat().st_size == 0  # no fresh schema written into it


def test_a_full_disk_in_english_says_so_in_english(run, kiosk_on_small_disk):
    fill(kiosk_on_small_disk.parent)
    result = run("--lang", "en", *tap(kiosk_on_small_disk))
    assert result.exit_code == 1
    assert "Error: The kiosk's disk is full: nothing was recorded." in result.stderr

