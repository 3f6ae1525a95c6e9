"""The kiosk screen's controller: which screen shows, what the cashier has typed, and the threads.

Threads: the reader calls back on its own thread; taps are decided on the counter's thread
(`kiosk.counter.Counter`, its own database connection); cashier operations, status reads and
printing run on one desk thread (`CashierDesk`, another connection); sync runs on the
scheduler's thread. Results come back to the UI thread through `mainthread` (the Kivy Clock), so
the screen never waits for a database, a printer or the network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from babel.dates import format_date
from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout

from domain.clock import local, service_date, utc_now
from domain.messages import Message, RefectoryError
from kiosk.cashier_desk import QUICK_AMOUNTS_CENTS, CashierDesk
from kiosk.config import KioskConfig
from kiosk.counter import Counter, CounterTap
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_scheduler import SyncScheduler
from kiosk.sync_store import menu_of, sync_state
from kiosk.texts import reversal_lines, topup_lines
from refectory.i18n import gettext_for

from . import cashier_screens, theme
from .counter_screens import IdleView, StatusLine, VerdictView
from .sounds import Chimes
from .widgets import edit

log = logging.getLogger(__name__)
STATUS_EVERY_SECONDS = 2.0
PRINTER_STATUS_EVERY_SECONDS = 30.0
COUNTER_SCREENS = ("idle", "verdict")
IDENTIFYING_SCREENS = ("cashier", "find", "done")  # a badge read there picks the pupil to top up


class KioskUI:
    def __init__(self, data_dir: Path, config: KioskConfig, *, reader, printer,
                 clock: Callable[[], datetime] = utc_now, language: str | None = None,
                 verdict_seconds: float | None = None, lock_after: float | None = None,
                 sync: bool = True) -> None:
        self.data_dir, self.config, self.clock = Path(data_dir), config, clock
        self.reader, self.printer = reader, printer
        self.verdict_seconds = verdict_seconds or config.screen.verdict_seconds
        self.chimes = Chimes(self.data_dir / "sounds") if config.screen.sound else None
        self.set_language(language or config.screen.language)
        self._counter_store = Store.open(data_dir)
        self.counter = Counter(KioskService(self._counter_store, clock))
        self._desk_store = Store.open(data_dir)
        self.desk = CashierDesk(KioskService(self._desk_store, clock), printer, config.canteen, self._,
                                cash_drawer=config.printer.cash_drawer,
                                lock_after=lock_after or config.screen.lock_after_seconds)
        self._desk_thread = ThreadPoolExecutor(1, thread_name_prefix="desk")
        self.scheduler = self._scheduler() if sync else None
        self._reset_cashier_state()
        self.status: StatusLine | None = None
        self._sync_text, self._sync_ok = self._("Not synced yet"), False
        self._reader_text, self._reader_ok = self._("Reader starting"), True
        self._printer_text, self._printer_ok = self._("Printer: not checked yet"), True
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
        self._counter_thread = threading.Thread(target=self.counter.run, name="counter", daemon=True,
                                                args=(self._tapped, self._counter_event),
                                                kwargs={"on_quiet": self.scheduler.watch_cash if self.scheduler else None})
        self._counter_thread.start()
        self.reader.start(self._badge_read, self.counter.on_notice)
        if self.scheduler:
            self.scheduler.start()
        self._events = [Clock.schedule_interval(lambda _dt: self._tick(), 1.0),
                        Clock.schedule_interval(lambda _dt: self.refresh_status(), STATUS_EVERY_SECONDS),
                        Clock.schedule_interval(lambda _dt: self._check_printer(), PRINTER_STATUS_EVERY_SECONDS)]
        Window.bind(on_touch_down=self._touched)
        self.refresh_status()
        self._check_printer()
        self.show("idle")

    def stop(self) -> None:
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

    def _scheduler(self) -> SyncScheduler | None:
        if not sync_state(self._counter_store).token:
            return None
        return SyncScheduler(self.data_dir, interval=self.config.sync.interval_seconds,
                             on_round=lambda _outcome: self.refresh_status(), watch_store=self._counter_store)

    # -- language, dates -------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        self.language = language
        self._ = gettext_for(language)
        if hasattr(self, "desk"):
            self.desk._ = self._

    def switch_language(self) -> None:
        self.set_language("en" if self.language == "fr" else "fr")
        self.refresh_status()
        self.show(self.screen if self.screen != "verdict" else "idle")

    def format_day(self, moment: datetime) -> str:
        return format_date(local(moment).date(), format="full", locale=self.language)

    def format_time(self, moment: datetime) -> str:
        return local(moment).strftime("%H:%M")

    def todays_menu(self) -> list:
        return self._menu[1] if self._menu[0] == service_date(self.clock()) else []

    # -- screens ---------------------------------------------------------------------------

    def show(self, name: str) -> None:
        """Put screen `name` up: the pupils' two screens are kept and updated, the cashier's are
        built from the current state."""
        if name == "idle":
            self.idle_view.update()
            widget = self.idle_view
        elif name == "verdict":
            widget = self.verdict_views[self.last_tap.result.verdict.served]
            widget.update(self.last_tap.result, self._)
        else:
            widget = cashier_screens.SCREENS[name](self)
        if widget.parent is not self.holder:
            self.holder.clear_widgets()
            self.holder.add_widget(widget)
        self.screen = name
        if self.on_screen:
            self.on_screen(name)

    def focus_later(self, field) -> None:
        Clock.schedule_once(lambda _dt: setattr(field, "focus", True), 0)

    # -- taps ------------------------------------------------------------------------------

    def _badge_read(self, read) -> None:
        """Reader thread: at the counter a read is a tap; in cashier mode it picks the pupil."""
        if self.screen in IDENTIFYING_SCREENS and self.desk.session is not None:
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
            message = event.message.render(self._) if isinstance(event.message, Message) else str(event.message)
            self._reader_text = message[:1].upper() + message[1:]
            self._reader_ok = str(event.status) == "ready" if event.status else self._reader_ok
            self._update_status()

    # -- status bar ------------------------------------------------------------------------

    def refresh_status(self) -> None:
        self._desk_thread.submit(self._read_status)

    def _read_status(self) -> None:
        store = self._desk_store
        state = sync_state(store)
        pending = store.pending_push()
        day = service_date(self.clock())
        menu = (day, menu_of(store, day))
        self._status_read(state, pending, menu)

    @mainthread
    def _status_read(self, state, pending: int, menu) -> None:
        _ = self._
        self._menu = menu
        if not state.token:
            self._sync_text, self._sync_ok = _("Not connected to a server"), True
        else:
            online = state.last_error is None and state.last_sync_at is not None
            when = self.format_time(state.last_sync_at) if state.last_sync_at else "—"
            self._sync_text = (_("Online · last sync {time} · {pending} to send") if online
                               else _("Offline · last sync {time} · {pending} to send")).format(time=when,
                                                                                                pending=pending)
            self._sync_ok = online
        self._update_status()

    def _check_printer(self) -> None:
        self._desk_thread.submit(lambda: self._printer_checked(self.printer.status()))

    @mainthread
    def _printer_checked(self, status) -> None:
        self._printer_text = status.message.render(self._)
        self._printer_ok = str(status.state) in ("online", "unknown")
        self._update_status()

    def _update_status(self) -> None:
        self.status = StatusLine(self._sync_text, self._sync_ok, self._reader_text, self._reader_ok,
                                 self._printer_text, self._printer_ok)
        if self.screen == "idle":
            self.idle_view.update()

    # -- the cashier's lock ----------------------------------------------------------------

    def _touched(self, _window, _touch) -> None:
        self.desk.touch()

    def _tick(self) -> None:
        if self.desk.lock_if_idle() and self.screen not in COUNTER_SCREENS:
            self.close_cashier()
        elif self.screen == "idle":
            self.idle_view.update()  # the clock on screen

    def open_cashier(self) -> None:
        self._reset_cashier_state()
        self.show("cashier" if self.desk.session else "unlock")

    def close_cashier(self) -> None:
        self._reset_cashier_state()
        self.show("idle")

    def lock_cashier(self) -> None:
        self.desk.lock()
        self.close_cashier()

    def choose_cashier(self, cashier_id: str) -> None:
        self.cashier_id, self.typed, self.problem = cashier_id, "", None
        self.show("unlock")

    def pin_key(self, key: str) -> None:
        self.typed = edit(self.typed, key, max_length=12)
        self.show("unlock")

    def submit_pin(self) -> None:
        cashier_id, pin = self.cashier_id, self.typed
        self.typed = ""
        self._on_desk(lambda: self.desk.unlock(cashier_id, pin), lambda _session: self.back_to_menu(), "unlock")

    def back_to_menu(self) -> None:
        self._reset_cashier_state(keep_cashier=True)
        self.show("cashier")

    def _reset_cashier_state(self, keep_cashier: bool = False) -> None:
        if not keep_cashier:
            self.cashier_id = None
        self.typed, self.problem, self.found, self.results_box = "", None, [], None
        self.pupil, self.pupil_balance, self.amount_cents = None, 0, 0
        self.outcome, self.done_title, self.done_lines = None, "", []
        self.last_topup, self.last_topup_name, self.report = None, "", None

    # -- a top-up --------------------------------------------------------------------------

    @property
    def quick_amounts(self) -> tuple[int, ...]:
        return QUICK_AMOUNTS_CENTS

    def start_topup(self) -> None:
        self._reset_cashier_state(keep_cashier=True)
        self.show("find")

    def search(self, text: str) -> None:
        self.typed = text
        self._on_desk(lambda: self.desk.find_pupils(text), self._found, None)

    def _found(self, pupils) -> None:
        if self.screen == "find":
            self.found = pupils
            cashier_screens.show_results(self)

    def _identify(self, uid: str) -> None:
        self._on_desk(lambda: self.desk.pupil_for_badge(uid), self.choose_pupil, self.screen)

    def choose_pupil(self, pupil) -> None:
        self._on_desk(lambda: self.desk.balance(pupil.pupil_id), lambda balance: self._amount_for(pupil, balance),
                      "find")

    def _amount_for(self, pupil, balance: int) -> None:
        self._reset_cashier_state(keep_cashier=True)
        self.pupil, self.pupil_balance = pupil, balance
        self.show("amount")

    def amount_key(self, key: str) -> None:
        self.typed, self.problem = edit(self.typed, key, max_length=7), None
        self.show("amount")

    def quick_amount(self, cents: int) -> None:
        self.typed, self.problem = f"{cents // 100}", None
        self.submit_amount()

    def submit_amount(self) -> None:
        text = self.typed
        self._on_desk(lambda: self.desk.amount(text), self._amount_ok, "amount")

    def _amount_ok(self, cents: int) -> None:
        self.amount_cents, self.problem = cents, None
        self.show("confirm")

    def back_to_amount(self) -> None:
        self.problem = None
        self.show("amount")

    def confirm_topup(self) -> None:
        pupil_id, cents = self.pupil.pupil_id, self.amount_cents
        self._on_desk(lambda: self.desk.top_up(pupil_id, cents), self._topped_up, "confirm")

    def _topped_up(self, outcome) -> None:
        self.outcome, self.problem = outcome, None
        self.done_title = self._("Top-up recorded")
        self.done_lines = topup_lines(outcome.operation, self._)
        self.show("done")
        if self.scheduler:
            self.scheduler.trigger()

    def reprint_last(self) -> None:
        receipt_no = self.outcome.operation.receipt_no
        self._on_desk(lambda: self.desk.reprint(receipt_no), self._reprinted, "done")

    def _reprinted(self, printed) -> None:
        self.outcome = type(self.outcome)(self.outcome.operation, printed)
        self.show("done")

    # -- cancel, report ----------------------------------------------------------------------

    def start_cancel(self) -> None:
        def find_last():
            last = self.desk.last_topup()
            return last, (self.desk.service.pupil_for(pupil_id=last.account_id) if last else None)

        self._on_desk(find_last, self._cancel_ready, "cashier")

    def _cancel_ready(self, found) -> None:
        self._reset_cashier_state(keep_cashier=True)
        self.last_topup, pupil = found
        self.last_topup_name = f"{pupil.first_name} {pupil.last_name}" if pupil else ""
        self.show("cancel")

    def confirm_cancel(self) -> None:
        reason = self.typed
        self._on_desk(lambda: self.desk.cancel_last(reason), self._cancelled, "cancel")

    def _cancelled(self, outcome) -> None:
        self.outcome, self.problem = outcome, None
        self.done_title = self._("Operation cancelled")
        self.done_lines = reversal_lines(outcome.operation, self._)
        self.show("done")

    def show_report(self) -> None:
        self._on_desk(self.desk.report, self._report_ready, "cashier")

    def _report_ready(self, report) -> None:
        self.report, self.problem = report, None
        self.show("report")

    def print_report(self) -> None:
        report = self.report
        self._on_desk(lambda: self.desk.print_report(report), self._report_printed, "report")

    def _report_printed(self, printed) -> None:
        self.problem = None if printed.printed else self._("Report NOT printed: {problem}").format(
            problem=printed.problem.render(self._))
        self.show("report")

    # -- the desk thread -------------------------------------------------------------------

    def _on_desk(self, work: Callable[[], object], then: Callable[[object], None], screen: str | None) -> None:
        """Run `work` on the desk thread; `then(result)` on the UI thread, or the error's message
        on `screen` (None: say nothing)."""
        future = self._desk_thread.submit(work)
        future.add_done_callback(lambda done: self._desk_done(done, then, screen))

    @mainthread
    def _desk_done(self, done, then, screen: str | None) -> None:
        error = done.exception()
        if error is None:
            then(done.result())
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
