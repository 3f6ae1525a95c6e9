"""The kiosk under systemd's watchdog, seen from the service manager's end of $NOTIFY_SOCKET (a
real AF_UNIX datagram socket): READY=1 once serving, WATCHDOG=1 while the main loop turns and
none while it is frozen or stuck (systemd then restarts it), STOPPING=1 on a clean stop."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests import kivy_harness as kh  # first: Kivy's settings hold only before Kivy loads

# isort: split
from hardware.printer import open_printer
from hardware.readers import VirtualReader, tap_virtual
from kiosk.config import load_config
from kiosk.store import Store
from kiosk.watchdog import Notifier
from kiosk_ui.app import KioskUI

from .conftest import MONDAY_NOON, fund_and_open_all_day, listening

WATCHDOG_USEC = 200_000  # systemd restarts a service that sends no WATCHDOG=1 for 0.2 s


class ServiceManager:
    """systemd's side: the notification socket, its datagrams read with deadlines."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + address[1:] if address.startswith("@") else address)

    def __enter__(self) -> ServiceManager:
        return self

    def __exit__(self, *_exc) -> None:
        self.socket.close()

    def next(self, wanted: str, timeout: float = 60.0) -> float:
        """Wait for a datagram holding the line `wanted`; when it arrived (monotonic seconds)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.socket.settimeout(left)
            try:
                lines = self.socket.recv(4096).decode().splitlines()
            except TimeoutError:
                break
            if wanted in lines:
                return time.monotonic()
        raise AssertionError(f"no {wanted} from the kiosk within {timeout} s")

    def take(self) -> list[str]:
        """Every line sent so far, without waiting."""
        self.socket.setblocking(False)
        lines = []
        try:
            while True:
                lines += self.socket.recv(4096).decode().splitlines()
        except BlockingIOError:
            return lines
        finally:
            self.socket.setblocking(True)


def service_environment(address: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID", "JOURNAL_STREAM")}
    return {**environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": str(WATCHDOG_USEC)}


def wait_until_stopped(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop within {timeout} s"
        time.sleep(0.01)


def test_listen_is_ready_pings_from_its_loop_goes_silent_when_frozen_and_says_when_it_stops(kiosk_dir):
    fund_and_open_all_day(kiosk_dir, "P003", 10_00)
    address = f"@refectory-test-{uuid.uuid4().hex}"  # the abstract namespace, as systemd uses
    with ServiceManager(address) as manager, listening(kiosk_dir, env=service_environment(address)) as listen:
        manager.next("READY=1")
        pings = [manager.next("WATCHDOG=1") for _ in range(10)]
        tap_virtual(kiosk_dir / "virtual-reader.sock", "0a0b0c0d")
        assert listen.next("tap")["served"] is True
        manager.next("WATCHDOG=1")  # a tap does not stop the pings

        os.kill(listen.process.pid, signal.SIGSTOP)  # a hung loop, as systemd's watchdog sees it
        try:
            wait_until_stopped(listen.process.pid)
            manager.take()  # what it sent before it froze
            frozen = time.monotonic()
            while time.monotonic() - frozen < 5 * WATCHDOG_USEC / 1e6:
                assert "WATCHDOG=1" not in manager.take()
                time.sleep(0.02)
        finally:
            os.kill(listen.process.pid, signal.SIGCONT)
        manager.next("WATCHDOG=1")

        listen.process.terminate()
        manager.next("STOPPING=1")
        assert listen.process.wait(30) == 0
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(pings)]
    print(f"WATCHDOG=1 every {statistics.median(gaps):.0f} ms (median, max {max(gaps):.0f} ms)"
          f" for WATCHDOG_USEC={WATCHDOG_USEC}")


def test_the_touchscreen_pings_from_its_clock_only_while_the_counter_loop_turns(kiosk_dir):
    fund_and_open_all_day(kiosk_dir, "P003", 10_00)
    with tempfile.TemporaryDirectory(prefix="notify-") as folder, \
            ServiceManager(f"{folder}/notify") as manager:  # a socket path, short enough for AF_UNIX
        kh.window()
        notifier = Notifier(manager.address, WATCHDOG_USEC)
        ui = KioskUI(kiosk_dir, load_config(kiosk_dir), reader=VirtualReader(), printer=open_printer("none"),
                     clock=lambda: MONDAY_NOON, language="fr", sync=False, notifier=notifier)
        kh.show(ui.root)
        ui.start()
        blocker = Store.open(kiosk_dir)
        try:
            assert "READY=1" in manager.take()
            kh.pump(lambda: "WATCHDOG=1" in manager.take())

            blocker.conn.execute("BEGIN IMMEDIATE")  # the counter's tap waits for this lock: a stuck counter
            ui.reader.inject("0A0B0C0D")
            kh.pump(lambda: time.monotonic() - ui.counter.turned_at > notifier.timeout)
            manager.take()
            stuck = time.monotonic()
            kh.pump(lambda: "WATCHDOG=1" in manager.take() or time.monotonic() - stuck > 0.5)
            assert ui.screen == "idle" and time.monotonic() - stuck > 0.5  # no verdict, and no ping

            blocker.conn.execute("ROLLBACK")
            kh.pump(lambda: ui.screen == "verdict")
            kh.pump(lambda: "WATCHDOG=1" in manager.take())
            assert ui.last_tap.result.verdict.served
        finally:
            if blocker.conn.in_transaction:
                blocker.conn.execute("ROLLBACK")
            blocker.close()
            ui.stop()
            kh.hide(ui.root)
        assert "STOPPING=1" in manager.take()


def test_kiosk_run_is_ready_once_its_screen_is_up_pings_and_stops_cleanly_on_sigterm(kiosk_dir):
    address = f"@refectory-test-{uuid.uuid4().hex}"
    env = {**service_environment(address), "SDL_VIDEODRIVER": "offscreen"}
    env.pop("DISPLAY", None)
    with ServiceManager(address) as manager, subprocess.Popen(
            [sys.executable, "-m", "refectory", "kiosk", "run", "--data", str(kiosk_dir), "--windowed"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) as kiosk:
        try:
            try:
                manager.next("READY=1", timeout=120)
                manager.next("WATCHDOG=1")
            finally:
                kiosk.send_signal(signal.SIGTERM)
            manager.next("STOPPING=1")
            assert kiosk.wait(60) == 0
        finally:
            if kiosk.poll() is None:  # a failed check must not leave the test waiting on the app
                kiosk.kill()
