"""Badge path cost through the real PC/SC stack: card event → verdict ready, against the floor.

Starts a private pcscd with vsmartcard's vpcd reader (as the tests do), a kiosk store with one
pupil per tap, and the counter loop with the PC/SC reader. A virtual card is presented `--taps`
times (a different UID each time). Prints the median and p90 of our overhead (from the card event
reaching our code, before the UID is read, to the verdict being ready: connect, GET UID, durable
tap), the raw GET UID APDU round trip on an open connection (the floor), and, for information,
card inserted → verdict (pcscd polls vpcd every 400 ms, so that figure is not ours to beat).
Last line: `overhead_ms_p50=<x>`.

Usage: .venv/bin/python benchmarks/badge_path.py [--taps N]   (needs root, or unshare -r, for pcscd)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from refectory.testing.pcscd import PrivatePcscd, VirtualCard, use_private_pcscd  # noqa: E402

MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def uid_of(n: int) -> str:
    return f"04B0{n:04X}"


def make_store(data_dir: Path, taps: int):
    from domain.meals import Pupil
    from kiosk.service import KioskService
    from kiosk.store import Store

    store = Store.open(data_dir, create=True)
    store.initialize("BENCH")
    service = KioskService(store, clock=lambda: MONDAY_NOON)
    service.add_cashier("c1", "Bench", "1234")
    session = service.login("c1", "1234")
    with store.transaction():
        for n in range(taps):
            store.upsert_pupil(Pupil(f"P{n:04d}", "Léa", f"Nom{n}", "5A", "primary"))
            store.assign_badge(uid_of(n), f"P{n:04d}", MONDAY_NOON)
    for n in range(taps):
        service.cash_topup(session, f"P{n:04d}", 50_00)
    clock = iter(MONDAY_NOON + timedelta(seconds=i) for i in range(10**6))
    return KioskService(store, clock=lambda: next(clock))


def apdu_floor(port: int, rounds: int = 200) -> list[float]:
    """GET UID round trips on an already connected card: what any reader code must wait for."""
    from smartcard import scard

    from hardware.pcsc import GET_UID

    card = VirtualCard(port, uid_of(0)).insert()
    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        deadline = time.monotonic() + 5
        while True:
            hresult, handle, protocol = scard.SCardConnect(
                context, "Virtual PCD 00 00", scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            if hresult == scard.SCARD_S_SUCCESS:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"cannot connect to the virtual card: {scard.SCardGetErrorMessage(hresult)}")
            time.sleep(0.05)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            scard.SCardTransmit(handle, protocol, GET_UID)
            times.append(time.perf_counter() - start)
        scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    finally:
        scard.SCardReleaseContext(context)
        card.remove()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=60)
    args = parser.parse_args()

    daemon = PrivatePcscd()
    daemon.start()
    use_private_pcscd(daemon)
    work = Path(tempfile.mkdtemp(prefix="bench-badge-"))
    try:
        from hardware.pcsc import PcscReader
        from kiosk.counter import Counter

        floor = apdu_floor(daemon.port)
        counter = Counter(make_store(work, args.taps))
        overheads, end_to_end, served = [], [], []
        inserted_at: dict[str, float] = {}
        done = threading.Event()

        def on_tap(tap) -> None:
            ready = time.perf_counter()
            overheads.append(ready - tap.read.detected)
            end_to_end.append(ready - inserted_at[tap.read.uid])
            served.append(tap.result.verdict.served)
            done.set()

        reader = PcscReader()
        reader.start(counter.on_badge, counter.on_notice)
        loop = threading.Thread(target=counter.run, args=(on_tap, lambda kind, event: None), daemon=True)
        loop.start()
        deadline = time.monotonic() + 60
        while not reader.readers:  # the reader's first look at the (empty) readers
            if time.monotonic() > deadline:
                raise SystemExit("the reader never listed pcscd's readers")
            time.sleep(0.05)
        for n in range(args.taps):
            done.clear()
            card = VirtualCard(daemon.port, uid_of(n))
            inserted_at[uid_of(n)] = time.perf_counter()
            card.insert()
            if not done.wait(60):
                raise SystemExit(f"tap {n} never reached the counter")
            card.remove()
            daemon.wait_for_card("Virtual PCD 00 00", present=False)  # or the next card is this one still
        counter.stopping.set()
        loop.join(5)
        reader.stop()
        if not all(served):
            raise SystemExit(f"{served.count(False)} taps refused: the benchmark store is wrong")

        ms = 1000
        overhead50 = statistics.median(overheads) * ms
        floor50 = statistics.median(floor) * ms
        print(f"taps={len(overheads)} reader=pcsc (pcscd + vpcd, virtual card)")
        print(f"apdu_get_uid_ms_p50={floor50:.3f} (floor: raw GET UID round trip, {len(floor)} rounds)")
        print(f"overhead_ms_p90={statistics.quantiles(overheads, n=10)[-1] * ms:.3f}")
        print(f"insert_to_verdict_ms_p50={statistics.median(end_to_end) * ms:.1f} (includes pcscd's 400 ms polling)")
        print(f"overhead_vs_apdu_p50={overhead50 / floor50:.1f}")
        print(f"overhead_ms_p50={overhead50:.3f}")
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
