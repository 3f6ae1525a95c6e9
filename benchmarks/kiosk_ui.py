"""The kiosk screen's speed, rendered for real offscreen (SDL + Mesa), in a fresh process.

- cold start: from spawning the process to the idle screen ("Présentez votre badge") drawn;
- tap → verdict drawn: from the badge read (virtual reader) to the end of the frame that shows the
  served or refused screen, over 200 taps (p50/p99), next to the kiosk core's own tap time (the floor:
  decision and durable debit, no screen);
- RSS after 1,000 taps, and ours above a bare Kivy window on the same renderer.
Last line: `tap_to_screen_p99_ms=<x>`. Targets: p99 ≤ 33 ms (two frames at 60 Hz), start ≤ 3 s,
ours above the bare window ≤ 40 MB.

Rendering here is Mesa's software GL (llvmpipe), where a frame's cost is the pixels it touches and
changing a drawn colour costs a shader compile (tens of ms) and memory that is never given back
(about 0.17 MB each time; none with GALLIUM_DRIVER=softpipe). The verdict screens are therefore
built once, one per kind, and a tap changes only the texts that changed, in boxes of fixed size;
a verdict's background is the window's clear colour (a full-screen rectangle cost ~15 ms of CPU
per frame), its ✔ two straight strokes (one line through three points cost ~12 ms), and the
objects built at start are frozen out of the garbage collector's reach. The pupils have various
first names, so that each tap redraws the name as in a real queue.

Usage: .venv/bin/python benchmarks/kiosk_ui.py [--taps N] [--size 1280x800]
"""

from __future__ import annotations

import time

SPAWNED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
PUPILS = 300
FIRST_NAMES = ("Léa", "Noé", "Zoé", "Maëlle", "Élias", "Jean-Baptiste", "Chloé")  # each tap redraws the name


def prepare(data_dir: Path) -> None:
    from domain.meals import Pupil
    from kiosk.service import KioskService
    from kiosk.store import Store

    with Store.open(data_dir, create=True) as store:
        store.initialize("BENCH")
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        service.add_cashier("c1", "Bench", "1234")
        with store.transaction():
            for n in range(PUPILS):
                store.upsert_pupil(Pupil(f"P{n:04d}", FIRST_NAMES[n % len(FIRST_NAMES)], f"Nom{n}", "5A", "primary"))
                store.assign_badge(f"04{n:06X}", f"P{n:04d}", MONDAY_NOON)
        cashier = service.login("c1", "1234")
        for n in range(0, PUPILS, 2):  # half can pay: green and red verdicts alike
            service.cash_topup(cashier, f"P{n:04d}", 100_00)
    (data_dir / "kiosk.toml").write_text('[printer]\nconnection = "none"\n', encoding="utf-8")


def open_window(size: str):
    width, height = size.split("x")
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", KIVY_USE_DEFAULTCONFIG="1",
                      KIVY_HOME=tempfile.mkdtemp(prefix="kivy-home-"))
    os.environ.setdefault("KIVY_CLOCK", "interrupt")  # as `refectory kiosk run` sets it
    from kivy.config import Config

    Config.set("graphics", "width", width)
    Config.set("graphics", "height", height)
    from kivy.base import EventLoop
    from kivy.core.window import Window

    EventLoop.ensure_window()
    return EventLoop, Window


def bare_window(size: str) -> None:
    """The floor for memory: a Kivy window showing one label, nothing of ours."""
    event_loop, window = open_window(size)
    from kivy.uix.label import Label

    window.add_widget(Label(text="Présentez votre badge", font_size=60))
    for _frame in range(30):
        event_loop.idle()
    print(json.dumps({"rss_mb": rss_mb()}), flush=True)


def child(data_dir: Path, taps: int, size: str) -> None:
    """Runs in its own process: the screen as `refectory kiosk run` builds it, driven by taps."""
    EventLoop, Window = open_window(size)  # noqa: N806 (Kivy's names)
    from hardware.printer import open_printer
    from hardware.readers import VirtualReader
    from kiosk.config import load_config
    from kiosk_ui.app import KioskUI

    flips: list[float] = []
    Window.bind(on_flip=lambda *_: flips.append(time.perf_counter()))
    config = load_config(data_dir)
    ui = KioskUI(data_dir, config, reader=VirtualReader(), printer=open_printer("none"), clock=lambda: MONDAY_NOON,
                 language="fr", verdict_seconds=60)
    Window.add_widget(ui.root)
    ui.root.size = Window.size
    ui.start()

    def drawn_after(moment: float) -> float:
        deadline = time.perf_counter() + 10
        while not (flips and flips[-1] > moment):
            if time.perf_counter() > deadline:
                raise SystemExit("no frame drawn for 10 s")
            EventLoop.idle()
        return flips[-1]

    shown: list[float] = []
    ui.on_screen = lambda _name: shown.append(time.perf_counter())
    ready = drawn_after(0)
    print(json.dumps({"ready": ready - SPAWNED}), flush=True)  # the parent times its arrival
    rss_ready = rss_mb()
    seen, core = [], []
    for n in range(taps):
        before = ui.last_tap
        ui.reader.inject(f"04{n % PUPILS:06X}")
        deadline = time.perf_counter() + 10
        while ui.last_tap is before:
            if time.perf_counter() > deadline:
                raise SystemExit("a tap got no verdict for 10 s")
            EventLoop.idle()
        drawn = drawn_after(shown[-1])  # the first frame after the verdict screen was built
        read_at = ui.last_tap.read.detected
        seen.append(drawn - read_at)
        core.append(ui.last_tap.overhead_ms / 1000)
    print(json.dumps({"seen": seen, "core": core, "rss_mb": rss_mb(), "rss_ready_mb": rss_ready,
                      "software_gl_mb": software_gl_mb()}), flush=True)
    ui.stop()


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS:"))) / 1024


def software_gl_mb() -> float:
    """Resident pages of the software renderer's own code (libLLVM and Mesa's DRI driver), which a
    kiosk drawing on a GPU would not have in memory in this form."""
    total, counting = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping's header line
            counting = len(fields) > 5 and ("libLLVM" in fields[5] or "/dri/" in fields[5])
        elif counting and fields[0] == "Rss:":
            total += int(fields[1])
    return total / 1024


def spread(values: list[float]) -> str:
    values = sorted(v * 1000 for v in values)
    return f"p50={values[len(values) // 2]:.1f} p99={values[int(len(values) * 0.99)]:.1f} max={values[-1]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=1000)
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_window(args.size)
        return
    if args.child:
        child(args.child, args.taps, args.size)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        prepare(work / "kiosk")
        spawned = time.perf_counter()
        with subprocess.Popen([sys.executable, __file__, "--child", str(work / "kiosk"), "--taps", str(args.taps),
                               "--size", args.size], stdout=subprocess.PIPE, text=True) as process:
            lines = []
            for line in process.stdout:
                if line.startswith("{"):
                    lines.append(json.loads(line))
                    if len(lines) == 1:
                        start = time.perf_counter() - spawned  # the child's own clock misses the interpreter start
        if process.returncode:
            raise SystemExit(f"the kiosk screen process failed ({process.returncode})")
        result = lines[-1]
        bare = subprocess.run([sys.executable, __file__, "--bare", "--size", args.size], capture_output=True,
                              text=True, check=True, timeout=120)
        bare_rss = json.loads(bare.stdout.splitlines()[-1])["rss_mb"]
        seen, core = result["seen"][:200], result["core"][:200]  # the first 200, as the issue asks
        print(f"cold_start_s={start:.2f} (process spawned → idle screen drawn, {args.size}, offscreen)")
        print(f"tap_to_screen_ms_{spread(seen)} (badge read → verdict frame drawn, first 200 taps)")
        print(f"tap_core_ms_{spread(core)} (the same taps, badge read → decided and debited: the floor)")
        print(f"rss_after_taps_mb={result['rss_mb']:.0f} (after {args.taps} taps;"
              f" {result['rss_ready_mb']:.0f} MB at the idle screen; {result['software_gl_mb']:.0f} MB of it is the"
              " software renderer's code: libLLVM and Mesa's DRI driver)")
        print(f"rss_bare_kivy_window_mb={bare_rss:.0f} (the floor: a Kivy window with one label, same renderer:"
              f" {os.environ.get('GALLIUM_DRIVER', 'llvmpipe')})")
        print(f"rss_kiosk_over_floor_mb={result['rss_mb'] - bare_rss:.0f} (ours: the kiosk's modules, databases"
              " and screens)")
        print(f"tap_to_screen_p99_ms={sorted(seen)[int(len(seen) * 0.99)] * 1000:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
