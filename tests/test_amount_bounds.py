"""One bound for every amount: no kiosk entry moves more than a counter can, and no entry, from a
kiosk or made on the server, takes a balance beyond what an account holds, so no balance or sum
can overflow (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.money import MAX_BALANCE_CENTS, MAX_COUNTER_AMOUNT_CENTS, AmountError
from domain.settings import MAX_PRICE_CENTS, MAX_TOPUP_CEILING_CENTS
from sync_server.kiosk_api.openapi import SCHEMAS
from sync_server.sync import ledger
from sync_server.tables import entries, quarantine

from .conftest import MONDAY_NOON
from .kiosk_push import enrolled_server, meal, push, reversal


@pytest.fixture
def api(database_url, tmp_path):
    live = enrolled_server(database_url, tmp_path)
    yield live
    live.stop()


def adjustment(cents: int, pupil_id: str = "P001") -> LedgerEntry:
    return LedgerEntry(new_entry_id(), pupil_id, cents, EntryKind.ADJUSTMENT, MONDAY_NOON, "server", note="test")


def test_the_kiosk_api_holds_the_counter_bound_and_the_counter_can_reach_it():
    bound = SCHEMAS["Entry"]["properties"]["amount_cents"]
    assert (bound["minimum"], bound["maximum"]) == (-MAX_COUNTER_AMOUNT_CENTS, MAX_COUNTER_AMOUNT_CENTS)
    assert MAX_PRICE_CENTS <= MAX_TOPUP_CEILING_CENTS <= MAX_COUNTER_AMOUNT_CENTS


def test_a_kiosk_entry_beyond_what_a_counter_can_move_is_refused_and_writes_nothing(api):
    original = meal(-7_50)
    push(api, original)
    for cents in (MAX_COUNTER_AMOUNT_CENTS + 1, 99_999_99, 2**63):
        push(api, reversal(original, cents=cents), expect=422)
    assert api.balance("P001") == -7_50
    with api.write() as conn:
        assert conn.execute(select(quarantine.c.id)).all() == []


def test_a_push_that_would_take_a_balance_out_of_range_is_rejected_entry_by_entry(api):
    with api.write() as conn:
        ledger.append(conn, adjustment(MAX_BALANCE_CENTS - 10_00), MONDAY_NOON)
    topup = {**meal(), "kind": "cash_topup", "amount_cents": 20_00, "service_date": None, "reference": "R-1"}
    acks = push(api, topup, meal(-7_50))
    assert [a["status"] for a in acks] == ["rejected", "accepted"]
    assert "beyond the CHF 1'000'000'000.00 an account can hold" in acks[0]["reason"]
    assert api.balance("P001") == MAX_BALANCE_CENTS - 17_50
    with api.write() as conn:
        assert json.loads(conn.execute(select(quarantine.c.record)).scalar_one())["id"] == topup["id"]


def test_no_server_entry_takes_a_balance_out_of_range_and_the_balance_command_always_answers(api, tmp_path):
    with api.write() as conn:
        ledger.append(conn, adjustment(MAX_BALANCE_CENTS), MONDAY_NOON)
        ledger.append(conn, adjustment(-MAX_BALANCE_CENTS, "P002"), MONDAY_NOON)
    for pupil_id, cents in (("P001", 1), ("P002", -1)):
        with pytest.raises(AmountError, match=r"beyond the CHF 1'000'000'000\.00 an account can hold"), \
                api.write() as conn:
            ledger.append_many(conn, [adjustment(-5, "P003"), adjustment(cents, pupil_id)], MONDAY_NOON)
    with api.write() as conn:  # all or nothing: P003's entry went with the refused one
        assert conn.execute(select(entries.c.account_id).where(entries.c.account_id == "P003")).all() == []
    env = {**os.environ, "DATABASE_URL": api.engine.url.render_as_string(hide_password=False),
           "REFECTORY_SERVER_INSTANCE": str(tmp_path / "instance")}
    answer = subprocess.run([sys.executable, "-m", "refectory", "server", "balance", "P001"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert answer.returncode == 0 and "Solde de P001 : CHF 1'000'000'000.00" in answer.stdout, answer.stderr
