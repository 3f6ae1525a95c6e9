"""The test school's sync server: `refectory.testing.live_server` with the test roster, on a clock
the test holds (`Clock`, at MONDAY_NOON unless moved), which the kiosks it enrolls read too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from domain.roster import parse_csv
from refectory.testing.live_server import LiveServer, free_port, new_kiosk, serving, start_server
from sync_server.admin import canteen_settings, cashiers, roster_import

from .conftest import MONDAY_NOON, ROSTER

__all__ = ["SERVER_ROSTER", "Clock", "LiveServer", "free_port", "new_kiosk", "seed_school", "serving",
           "start_school_server", "start_server"]

# The kiosk roster plus the parents' e-mail column the server import wants.
SERVER_ROSTER = "\n".join(
    line + (",parent_email" if i == 0 else f",parent{i}@example.ch")
    for i, line in enumerate(ROSTER.strip().splitlines())
) + "\n"


@dataclass
class Clock:
    """A clock the test sets: what the server (and the kiosks enrolled with it) take for now."""

    now: datetime = MONDAY_NOON

    def __call__(self) -> datetime:
        return self.now


def start_school_server(database_url: str, instance: Path, *, clock=None, **config) -> LiveServer:
    """A server with the test school (`seed_school`) in a database it migrates first."""
    live = start_server(database_url, instance, clock=clock or Clock(), **config)
    with live.write() as conn:
        seed_school(conn, live.clock())
    return live


def seed_school(conn: Connection, now: datetime) -> None:
    """The test roster, cashier `anne` (PIN 1234) and primary meals at CHF 7.50."""
    header, rows = parse_csv(SERVER_ROSTER.encode())
    roster_import.import_pupils(conn, header, rows, now)
    cashiers.add_cashier(conn, "anne", "Anne Roch", "1234", now)
    canteen_settings.set_setting(conn, "price.primary", "7.50", now)
