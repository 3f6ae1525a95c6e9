"""The receipt printer and its cash drawer, through python-escpos.

A connection string from `kiosk.toml` chooses the transport: `usb:VID:PID` (hex, as `lsusb` shows
them) or `usb:VID:PID:IN_EP:OUT_EP` for a printer whose bulk endpoints are not python-escpos's
0x82/0x01, `network:HOST:PORT`, `serial:DEVICE:BAUD` or `serial:DEVICE:BAUD:8N1` (data bits,
parity N/E/O, stop bits), `file:PATH`, `virtual:DIR` (the demo: each receipt becomes
`DIR/receipt-<n>.txt` and `.png`, decoded from the very bytes a printer would get) or `none`.
USB goes through pyusb and libusb-1.0, serial through pyserial.

Every job opens the connection, sends, and closes it: a printer switched off and on again between
two pupils is simply found again, and a failure is one `PrinterError` with its cause (refused,
timeout, lost), never a half-open socket kept for the next receipt. Printing always happens after
the ledger commit, so a failed print loses nothing: the receipt is reprinted from the ledger.

Code page: PC858 (CP850 plus the euro sign), selected explicitly with ESC t after ESC @ and with
python-escpos's automatic code-page switching turned off. CP858 has every French and German
letter (é è à ç ô ü É À ä ö ß); the automatic mode would hop between code pages character by
character and pick what the profile lists first, which on cheap printers is often not what
the firmware has. We send Epson's standard slot 19 when the profile lists it for PC858 (the
58 mm POS-5890 profile lists both 19 and 53), and fall back to CP850 (slot 2) for a profile
without PC858. Characters outside the code page print as '?'.

Paper: the characters per line come from the profile's font A columns (TM-T88V: 42 at 512 dots
on 80 mm paper; POS-5890: 32 on 58 mm). Default profiles: 80 mm "TM-T88V"; 58 mm "POS-5890"
(Zjiang POS-5890 series, media width 57.5 mm, 384 dots, 32 columns, PC858; the generic 58 mm
thermal printer sold under many names). It has no cutter, so python-escpos only feeds the paper
at the end of a receipt (no GS V); a 58 mm printer with a cutter needs a profile saying so.
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .escpos_loader import import_escpos

import_escpos()  # before any escpos import: see escpos_loader

from escpos import printer as escpos_printer  # noqa: E402
from escpos.constants import RT_MASK_LOWPAPER, RT_MASK_NOPAPER, RT_MASK_ONLINE, RT_STATUS_ONLINE, RT_STATUS_PAPER  # noqa: E402
from escpos.escpos import Escpos  # noqa: E402
from escpos.exceptions import Error as EscposError  # noqa: E402
from usb.core import NoBackendError  # noqa: E402

from domain.messages import N_, Message, RefectoryError  # noqa: E402
from domain.receipts import Blank, Receipt, Row, Rule, Style, Text  # noqa: E402

from .escpos_decode import decode, render_png  # noqa: E402

PAPER_PROFILES = {"80mm": "TM-T88V", "58mm": "POS-5890"}
PREFERRED_CODE_PAGES = (("CP858", 19), ("CP850", 2))  # (encoding, Epson standard ESC t slot)
NETWORK_TIMEOUT = 5.0  # seconds: a queue of pupils waits on a dead printer no longer than this
DRAWER_PIN = 2
ESC_T = b"\x1bt"
BAD_CONNECTION = N_("Printer connection '{connection}' is not understood: use usb:VID:PID[:IN_EP:OUT_EP],"
                    " network:HOST:PORT, serial:DEVICE:BAUD[:8N1], file:PATH or virtual:DIR.")
SERIAL_BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)  # what ESC/POS printers offer
SERIAL_FRAMING = re.compile(r"([78])([NEO])([12])")  # data bits, parity, stop bits: 8N1
USB_ID = re.compile(r"(?:0x)?([0-9a-f]{1,4})")
USB_ENDPOINT = re.compile(r"(?:0x)?([0-9a-f]{1,2})")


class _Network(escpos_printer.Network):
    """python-escpos 3.1's `Network.open` drops the socket of a failed connect without closing
    it: a kiosk retrying an unplugged printer all day would leak a descriptor per attempt.
    `create_connection` closes it, and the OSError (refused, timeout) reaches `_cause` as is."""

    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)


class _Serial(escpos_printer.Serial):
    """A status answer is one byte: read it as soon as it comes. python-escpos 3.1 asks for 16
    and so always waits out the read timeout, a second per status query."""

    def _read(self) -> bytes:
        assert self.device
        return self.device.read(1)


Transport = tuple[type, dict]  # a python-escpos printer class and its keyword arguments


class PrinterError(RefectoryError):
    code = "printer_error"


class PrinterState(StrEnum):
    ONLINE = "online"
    PAPER_LOW = "paper_low"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # the connection cannot answer status queries (file, usb)
    NONE = "none"  # no printer configured


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    state: PrinterState
    message: Message

    @property
    def ok(self) -> bool:
        """Printing is expected to work: online, paper low, or a connection that cannot tell."""
        return self.state in (PrinterState.ONLINE, PrinterState.PAPER_LOW, PrinterState.UNKNOWN)


_STATUS_TEXT = {
    PrinterState.ONLINE: N_("Printer ready."),
    PrinterState.PAPER_LOW: N_("The printer paper is running low."),
    PrinterState.PAPER_OUT: N_("The printer is out of paper."),
    PrinterState.OFFLINE: N_("The printer is offline ({connection})."),
    PrinterState.UNKNOWN: N_("The printer cannot report its status; it will be tried when printing."),
    PrinterState.NONE: N_("No printer configured."),
}


def layout(receipt: Receipt, columns: int) -> list[tuple[str, Style, bool]]:
    """The receipt as printed lines of at most `columns` characters: (text, style, bold).

    A row puts its value flush right; when label and value do not fit on one line the label is
    wrapped and the value goes right-aligned on the next line, so an amount is never cut.
    """
    out: list[tuple[str, Style, bool]] = []
    for line in receipt.lines:
        if isinstance(line, Text):
            bold = line.style in (Style.TITLE, Style.BOLD)
            for part in textwrap.wrap(line.text, columns) or [""]:
                out.append((part, line.style, bold))
        elif isinstance(line, Row):
            left, right = line.left.strip(), line.right.strip()
            if len(left) + 1 + len(right) <= columns:
                out.append((left + right.rjust(columns - len(left)), Style.NORMAL, line.bold))
            else:
                out += [(part, Style.NORMAL, line.bold) for part in textwrap.wrap(left, columns)]
                out += [(part.rjust(columns), Style.NORMAL, line.bold) for part in textwrap.wrap(right, columns)]
        elif isinstance(line, Rule):
            out.append(((line.char or "-")[0] * columns, Style.NORMAL, False))
        elif isinstance(line, Blank):
            out.append(("", Style.NORMAL, False))
    return out


class ReceiptPrinter:
    """One configured printer. Each call is one job on a fresh connection (open, send, close)."""

    def __init__(self, connection: str, kind: str, transport: Transport | None, *, paper: str,
                 profile: str, out_dir: Path | None = None) -> None:
        self.connection, self.kind, self.transport = connection, kind, transport
        self.paper, self.profile, self.out_dir = paper, profile, out_dir
        probe = escpos_printer.Dummy(profile=profile)
        self.columns: int = probe.profile.get_columns("a")
        pages = probe.profile.profile_data.get("codePages", {})
        for encoding, slot in PREFERRED_CODE_PAGES:
            slots = sorted(int(n) for n, name in pages.items() if name == encoding)
            if slots:
                self.encoding, self.code_page = encoding, slot if slot in slots else slots[0]
                break
        else:
            raise PrinterError(N_("Printer profile '{profile}' has neither code page 858 nor 850."), profile=profile)

    # -- printing ----------------------------------------------------------------------------

    def render(self, receipt: Receipt) -> bytes:
        """The ESC/POS bytes of a receipt, cut included (what `print_receipt` sends)."""
        dummy = self._new(escpos_printer.Dummy)
        self._draw(dummy, receipt)
        return dummy.output

    def print_receipt(self, receipt: Receipt) -> None:
        """Print, or raise `PrinterError`: a receipt is printed only once every byte of it was
        written and flushed to the printer (or, virtual, both files written whole)."""
        if self.kind == "virtual":
            self._virtual(lambda: self._write_virtual(self.render(receipt)))
            return
        self._job(lambda printer: self._draw(printer, receipt))

    def open_drawer(self) -> None:
        """Kick the cash drawer (ESC p, pin 2) through the printer's drawer port."""
        if self.kind == "virtual":
            self._virtual(self._log_drawer_kick)
            return
        self._job(lambda printer: printer.cashdraw(DRAWER_PIN))

    def _connect(self) -> Escpos:
        assert self.transport is not None
        kind, arguments = self.transport
        return self._new(kind, **arguments)

    def _new(self, factory: Callable[..., Escpos], *args, **kwargs) -> Escpos:
        # Automatic code-page switching off: the printer stays on the one code page we selected.
        return factory(*args, profile=self.profile, magic_encode_args={"encoding": self.encoding, "disabled": True},
                       **kwargs)

    def _draw(self, printer: Escpos, receipt: Receipt) -> None:
        printer.hw("INIT")  # ESC @: forget whatever style or code page the last job left
        printer._raw(ESC_T + bytes([self.code_page]))
        for text, style, bold in layout(receipt, self.columns):
            align = "center" if style in (Style.TITLE, Style.CENTER) else "left"
            if style is Style.TITLE:
                printer.set(align=align, bold=True, double_height=True)
            else:
                printer.set(align=align, bold=bold, normal_textsize=True)
            printer.textln(text)
        printer.set(align="left", bold=False, normal_textsize=True)
        printer.cut()  # feeds, then GS V where the profile has a cutter

    def _virtual(self, work: Callable[[], None]) -> None:
        """A virtual printer's job: its folder failing (disk full, read-only) fails like a printer."""
        try:
            work()
        except OSError as error:
            raise self._unavailable(error) from error

    def _write_virtual(self, data: bytes) -> None:
        """`receipt-<n>.txt` and `.png`; when either cannot be written whole, neither is left."""
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.stem.split("-")[1]) for p in self.out_dir.glob("receipt-*.txt")
                   if p.stem.split("-")[1].isdigit()]
        stem = self.out_dir / f"receipt-{max(numbers, default=0) + 1}"
        decoded = decode(data)
        text = "\n".join(line.text for line in decoded.lines).rstrip("\n") + "\n"
        try:
            stem.with_suffix(".txt").write_text(text, encoding="utf-8")
            render_png(decoded, stem.with_suffix(".png"), columns=self.columns)
        except OSError:
            for path in (stem.with_suffix(".txt"), stem.with_suffix(".png")):
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            raise

    def _log_drawer_kick(self) -> None:
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with (self.out_dir / "drawer.log").open("a", encoding="utf-8") as log:
            log.write("drawer kick (pin 2)\n")

    def _job(self, work: Callable[[Escpos], None]) -> None:
        """Open, send, then close inside the job: closing flushes what is still buffered (a file
        or device connection writes only then), so a write that fails there fails the job."""
        if self.transport is None:
            raise PrinterError(N_("No printer configured (printer.connection = none): nothing was printed."))
        printer = None
        try:
            printer = self._connect()
            printer.open()
            work(printer)
            printer.close()
        # RuntimeError: pyusb or pyserial missing; ValueError: pyusb finds no libusb, or no such endpoint
        except (OSError, EscposError, RuntimeError, ValueError) as error:
            raise self._unavailable(error) from error
        finally:
            if printer is not None:
                _close_quietly(printer)

    def _unavailable(self, error: BaseException) -> PrinterError:
        return PrinterError(N_("The receipt printer ({connection}) is not available: {cause}."),
                            connection=self.connection, cause=_device_cause(self.kind, self.transport, error)
                            or _cause(error))

    # -- status ------------------------------------------------------------------------------

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1 and 4) where the connection can answer."""
        if self.transport is None:
            return self._status(PrinterState.NONE)
        if self.kind == "virtual":
            return self._status(PrinterState.ONLINE)
        if self.kind in ("file", "usb"):  # a file cannot answer; a USB read has no timeout
            return self._status(PrinterState.UNKNOWN)
        printer = self._connect()
        try:
            printer.open()
            online = printer.query_status(RT_STATUS_ONLINE)
            paper = printer.query_status(RT_STATUS_PAPER)
        except (TimeoutError, NotImplementedError):
            return self._status(PrinterState.UNKNOWN)
        except (OSError, EscposError):
            return self._status(PrinterState.OFFLINE)
        finally:
            _close_quietly(printer)
        if not online or not paper:
            return self._status(PrinterState.UNKNOWN)
        if paper[0] & RT_MASK_NOPAPER == RT_MASK_NOPAPER:
            return self._status(PrinterState.PAPER_OUT)
        if online[0] & RT_MASK_ONLINE:
            return self._status(PrinterState.OFFLINE)
        if paper[0] & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER:
            return self._status(PrinterState.PAPER_LOW)
        return self._status(PrinterState.ONLINE)

    def _status(self, state: PrinterState) -> PrinterStatus:
        params = {"connection": self.connection} if state is PrinterState.OFFLINE else {}
        return PrinterStatus(state, Message(_STATUS_TEXT[state], params))


def _device_cause(kind: str, transport: Transport | None, error: BaseException) -> Message | None:
    """Why a USB or serial printer cannot be used, naming what to check; None for other causes.

    python-escpos wraps every failure to open in its own `DeviceNotFoundError`: the system's
    error (pyusb's `USBError`, pyserial's `SerialException`, both with the errno) is its context.
    """
    if kind not in ("usb", "serial") or transport is None:
        return None
    arguments = transport[1]
    inner = error
    while not isinstance(inner, (OSError, ValueError, AssertionError)) and inner.__context__ is not None:
        inner = inner.__context__
    code = getattr(inner, "errno", None)
    if kind == "usb":
        device = f"{arguments['idVendor']:04x}:{arguments['idProduct']:04x}"
        if isinstance(inner, NoBackendError):
            return Message(N_("the USB library is missing: install the Debian package libusb-1.0-0"))
        if isinstance(inner, AssertionError):  # python-escpos asserts that usb.core.find found it
            return Message(N_("no USB printer {device} found: check that it is plugged in and switched on"
                              " (`lsusb` then lists it)"),
                           {"device": device})
        if code == errno.EACCES:
            return Message(N_("USB printer {device} is there but may not be opened by this account: the udev rule"
                              " 60-refectory.rules gives it to the group refectory (mode 0660), of which the"
                              " kiosk's user must be a member"), {"device": device})
        if isinstance(inner, ValueError) and "endpoint" in str(inner):
            return Message(N_("USB printer {device} has no endpoint {detail}: give its endpoints as"
                              " usb:VID:PID:IN_EP:OUT_EP (`lsusb -v` lists them)"),
                           {"device": device, "detail": str(inner).rsplit(" ", 1)[-1]})
        return None
    device = arguments["devfile"]
    if code == errno.ENOENT:
        return Message(N_("serial device {device} does not exist: check that the printer (or its USB-serial"
                          " adapter) is plugged in"), {"device": device})
    if code == errno.EACCES:
        return Message(N_("serial device {device} may not be opened by this account: the kiosk's user must be"
                          " a member of the device's group (dialout, or refectory through the udev rule"
                          " 60-refectory.rules)"), {"device": device})
    return None


def _cause(error: BaseException) -> Message:
    """Why a job failed, in words a cashier can act on (the OSError may hide in the context)."""
    inner = error
    while not isinstance(inner, OSError) and inner.__context__ is not None:
        inner = inner.__context__
    if isinstance(inner, ConnectionRefusedError):
        return Message(N_("the printer refused the connection (switched off or wrong address)"))
    if isinstance(inner, TimeoutError):
        return Message(N_("the printer did not answer in time"))
    if isinstance(inner, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return Message(N_("the connection to the printer was lost"))
    if isinstance(inner, (FileNotFoundError, PermissionError)):
        return Message(N_("the printer device cannot be opened ({detail})"), {"detail": str(inner)})
    if isinstance(inner, OSError) and inner.errno in (errno.ENOSPC, errno.EDQUOT):
        return Message(N_("no space left to write the receipt ({detail})"), {"detail": str(inner)})
    detail = " ".join(str(error).split())
    return Message(N_("the printer is offline or unreachable ({detail})"), {"detail": detail})


def _close_quietly(printer: Escpos) -> None:
    """Release a connection whose job failed, without a second error. When the close itself
    failed (a file connection's flush), the device is closed under it and forgotten, or
    python-escpos's `__del__` would try the flush again and print its traceback."""
    with contextlib.suppress(OSError, EscposError):
        printer.close()
    device = getattr(printer, "_device", None)
    if device:
        with contextlib.suppress(Exception):  # the buffered bytes are lost either way
            device.close()
        printer._device = False


def open_printer(connection: str, *, paper: str = "80mm", profile: str = "") -> ReceiptPrinter:
    """A `ReceiptPrinter` for a connection string; nothing is opened until the first job."""
    if paper not in PAPER_PROFILES:
        raise PrinterError(N_("Paper width '{paper}' is not supported: use 58mm or 80mm."), paper=paper)
    profile = profile or PAPER_PROFILES[paper]
    try:
        escpos_printer.Dummy(profile=profile)
    except Exception:  # python-escpos raises its own NotSupported for an unknown profile name
        raise PrinterError(N_("Unknown printer profile '{profile}'."), profile=profile) from None
    connection = (connection or "").strip()
    kind, _, rest = connection.partition(":")
    out_dir = Path(rest) if kind == "virtual" else None
    return ReceiptPrinter(connection, kind, _transport(kind, rest, connection), paper=paper, profile=profile,
                          out_dir=out_dir)


def _transport(kind: str, rest: str, connection: str) -> Transport | None:
    """The python-escpos class and its arguments for a connection string (None: no printer)."""
    def bad() -> PrinterError:
        return PrinterError(BAD_CONNECTION, connection=connection)

    if kind == "none" and not rest:
        return None
    if kind == "virtual" and rest:
        return escpos_printer.Dummy, {}
    if kind == "file" and rest:
        return escpos_printer.File, {"devfile": rest, "auto_flush": False}
    head, _, tail = rest.rpartition(":")
    if kind == "network":
        host = head.strip("[]")
        if not host or not tail.isdigit() or not 0 < int(tail) < 65536:
            raise bad()
        return _Network, {"host": host, "port": int(tail), "timeout": NETWORK_TIMEOUT}
    if kind == "serial":
        return _serial_transport(rest, bad)
    if kind == "usb":
        return _usb_transport(rest, bad)
    raise bad()


def _serial_transport(rest: str, bad: Callable[[], PrinterError]) -> Transport:
    """`DEVICE:BAUD[:8N1]`; the device may hold colons (/dev/serial/by-path/...-usb-0:1.2:1.0-port0)."""
    device, _, tail = rest.rpartition(":")
    framing = SERIAL_FRAMING.fullmatch(tail.upper())
    if framing:
        device, _, tail = device.rpartition(":")
    if not device or not (tail.isascii() and tail.isdigit()):
        raise bad()
    if int(tail) not in SERIAL_BAUD_RATES:
        raise PrinterError(N_("Serial speed {baud} is not a baud rate receipt printers use: choose one of {rates}"
                              " (the printer's self-test page shows its own)."),
                           baud=tail, rates=", ".join(map(str, SERIAL_BAUD_RATES)))
    arguments: dict = {"devfile": device, "baudrate": int(tail)}
    if framing:
        bits, parity, stop = framing.groups()
        arguments |= {"bytesize": int(bits), "parity": parity, "stopbits": int(stop)}
    return _Serial, arguments


def _usb_transport(rest: str, bad: Callable[[], PrinterError]) -> Transport:
    """`VID:PID[:IN_EP:OUT_EP]` in hex. An id of 0 is refused: python-escpos would drop it from
    its search and take the first USB device of any vendor or product."""
    parts = rest.lower().split(":")
    if len(parts) not in (2, 4):
        raise bad()
    ids = [USB_ID.fullmatch(part) for part in parts[:2]]
    endpoints = [USB_ENDPOINT.fullmatch(part) for part in parts[2:]]
    if not all(ids + endpoints):
        raise bad()
    vendor, product = (int(match.group(1), 16) for match in ids)
    arguments = {"idVendor": vendor, "idProduct": product, "timeout": int(NETWORK_TIMEOUT * 1000)}
    if endpoints:
        in_ep, out_ep = (int(match.group(1), 16) for match in endpoints)
        if not (in_ep & 0x80 and 0 < in_ep & 0x7F < 16 and 0 < out_ep < 16):  # IN has the high bit, OUT not
            raise bad()
        arguments |= {"in_ep": in_ep, "out_ep": out_ep}
    if not vendor or not product:
        raise bad()
    return escpos_printer.Usb, arguments
