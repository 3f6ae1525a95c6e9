"""Two kiosks and the server, cut off and reconnected at random: once everyone has synced, all
three agree on every balance (the ledger is a set of immutable entries; merging is a union)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from kiosk.sync_agent import SyncAgent, SyncError
from sync_server.sync import ledger

from .conftest import MONDAY_NOON
from .fault_proxy import FaultProxy
from .live_server import Clock, new_kiosk, start_server

pytestmark = pytest.mark.on_each_database

PUPILS = [("P001", "04A1B2C3"), ("P002", "04112233445566"), ("P003", "0A0B0C0D"), ("S001", "DEADBEEF")]
EXAMPLES = int(os.environ.get("REFECTORY_SYNC_EXAMPLES", "12"))

kiosk_index = st.integers(0, 1)
pupil = st.integers(0, len(PUPILS) - 1)
operation = st.one_of(
    st.tuples(st.just("tap"), kiosk_index, pupil),
    st.tuples(st.just("cash"), kiosk_index, pupil, st.sampled_from([5_00, 10_00, 20_05])),
    st.tuples(st.just("online"), pupil, st.sampled_from([15_00, 50_00])),
    st.tuples(st.just("cut"), kiosk_index),
    st.tuples(st.just("reconnect"), kiosk_index),
    st.tuples(st.just("sync"), kiosk_index),
    st.tuples(st.just("next_day"),),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=5, max_size=30))
def test_after_everyone_syncs_the_two_kiosks_and_the_server_agree_on_every_balance(
        tmp_path_factory, new_server_database, operations):
    base = tmp_path_factory.mktemp("converge")
    server = start_server(new_server_database(base).url, base / "instance", clock=Clock(), migrate=False)
    now = [MONDAY_NOON]
    proxies = [FaultProxy("127.0.0.1", int(server.url.rsplit(":", 1)[1])) for _ in range(2)]
    try:
        kiosks = [new_kiosk(base, server, f"K{i + 1}", url=proxies[i].url) for i in range(2)]
        for kiosk in kiosks:
            kiosk.clock = lambda: now[0]
            SyncAgent(kiosk.store).run_round()
        cashiers = [kiosk.login("anne", "1234") for kiosk in kiosks]
        for op in operations:
            _apply(op, server, kiosks, cashiers, proxies, now)
        for proxy in proxies:
            proxy.accept_again()
        for kiosk in (*kiosks, kiosks[0]):  # the first kiosk again, for what the second one pushed
            SyncAgent(kiosk.store).run_round()
        for pupil_id, _uid in PUPILS:
            balances = {server.balance(pupil_id), *(k.store.balance(pupil_id) for k in kiosks)}
            assert len(balances) == 1, (pupil_id, balances, operations)
        assert server.verify_balances() == []
        for kiosk in kiosks:
            assert kiosk.store.pending_push() == 0 and kiosk.store.verify_balances() == []
    finally:
        for proxy in proxies:
            proxy.close()
        server.stop()


def _apply(op, server, kiosks, cashiers, proxies, now) -> None:
    kind = op[0]
    if kind == "tap":
        kiosks[op[1]].tap(PUPILS[op[2]][1])  # served or refused: both are fine here
    elif kind == "cash":
        kiosks[op[1]].cash_topup(cashiers[op[1]], PUPILS[op[2]][0], op[3])
    elif kind == "online":
        with server.write() as conn:
            ledger.append(conn, LedgerEntry(new_entry_id(), PUPILS[op[1]][0], op[2], EntryKind.ONLINE_TOPUP, now[0],
                                            "server", reference=f"pay-{new_entry_id()[:8]}"), now[0])
    elif kind == "cut":
        proxies[op[1]].refuse()
    elif kind == "reconnect":
        proxies[op[1]].accept_again()
    elif kind == "sync":
        try:
            SyncAgent(kiosks[op[1]].store).run_round()
        except SyncError:
            assert proxies[op[1]].mode == "refuse"  # only a cut kiosk may fail
    elif kind == "next_day":
        now[0] += timedelta(days=1)
