"""The kiosk screen's controller: which screen shows, what the cashier has typed, and the threads.

Threads: the reader calls back on its own thread; taps are decided on the counter's thread
(`kiosk.counter.Counter`, its own database connection); cashier operations, status reads and
printing run on one desk thread (`CashierDesk`, another connection); sync runs on the
scheduler's thread. Results come back to the UI thread through `mainthread` (the Kivy Clock), so
the screen never waits for a database, a printer or the network.

Under systemd the UI thread pings the watchdog from the Clock, and only while the counter's loop
keeps turning too: a frozen screen or a stuck counter both stop the pings, and systemd restarts
the app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from babel.dates import format_date
from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout

from domain.clock import local, service_date, utc_now
from domain.i18n import gettext_for
from domain.messages import N_, Message, RefectoryError
from kiosk.cashier_desk import CashierDesk, DeskLockedError, PinRequiredError
from kiosk.config import KioskConfig
from kiosk.counter import Counter, CounterTap
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_scheduler import SyncScheduler
from kiosk.sync_store import menu_of, sync_state
from kiosk.texts import on_screen
from kiosk.watchdog import Notifier

from . import cashier_screens, theme
from .cashier_flow import CashierFlow
from .counter_screens import IdleView, StatusLine, VerdictView
from .sounds import Chimes

log = logging.getLogger(__name__)
STATUS_EVERY_SECONDS = 2.0
PRINTER_STATUS_EVERY_SECONDS = 30.0
LANGUAGE_BACK_SECONDS = 30.0  # a pupil's switch of language, left unused, goes back after this long
COUNTER_SCREENS = ("idle", "verdict")
IDENTIFYING_SCREENS = ("cashier", "find", "done")  # a badge read there picks the pupil to top up


class KioskUI(CashierFlow):
    def __init__(self, data_dir: Path, config: KioskConfig, *, reader, printer,
                 clock: Callable[[], datetime] = utc_now, language: str | None = None,
                 verdict_seconds: float | None = None, lock_after: float | None = None,
                 sync: bool = True, notifier: Notifier | None = None) -> None:
        self.notifier = notifier or Notifier(None)
        self.data_dir, self.config, self.clock = Path(data_dir), config, clock
        self.reader, self.printer = reader, printer
        self.verdict_seconds = verdict_seconds or config.screen.verdict_seconds
        self.chimes = Chimes(self.data_dir / "sounds") if config.screen.sound else None
        self.default_language = language or config.screen.language  # a pupil's switch comes back to it
        self.language_back_seconds = LANGUAGE_BACK_SECONDS
        self._switched: tuple[float, CounterTap | None] = (0.0, None)  # when, and the last tap then
        self.set_language(self.default_language)
        self._counter_store = Store.open(data_dir)
        self.cashier_badges = self._counter_store.cashier_badges()  # read by the reader thread
        self.counter = Counter(KioskService(self._counter_store, clock))
        self._desk_store = Store.open(data_dir)
        self.desk = CashierDesk(KioskService(self._desk_store, clock), printer, config.canteen, self._,
                                cash_drawer=config.printer.cash_drawer,
                                lock_after=lock_after or config.screen.lock_after_seconds)
        self._desk_thread = ThreadPoolExecutor(1, thread_name_prefix="desk")
        self.scheduler = self._scheduler() if sync else None
        self._reset_cashier_state()
        self.status: StatusLine | None = None
        self._sync_status = None  # None: not read yet
        self._reader_message, self._reader_ok = Message(N_("Reader starting")), True
        self._printer_message, self._printer_ok = Message(N_("Printer: not checked yet")), True
        self._menu: tuple[object, list] = (None, [])
        self.screen = "idle"
        self.idle_view = IdleView(self)
        self.verdict_views = {True: VerdictView(theme.GREEN), False: VerdictView(theme.RED)}
        self.root = BoxLayout()
        self.holder = BoxLayout()
        self.root.add_widget(self.holder)
        self.last_tap: CounterTap | None = None
        self.on_screen: Callable[[str], None] | None = None  # tests and the benchmark watch screens
        self._verdict_event = None
        self._events = []
        self._counter_thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        on_quiet = self.scheduler.watch_cash if self.scheduler else None
        self._counter_thread = threading.Thread(target=self.counter.run, name="counter", daemon=True,
                                                args=(self._tapped, self._counter_event),
                                                kwargs={"on_quiet": on_quiet, "turn_every": self.notifier.ping_every})
        self._counter_thread.start()
        self.reader.start(self._badge_read, self.counter.on_notice)
        if self.scheduler:
            self.scheduler.start()
        self._events = [Clock.schedule_interval(lambda _dt: self._tick(), 1.0),
                        Clock.schedule_interval(lambda _dt: self.refresh_status(), STATUS_EVERY_SECONDS),
                        Clock.schedule_interval(lambda _dt: self._check_printer(), PRINTER_STATUS_EVERY_SECONDS)]
        if self.notifier.ping_every:
            self._events.append(Clock.schedule_interval(lambda _dt: self._watchdog(), self.notifier.ping_every))
        Window.bind(on_touch_down=self._touched)
        self.refresh_status()
        self._check_printer()
        self.show("idle")
        self.notifier.ready()

    def stop(self) -> None:
        self.notifier.stopping()
        Window.unbind(on_touch_down=self._touched)
        for event in self._events:
            event.cancel()
        self.reader.stop()
        self.counter.stopping.set()
        if self._counter_thread:
            self._counter_thread.join(5)
        if self.scheduler:
            self.scheduler.stop()
        self._desk_thread.shutdown(wait=True)
        self._counter_store.close()
        self._desk_store.close()
        self.notifier.close()

    def _watchdog(self) -> None:
        """UI thread: WATCHDOG=1, as long as the counter's loop turned within the watchdog's interval."""
        if time.monotonic() - self.counter.turned_at < self.notifier.timeout:
            self.notifier.ping()

    def _scheduler(self) -> SyncScheduler | None:
        if not sync_state(self._counter_store).token:
            return None
        return SyncScheduler(self.data_dir, interval=self.config.sync.interval_seconds,
                             on_round=lambda _outcome: self.refresh_status(), watch_store=self._counter_store)

    # -- language, dates -------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Everything on screen from now on speaks `language`, the status bar too (its facts are
        kept as messages and put into words at display time)."""
        self.language = language
        self._ = gettext_for(language)
        if hasattr(self, "desk"):
            self.desk._ = self._
        if hasattr(self, "status"):
            self._render_status()

    def switch_language(self) -> None:
        self.set_language("en" if self.language == "fr" else "fr")
        self._switched = (time.monotonic(), self.last_tap)
        self.show(self.screen if self.screen != "verdict" else "idle")

    def language_back_if_due(self) -> None:
        """A pupil's switch lasts for their own tap: the idle screen after their verdict, or
        after a quiet spell without a tap, is in the kiosk's language again."""
        if self.language == self.default_language:
            return
        switched_at, tap_then = self._switched
        if self.last_tap is not tap_then or time.monotonic() - switched_at >= self.language_back_seconds:
            self.set_language(self.default_language)

    def format_day(self, moment: datetime) -> str:
        return format_date(local(moment).date(), format="full", locale=self.language)

    def format_time(self, moment: datetime) -> str:
        return local(moment).strftime("%H:%M")

    def todays_menu(self) -> list:
        return self._menu[1] if self._menu[0] == service_date(self.clock()) else []

    # -- screens ---------------------------------------------------------------------------

    def show(self, name: str) -> None:
        """Put screen `name` up: the pupils' two screens are kept and updated, the cashier's are
        built from the current state. The pupils' screens never show over an open cashier session."""
        if name in COUNTER_SCREENS:
            self.desk.lock()
        if name == "idle":
            self.idle_view.update()
            widget = self.idle_view
        elif name == "verdict":
            widget = self.verdict_views[self.last_tap.result.verdict.served]
            widget.update(self.last_tap.result, self._)
        else:
            widget = cashier_screens.SCREENS[name](self)
        if widget.parent is not self.holder:
            Window.release_all_keyboards()  # the docked keyboard goes with the field that called it
            self.holder.clear_widgets()
            self.holder.add_widget(widget)
        self.screen = name
        if self.on_screen:
            self.on_screen(name)

    def focus_later(self, field) -> None:
        Clock.schedule_once(lambda _dt: setattr(field, "focus", True), 0)

    # -- taps ------------------------------------------------------------------------------

    def _badge_read(self, read) -> None:
        """Reader thread: at the counter a read is a tap; in cashier mode it picks the pupil; a
        cashier's own badge brings up that cashier's PIN pad."""
        unlocking = self.screen in (*COUNTER_SCREENS, "unlock") or (self.screen == "pin" and self.desk.session is None)
        if read.uid in self.cashier_badges and unlocking:
            self.unlock_with_badge(read.uid)
        elif self.screen in IDENTIFYING_SCREENS and self.desk.session is not None:
            self._identify(read.uid)
        elif self.screen in COUNTER_SCREENS:
            self.counter.on_badge(read)
        else:
            self._ignored_badge()

    @mainthread
    def _ignored_badge(self) -> None:
        self.problem = self._("Badge ignored: finish or leave this operation first.")
        self.show(self.screen)

    @mainthread
    def _tapped(self, tap: CounterTap) -> None:
        self.last_tap = tap
        if self._verdict_event is not None:
            self._verdict_event.cancel()
        self.show("verdict")
        if self.chimes:
            self.chimes.play(tap.result.verdict.served)
        self._verdict_event = Clock.schedule_once(lambda _dt: self._verdict_over(), self.verdict_seconds)

    def _verdict_over(self) -> None:
        self._verdict_event = None
        if self.screen == "verdict":
            self.show("idle")

    @mainthread
    def _counter_event(self, kind: str, event) -> None:
        if kind == "reader":
            self._reader_message = event.message
            self._reader_ok = str(event.status) == "ready" if event.status else self._reader_ok
            self._update_status()

    # -- status bar ------------------------------------------------------------------------

    def refresh_status(self) -> None:
        self._desk_thread.submit(self._read_status)

    def _read_status(self) -> None:
        day = service_date(self.clock())
        self.cashier_badges = self._desk_store.cashier_badges()
        self._status_read(SyncScheduler.status(self._desk_store), (day, menu_of(self._desk_store, day)))

    @mainthread
    def _status_read(self, sync, menu) -> None:
        self._menu, self._sync_status = menu, sync
        self._update_status()

    def _check_printer(self) -> None:
        self._desk_thread.submit(lambda: self._printer_checked(self.printer.status()))

    @mainthread
    def _printer_checked(self, status) -> None:
        self._printer_message = status.message
        self._printer_ok = str(status.state) in ("online", "unknown")
        self._update_status()

    def _update_status(self) -> None:
        self._render_status()
        if self.screen == "idle":
            self.idle_view.update()

    def _render_status(self) -> None:
        """The status bar's facts in words, in the current language."""
        _, sync = self._, self._sync_status
        if sync is None:
            sync_text, sync_ok = _("Not synced yet"), False
        elif self.scheduler is None:
            sync_text, sync_ok = _("Not connected to a server"), True
        else:
            when = self.format_time(sync.last_sync_at) if sync.last_sync_at else "—"
            sync_text = (_("Online · last sync {time} · {pending} to send") if sync.online
                         else _("Offline · last sync {time} · {pending} to send")).format(time=when,
                                                                                          pending=sync.pending)
            sync_ok = sync.online
        message = self._reader_message
        reader = message.render(_) if isinstance(message, Message) else str(message)
        self.status = StatusLine(sync_text, sync_ok, reader[:1].upper() + reader[1:], self._reader_ok,
                                 on_screen(self._printer_message, _), self._printer_ok)

    # -- the cashier's lock ----------------------------------------------------------------

    def _touched(self, _window, _touch) -> None:
        self.desk.touch()

    def _tick(self) -> None:
        if self.desk.lock_if_idle() and self.screen not in COUNTER_SCREENS:
            self.close_cashier()
        elif self.screen == "idle":
            self.idle_view.update()  # the clock on screen

    # -- the desk thread -------------------------------------------------------------------

    def _on_desk(self, work: Callable[[], object], then: Callable[[object], None], screen: str | None, *,
                 on_pin: Callable[[PinRequiredError], None] | None = None) -> None:
        """Run `work` on the desk thread; `then(result)` on the UI thread, `on_pin(asked)` when the
        desk asks for the PIN, or the error's message on `screen` (None: say nothing). When the
        desk turns out locked, the cashier is back at the unlock screen, told why."""
        future = self._desk_thread.submit(work)
        future.add_done_callback(lambda done: self._desk_done(done, then, screen, on_pin))

    @mainthread
    def _desk_done(self, done, then, screen: str | None, on_pin=None) -> None:
        error = done.exception()
        if error is None:
            then(done.result())
        elif isinstance(error, PinRequiredError) and on_pin is not None:
            on_pin(error)
        elif isinstance(error, DeskLockedError) and screen is not None and screen != "unlock":
            self._reset_cashier_state()
            self.problem = error.render(self._)
            self.show("unlock")
        elif isinstance(error, RefectoryError):
            if screen is not None:
                self.problem = error.render(self._)
                self.show(screen)
        else:  # a bug or a broken disk: logged in full; the counter goes on, the cashier is told
            log.error("cashier operation failed", exc_info=error)
            if screen is not None:
                self.problem = self._("Unexpected error ({problem}): check the day's report before trying again;"
                                      " details in the kiosk log.").format(problem=type(error).__name__)
                self.show(screen)
