"""The kiosk screen's controller: which screen shows, what the cashier has typed, and the threads.

Threads: the reader calls back on its own thread; taps are decided on the counter's thread
(`kiosk.counter.Counter`, its own database connection); cashier operations, status reads and
printing run on one desk thread (`CashierDesk`, another connection); sync runs on the
scheduler's thread. Results come back to the UI thread through `mainthread` (the Kivy Clock), so
the screen never waits for a database, a printer or the network.

Under systemd the UI thread pings the watchdog from the Clock, and only while the counter's loop
keeps turning too: a frozen screen or a stuck counter both stop the pings, and systemd restarts
the app.

Badges: a pupil's tap is a meal tap whatever the screen. Over a cashier screen its verdict shows in
an overlay for the verdict's time, then the cashier's screen comes back exactly as it was (the
screen is not rebuilt: typed text, chosen pupil and amount stay). A badge picks a pupil to credit
only when the cashier asked for one read of it (the find screen's badge step); a cashier's own
badge brings up the PIN pad only where cashier mode is being opened.
"""

from __future__ import annotations

import gc
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
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.textinput import TextInput

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

from . import cashier_screens, exception_screens, theme
from .cashier_flow import BADGE_STEP_SECONDS, CashierFlow
from .counter_screens import IdleView, StatusLine, VerdictOverlay, VerdictView, verdict_kind
from .exception_flow import ExceptionFlow
from .keyboard import fit_to_panel
from .sounds import Chimes

log = logging.getLogger(__name__)
STATUS_EVERY_SECONDS = 2.0
PRINTER_STATUS_EVERY_SECONDS = 30.0
LANGUAGE_BACK_SECONDS = 30.0  # a pupil's switch of language, left unused, goes back after this long
COUNTER_SCREENS = ("idle", "verdict")
SCREENS = {**cashier_screens.SCREENS, **exception_screens.SCREENS}
OVERLAY_HOLD_SECONDS = 1.0  # a verdict over a cashier screen ignores touches this long (then a touch ends it)


class KioskUI(CashierFlow, ExceptionFlow):
    def __init__(self, data_dir: Path, config: KioskConfig, *, reader, printer,
                 clock: Callable[[], datetime] = utc_now, language: str | None = None,
                 verdict_seconds: float | None = None, lock_after: float | None = None,
                 sync: bool = True, notifier: Notifier | None = None) -> None:
        self._badge_step_event = None
        self.notifier = notifier or Notifier(None)
        self.data_dir, self.config, self.clock = Path(data_dir), config, clock
        fit_to_panel(*Window.size, config.screen.diagonal_inches)
        self.reader, self.printer = reader, printer
        self.verdict_seconds = verdict_seconds or config.screen.verdict_seconds
        self.overlay_hold_seconds = OVERLAY_HOLD_SECONDS
        self.badge_step_seconds = BADGE_STEP_SECONDS
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
        self.verdict_views = {kind: VerdictView(kind) for kind in theme.VERDICT_COLOURS}
        self.root = BoxLayout()
        self.stage = FloatLayout()  # the screen, and above it the verdict over a cashier screen
        self.holder = BoxLayout(pos_hint={"x": 0, "y": 0})
        self.stage.add_widget(self.holder)
        self.root.add_widget(self.stage)
        self.overlay = VerdictOverlay(self._overlay_touched)
        self._overlay_touchable, self._overlay_event = False, None
        self._typing: TextInput | None = None  # the field the overlay took the keyboard from
        self.last_tap: CounterTap | None = None
        self.on_screen: Callable[[str], None] | None = None  # tests and the benchmark watch screens
        self.typed_line: tuple[str, Callable[[], None]] | None = None  # see show_typed
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
        gc.collect()
        gc.freeze()  # all built so far stays: a collection during a tap scans only what came since
        self.notifier.ready()

    def stop(self) -> None:
        self.notifier.stopping()
        Window.unbind(on_touch_down=self._touched)
        for event in (*self._events, self._verdict_event, self._overlay_event, self._badge_step_event):
            if event is not None:
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
                             long_poll=self.config.sync.long_poll,
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
        self.typed_line = None  # a keypad's screen sets its own as it is built
        if name == "idle":
            self.idle_view.update()
            widget = self.idle_view
        elif name == "verdict":
            widget = self._verdict_view()
        else:
            widget = SCREENS[name](self)
        if widget.parent is not self.holder:
            Window.release_all_keyboards()  # the docked keyboard goes with the field that called it
            self.holder.clear_widgets()
            self.holder.add_widget(widget)
        self.screen = name
        if self.on_screen:
            self.on_screen(name)

    def show_typed(self, name: str) -> None:
        """Screen `name` after a key on its keypad: only the typed line and the message line
        change, in place, when that screen is up (else it is built as `show` does)."""
        if self.screen == name and self.typed_line is not None and self.typed_line[0] == name:
            self.typed_line[1]()
        else:
            self.show(name)

    def focus_later(self, field) -> None:
        """Focus `field` at the next frame (its keyboard docks then); under a verdict, once it goes."""
        def focus(_dt) -> None:
            if self.overlay.parent is not None:
                self._typing = field
            else:
                field.focus = True

        Clock.schedule_once(focus, 0)

    def _verdict_view(self) -> VerdictView:
        """The verdict of the last tap, in the view built for it (full screen or overlay alike)."""
        view = self.verdict_views[verdict_kind(self.last_tap.result.verdict)]
        view.update(self.last_tap.result, self._)
        return view

    def _show_overlay(self) -> None:
        """The last tap's verdict above the cashier's screen, which stays as it is beneath. The
        keyboard goes while the verdict shows (it would hide part of it) and comes back after."""
        view = self._verdict_view()
        self.overlay.paint(view.background)
        if view.parent is not self.overlay:
            self.overlay.clear_widgets()
            self.overlay.add_widget(view)
        if self.overlay.parent is None:
            self._typing = next((w for w in self.holder.walk(restrict=True)
                                 if isinstance(w, TextInput) and w.focus), None)
            if self._typing is not None:
                self._typing.focus = False
            self.stage.add_widget(self.overlay)
        self._overlay_touchable = False
        if self._overlay_event is not None:
            self._overlay_event.cancel()
        self._overlay_event = Clock.schedule_once(lambda _dt: setattr(self, "_overlay_touchable", True),
                                                  self.overlay_hold_seconds)

    def _overlay_touched(self) -> None:
        if self._overlay_touchable:
            if self._verdict_event is not None:
                self._verdict_event.cancel()
                self._verdict_event = None
            self._end_overlay()

    def _end_overlay(self) -> None:
        """Back to the cashier's screen as it was, the keyboard with it if a field had it."""
        if self.overlay.parent is None:
            return
        self.stage.remove_widget(self.overlay)
        self.overlay.clear_widgets()
        field, self._typing = self._typing, None
        if field is not None and field.get_parent_window() is not None:
            self.focus_later(field)

    # -- taps ------------------------------------------------------------------------------

    def _badge_read(self, read) -> None:
        """Reader thread: a cashier's badge where cashier mode is being opened brings up that
        cashier's PIN pad; the one read the find screen's badge step waits for picks the pupil;
        any other read is a meal tap, whatever the cashier is doing."""
        unlocking = self.screen in (*COUNTER_SCREENS, "unlock") or (self.screen == "pin" and self.desk.session is None)
        if read.uid in self.cashier_badges and unlocking:
            self.unlock_with_badge(read.uid)
        elif self.badge_armed and self.screen == "find" and self.desk.session is not None:
            self.badge_armed = False  # one read: the next badge is a meal tap again
            self._pupil_badge_read(read.uid)
        else:
            self.counter.on_badge(read)

    @mainthread
    def _tapped(self, tap: CounterTap) -> None:
        """The verdict full screen at the counter; over a cashier screen, in the overlay."""
        self.last_tap = tap
        if self._verdict_event is not None:
            self._verdict_event.cancel()
        if self.screen in COUNTER_SCREENS:
            self._end_overlay()  # the cashier left while a verdict was over their screen
            self.show("verdict")
        else:
            self._show_overlay()
        if self.chimes:
            self.chimes.play(verdict_kind(tap.result.verdict))
        self._verdict_event = Clock.schedule_once(lambda _dt: self._verdict_over(), self.verdict_seconds)

    def _verdict_over(self) -> None:
        self._verdict_event = None
        if self.overlay.parent is not None:
            self._end_overlay()
        elif self.screen == "verdict":
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
        elif self.screen in ("unlock", "pin") and self.desk.session is None and self.desk.quiet():
            self.close_cashier()  # a cashier's PIN asked, and nobody there: back to the counter
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
        elif isinstance(error, DeskLockedError) and self.screen in COUNTER_SCREENS:
            return  # locked on purpose (Lock, a quiet spell) while this waited: the counter stays
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
