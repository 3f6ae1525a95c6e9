"""USB and serial receipt printers through the real pyusb, libusb and pyserial.

Serial is real end to end: the printer is a pseudo-terminal whose master side this test reads (and
answers status queries on, as a printer does), so python-escpos and pyserial open, configure and
write a real tty. USB is as real as a machine without a printer allows: pyusb searches the real
libusb for a printer that is not there, and a libusb hidden by a bind mount in a private mount
namespace stands for a device where the Debian package is missing. Permissions are the kernel's:
a process that dropped to `nobody` opens a device node of mode 0660, with and without its group.
"""

from __future__ import annotations

import grp
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import usb.backend.libusb1

from domain.i18n import gettext_for
from hardware.escpos_decode import Decoded, decode
from hardware.printer import SERIAL_BAUD_RATES, PrinterError, PrinterState, open_printer
from kiosk.config import CanteenInfo
from kiosk.printing import deliver
from kiosk.receipts import test_receipt, topup_receipt
from tests.conftest import MONDAY_NOON
from tests.escpos_capture import DLE_EOT, ONLINE, PAPER_OK, PAPER_OUT

CANTEEN = CanteenInfo(name="Réfectoire du Collège", address=("À côté de l'Église", "1227 Carouge"),
                      phone="022 342 00 00", receipt_footer="Merci et bon appétit !")
english, french = gettext_for("en"), gettext_for("fr")
ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30.0


class PtyPrinter:
    """A serial printer on a pseudo-terminal: `device` is the tty the kiosk opens; every byte
    written to it is kept, and DLE EOT 1 / 4 are answered with `answers`."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()  # the slave stays open: without it the master reads EIO
        self.device = os.ttyname(self._slave)
        self.answers = {1: ONLINE, 4: PAPER_OK}
        self._data = bytearray()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def connection(self, settings: str = "9600") -> str:
        return f"serial:{self.device}:{settings}"

    def wait_for(self, done, what: str) -> Decoded:
        """The bytes received so far, decoded, once `done(decoded)` holds."""
        with self._changed:
            if not self._changed.wait_for(lambda: done(decode(bytes(self._data))), DEADLINE):
                raise TimeoutError(f"the serial printer never received {what}: {bytes(self._data)!r}")
            return decode(bytes(self._data))

    def close(self) -> None:
        os.close(self._slave)
        os.close(self._master)  # the reader's read fails, and it ends
        self._reader.join(DEADLINE)

    def _read(self) -> None:
        scanned = 0
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._changed:
                self._data += chunk
                while (found := self._data.find(DLE_EOT, scanned)) != -1 and found + 2 < len(self._data):
                    answer = self.answers.get(self._data[found + 2])
                    if answer is not None:
                        os.write(self._master, bytes([answer]))
                    scanned = found + 3
                self._changed.notify_all()


@pytest.fixture
def pty_printer():
    printer = PtyPrinter()
    yield printer
    printer.close()


def refusal(connection: str) -> str:
    """What a cashier is told when printing on `connection` fails."""
    with pytest.raises(PrinterError) as failed:
        open_printer(connection).print_receipt(test_receipt(CANTEEN, "K1", MONDAY_NOON, english))
    return failed.value.render(english)


def run_python(code: str, *, prefix: tuple[str, ...] = ()) -> str:
    """Run `code` in a new Python process of the project (stdout back); it may drop privileges itself."""
    finished = subprocess.run([*prefix, sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                              text=True, timeout=DEADLINE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.strip()


# -- connection strings ----------------------------------------------------------------------------

@pytest.mark.parametrize(("connection", "arguments"), [
    ("usb:04b8:0202", {"idVendor": 0x04B8, "idProduct": 0x0202}),
    ("usb:0x0416:0x5011", {"idVendor": 0x0416, "idProduct": 0x5011}),
    ("usb:0416:5011:81:03", {"idVendor": 0x0416, "idProduct": 0x5011, "in_ep": 0x81, "out_ep": 0x03}),
    ("usb:1FC9:2016:0x82:0x02", {"idVendor": 0x1FC9, "idProduct": 0x2016, "in_ep": 0x82, "out_ep": 0x02}),
    ("serial:/dev/ttyUSB0:38400", {"devfile": "/dev/ttyUSB0", "baudrate": 38400}),
    ("serial:/dev/ttyS0:9600:7E2", {"devfile": "/dev/ttyS0", "baudrate": 9600, "bytesize": 7, "parity": "E",
                                     "stopbits": 2}),
    ("serial:/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0:115200:8n1",
     {"devfile": "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0", "baudrate": 115200, "bytesize": 8,
      "parity": "N", "stopbits": 1}),
])
def test_usb_and_serial_connection_strings_reach_the_driver_as_written(connection, arguments):
    _driver, given = open_printer(connection).transport
    assert {name: value for name, value in given.items() if name != "timeout"} == arguments


@pytest.mark.parametrize("connection", [
    "usb:04b8", "usb:04b8:0202:81", "usb:04b8:0202:81:03:00", "usb:0:0202", "usb:04b8:0000", "usb:04_b8:0202",
    "usb:04b8:0202:01:81", "usb:04b8:0202:81:00", "usb:04b8:0202:181:01", "usb: 4b8:0202",
    "serial:/dev/ttyS0", "serial:/dev/ttyS0:8N1", "serial:9600", "serial:/dev/ttyS0:9600:9N1",
    "serial:/dev/ttyS0:9600:8X1", "serial:/dev/ttyS0:²",
])
def test_a_usb_or_serial_connection_that_is_not_understood_is_refused_with_the_accepted_forms(connection):
    with pytest.raises(PrinterError) as refused:
        open_printer(connection)
    assert "usb:VID:PID[:IN_EP:OUT_EP]" in refused.value.render(english)
    assert "serial:DEVICE:BAUD[:8N1]" in refused.value.render(english)


@pytest.mark.parametrize("baud", ["0", "9601", "250000"])
def test_a_serial_speed_no_printer_uses_is_refused_with_the_usual_ones(baud):
    with pytest.raises(PrinterError) as refused:
        open_printer(f"serial:/dev/ttyUSB0:{baud}")
    message = refused.value.render(english)
    assert f"Serial speed {baud} " in message and ", ".join(map(str, SERIAL_BAUD_RATES)) in message
    assert "9600" in refused.value.render(french) and "débit" in refused.value.render(french)


# -- USB -------------------------------------------------------------------------------------------

def test_a_usb_printer_that_is_not_plugged_in_is_named_with_the_way_to_find_it():
    message = refusal("usb:04b8:0202")
    assert "no USB printer 04b8:0202 found" in message and "`lsusb`" in message
    assert open_printer("usb:04b8:0202").status().state is PrinterState.UNKNOWN  # asked only when printing


def test_without_libusb_the_usb_printer_says_which_debian_package_to_install():
    usb.backend.libusb1.get_backend()  # loads the library, so this process's maps show which file it is
    library = next(line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                   if "libusb-1.0" in line)
    said = run_python("""
        from domain.i18n import gettext_for
        from hardware.printer import PrinterError, open_printer
        try:
            open_printer("usb:04b8:0202").open_drawer()
        except PrinterError as error:
            print(error.render(gettext_for("en")))
    """, prefix=("unshare", "--mount", "--propagation", "private", "sh", "-c",
                 f'mount --bind /dev/null "{library}" && exec "$@"', "hide-libusb"))
    assert said.startswith("The receipt printer (usb:04b8:0202) is not available:")
    assert "install the Debian package libusb-1.0-0" in said


# -- serial ----------------------------------------------------------------------------------------

def test_a_serial_printer_gets_the_receipt_with_its_accents_the_cut_and_the_drawer_kick(
        pty_printer, service, cashier):
    printer = open_printer(pty_printer.connection("38400:8N1"))
    done = service.cash_topup(cashier, "P001", 2500)
    outcome = deliver(printer, topup_receipt(done, CANTEEN, cashier.name, french), open_drawer=True)
    assert (outcome.printed, outcome.drawer_opened, outcome.problem) == (True, True, None)

    receipt = pty_printer.wait_for(lambda decoded: decoded.cut, "a cut receipt")
    assert receipt.drawer_kicks == [2] and receipt.code_pages == [19] and receipt.unknown == []
    assert "Reçu de recharge" in receipt.texts and "À côté de l'Église" in receipt.texts
    assert any(line.startswith("Montant versé") and line.endswith("CHF 25.00") for line in receipt.texts)
    assert "Merci et bon appétit !" in receipt.texts


@pytest.mark.parametrize(("paper", "state", "ok"), [(PAPER_OK, PrinterState.ONLINE, True),
                                                   (PAPER_OUT, PrinterState.PAPER_OUT, False)])
def test_a_serial_printer_reports_its_paper_status(pty_printer, paper, state, ok):
    pty_printer.answers[4] = paper
    status = open_printer(pty_printer.connection()).status()
    assert (status.state, status.ok) == (state, ok)


def test_a_serial_device_that_does_not_exist_is_named_and_the_printer_is_offline(tmp_path):
    connection = f"serial:{tmp_path}/ttyUSB7:9600"
    message = refusal(connection)
    assert f"serial device {tmp_path}/ttyUSB7 does not exist" in message and "plugged in" in message
    assert open_printer(connection).status().state is PrinterState.OFFLINE


def test_after_the_money_is_committed_a_missing_usb_or_serial_printer_is_a_reported_problem(
        service, cashier, tmp_path):
    for connection, said in ((f"serial:{tmp_path}/ttyS9:9600", "does not exist"),
                             ("usb:0416:5011", "no USB printer 0416:5011 found")):
        done = service.cash_topup(cashier, "P001", 1000)
        outcome = deliver(open_printer(connection), topup_receipt(done, CANTEEN, cashier.name, english),
                          open_drawer=True)
        assert not outcome.printed and not outcome.drawer_opened
        assert said in outcome.problem.render(english)
        assert done.receipt_no in service.store.receipt_numbers()  # reprinted later from the ledger
    assert service.balance("P001") == 2000


def test_a_serial_device_of_a_group_the_kiosk_user_is_not_in_is_refused_and_opens_once_it_is(pty_printer):
    """The device is root:dialout 0660, as Debian makes a serial port (the udev rule does the same
    with the group refectory); the process drops to `nobody`, with or without the group."""
    group = grp.getgrnam("dialout").gr_gid
    os.chown(pty_printer.device, 0, group)
    os.chmod(pty_printer.device, 0o660)
    code = """
        import os
        from domain.i18n import gettext_for
        from hardware.printer import PrinterError, open_printer
        english, printer = gettext_for("en"), open_printer({connection!r})
        os.setgroups({groups!r}); os.setgid(65534); os.setuid(65534)
        try:
            printer.open_drawer()
            print("opened")
        except PrinterError as error:
            print(error.render(english))
    """
    connection = pty_printer.connection()
    refused = run_python(code.format(connection=connection, groups=[]))
    assert f"serial device {pty_printer.device} may not be opened by this account" in refused
    assert "dialout" in refused and "60-refectory.rules" in refused

    assert run_python(code.format(connection=connection, groups=[group])) == "opened"
    assert pty_printer.wait_for(lambda decoded: decoded.drawer_kicks, "a drawer kick").drawer_kicks == [2]
