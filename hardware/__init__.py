"""Badge readers, receipt printer and cash drawer behind small interfaces.

Drivers import their libraries (pyscard, evdev, python-escpos) only when chosen, so a kiosk with
a keyboard-wedge reader does not need a PC/SC service, and the tests of one part do not load the
others. Nothing here knows the kiosk core: readers hand over UIDs, the printer prints documents.
"""

from __future__ import annotations

from pathlib import Path

from .readers import Reader


def open_reader(kind: str, *, readers: str = "", device: str = "", fmt: str = "hex",
                socket: Path | None = None) -> Reader:
    """The reader a kiosk's configuration names: `pcsc`, `wedge` or `virtual`."""
    if kind == "pcsc":
        from .pcsc import PcscReader

        return PcscReader(readers)
    if kind == "wedge":
        from .wedge import EvdevWedgeReader

        return EvdevWedgeReader(device, fmt)
    if kind == "virtual":
        from .readers import VirtualReader

        return VirtualReader(socket)
    raise ValueError(f"unknown reader kind {kind!r}")
