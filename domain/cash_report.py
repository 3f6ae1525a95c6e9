"""End-of-day cash report: what each cashier took in and handed back, from the ledger alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from .clock import from_text, require_utc, to_text
from .entries import EntryKind, LedgerEntry, is_entry_id, is_identifier
from .money import parse_amount

# The most a drawer is believed to hold: a count above it is a typing slip, refused before it is recorded.
COUNTED_MAX_CENTS = 100_000_00


@dataclass(slots=True)
class CashierTotals:
    cashier_id: str
    name: str
    topup_count: int = 0
    topup_cents: int = 0
    reversal_count: int = 0
    reversal_cents: int = 0

    @property
    def net_cents(self) -> int:
        return self.topup_cents - self.reversal_cents


@dataclass(frozen=True, slots=True)
class CashCount:
    """The cash counted in a kiosk's drawer for a day. A recount is a new count; the latest stands."""

    id: str
    kiosk_id: str
    day: date
    counted_cents: int
    counted_at: datetime
    counted_by: str | None = None  # the cashier at the screen; None from the command line

    def __post_init__(self) -> None:
        object.__setattr__(self, "counted_at", require_utc(self.counted_at))
        if not isinstance(self.id, str) or not is_entry_id(self.id):
            raise ValueError(f"count id must be a UUID in canonical lower-case form, got {self.id!r}")
        if not is_identifier(self.kiosk_id) or (self.counted_by is not None and not is_identifier(self.counted_by)):
            raise ValueError("a count's kiosk and cashier are identifiers")
        cents = self.counted_cents
        if not isinstance(cents, int) or isinstance(cents, bool) or not 0 <= cents <= COUNTED_MAX_CENTS:
            raise ValueError(f"counted cash must be 0 to {COUNTED_MAX_CENTS} centimes, got {cents!r}")

    def to_record(self) -> dict:
        """The sync message form of a count (pushed beside the entries)."""
        return {"id": self.id, "origin": self.kiosk_id, "day": self.day.isoformat(),
                "counted_cents": self.counted_cents, "counted_at": to_text(self.counted_at),
                "counted_by": self.counted_by}

    @classmethod
    def from_record(cls, record: dict) -> CashCount:
        return cls(record["id"], record["origin"], date.fromisoformat(record["day"]), record["counted_cents"],
                   from_text(record["counted_at"]), record.get("counted_by"))


def parse_counted(text: str) -> int:
    """Centimes for a typed count of the drawer: zero or more, on the 0.05 step, at most
    `COUNTED_MAX_CENTS`."""
    return parse_amount(text, minimum_cents=0, maximum_cents=COUNTED_MAX_CENTS, cash=True)


@dataclass(slots=True)
class CashReport:
    day: date
    kiosk_id: str
    cashiers: list[CashierTotals] = field(default_factory=list)
    meals_served: int = 0  # meals standing (cancelled ones excluded)
    meals_cancelled: int = 0
    count: CashCount | None = None  # the day's latest count of the drawer, if any

    @property
    def net_cents(self) -> int:
        """The cash the drawer should hold from the day's operations (the expected cash)."""
        return sum(c.net_cents for c in self.cashiers)

    @property
    def difference_cents(self) -> int | None:
        """Counted minus expected: negative when cash is missing; None before any count."""
        return None if self.count is None else self.count.counted_cents - self.net_cents

    def to_dict(self) -> dict:
        return {
            "date": self.day.isoformat(),
            "kiosk_id": self.kiosk_id,
            "meals_served": self.meals_served,
            "meals_cancelled": self.meals_cancelled,
            "net_cash_cents": self.net_cents,
            "counted_cents": self.count.counted_cents if self.count else None,
            "counted_at": to_text(self.count.counted_at) if self.count else None,
            "counted_by": self.count.counted_by if self.count else None,
            "difference_cents": self.difference_cents,
            "cashiers": [
                {
                    "cashier_id": c.cashier_id,
                    "name": c.name,
                    "topup_count": c.topup_count,
                    "topup_cents": c.topup_cents,
                    "reversal_count": c.reversal_count,
                    "reversal_cents": c.reversal_cents,
                    "net_cents": c.net_cents,
                }
                for c in self.cashiers
            ],
        }


def summarize_cash(
    day: date,
    kiosk_id: str,
    entries: Iterable[tuple[LedgerEntry, str | None]],
    cashier_names: Mapping[str, str],
    meals_served: int,
) -> CashReport:
    """`entries` are the day's non-meal (entry, kind of the entry it reverses); only this
    kiosk's count. `meals_served` is the day's meals still standing."""
    report = CashReport(day, kiosk_id, meals_served=meals_served)
    totals: dict[str, CashierTotals] = {}

    def of(cashier_id: str | None) -> CashierTotals:
        key = cashier_id or "?"
        if key not in totals:
            totals[key] = CashierTotals(key, cashier_names.get(key, key))
        return totals[key]

    for entry, reversed_kind in entries:
        if entry.origin != kiosk_id:
            continue
        if entry.kind is EntryKind.CASH_TOPUP:
            row = of(entry.operator)
            row.topup_count += 1
            row.topup_cents += entry.amount_cents
        elif entry.kind is EntryKind.REVERSAL and reversed_kind == EntryKind.CASH_TOPUP:
            row = of(entry.operator)
            row.reversal_count += 1
            row.reversal_cents += -entry.amount_cents
        elif entry.kind is EntryKind.REVERSAL and reversed_kind == EntryKind.MEAL:
            report.meals_cancelled += 1
    report.cashiers = sorted(totals.values(), key=lambda c: c.cashier_id)
    return report
