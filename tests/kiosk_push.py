"""A kiosk's pushes written by hand, over real HTTP: what a kiosk (or someone holding its token)
can send, beyond what the kiosk core would make."""

from __future__ import annotations

from pathlib import Path

import requests

from domain.clock import to_text
from domain.entries import new_entry_id
from domain.roster import parse_csv
from sync_server.admin import roster_import
from sync_server.sync import kiosks

from .conftest import MONDAY_NOON
from .live_server import SERVER_ROSTER, LiveServer, start_server


def enrolled_server(database_url: str, tmp_path: Path) -> LiveServer:
    """The server with the test roster and kiosk K1 enrolled (its token as `.token`), at MONDAY_NOON."""
    live = start_server(database_url, tmp_path / "instance", clock=lambda: MONDAY_NOON)
    with live.write() as conn:
        header, rows = parse_csv(SERVER_ROSTER.encode())
        roster_import.import_pupils(conn, header, rows, MONDAY_NOON)
    return enroll(live)


def enroll(live: LiveServer, kiosk_id: str = "K1") -> LiveServer:
    """`live` with kiosk `kiosk_id` enrolled on it, its token as `.token`."""
    with live.write() as conn:
        code = kiosks.issue_code(conn, kiosk_id, live.clock())
    live.token = requests.post(f"{live.url}/api/v1/kiosks/enroll", json={"code": code, "kiosk_id": kiosk_id},
                               timeout=30).json()["token"]
    return live


def push(api: LiveServer, *records: dict, expect: int = 200) -> list[dict]:
    answer = requests.post(f"{api.url}/api/v1/sync/push", json={"records": list(records)}, timeout=30,
                           headers={"Authorization": f"Bearer {api.token}"})
    assert answer.status_code == expect, answer.text
    return answer.json().get("acks", [])


def meal(cents: int = -7_50) -> dict:
    return {"id": new_entry_id(), "account_id": "P001", "amount_cents": cents, "kind": "meal",
            "occurred_at": to_text(MONDAY_NOON), "origin": "K1", "operator": None, "reference": "04A1B2C3",
            "service_date": "2026-11-30", "note": None}


def cash_topup(cents: int) -> dict:
    return {"id": new_entry_id(), "account_id": "P001", "amount_cents": cents, "kind": "cash_topup",
            "occurred_at": to_text(MONDAY_NOON), "origin": "K1", "operator": "anne", "reference": "K1/1",
            "service_date": None, "note": None}


def reversal(original: dict, cents: int | None = None) -> dict:
    return {"id": new_entry_id(), "account_id": original["account_id"],
            "amount_cents": -original["amount_cents"] if cents is None else cents, "kind": "reversal",
            "occurred_at": to_text(MONDAY_NOON), "origin": "K1", "operator": "anne", "reference": original["id"],
            "service_date": None, "note": "double passage"}
