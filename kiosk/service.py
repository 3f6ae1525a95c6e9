"""Counter services over the kiosk store: tap, cash top-up, reversal, cash report.

Each operation gathers its facts, asks the domain for a decision and writes the outcome inside
one `BEGIN IMMEDIATE` transaction: either everything it acknowledges is durable, or nothing is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.badges import normalize_uid
from domain.cash_report import CashCount, CashReport, parse_counted, summarize_cash
from domain.clock import ClockOutOfRange, recordable, service_date, utc_now
from domain.corrections import reversal_for
from domain.entries import EntryKind, LedgerEntry, meal_entry, new_entry_id
from domain.meals import Pupil, Verdict, decide_meal
from domain.messages import N_, RefectoryError
from domain.money import check_amount
from domain.pins import check_cashier
from domain.settings import Settings, parse_setting

from . import cash_counts
from .pins import hash_pin, pin_matches
from .store import Store

log = logging.getLogger(__name__)


class AuthError(RefectoryError):
    code = "wrong_pin"


class UnknownRecordError(RefectoryError):
    code = "not_found"


class CashierBadgeError(RefectoryError):
    code = "cashier_badge_taken"


@dataclass(frozen=True, slots=True)
class CashierSession:
    cashier_id: str
    name: str


@dataclass(frozen=True, slots=True)
class TapResult:
    uid: str
    verdict: Verdict
    entry: LedgerEntry | None


@dataclass(frozen=True, slots=True)
class TopUp:
    entry: LedgerEntry
    receipt_no: int
    balance_cents: int
    pupil: Pupil


@dataclass(frozen=True, slots=True)
class Reversal:
    entry: LedgerEntry
    original: LedgerEntry
    receipt_no: int | None
    balance_cents: int
    pupil: Pupil | None  # read as it was written, so nothing after the commit can fail on it


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """A committed receipt rebuilt from the ledger, for a reprint: `operation` is the `TopUp` or
    `Reversal` it was printed for, with the balance right after that entry (not today's)."""

    receipt_no: int
    issued_at: datetime
    operation: TopUp | Reversal
    pupil: Pupil
    cashier_name: str


class KioskService:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock
        self.kiosk_id = store.kiosk_id

    def _recording_time(self, now: datetime | None) -> datetime:
        """The instant an entry made now carries; none when the clock reads outside what entries may."""
        moment = now or self.clock()
        try:
            return recordable(moment)
        except ClockOutOfRange:
            log.error("the clock reads %s, outside the instants an entry may carry: nothing recorded", moment)
            raise

    # -- pupils at the counter -------------------------------------------------------------

    def tap(self, uid: str, *, now: datetime | None = None) -> TapResult:
        uid = normalize_uid(uid)
        now = self._recording_time(now)
        day = service_date(now)
        store = self.store
        with store.transaction():
            verdict = decide_meal(store.counter_facts(uid, day), settings=store.settings(), now=now)
            if not verdict.served:
                return TapResult(uid, verdict, None)
            entry = meal_entry(verdict.pupil.pupil_id, verdict.price_cents, now, self.kiosk_id, uid)
            store.append(entry)
        return TapResult(uid, verdict, entry)

    def pupil_for(self, *, uid: str | None = None, pupil_id: str | None = None) -> Pupil:
        """The pupil behind a badge or an id (cashier look-up); any badge status will do."""
        if uid is not None:
            uid = normalize_uid(uid)
            found = self.store.badge_with_pupil(uid)
            if found is None:
                raise UnknownRecordError(N_("Unknown badge {uid}."), uid=uid)
            return found[1]
        pupil = self.store.pupil(pupil_id or "")
        if pupil is None:
            raise UnknownRecordError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
        return pupil

    def balance(self, pupil_id: str) -> int:
        return self.store.balance(self.pupil_for(pupil_id=pupil_id).pupil_id)

    # -- cashier ---------------------------------------------------------------------------

    def add_cashier(self, cashier_id: str, name: str, pin: str, badge: str | None = None) -> None:
        """Add a cashier, or replace one's name, PIN and badge (None: no badge)."""
        name = check_cashier(cashier_id, name)
        uid = normalize_uid(badge) if badge else None
        pin_hash = hash_pin(pin)
        with self.store.transaction():
            if uid is not None:
                self._check_cashier_badge(cashier_id, uid)
            self.store.add_cashier(cashier_id, name, pin_hash, uid)

    def _check_cashier_badge(self, cashier_id: str, uid: str) -> None:
        if self.store.badge_with_pupil(uid) is not None:
            raise CashierBadgeError(N_("Badge {uid} belongs to a pupil; a cashier needs a badge of their own."),
                                    uid=uid)
        holder = self.store.cashier_for_badge(uid)
        if holder is not None and holder[0] != cashier_id:
            raise CashierBadgeError(N_("Badge {uid} is already cashier {holder}'s."), uid=uid, holder=holder[0])

    def login_with_badge(self, uid: str) -> CashierSession:
        """A cashier's own badge stands in for the PIN."""
        found = self.store.cashier_for_badge(normalize_uid(uid))
        if found is None:
            raise AuthError(N_("This badge does not open cashier mode."))
        return CashierSession(*found)

    def login(self, cashier_id: str, pin: str) -> CashierSession:
        """Check a cashier's PIN; the same message for an unknown id and a wrong PIN."""
        found = self.store.cashier(cashier_id)
        if found is None or not found[2] or not pin_matches(found[1], pin):
            raise AuthError(N_("Wrong cashier or PIN."))
        return CashierSession(cashier_id, found[0])

    def cash_topup(
        self, session: CashierSession, pupil_id: str, amount_cents: int, *, now: datetime | None = None
    ) -> TopUp:
        """Credit cash; committed (with its receipt number) before anything is printed."""
        now = self._recording_time(now)
        store = self.store
        with store.transaction():
            pupil = self.pupil_for(pupil_id=pupil_id)
            settings = store.settings()
            check_amount(
                amount_cents,
                minimum_cents=settings.topup_min_cents,
                maximum_cents=settings.topup_max_cents,
                cash=True,
            )
            receipt_no = store.next_receipt_number()
            entry = LedgerEntry(
                id=new_entry_id(),
                account_id=pupil.pupil_id,
                amount_cents=amount_cents,
                kind=EntryKind.CASH_TOPUP,
                occurred_at=now,
                origin=self.kiosk_id,
                operator=session.cashier_id,
                reference=f"{self.kiosk_id}/{receipt_no}",
            )
            store.append(entry)
            store.record_receipt(receipt_no, entry.id, now)
            balance = store.balance(pupil.pupil_id)
        return TopUp(entry, receipt_no, balance, pupil)

    def reverse(
        self, session: CashierSession, entry_id: str, reason: str, *, now: datetime | None = None
    ) -> Reversal:
        """Cancel a same-day meal or cash top-up with a reversal entry; a cash one gets a receipt."""
        now = self._recording_time(now)
        store = self.store
        with store.transaction():
            original = store.entry(entry_id.strip())
            if original is None:
                raise UnknownRecordError(N_("Unknown operation '{entry_id}'."), entry_id=entry_id)
            entry = reversal_for(
                original,
                already_reversed=store.is_reversed(original.id),
                balance_cents=store.balance(original.account_id),
                on_hold=store.hold(original.account_id) is not None,
                kiosk_id=self.kiosk_id,
                cashier_id=session.cashier_id,
                reason=reason,
                now=now,
            )
            receipt_no = None
            if original.kind is EntryKind.CASH_TOPUP:
                receipt_no = store.next_receipt_number()
            store.append(entry)
            if receipt_no is not None:
                store.record_receipt(receipt_no, entry.id, now)
            balance = store.balance(original.account_id)
            pupil = store.pupil(original.account_id)
        return Reversal(entry, original, receipt_no, balance, pupil)

    def receipt(self, receipt_no: int) -> ReceiptFacts:
        """The facts of receipt `receipt_no`, for a duplicate (`kiosk.receipts.reprint_receipt`)."""
        store = self.store
        found = store.receipt_entry(receipt_no) if 0 < receipt_no < 2**63 else None  # SQLite's integers
        if found is None:
            raise UnknownRecordError(N_("Unknown receipt no. {receipt_no}."), receipt_no=receipt_no)
        entry, issued_at = found
        balance = store.balance_after(entry.id)
        pupil = self.pupil_for(pupil_id=entry.account_id)
        original = store.entry(entry.reference or "") if entry.kind is EntryKind.REVERSAL else None
        operation: TopUp | Reversal = (
            Reversal(entry, original, receipt_no, balance, pupil) if original is not None
            else TopUp(entry, receipt_no, balance, pupil)
        )
        cashier = store.cashier(entry.operator or "")
        return ReceiptFacts(receipt_no, issued_at, operation, pupil, cashier[0] if cashier else entry.operator or "")

    # -- settings --------------------------------------------------------------------------

    def set_setting(self, key: str, value: str) -> tuple[str, str]:
        """Validate and store one setting; the whole set must stay coherent (min ≤ max...)."""
        key, canonical = key.strip().lower(), parse_setting(key, value)
        with self.store.transaction():
            Settings.from_mapping({**self.store.stored_settings(), key: canonical})
            self.store.put_setting(key, canonical, self.clock())
        return key, canonical

    def cash_report(self, day: date) -> CashReport:
        store = self.store
        report = summarize_cash(
            day, self.kiosk_id, store.cash_entries_on(day), store.cashier_names(),
            meals_served=store.meals_served_on(day, self.kiosk_id),
        )
        report.count = cash_counts.latest(store, day)
        return report

    def count_cash(self, day: date, text: str, *, counted_by: str | None = None,
                   now: datetime | None = None) -> CashReport:
        """Record the cash counted in the drawer for `day` (today or a past day) and return the
        day's report with it; a recount is a new record and the latest stands. A typed amount
        that is not one (negative, letters, beyond `COUNTED_MAX_CENTS`) writes nothing."""
        cents = parse_counted(text)
        now = self._recording_time(now)
        if day > service_date(now):
            raise RefectoryError(N_("{day} is still to come: count the drawer on the day or after."),
                                 day=day.isoformat())
        with self.store.transaction():
            previous = cash_counts.latest(self.store, day)
            if previous is not None and previous.counted_at >= now:  # a clock that did not move (or went back)
                now = previous.counted_at + timedelta(microseconds=1)  # the server takes the latest by this instant
            cash_counts.record(self.store, CashCount(new_entry_id(), self.kiosk_id, day, cents, now, counted_by))
        log.info("cash counted for %s: %s centimes%s", day, cents, f" by {counted_by}" if counted_by else "")
        return self.cash_report(day)

    def idle(self) -> None:
        """Housekeeping for quiet moments at the counter (never on the tap path)."""
        self.store.checkpoint()
