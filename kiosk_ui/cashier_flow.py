"""The cashier's side of the kiosk screen: what each button of cashier mode does.

A part of `KioskUI` (a mixin, for reading in one sitting): every operation runs on the desk's
thread through `_on_desk`, and its outcome picks the next screen. Money rules stay in
`kiosk.cashier_desk.CashierDesk`.
"""

from __future__ import annotations

from kiosk.texts import reversal_lines, topup_lines

from . import cashier_screens
from .widgets import edit


class CashierFlow:
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
        self.pupil, self.pupil_balance, self.preview = None, 0, None
        self.outcome, self.done_title, self.done_lines = None, "", []
        self.last_topup, self.last_topup_name, self.report = None, "", None

    # -- a top-up --------------------------------------------------------------------------

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
