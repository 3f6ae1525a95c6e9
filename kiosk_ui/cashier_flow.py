"""The cashier's side of the kiosk screen: what each button of cashier mode does.

A part of `KioskUI` (a mixin, for reading in one sitting): every operation runs on the desk's
thread through `_on_desk`, and its outcome picks the next screen. Money rules stay in
`kiosk.cashier_desk.CashierDesk`, the PIN rules too: the PIN pad shows wherever the desk answers
`PinRequiredError`, and what the cashier types there goes back to the same operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kivy.clock import Clock, mainthread

from domain.messages import N_
from kiosk.cashier_desk import PinRequiredError
from kiosk.texts import on_screen, reversal_lines, topup_lines

from . import cashier_screens
from .widgets import edit

BADGE_STEP_SECONDS = 20.0  # how long the find screen waits for the badge of the pupil to credit


@dataclass(frozen=True, slots=True)
class PinRequest:
    """The desk asked for a PIN: whose and what for, the operation to run again with it, what to
    do with its result, where "Back" goes, and the label (a msgid) of the PIN pad's button."""

    asked: PinRequiredError
    operation: Callable[[str | None], object]
    then: Callable[[object], None]
    back: Callable[[], None]
    button: str


class CashierFlow:
    def open_cashier(self) -> None:
        """Cashier mode always starts at the PIN, whatever session a path forgot to close, and in
        the kiosk's language (a pupil's switch was for their own tap; receipts follow the screen)."""
        if self.language != self.default_language:
            self.set_language(self.default_language)
        self.desk.lock()
        self.desk.touch()  # the unlock screen waits `lock_after` for a PIN, then the counter comes back
        self._reset_cashier_state()
        self.show("unlock")

    def close_cashier(self) -> None:
        """Back to the counter screens: the session ends (Back, Lock, a quiet spell alike)."""
        self.desk.lock()
        self._reset_cashier_state()
        self.show("idle")

    def choose_cashier(self, cashier_id: str) -> None:
        self.problem = None
        self._with_pin(lambda pin: self.desk.unlock(cashier_id, pin), self._unlocked, "unlock",
                       back=self.open_cashier, button=N_("Unlock"))

    def unlock_with_badge(self, uid: str) -> None:
        """A cashier's badge: the PIN pad of that cashier (the badge alone opens nothing)."""
        self._with_pin(lambda pin: self.desk.unlock_with_badge(uid, pin), self._unlocked, "unlock",
                       back=self.close_cashier, button=N_("Unlock"))

    def _unlocked(self, _session) -> None:
        if self.screen != "pin":  # the cashier left while the PIN was being checked
            self.desk.lock()
            return
        self.back_to_menu()

    def back_to_menu(self) -> None:
        self._reset_cashier_state()
        self.show("cashier")

    def _reset_cashier_state(self) -> None:
        self.typed, self.problem, self.found, self.results_box = "", None, [], None
        self.pin_request, self.pin_typed = None, ""
        self.pupil, self.pupil_balance, self.preview = None, 0, None
        self.outcome, self.done_title, self.done_lines = None, "", []
        self.last_topup, self.last_topup_name, self.report = None, "", None
        self._stop_badge_step()

    # -- the PIN pad -----------------------------------------------------------------------

    def _with_pin(self, operation: Callable[[str | None], object], then: Callable[[object], None], screen: str,
                  *, back: Callable[[], None], button: str) -> None:
        """Run `operation(None)`; where the desk asks for the PIN, the PIN pad shows and
        `operation(pin)` runs with what is typed. Other errors show on `screen`. An answer that
        comes once the desk is locked (Lock pressed, a quiet spell) shows nothing: the operation is
        in the ledger and its report, and the counter's screens have taken over."""
        def while_open(result) -> None:
            if self.desk.session is not None:
                then(result)

        self._on_desk(lambda: operation(None), while_open, screen,
                      on_pin=lambda asked: self._ask_pin(PinRequest(asked, operation, while_open, back, button)))

    def _ask_pin(self, request: PinRequest) -> None:
        self.desk.touch()  # a cashier's badge may have asked: the pad then waits as long as after a touch
        self.pin_request, self.pin_typed, self.problem = request, "", None
        self.show("pin")

    def pin_key(self, key: str) -> None:
        self.pin_typed = edit(self.pin_typed, key, max_length=12)
        self.show_typed("pin")

    def submit_pin(self) -> None:
        request, pin = self.pin_request, self.pin_typed
        if request is None or not pin:  # a second tap while the first is checked: its PIN is already sent
            return
        self.pin_typed, self.problem = "", None
        self._on_desk(lambda: request.operation(pin), lambda result: self._pin_accepted(request, result), "pin")

    def _pin_accepted(self, request: PinRequest, result) -> None:
        if self.pin_request is request:
            self.pin_request = None
        request.then(result)

    def return_to(self, screen: str) -> Callable[[], None]:
        """A "Back" that shows `screen` again as it was (what was typed there is kept)."""
        def back() -> None:
            self.pin_request, self.problem = None, None
            self.show(screen)

        return back

    # -- a top-up --------------------------------------------------------------------------

    def start_topup(self) -> None:
        self._reset_cashier_state()
        self.show("find")

    def search(self, text: str) -> None:
        self.typed = text
        self._on_desk(lambda: self.desk.find_pupils(text), self._found, None)

    def _found(self, pupils) -> None:
        if self.screen == "find":
            self.found = pupils
            cashier_screens.show_results(self)

    def read_pupil_badge(self) -> None:
        """The badge step: the next badge read picks the pupil to credit, once, for
        `badge_step_seconds`. Before and after it, a badge on the reader is a meal tap, so the
        queue's taps never pick a pupil."""
        self._stop_badge_step()
        self.badge_armed, self.problem = True, None
        self._badge_step_event = Clock.schedule_once(lambda _dt: self._badge_step_timed_out(),
                                                     self.badge_step_seconds)
        self.show("find")

    def cancel_badge_step(self) -> None:
        self._stop_badge_step()
        self.show("find")

    def _stop_badge_step(self) -> None:
        self.badge_armed = False
        if self._badge_step_event is not None:
            self._badge_step_event.cancel()
            self._badge_step_event = None

    def _badge_step_timed_out(self) -> None:
        self._badge_step_event = None
        if self.badge_armed and self.screen == "find":
            self.badge_armed = False
            self.problem = self._("No badge was read: read it again, or type a name.")
            self.show("find")

    @mainthread
    def _pupil_badge_read(self, uid: str) -> None:
        """The badge step's one read (already disarmed on the reader's thread): that pupil's amount."""
        self._stop_badge_step()
        self._on_desk(lambda: self.desk.pupil_for_badge(uid), self.choose_pupil, "find")

    def choose_pupil(self, pupil) -> None:
        self._on_desk(lambda: self.desk.balance(pupil.pupil_id), lambda balance: self._amount_for(pupil, balance),
                      "find")

    def _amount_for(self, pupil, balance: int) -> None:
        self._reset_cashier_state()
        self.pupil, self.pupil_balance = pupil, balance
        self.show("amount")

    def amount_key(self, key: str) -> None:
        self.typed, self.problem = edit(self.typed, key, max_length=7), None
        self.show_typed("amount")

    def quick_amount(self, cents: int) -> None:
        self.typed, self.problem = f"{cents // 100}", None
        self.submit_amount()

    def submit_amount(self) -> None:
        pupil_id, text = self.pupil.pupil_id, self.typed
        self._on_desk(lambda: self.desk.preview(pupil_id, text), self._amount_ok, "amount")

    def _amount_ok(self, preview) -> None:
        self.preview, self.problem = preview, None
        self.show("confirm")

    def back_to_amount(self) -> None:
        self.problem = None
        self.show("amount")

    def confirm_topup(self) -> None:
        pupil_id, cents = self.pupil.pupil_id, self.preview.cents
        self._with_pin(lambda pin: self.desk.top_up(pupil_id, cents, pin=pin), self._topped_up, "confirm",
                       back=self.return_to("confirm"), button=N_("Confirm"))

    def _topped_up(self, outcome) -> None:
        """The top-up is committed: shown whatever the cashier did meanwhile."""
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
        self._reset_cashier_state()
        self.last_topup, pupil = found
        self.last_topup_name = f"{pupil.first_name} {pupil.last_name}" if pupil else ""
        self.show("cancel")

    def confirm_cancel(self) -> None:
        reason = self.typed
        self._with_pin(lambda pin: self.desk.cancel_last(reason, pin=pin), self._cancelled, "cancel",
                       back=self.return_to("cancel"), button=N_("Confirm"))

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

    def count_key(self, key: str) -> None:
        self.typed, self.problem = edit(self.typed, key, max_length=10), None
        self.show_typed("report")

    def submit_count(self) -> None:
        """Record what was typed as today's count of the drawer; the report then shows it."""
        text = self.typed
        self._on_desk(lambda: self.desk.count_cash(text), self._counted, "report")

    def _counted(self, report) -> None:
        self.report, self.typed, self.problem = report, "", None
        self.show("report")
        if self.scheduler:
            self.scheduler.trigger()

    def print_report(self) -> None:
        report = self.report
        self._on_desk(lambda: self.desk.print_report(report), self._report_printed, "report")

    def _report_printed(self, printed) -> None:
        self.problem = None if printed.printed else self._("Report NOT printed: {problem}").format(
            problem=on_screen(printed.problem, self._))
        self.show("report")
