"""The cashier's commands with a printer: the money is committed first, the drawer opens, the
receipt prints; a printer that fails changes nothing in the ledger and the receipt is reprinted."""

from __future__ import annotations

import json

import pytest

from hardware.escpos_decode import decode
from kiosk.store import Store
from tests.escpos_capture import CaptureServer

AT = "2026-11-30T12:05"  # a Monday, Zurich time


def topup(kiosk_dir, at: str = AT) -> tuple[str, ...]:
    return ("kiosk", "topup", "--data", str(kiosk_dir), "--cashier", "anne", "--pin", "1234", "--pupil", "P001",
            "--amount", "20", "--at", at)


@pytest.fixture
def printer(kiosk_dir):
    server = CaptureServer()
    (kiosk_dir / "kiosk.toml").write_text(
        f'[canteen]\nname = "Réfectoire des Pâquis"\naddress = ["Rue de Berne 50", "1201 Genève"]\n'
        f'[printer]\nconnection = "{server.connection}"\npaper = "58mm"\n', encoding="utf-8")
    yield server
    server.close()


def cli_json(run, *args):
    result = run(*args, "--json")
    return result, json.loads(result.stdout.splitlines()[-1])


def test_a_cash_top_up_opens_the_drawer_then_prints_the_french_receipt(run, kiosk_dir, printer):
    result, payload = cli_json(run, "--lang", "fr", *topup(kiosk_dir))
    assert result.exit_code == 0
    assert (payload["printed"], payload["drawer_opened"], payload["receipt_no"]) == (True, True, 1)
    drawer, receipt = (decode(job) for job in printer.wait_for_jobs(2))
    assert drawer.drawer_kicked and not drawer.texts
    texts = receipt.texts
    assert texts[0] == "Réfectoire des Pâquis" and "1201 Genève" in texts
    assert "Reçu de recharge" in texts
    assert any(line.startswith("Reçu n°") and line.endswith("1") for line in texts)
    assert any("Léa Müller" in line for line in texts)
    assert any(line.startswith("Montant versé") and line.endswith("CHF 20.00") for line in texts)
    assert any(line.startswith("Nouveau solde") and line.endswith("CHF 20.00") for line in texts)
    assert max(len(line) for line in texts) <= 32  # 58 mm paper


def test_a_printer_that_is_off_leaves_the_top_up_in_the_ledger_and_the_receipt_reprints(run, kiosk_dir, printer):
    printer.close()
    result, payload = cli_json(run, *topup(kiosk_dir))
    assert result.exit_code == 0  # the money is in: the failure is the printer's alone
    assert payload["printed"] is False and payload["balance_cents"] == 20_00
    assert "l'imprimante a refusé la connexion" in payload["print_problem"]
    human = run(*topup(kiosk_dir, "2026-11-30T12:06"))
    assert "Reçu NON imprimé" in human.stdout and f"refectory kiosk reprint --data {kiosk_dir} 2" in human.stdout
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 40_00 and store.receipt_numbers() == [1, 2]

    printer.reopen()
    result, payload = cli_json(run, "kiosk", "reprint", "--data", str(kiosk_dir), "1")
    assert result.exit_code == 0 and payload["printed"] is True and payload["drawer_opened"] is False
    reprinted = decode(printer.wait_for_jobs(1)[0]).texts
    assert "Duplicata" in reprinted and "Reçu de recharge" in reprinted
    assert any(line.startswith("Nouveau solde") and line.endswith("CHF 20.00") for line in reprinted)


@pytest.mark.parametrize("number", ["3", "0", "99999999999999999999"])
def test_reprinting_a_receipt_number_never_issued_says_so(run, kiosk_dir, number):
    run(*topup(kiosk_dir))
    refused = run("kiosk", "reprint", "--data", str(kiosk_dir), number)
    assert refused.exit_code == 1 and f"Reçu n° {number} inconnu." in refused.stderr


def test_cancelling_a_cash_top_up_opens_the_drawer_and_prints_the_cancellation(run, kiosk_dir, printer):
    _result, done = cli_json(run, *topup(kiosk_dir))
    result, payload = cli_json(run, "kiosk", "reverse", "--data", str(kiosk_dir), "--cashier", "anne", "--pin",
                               "1234", "--entry", done["entry_id"], "--reason", "Erreur d'élève", "--at", AT)
    assert result.exit_code == 0 and payload["printed"] is True and payload["receipt_no"] == 2
    cancellation = decode(printer.wait_for_jobs(4)[3]).texts
    assert "Annulation" in cancellation
    assert any(line.startswith("Montant rendu") and line.endswith("CHF 20.00") for line in cancellation)
    assert any("Erreur d'élève" in line for line in cancellation)


def test_cancelling_a_meal_prints_nothing_and_keeps_the_drawer_shut(run, kiosk_dir, printer):
    _result, _done = cli_json(run, *topup(kiosk_dir))
    meal = json.loads(run("kiosk", "tap", "--data", str(kiosk_dir), "04A1B2C3", "--at", AT, "--json").stdout)
    result, payload = cli_json(run, "kiosk", "reverse", "--data", str(kiosk_dir), "--cashier", "anne", "--pin",
                               "1234", "--entry", meal["entry_id"], "--reason", "double passage", "--at", AT)
    assert result.exit_code == 0 and "printed" not in payload
    assert len(printer.wait_for_jobs(2)) == 2  # the top-up's drawer kick and receipt only


def test_the_end_of_day_report_prints_per_cashier_totals(run, kiosk_dir, printer):
    cli_json(run, *topup(kiosk_dir))
    result, payload = cli_json(run, "kiosk", "print-report", "--data", str(kiosk_dir), "--date", "2026-11-30",
                               "--at", "2026-11-30T17:00")
    assert result.exit_code == 0 and payload["printed"] is True
    report = decode(printer.wait_for_jobs(3)[2]).texts
    assert "Rapport de caisse" in report and "Anne Roch (anne)" in report
    assert any(line.startswith("Caisse nette") and line.endswith("CHF 20.00") for line in report)


def test_print_test_says_what_the_printer_reports(run, kiosk_dir, printer):
    printer.set_status(paper="out")
    result, payload = cli_json(run, "kiosk", "print-test", "--data", str(kiosk_dir))
    assert payload["status"] == "paper_out" and payload["status_message"] == "L'imprimante n'a plus de papier."
    assert result.exit_code == 0  # the bytes went out; the printer itself tells what it did with them


def test_without_a_printer_the_top_up_is_done_and_says_nothing_was_printed(run, kiosk_dir):
    (kiosk_dir / "kiosk.toml").write_text('[printer]\nconnection = "none"\n', encoding="utf-8")
    result, payload = cli_json(run, *topup(kiosk_dir))
    assert result.exit_code == 0 and payload["balance_cents"] == 20_00 and payload["printed"] is False
    assert payload["print_problem"] == (
        "Aucune imprimante configurée (printer.connection = none) : rien n'a été imprimé.")


def test_the_default_virtual_printer_keeps_each_receipt_as_text_and_picture(run, kiosk_dir):
    cli_json(run, *topup(kiosk_dir))
    receipts = kiosk_dir / "receipts"
    texts = sorted(receipts.glob("*.txt"))
    assert len(texts) == 1 and len(list(receipts.glob("*.png"))) == 1
    assert "Reçu de recharge" in texts[0].read_text(encoding="utf-8")


def test_a_top_up_with_a_bad_printer_setting_stops_before_anything_is_written(run, kiosk_dir):
    (kiosk_dir / "kiosk.toml").write_text('[printer]\nprofile = "NO-SUCH-PRINTER"\n', encoding="utf-8")
    result = run(*topup(kiosk_dir))
    assert result.exit_code == 1 and "NO-SUCH-PRINTER" in result.stderr
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 0 and store.receipt_numbers() == []
