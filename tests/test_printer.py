"""The receipt printer end to end: real python-escpos bytes over TCP, decoded as a printer would.

No mock of python-escpos: `open_printer("network:...")` talks to a capture server on loopback
(tests/escpos_capture.py) and the tests decode what arrived (hardware/escpos_decode.py).
"""

from __future__ import annotations

from datetime import date

import pytest
from PIL import Image

from domain.i18n import gettext_for
from domain.meals import Pupil
from hardware.escpos_decode import decode
from hardware.printer import PrinterError, PrinterState, open_printer
from kiosk.config import CanteenInfo
from kiosk.receipts import cash_report_receipt, reprint_receipt, reversal_receipt, test_receipt, topup_receipt
from kiosk.service import UnknownRecordError
from tests.conftest import MONDAY_NOON
from tests.escpos_capture import CaptureServer

CANTEEN = CanteenInfo(name="Réfectoire du Collège", address=("À côté de l'Église", "1227 Carouge"),
                      phone="022 342 00 00", receipt_footer="Merci et bon appétit !")
PUPILS = (Pupil("P101", "Zoé", "Rochat-Müller", "7B", "primary"),
          Pupil("P102", "François", "Bôle", "8A", "secondary"),
          Pupil("P103", "Hélène", "de la Tour-Vieille-Würth", "11C", "secondary"))
english = gettext_for("en")


@pytest.fixture
def capture():
    server = CaptureServer()
    yield server
    server.close()


@pytest.fixture
def kiosk(service):
    """The conftest kiosk plus pupils with accented names and a top-up ceiling of CHF 2000."""
    with service.store.transaction():
        for pupil in PUPILS:
            service.store.upsert_pupil(pupil)
    service.set_setting("topup.max", "2000.00")
    return service


def printed(capture: CaptureServer, count: int = 1):
    return [decode(job) for job in capture.wait_for_jobs(count)]


def test_a_french_top_up_receipt_prints_accents_the_amount_the_number_and_the_cut(kiosk, cashier, capture):
    done = kiosk.cash_topup(cashier, "P101", 123450)
    open_printer(capture.connection).print_receipt(topup_receipt(done, CANTEEN, cashier.name, gettext_for("fr")))

    (receipt,) = printed(capture)
    lines = receipt.texts
    assert receipt.code_pages == [19]  # PC858, chosen explicitly, never switched
    assert "Reçu de recharge" in lines
    assert "Réfectoire du Collège" in lines and "À côté de l'Église" in lines
    assert any(line.startswith("Élève") and line.endswith("Zoé Rochat-Müller") for line in lines)
    assert any(line.startswith("Reçu n°") and line.endswith(f" {done.receipt_no}") for line in lines)
    assert any(line.startswith("Montant versé") and line.endswith("CHF 1'234.50") for line in lines)
    assert any(line.startswith("Nouveau solde") and line.endswith("CHF 1'234.50") for line in lines)
    assert any(line.startswith("Date") and line.endswith("30.11.2026 12:00") for line in lines)  # Zurich time
    assert "Merci et bon appétit !" in lines
    assert receipt.cut and not receipt.drawer_kicked and receipt.unknown == []


def test_names_with_cedilla_circumflex_and_grave_accents_survive_the_code_page(kiosk, cashier, capture):
    printer = open_printer(capture.connection)
    for pupil_id in ("P102", "P103"):
        done = kiosk.cash_topup(cashier, pupil_id, 2000)
        printer.print_receipt(topup_receipt(done, CANTEEN, cashier.name, english))
    text = "\n".join(line for receipt in printed(capture, 2) for line in receipt.texts)
    assert "François Bôle" in text and "Hélène" in text and "Würth" in text
    assert "?" not in text


def test_open_drawer_sends_the_drawer_kick_on_pin_2_and_prints_nothing(capture):
    open_printer(capture.connection).open_drawer()
    (job,) = printed(capture)
    assert job.drawer_kicks == [2]
    assert job.texts == [] and not job.cut


@pytest.mark.parametrize(("paper", "columns"), [("58mm", 32), ("80mm", 42)])
def test_every_line_fits_the_paper_width_of_its_profile(kiosk, cashier, capture, paper, columns):
    printer = open_printer(capture.connection, paper=paper)
    assert printer.columns == columns  # font A columns of POS-5890 / TM-T88V
    done = kiosk.cash_topup(cashier, "P103", 123450)
    cancelled = kiosk.reverse(cashier, done.entry.id, "Erreur de saisie, montant tapé deux fois par mégarde")
    receipts = [topup_receipt(done, CANTEEN, "Anne-Françoise de Montmollin-Würth", english),
                reversal_receipt(cancelled, CANTEEN, cashier.name, english),
                cash_report_receipt(kiosk.cash_report(date(2026, 11, 30)), CANTEEN, english),
                test_receipt(CANTEEN, "K1", MONDAY_NOON, english)]
    for receipt in receipts:
        printer.print_receipt(receipt)
    decoded = printed(capture, len(receipts))
    widths = [line.columns for job in decoded for line in job.lines]
    assert max(widths) == columns  # the rules span the paper exactly
    # The long reason is wrapped, not cut off (jobs arrive in the order their connections closed).
    assert any("Erreur de saisie" in line for job in decoded for line in job.texts)


def test_a_58mm_receipt_has_no_cut_command_because_the_profile_has_no_cutter(capture):
    open_printer(capture.connection, paper="58mm").print_receipt(test_receipt(CANTEEN, "K1", MONDAY_NOON, english))
    (job,) = printed(capture)
    assert not job.cut and "Printer test" in job.texts


@pytest.mark.parametrize(("online", "paper", "state", "ok"), [
    (True, "ok", PrinterState.ONLINE, True),
    (True, "low", PrinterState.PAPER_LOW, True),
    (True, "out", PrinterState.PAPER_OUT, False),
    (False, "ok", PrinterState.OFFLINE, False),
])
def test_status_reports_what_the_printer_answers_to_dle_eot(capture, online, paper, state, ok):
    capture.set_status(online=online, paper=paper)
    status = open_printer(capture.connection).status()
    assert (status.state, status.ok) == (state, ok)
    assert printed(capture)[0].status_queries == [1, 4]
    assert status.message.render(english)


def test_status_is_offline_when_the_printer_port_is_closed(capture):
    capture.close()
    status = open_printer(capture.connection).status()
    assert status.state is PrinterState.OFFLINE and not status.ok
    assert capture.connection.removeprefix("network:") in status.message.render(english)


def test_a_closed_printer_port_fails_the_print_but_the_top_up_stays_and_reprints_as_a_duplicate(
        kiosk, cashier, capture):
    printer = open_printer(capture.connection)
    capture.close()
    done = kiosk.cash_topup(cashier, "P101", 5000)
    with pytest.raises(PrinterError) as failed:
        printer.print_receipt(topup_receipt(done, CANTEEN, cashier.name, english))
    message = failed.value.render(english)
    assert "refused the connection" in message and capture.connection in message
    assert kiosk.balance("P101") == 5000
    assert done.receipt_no in kiosk.store.receipt_numbers()

    capture.reopen()
    facts = kiosk.receipt(done.receipt_no)
    printer.print_receipt(reprint_receipt(facts, CANTEEN, english))
    lines = printed(capture)[0].texts
    title = lines.index("Top-up receipt")
    assert lines[title + 1] == "Duplicate"
    assert any(line.startswith("Receipt no.") and line.endswith(f" {done.receipt_no}") for line in lines)
    assert any(line.startswith("Served by") and line.endswith("Anne Roch") for line in lines)
    assert any(line.startswith("Amount paid") and line.endswith("CHF 50.00") for line in lines)


def test_a_reprint_shows_the_balance_right_after_its_entry_not_today(kiosk, cashier, capture):
    first = kiosk.cash_topup(cashier, "P102", 2000)
    kiosk.cash_topup(cashier, "P102", 3000)
    facts = kiosk.receipt(first.receipt_no)
    assert facts.operation.balance_cents == 2000 and facts.pupil.first_name == "François"
    open_printer(capture.connection).print_receipt(reprint_receipt(facts, CANTEEN, english))
    assert any(line.startswith("New balance") and line.endswith("CHF 20.00") for line in printed(capture)[0].texts)


def test_a_cancelled_cash_top_up_prints_the_cash_handed_back_and_reprints_as_a_duplicate(kiosk, cashier, capture):
    done = kiosk.cash_topup(cashier, "P101", 4000)
    cancelled = kiosk.reverse(cashier, done.entry.id, "Wrong pupil")
    printer = open_printer(capture.connection)
    printer.print_receipt(reversal_receipt(cancelled, CANTEEN, cashier.name, english))
    printer.print_receipt(reprint_receipt(kiosk.receipt(cancelled.receipt_no), CANTEEN, english))
    live, duplicate = printed(capture, 2)
    for lines in (live.texts, duplicate.texts):
        assert "Cancellation" in lines
        assert any(line.startswith("Amount handed back") and line.endswith("CHF 40.00") for line in lines)
        assert any(line.startswith("Cancels receipt") and line.endswith(f"K1/{done.receipt_no}") for line in lines)
        assert any(line.endswith("Zoé Rochat-Müller") for line in lines)
        assert any(line.startswith("New balance") and line.endswith("CHF 0.00") for line in lines)
    assert "Duplicate" not in live.texts and "Duplicate" in duplicate.texts


def test_an_unknown_receipt_number_is_not_found(kiosk):
    with pytest.raises(UnknownRecordError):
        kiosk.receipt(999)


def test_the_cash_report_receipt_shows_each_cashiers_totals(kiosk, cashier, capture):
    kiosk.add_cashier("bob", "Bob Vuilleumier", "4321")
    bob = kiosk.login("bob", "4321")
    kiosk.cash_topup(cashier, "P101", 2000)
    kiosk.cash_topup(cashier, "P102", 5000)
    wrong = kiosk.cash_topup(bob, "P103", 1000)
    kiosk.reverse(bob, wrong.entry.id, "Wrong amount")
    report = kiosk.cash_report(date(2026, 11, 30))
    open_printer(capture.connection).print_receipt(cash_report_receipt(report, CANTEEN, english))
    lines = printed(capture)[0].texts
    anne, bob_at = lines.index("Anne Roch (anne)"), lines.index("Bob Vuilleumier (bob)")
    assert lines[anne + 1].startswith("Top-ups (2)") and lines[anne + 1].endswith("CHF 70.00")
    assert lines[anne + 3].startswith("Net") and lines[anne + 3].endswith("CHF 70.00")
    assert lines[bob_at + 1].endswith("CHF 10.00") and lines[bob_at + 2].startswith("Cancelled (1)")
    assert lines[bob_at + 2].endswith("CHF -10.00") and lines[bob_at + 3].endswith("CHF 0.00")
    assert any(line.startswith("Net cash") and line.endswith("CHF 70.00") for line in lines)


def test_the_virtual_printer_writes_each_receipt_as_text_and_picture(kiosk, cashier, tmp_path):
    folder = tmp_path / "receipts"
    printer = open_printer(f"virtual:{folder}", paper="58mm")
    assert printer.status().state is PrinterState.ONLINE
    done = kiosk.cash_topup(cashier, "P101", 2500)
    printer.print_receipt(topup_receipt(done, CANTEEN, cashier.name, english))
    printer.print_receipt(test_receipt(CANTEEN, "K1", MONDAY_NOON, english))
    printer.open_drawer()
    assert sorted(p.name for p in folder.iterdir()) == [
        "drawer.log", "receipt-1.png", "receipt-1.txt", "receipt-2.png", "receipt-2.txt"]
    text = (folder / "receipt-1.txt").read_text(encoding="utf-8")
    assert "Zoé Rochat-Müller" in text and "CHF 25.00" in text
    assert all(len(line) <= 32 for line in text.splitlines())
    with Image.open(folder / "receipt-1.png") as picture:
        picture.load()
        assert picture.format == "PNG" and 300 < picture.width < 600 and picture.height > 400


@pytest.mark.parametrize("connection", [
    "", "printer", "lpt:1", "network:", "network:host", "network::9100", "network:host:port", "network:host:70000",
    "serial:/dev/ttyS0", "serial::9600", "serial:/dev/ttyS0:fast", "usb:04b8", "usb:xyz:0202", "usb:04b8:10000",
    "file:", "virtual:", "none:x",
])
def test_a_connection_string_that_is_not_understood_is_refused_with_the_accepted_forms(connection):
    with pytest.raises(PrinterError) as refused:
        open_printer(connection)
    assert refused.value.code == "printer_error"
    assert "network:HOST:PORT" in refused.value.render(english)


def test_no_printer_configured_refuses_to_print_and_says_so(kiosk, cashier):
    printer = open_printer("none")
    assert printer.status().state is PrinterState.NONE and not printer.status().ok
    with pytest.raises(PrinterError, match="No printer configured"):
        printer.print_receipt(test_receipt(CANTEEN, "K1", MONDAY_NOON, english))
    with pytest.raises(PrinterError, match="No printer configured"):
        printer.open_drawer()


def test_an_unknown_paper_width_or_profile_is_refused():
    with pytest.raises(PrinterError, match="58mm or 80mm"):
        open_printer("none", paper="76mm")
    with pytest.raises(PrinterError, match="NO-SUCH-PRINTER"):
        open_printer("none", profile="NO-SUCH-PRINTER")


def test_a_file_printer_gets_the_same_bytes_and_reports_an_unknown_status(tmp_path):
    path = tmp_path / "lp0"
    printer = open_printer(f"file:{path}")
    receipt = test_receipt(CANTEEN, "K1", MONDAY_NOON, english)
    printer.print_receipt(receipt)
    assert path.read_bytes() == printer.render(receipt)
    assert printer.status().state is PrinterState.UNKNOWN and printer.status().ok
