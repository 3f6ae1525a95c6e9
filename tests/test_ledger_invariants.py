"""Property test: whatever the sequence of taps, top-ups, reversals and clock moves, the ledger
keeps its promises (balances never negative and equal to the sum of entries, one meal per pupil
per service day, gapless receipt numbers, refusals that write nothing)."""

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.clock import service_date
from domain.corrections import ReversalError
from domain.entries import EntryKind
from domain.meals import BadgeStatus, Pupil
from domain.money import AmountError
from kiosk.pins import hash_pin
from kiosk.service import KioskService
from kiosk.store import Store

PUPILS = {"P1": "04000001", "P2": "04000002", "P3": "04000003"}  # P3's badge is reported lost
PIN_HASH = hash_pin("1234")  # hashed once: argon2 is slow on purpose
START = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)  # Monday 11:30 in Zurich


class CounterDay(RuleBasedStateMachine):
    @initialize()
    def open_kiosk(self):
        self.folder = Path(tempfile.mkdtemp(prefix="ledger-props-"))
        self.store = Store.open(self.folder, create=True)
        self.store.initialize("K1")
        with self.store.transaction():
            for pupil_id, uid in PUPILS.items():
                self.store.upsert_pupil(Pupil(pupil_id, pupil_id, "Test", "5A", "primary"))
                self.store.assign_badge(uid, pupil_id, START)
            self.store.set_badge_status(PUPILS["P3"], BadgeStatus.LOST, START)
            self.store.add_cashier("anne", "Anne", PIN_HASH)
        self.now = START
        self.service = KioskService(self.store, clock=lambda: self.now)
        # Long service hours every day, so that taps are mostly decided on money and meals served;
        # the hour and weekday refusals have their own unit tests.
        self.service.set_setting("service.days", "mon,tue,wed,thu,fri,sat,sun")
        self.service.set_setting("service.start", "06:00")
        self.service.set_setting("service.end", "22:00")
        self.cashier = self.service.login("anne", "1234")
        self.balances = dict.fromkeys(PUPILS, 0)  # the test's own model
        self.made: list = []  # entries the kiosk made, in order
        self.receipts = 0

    def teardown(self):
        if hasattr(self, "store"):
            self.store.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def entry_count(self) -> int:
        return self.store.conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    @rule(pupil=st.sampled_from(sorted(PUPILS)))
    def tap(self, pupil):
        before = self.entry_count()
        result = self.service.tap(PUPILS[pupil])
        if result.verdict.served:
            assert self.balances[pupil] >= result.verdict.price_cents
            self.balances[pupil] -= result.verdict.price_cents
            self.made.append(result.entry)
            assert self.entry_count() == before + 1
        else:
            assert self.entry_count() == before  # a refusal writes nothing

    @rule(pupil=st.sampled_from(sorted(PUPILS)), cents=st.sampled_from([500, 1000, 2000, 5000]))
    def cash_topup(self, pupil, cents):
        self.any_cash_topup(pupil, cents)

    @rule(pupil=st.sampled_from(sorted(PUPILS)), cents=st.integers(min_value=-1000, max_value=60000))
    def any_cash_topup(self, pupil, cents):
        valid = 500 <= cents <= 50000 and cents % 5 == 0
        before = self.entry_count()
        try:
            done = self.service.cash_topup(self.cashier, pupil, cents)
        except AmountError:
            assert not valid
            assert self.entry_count() == before
            return
        assert valid
        self.receipts += 1
        assert done.receipt_no == self.receipts
        self.balances[pupil] += cents
        self.made.append(done.entry)

    @rule(data=st.data())
    def reverse(self, data):
        if self.made:
            self.try_reversal(data.draw(st.sampled_from(self.made[::-1])))  # the most recent first

    @rule()
    def reverse_the_latest_top_up(self):
        """The cashier's usual mistake; after a meal it would take money the pupil has eaten."""
        topups = [e for e in self.made if e.kind is EntryKind.CASH_TOPUP]
        if topups:
            self.try_reversal(topups[-1])

    def try_reversal(self, original):
        before = self.entry_count()
        try:
            done = self.service.reverse(self.cashier, original.id, "erreur")
        except ReversalError:
            assert self.entry_count() == before
            return
        assert original.kind in (EntryKind.MEAL, EntryKind.CASH_TOPUP)
        assert service_date(original.occurred_at) == service_date(self.now)
        self.balances[original.account_id] -= original.amount_cents
        if original.kind is EntryKind.CASH_TOPUP:
            self.receipts += 1
            assert done.receipt_no == self.receipts

    @rule(minutes=st.one_of(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=3 * 24 * 60)))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)

    @invariant()
    def balances_match_the_model_and_the_ledger(self):
        if not hasattr(self, "store"):
            return
        for pupil, expected in self.balances.items():
            assert expected >= 0
            assert self.store.balance(pupil) == expected
            assert sum(e.amount_cents for e in self.store.entries(pupil)) == expected
        assert self.store.verify_balances() == []

    @invariant()
    def at_most_one_meal_per_pupil_per_service_day(self):
        if hasattr(self, "store"):
            rows = self.store.conn.execute(
                "SELECT pupil_id, service_date FROM served GROUP BY 1, 2 HAVING COUNT(*) > 1").fetchall()
            assert rows == []

    @invariant()
    def receipt_numbers_have_no_gap(self):
        if hasattr(self, "store"):
            assert self.store.receipt_numbers() == list(range(1, self.receipts + 1))


CounterDay.TestCase.settings = settings(
    max_examples=60, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_the_ledger_keeps_its_promises_whatever_the_counter_does = CounterDay.TestCase
