"""`refectory kiosk listen|print-test|reprint`: the commands that drive real devices.

Kept apart from `kiosk/cli.py` because they open the hardware the configuration names; the
kiosk core itself never imports a driver.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import click

import hardware
from domain.messages import Message

from .cli import _, data_option, reports_errors
from .config import load_config
from .counter import Counter, CounterTap
from .service import KioskService
from .store import Store
from .texts import tap_payload


def _line(payload: dict) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, sort_keys=True))


def reader_from_config(data_dir: Path):
    reader = load_config(data_dir).reader
    return hardware.open_reader(reader.kind, readers=reader.readers, device=reader.device, fmt=reader.format,
                                socket=reader.socket)


@click.command()
@data_option
@reports_errors
def listen(data_dir: Path) -> None:
    """Run the counter without a screen: each badge read is a tap, printed as one JSON line.

    Reader status changes and unreadable cards are printed as JSON lines too ("event": "reader").
    Stops on Ctrl-C or SIGTERM.
    """
    store = Store.open(data_dir)
    counter = Counter(KioskService(store))
    reader = reader_from_config(data_dir)

    def stop(*_args) -> None:
        counter.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def on_tap(tap: CounterTap) -> None:
        _line({"event": "tap", "reader": tap.read.reader, "overhead_ms": round(tap.overhead_ms, 3),
               **tap_payload(tap.result, _)})

    def on_notice(notice) -> None:
        message = notice.message.render(_) if isinstance(notice.message, Message) else str(notice.message)
        _line({"event": "reader", "reader": notice.reader, "status": notice.status and str(notice.status),
               "message": message})

    reader.start(counter.on_badge, counter.on_notice)
    try:
        counter.run(on_tap, on_notice)
    finally:
        reader.stop()
        store.close()
