"""The cashier's desk: what the touchscreen's cashier mode does, without the screen.

Unlock with the PIN (a cashier's badge only picks who is typing it; a pause after repeated wrong
ones), find the pupil (badge or name), check an amount as it is typed, confirm a cash top-up
(committed first, then the drawer opens and the receipt prints), reprint, cancel the last top-up,
the day's report, the day's exceptions (serve a pupil without badge, block a lost badge, cancel a
meal of today: `kiosk.counter_exceptions`), and lock again when the cashier leaves or after a
quiet spell. The Kivy app, the
CLI and the tests drive it the same way; it prints on whatever printer the UI layer opened (the
core never opens a device).

The drawer is behind the PIN: an open session lets the cashier look and prepare, but every
operation that moves money or opens the drawer (a top-up, a cancellation, a meal served without
badge) takes the PIN again,
as a `pin=` argument. Called without it, the operation checks what it can, writes nothing and
raises `PinRequiredError`, which tells the screen to ask for the PIN and call again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.cash_report import CashReport
from domain.clock import service_date
from domain.corrections import reversal_for
from domain.entries import EntryKind, LedgerEntry
from domain.meals import BadgeStatus, Pupil
from domain.messages import N_, RefectoryError
from domain.money import check_amount, format_chf, parse_amount
from domain.names import name_matches
from domain.sync import BadgeBlock

from . import counter_exceptions
from .config import CanteenInfo
from .printing import PrintOutcome, deliver
from .receipts import cash_report_receipt, reprint_receipt, reversal_receipt, topup_receipt
from .service import AuthError, CashierSession, KioskService, Reversal, TapResult, TopUp, UnknownRecordError
from .texts import Gettext

log = logging.getLogger(__name__)
LOCK_AFTER_SECONDS = 120.0
PIN_TRIES = 5  # wrong PINs in a row before the pad pauses
PIN_PAUSE_SECONDS = 60.0
QUICK_AMOUNTS_CENTS = (10_00, 20_00, 50_00, 100_00)
SEARCH_LIMIT = 12
NOTHING_TO_CANCEL = N_("Nothing to cancel: no top-up of yours today that is not cancelled already.")
UNLOCK_PROMPT = N_("Enter your PIN to open cashier mode.")
TOPUP_PROMPT = N_("Enter your PIN to record {amount} in cash and open the drawer.")
TOPUP_PROMPT_NO_DRAWER = N_("Enter your PIN to record {amount} in cash.")
CASH_BACK_PROMPT = N_("Enter your PIN to cancel {amount} and hand the cash back from the drawer.")
REVERSAL_PROMPT = N_("Enter your PIN to cancel this operation ({amount}).")
WITHOUT_BADGE_PROMPT = N_("Enter your PIN to serve {name} without badge ({amount}).")


class DeskLockedError(RefectoryError):
    code = "desk_locked"


class TooManyTriesError(RefectoryError):
    code = "too_many_pin_tries"


class PinRequiredError(RefectoryError):
    """Not a failure: the operation waits for the PIN of `cashier_name` and nothing was written.
    The message says what the PIN will do; call the same operation again with `pin=`."""

    code = "pin_required"

    def __init__(self, template: str, *, cashier_id: str, cashier_name: str, **params: object) -> None:
        super().__init__(template, **params)
        self.cashier_id, self.cashier_name = cashier_id, cashier_name


@dataclass(frozen=True, slots=True)
class DeskOutcome:
    """A committed operation and what the printer made of it (None: nothing to print)."""

    operation: TopUp | Reversal
    printed: PrintOutcome | None


@dataclass(frozen=True, slots=True)
class TopUpPreview:
    """What the confirmation screen shows before anything is written."""

    cents: int
    balance_cents: int
    balance_after_cents: int


class CashierDesk:
    def __init__(self, service: KioskService, printer, canteen: CanteenInfo, _: Gettext, *,
                 cash_drawer: bool = True, lock_after: float = LOCK_AFTER_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.printer = printer
        self.canteen = canteen
        self._ = _
        self.cash_drawer = cash_drawer
        self.lock_after = lock_after
        self.monotonic = monotonic
        self.session: CashierSession | None = None
        self._last_activity = monotonic()
        self._wrong_pins = 0
        self._paused_until = 0.0

    # -- the lock --------------------------------------------------------------------------

    def cashiers(self) -> list[tuple[str, str]]:
        """(id, name) of the cashiers who may unlock, by name, for the unlock screen."""
        return sorted(self.service.store.cashier_names().items(), key=lambda item: (item[1].casefold(), item[0]))

    def unlock(self, cashier_id: str, pin: str | None = None) -> CashierSession:
        """Open a session for `cashier_id` with their PIN (without one: `PinRequiredError`). After
        `PIN_TRIES` wrong PINs in a row the pad refuses every PIN for `PIN_PAUSE_SECONDS`, so a
        PIN cannot be guessed at the counter."""
        if pin is None:
            self._check_pause()
            raise PinRequiredError(UNLOCK_PROMPT, cashier_id=cashier_id,
                                   cashier_name=self.service.store.cashier_names().get(cashier_id, ""))
        return self._open(self._verify(cashier_id, pin))

    def unlock_with_badge(self, uid: str, pin: str | None = None) -> CashierSession:
        """A cashier's badge says who is at the desk; the session opens only with that cashier's
        PIN (a badge can be lost, lent or cloned)."""
        return self.unlock(self.service.login_with_badge(uid).cashier_id, pin)

    def _open(self, session: CashierSession) -> CashierSession:
        self.session = session
        self.touch()
        return session

    def lock(self) -> None:
        """End the session: the cashier left cashier mode (back to the counter, the lock
        button, a quiet spell) or someone is guessing PINs. Coming back takes the PIN."""
        self.session = None

    def touch(self) -> None:
        """The cashier did something: the inactivity lock starts counting again."""
        self._last_activity = self.monotonic()

    def lock_if_idle(self) -> bool:
        """Lock after `lock_after` seconds without activity; True when this call locked it."""
        if self.session is not None and self.quiet():
            self.lock()
            return True
        return False

    def quiet(self) -> bool:
        """Whether nothing happened at the desk for `lock_after` seconds."""
        return self.monotonic() - self._last_activity >= self.lock_after

    def _cashier(self) -> CashierSession:
        if self.session is None:
            raise DeskLockedError(N_("Cashier mode is locked: enter your PIN."))
        self.touch()
        return self.session

    def _check_pause(self) -> None:
        wait = self._paused_until - self.monotonic()
        if wait > 0:
            raise TooManyTriesError(N_("Too many wrong PINs: try again in {seconds} s."), seconds=math.ceil(wait))

    def _verify(self, cashier_id: str, pin: str) -> CashierSession:
        """The cashier whose PIN this is; wrong PINs count towards the pause, at unlock and at the
        drawer alike, and the one that starts the pause also ends any open session."""
        self._check_pause()
        try:
            found = self.service.login(cashier_id, pin)
        except AuthError:
            self._wrong_pins += 1
            if self._wrong_pins >= PIN_TRIES:
                self._wrong_pins, self._paused_until = 0, self.monotonic() + PIN_PAUSE_SECONDS
                self.lock()
            raise
        self._wrong_pins = 0
        return found

    def _pin_again(self, session: CashierSession, pin: str | None, prompt: str, **params: object) -> None:
        """Money is about to move or the drawer to open: the session's cashier types the PIN again."""
        if pin is None:
            self._check_pause()
            raise PinRequiredError(prompt, cashier_id=session.cashier_id, cashier_name=session.name, **params)
        try:
            self._verify(session.cashier_id, pin)
        except AuthError:
            if self.session is None:  # that wrong PIN started the pause
                raise DeskLockedError(N_("Too many wrong PINs: cashier mode is locked for {seconds} s;"
                                         " nothing was done."), seconds=math.ceil(PIN_PAUSE_SECONDS)) from None
            raise AuthError(N_("Wrong PIN: nothing was done.")) from None

    # -- finding the pupil and the amount --------------------------------------------------

    def find_pupils(self, query: str, limit: int = SEARCH_LIMIT) -> list[Pupil]:
        self._cashier()
        found = [p for p in self.service.store.active_pupils()
                 if name_matches(query, p.first_name, p.last_name, p.class_name)]
        return found[:limit]

    def pupil_for_badge(self, uid: str) -> Pupil:
        self._cashier()
        return self.service.pupil_for(uid=uid)

    def balance(self, pupil_id: str) -> int:
        return self.service.balance(pupil_id)

    def amount(self, text: str) -> int:
        """Centimes for a typed cash amount, within the top-up limits and on the 0.05 step."""
        return self._check_cash(parse_amount(text))

    def _check_cash(self, cents: int) -> int:
        settings = self.service.store.settings()
        return check_amount(cents, minimum_cents=settings.topup_min_cents, maximum_cents=settings.topup_max_cents,
                            cash=True)

    def preview(self, pupil_id: str, text: str) -> TopUpPreview:
        """The typed amount checked (see `amount`) and the balance it would give."""
        self._cashier()
        cents = self.amount(text)
        balance = self.service.balance(pupil_id)
        return TopUpPreview(cents, balance, balance + cents)

    # -- operations ------------------------------------------------------------------------

    def top_up(self, pupil_id: str, cents: int, *, pin: str | None = None,
               now: datetime | None = None) -> DeskOutcome:
        """Credit cash to the pupil, then open the drawer and print; takes the PIN (see the module)."""
        session = self._cashier()
        self._check_cash(cents)
        self.service.pupil_for(pupil_id=pupil_id)
        self._pin_again(session, pin, TOPUP_PROMPT if self.cash_drawer else TOPUP_PROMPT_NO_DRAWER,
                        amount=format_chf(cents))
        done = self.service.cash_topup(session, pupil_id, cents, now=now)
        receipt = topup_receipt(done, self.canteen, session.name, self._)
        return DeskOutcome(done, deliver(self.printer, receipt, open_drawer=self.cash_drawer))

    def last_topup(self, *, now: datetime | None = None) -> LedgerEntry | None:
        """This cashier's last cash top-up today at this kiosk, if it is not cancelled yet."""
        session = self._cashier()
        store = self.service.store
        day = service_date(now or self.service.clock())
        for entry, _reversed_kind in reversed(store.cash_entries_on(day)):
            if (entry.kind is EntryKind.CASH_TOPUP and entry.origin == self.service.kiosk_id
                    and entry.operator == session.cashier_id):
                return None if store.is_reversed(entry.id) else entry
        return None

    def cancel_last(self, reason: str, *, pin: str | None = None, now: datetime | None = None) -> DeskOutcome:
        """Cancel `last_topup()`, handing the cash back (see `reverse`)."""
        last = self.last_topup(now=now)
        if last is None:
            raise RefectoryError(NOTHING_TO_CANCEL)
        return self.reverse(last.id, reason, pin=pin, now=now)

    def reverse(self, entry_id: str, reason: str, *, pin: str | None = None,
                now: datetime | None = None) -> DeskOutcome:
        """Cancel a same-day meal or cash top-up with a reversal entry; for cash, the drawer opens
        to hand it back and a cancellation receipt prints (a meal prints nothing). Takes the PIN,
        asked only once the cancellation is known to be allowed."""
        session = self._cashier()
        original = self._check_reversal(session, entry_id, reason, now or self.service.clock())
        cash_back = original.kind is EntryKind.CASH_TOPUP and self.cash_drawer
        self._pin_again(session, pin, CASH_BACK_PROMPT if cash_back else REVERSAL_PROMPT,
                        amount=format_chf(abs(original.amount_cents)))
        done = self.service.reverse(session, entry_id, reason, now=now)
        log.info("%s %s of %s cancelled by cashier %s: %s", original.kind, original.id, original.account_id,
                 session.cashier_id, reason.strip())
        if done.receipt_no is None:
            return DeskOutcome(done, None)
        receipt = reversal_receipt(done, self.canteen, session.name, self._)
        return DeskOutcome(done, deliver(self.printer, receipt, open_drawer=self.cash_drawer))

    def _check_reversal(self, session: CashierSession, entry_id: str, reason: str, now: datetime) -> LedgerEntry:
        """The entry `reverse` would cancel, refused now for what would refuse it after the PIN
        (`KioskService.reverse` checks again as it writes)."""
        store = self.service.store
        original = store.entry(entry_id.strip())
        if original is None:
            raise UnknownRecordError(N_("Unknown operation '{entry_id}'."), entry_id=entry_id)
        reversal_for(original, already_reversed=store.is_reversed(original.id),
                     balance_cents=store.balance(original.account_id),
                     on_hold=store.hold(original.account_id) is not None, kiosk_id=self.service.kiosk_id,
                     cashier_id=session.cashier_id, reason=reason, now=now)
        return original

    # -- the day's exceptions --------------------------------------------------------------

    def serve_without_badge(self, pupil_id: str, reason: str, *, pin: str | None = None,
                            now: datetime | None = None) -> TapResult:
        """The meal of a pupil who forgot the badge, by the rules of a tap. A refusal is a verdict
        like a tap's and writes nothing; a meal to debit takes the PIN (see the module)."""
        session = self._cashier()
        reason = counter_exceptions.check_reason(reason)
        pupil = self.service.pupil_for(pupil_id=pupil_id)
        verdict = counter_exceptions.decide_without_badge(self.service, pupil.pupil_id, now or self.service.clock())
        if not verdict.served:
            return TapResult("", verdict, None)
        self._pin_again(session, pin, WITHOUT_BADGE_PROMPT, name=f"{pupil.first_name} {pupil.last_name}",
                        amount=format_chf(verdict.price_cents))
        return counter_exceptions.serve_without_badge(self.service, session, pupil.pupil_id, reason, now=now)

    def badges_of(self, pupil_id: str) -> list[tuple[str, BadgeStatus]]:
        self._cashier()
        return counter_exceptions.pupil_badges(self.service.store, self.service.pupil_for(pupil_id=pupil_id).pupil_id)

    def block_badge(self, uid: str, reason: str, *, now: datetime | None = None) -> BadgeBlock:
        """Block a pupil's lost badge: refused here at once, and everywhere once synced. No money
        moves and no drawer opens, so the open session is enough."""
        return counter_exceptions.block_badge(self.service, self._cashier(), uid, reason, now=now)

    def meals_today(self, pupil_id: str, *, now: datetime | None = None) -> list[LedgerEntry]:
        """The pupil's meals of today at this kiosk that `reverse` may cancel, the latest first."""
        self._cashier()
        pupil = self.service.pupil_for(pupil_id=pupil_id)
        return counter_exceptions.meals_today(self.service.store, pupil.pupil_id,
                                              service_date(now or self.service.clock()))

    def reprint(self, receipt_no: int) -> PrintOutcome:
        self._cashier()
        return deliver(self.printer, reprint_receipt(self.service.receipt(receipt_no), self.canteen, self._),
                       open_drawer=False)

    def report(self, *, now: datetime | None = None) -> CashReport:
        self._cashier()
        return self.service.cash_report(service_date(now or self.service.clock()))

    def count_cash(self, text: str, *, now: datetime | None = None) -> CashReport:
        """Record today's count of the drawer as this cashier's (see `KioskService.count_cash`)."""
        session = self._cashier()
        now = now or self.service.clock()
        return self.service.count_cash(service_date(now), text, counted_by=session.cashier_id, now=now)

    def print_report(self, report: CashReport, *, now: datetime | None = None) -> PrintOutcome:
        self._cashier()
        receipt = cash_report_receipt(report, self.canteen, self._, printed_at=now or self.service.clock())
        return deliver(self.printer, receipt, open_drawer=False)
