"""`refectory kiosk run`: the touchscreen kiosk, with the reader, printer and server its
configuration names. Fullscreen with the docked on-screen keyboard in production; windowed, with
the demo's badge panel, for the demo."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from domain.clock import utc_now
from domain.i18n import gettext_for
from kiosk.journal import configure_logging
from kiosk.watchdog import Notifier

STARTED = time.perf_counter()  # for the cold-start figure the log shows


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER") == "offscreen")


def run_kiosk(data_dir: Path, open_reader: Callable[[], object], *, windowed: bool = False,
              size: tuple[int, int] | None = None, demo: bool = False, clock: Callable[[], datetime] = utc_now,
              language: str | None = None, fixed_clock: bool = False) -> None:
    """Open the kiosk screen and serve until the window closes; `open_reader` gives the badge reader.
    `fixed_clock`: the demo's stopped clock, which its panel states."""
    configure_logging()  # before Kivy: the log goes to the real stderr, to journald under systemd
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # the command line is ours, not Kivy's
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_CLOCK", "interrupt")  # a verdict from the counter thread wakes the frame loop
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")  # our own lines say what matters
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy leaves logging to Python...
    logging.getLogger("kivy").addFilter(lambda record: record.levelno >= logging.WARNING)  # ...minus its chatter
    from kivy.config import Config

    width, height = size or (1280, 800)
    Config.set("graphics", "fullscreen", "0" if windowed else "auto")
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("kivy", "keyboard_mode", "systemanddock" if windowed else "dock")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # Kivy lets the display's screensaver run by default; under cage the app draws through
    # Xwayland, whose X screensaver would blank the counter after 10 minutes without a touch.
    Config.set("graphics", "allow_screensaver", "1" if windowed else "0")

    from kivy.app import App
    from kivy.clock import Clock

    from hardware.printer import open_printer
    from kiosk.config import load_config
    from kiosk.store import Store

    from .app import KioskUI
    from .demo_panel import DemoPanel

    config = load_config(data_dir)
    printer = open_printer(config.printer.connection, paper=config.printer.paper, profile=config.printer.profile)

    # SIGTERM (systemd stopping us): the app stops from its own loop, not from the handler, which
    # may have interrupted Kivy's Clock while it holds its lock.
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: terminated.set())

    class KioskApp(App):
        title = "Refectory"

        def build(self):
            self.ui = KioskUI(data_dir, config, reader=open_reader(), printer=printer, clock=clock,
                              language=language, notifier=Notifier.from_environ())
            if demo:
                with Store.open(data_dir) as store:
                    badges = store.active_badges()
                self.ui.root.add_widget(DemoPanel(self.ui, badges, getattr(printer, "out_dir", None),
                                                  fixed_clock=fixed_clock))
            self.ui.on_screen = self._first_screen
            self.ui.start()
            Clock.schedule_interval(self._stop_if_terminated, 0.25)
            return self.ui.root

        def _stop_if_terminated(self, _dt) -> None:
            """Returns None, never False: a Clock callback that returns False is unscheduled."""
            if terminated.is_set():
                self.stop()

        def _first_screen(self, name: str) -> None:
            _ = gettext_for(language)
            print(_("Kiosk screen ready ({screen}) after {seconds:.2f} s.").format(  # Kivy wraps sys.stderr
                screen=name, seconds=time.perf_counter() - STARTED), file=sys.__stderr__, flush=True)
            self.ui.on_screen = None

        def on_stop(self):
            self.ui.stop()

    KioskApp().run()
