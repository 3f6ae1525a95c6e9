"""The counter's daily exceptions on the screen: what each step of their screens does.

A part of `KioskUI` (a mixin, as `CashierFlow` is): serve a pupil who forgot the badge, block a
lost badge, cancel a meal of today. Each is the same walk: find the pupil by name, choose (the
badge, the meal), give a reason (one of a short list, or typed), confirm; the rules, the PIN
included, are `CashierDesk`'s, and its `PinRequiredError` brings up the PIN pad as for a top-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.meals import BadgeStatus
from domain.messages import N_
from domain.money import format_chf

from . import exception_screens
from .exception_screens import BLOCK, CANCEL_MEAL, SERVE


@dataclass(slots=True)
class ExceptionState:
    """What the cashier has chosen so far in one exception."""

    kind: str
    typed: str = ""  # the name searched
    found: list = field(default_factory=list)
    pupil: object | None = None
    options: list = field(default_factory=list)  # the pupil's active badges (uids) or meals of today
    choice: object | None = None
    reason: str = ""
    title: str = ""  # the outcome, once done
    lines: list[str] = field(default_factory=list)
    done_ok: bool = True


class ExceptionFlow:
    def start_exception(self, kind: str) -> None:
        self.exception, self.problem, self.results_box = ExceptionState(kind), None, None
        self.show("exception_find")

    def exception_search(self, text: str) -> None:
        self.exception.typed = text
        self._on_desk(lambda: self.desk.find_pupils(text), self._exception_found, None)

    def _exception_found(self, pupils) -> None:
        if self.screen == "exception_find":
            self.exception.found = pupils
            exception_screens.show_results(self)

    def exception_pupil(self, pupil) -> None:
        """The pupil is chosen: what there is to choose from (badges, meals of today), then the form."""
        kind = self.exception.kind
        if kind == BLOCK:
            def options():
                return [uid for uid, status in self.desk.badges_of(pupil.pupil_id) if status is BadgeStatus.ACTIVE]
        elif kind == CANCEL_MEAL:
            def options():
                return self.desk.meals_today(pupil.pupil_id)
        else:
            def options():
                return []
        self._on_desk(options, lambda found: self._exception_form(pupil, found), "exception_find")

    def _exception_form(self, pupil, options: list) -> None:
        state = self.exception
        state.pupil, state.options, state.reason = pupil, options, ""
        state.choice = options[0] if len(options) == 1 else None
        self.problem = None
        self.show("exception")

    def exception_back_to_find(self) -> None:
        self.problem = None
        self.show("exception_find")

    def exception_choose(self, option) -> None:
        self.exception.choice, self.problem = option, None
        self.show("exception")

    def exception_reason(self, text: str) -> None:
        """A reason of the short list: written in the field, where it can still be changed."""
        self.exception.reason, self.problem = text, None
        self.show("exception")

    def confirm_exception(self) -> None:
        state, desk = self.exception, self.desk
        reason, pupil, choice = state.reason, state.pupil, state.choice
        if state.kind == SERVE:
            self._with_pin(lambda pin: desk.serve_without_badge(pupil.pupil_id, reason, pin=pin),
                           self._served_without_badge, "exception", back=self.return_to("exception"),
                           button=N_("Serve"))
        elif choice is None:
            self.problem = self._("Choose the badge to block first.") if state.kind == BLOCK else \
                self._("Choose the meal to cancel first.")
            self.show("exception")
        elif state.kind == BLOCK:
            self._on_desk(lambda: desk.block_badge(choice, reason), self._badge_blocked, "exception")
        else:
            self._with_pin(lambda pin: desk.reverse(choice.id, reason, pin=pin), self._meal_cancelled, "exception",
                           back=self.return_to("exception"), button=N_("Confirm"))

    def _exception_done(self, title: str, lines: list[str], ok: bool) -> None:
        state = self.exception
        state.title, state.lines, state.done_ok = title, lines, ok
        self.problem = None
        self.show("exception_done")
        if ok and self.scheduler:
            self.scheduler.trigger()

    def _served_without_badge(self, result) -> None:
        verdict = result.verdict
        balance = verdict.balance_line()
        lines = [f"{verdict.pupil.first_name} {verdict.pupil.last_name} · {verdict.message.render(self._)}",
                 *([balance.render(self._)] if balance else []), *(hint.render(self._) for hint in verdict.hints())]
        self._exception_done(self._("Meal served without badge") if verdict.served else self._("Meal refused"),
                             lines, verdict.served)

    def _badge_blocked(self, block) -> None:
        pupil = self.exception.pupil
        self._exception_done(self._("Badge blocked"), [
            self._("Badge {uid} of {name} is refused at this kiosk from now on.").format(
                uid=block.uid, name=f"{pupil.first_name} {pupil.last_name}"),
            self._("The other kiosks refuse it after their next sync.")], True)

    def _meal_cancelled(self, outcome) -> None:
        done, pupil = outcome.operation, self.exception.pupil
        self._exception_done(self._("Meal cancelled"), [
            self._("The meal of {time} of {name} is cancelled: {amount} credited back.").format(
                time=self.format_time(done.original.occurred_at), name=f"{pupil.first_name} {pupil.last_name}",
                amount=format_chf(-done.original.amount_cents)),
            self._("New balance: {balance}").format(balance=format_chf(done.balance_cents))], True)
