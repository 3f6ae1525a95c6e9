"""Kiosk configuration: `kiosk.toml` in the data folder chooses the reader, the printer, what
the receipts say about the canteen, and how the touchscreen behaves. An installed kiosk keeps it
in /etc/refectory, apart from its data, and names it in `REFECTORY_KIOSK_CONFIG`.

Everything has a default, so a kiosk without the file runs with the virtual reader and the
virtual printer (receipts written to `DATA/receipts`). A bad value is refused with the key named.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from domain.messages import N_, Message, RefectoryError

CONFIG_NAME = "kiosk.toml"
CONFIG_VARIABLE = "REFECTORY_KIOSK_CONFIG"  # the file's path, when it is not DATA/kiosk.toml
READER_KINDS = ("pcsc", "wedge", "virtual")
WEDGE_FORMATS = ("hex", "decimal", "decimal-reversed")
PAPER_WIDTHS = ("58mm", "80mm")

DEFAULT_CONFIG = """\
# Refectory kiosk configuration. Every key is optional; the values shown are the defaults.

[canteen]
# Printed at the top and bottom of every receipt.
name = "Restaurant scolaire"
address = []            # e.g. ["Rue de l'École 1", "1200 Genève"]
phone = ""
receipt_footer = "Merci et bon appétit !"

[reader]
kind = "virtual"        # pcsc | wedge | virtual
# pcsc: use only readers whose name contains this text (empty: every reader).
readers = ""
# wedge: the input device (e.g. /dev/input/by-id/usb-...-event-kbd) and how it types the UID.
device = ""
format = "hex"          # hex | decimal | decimal-reversed
# virtual: taps are lines written to this local socket (relative to the data folder).
socket = "virtual-reader.sock"

[printer]
# usb:VID:PID | network:HOST:PORT | serial:DEVICE:BAUD | file:PATH | virtual:DIR | none
connection = "virtual:receipts"
paper = "80mm"          # 58mm | 80mm
profile = ""            # python-escpos printer profile, e.g. TM-T88V (empty: by paper width)
cash_drawer = true      # kick the drawer after a committed cash top-up

[sync]
# Seconds between sync rounds with the server (with some jitter; sooner after a cash top-up,
# later while the server cannot be reached). The server and token come from `kiosk enroll`.
interval_seconds = 60
# Between rounds, keep a request open on the server to hear of its changes at once (a parent's
# online top-up reaches the counter within seconds). false: only the rounds.
long_poll = true

[screen]
# The touchscreen (refectory kiosk run).
language = "fr"         # fr | en (a button on the screen switches)
verdict_seconds = 4     # how long a verdict stays before the idle screen comes back
lock_after_seconds = 120  # cashier mode locks itself after this long without a touch
sound = false           # a short tone when a meal is served, a low one when refused
# The panel's diagonal in inches, for finger-sized buttons and keys (9 mm) whatever its pixels;
# 0 = from the resolution: 7" up to 800 pixels wide (800x480), else 10.1" (1280x800).
diagonal_inches = 0
"""


class ConfigError(RefectoryError):
    code = "invalid_config"


@dataclass(frozen=True, slots=True)
class CanteenInfo:
    name: str = "Restaurant scolaire"
    address: tuple[str, ...] = ()
    phone: str = ""
    receipt_footer: str = "Merci et bon appétit !"


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    kind: str = "virtual"
    readers: str = ""
    device: str = ""
    format: str = "hex"
    socket: Path = Path("virtual-reader.sock")


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    connection: str = "virtual:receipts"
    paper: str = "80mm"
    profile: str = ""
    cash_drawer: bool = True


@dataclass(frozen=True, slots=True)
class SyncConfig:
    interval_seconds: int = 60
    long_poll: bool = True


@dataclass(frozen=True, slots=True)
class ScreenConfig:
    language: str = "fr"
    verdict_seconds: int = 4
    lock_after_seconds: int = 120
    sound: bool = False
    diagonal_inches: float = 0.0  # 0: guessed from the resolution (kiosk_ui.theme.use_panel)


@dataclass(frozen=True, slots=True)
class KioskConfig:
    canteen: CanteenInfo = field(default_factory=CanteenInfo)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    printer: PrinterConfig = field(default_factory=PrinterConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    screen: ScreenConfig = field(default_factory=ScreenConfig)


def config_path(data_dir: Path) -> Path:
    """Where the kiosk's configuration is: the file `REFECTORY_KIOSK_CONFIG` names, else DATA/kiosk.toml."""
    named = os.environ.get(CONFIG_VARIABLE)
    return Path(named) if named else Path(data_dir) / CONFIG_NAME


def write_default_config(data_dir: Path) -> Path:
    """Write the commented default configuration unless there already is one."""
    path = config_path(data_dir)
    if not path.exists():
        path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    return path


def load_config(data_dir: Path) -> KioskConfig:
    """Read the configuration (defaults when absent); relative paths are taken from the data folder,
    wherever the file is."""
    data_dir = Path(data_dir)
    path = config_path(data_dir)
    if not path.exists():
        raw: dict = {}
    else:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(N_("{path}: not valid TOML ({problem})."), path=path, problem=error) from None
    unknown = set(raw) - {"canteen", "reader", "printer", "sync", "screen"}
    if unknown:
        raise ConfigError(N_("{path}: unknown section [{section}]."), path=path, section=sorted(unknown)[0])
    canteen = _section(raw, "canteen", CanteenInfo, path)
    reader = _section(raw, "reader", ReaderConfig, path)
    printer = _section(raw, "printer", PrinterConfig, path)
    sync = _section(raw, "sync", SyncConfig, path)
    screen = _section(raw, "screen", ScreenConfig, path)
    if not 5 <= sync.interval_seconds <= 86_400:
        raise ConfigError(N_("{path}: sync.interval_seconds must be between 5 and 86400."), path=path)
    if not 1 <= screen.verdict_seconds <= 60:
        raise ConfigError(N_("{path}: screen.verdict_seconds must be between 1 and 60."), path=path)
    if not 15 <= screen.lock_after_seconds <= 3600:
        raise ConfigError(N_("{path}: screen.lock_after_seconds must be between 15 and 3600."), path=path)
    if screen.diagonal_inches and not 4 <= screen.diagonal_inches <= 32:
        raise ConfigError(N_("{path}: screen.diagonal_inches must be 0 (from the resolution) or between 4 and 32."),
                          path=path)
    _choice(path, "screen.language", screen.language, ("fr", "en"))
    _choice(path, "reader.kind", reader.kind, READER_KINDS)
    _choice(path, "reader.format", reader.format, WEDGE_FORMATS)
    _choice(path, "printer.paper", printer.paper, PAPER_WIDTHS)
    if reader.kind == "wedge" and not reader.device:
        raise ConfigError(N_("{path}: reader.device is required for a keyboard-wedge reader."), path=path)
    socket = reader.socket if reader.socket.is_absolute() else data_dir / reader.socket
    connection = printer.connection
    if connection.startswith(("virtual:", "file:")):
        kind, target = connection.split(":", 1)
        if target and not Path(target).is_absolute():
            connection = f"{kind}:{data_dir / target}"
    return KioskConfig(
        canteen=canteen,
        reader=replace(reader, socket=socket),
        printer=replace(printer, connection=connection),
        sync=sync,
        screen=screen,
    )


def _section(raw: dict, name: str, kind: type, path: Path):
    values = raw.get(name, {})
    if not isinstance(values, dict):
        raise ConfigError(N_("{path}: [{section}] must be a table."), path=path, section=name)
    defaults = kind()
    typed = {}
    for key, value in values.items():
        if key not in kind.__dataclass_fields__:
            raise ConfigError(N_("{path}: unknown key {key}."), path=path, key=f"{name}.{key}")
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(N_("{path}: {key} must be a list of texts."), path=path, key=f"{name}.{key}")
            value = tuple(value)
        elif isinstance(default, Path):
            if not isinstance(value, str):
                raise ConfigError(N_("{path}: {key} must be a text."), path=path, key=f"{name}.{key}")
            value = Path(value)
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(N_("{path}: {key} must be a number."), path=path, key=f"{name}.{key}")
            value = float(value)
        elif type(value) is not type(default):
            expected = (N_("true or false") if isinstance(default, bool)
                        else N_("a whole number") if isinstance(default, int) else N_("a text"))
            raise ConfigError(N_("{path}: {key} must be {expected}."), path=path, key=f"{name}.{key}",
                              expected=Message(expected))
        typed[key] = value
    return kind(**typed)


def _choice(path: Path, key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(N_("{path}: {key} = '{value}' is not one of {allowed}."), path=path, key=key,
                          value=value, allowed=", ".join(allowed))
