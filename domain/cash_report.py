"""End-of-day cash report: what each cashier took in and handed back, from the ledger alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from .entries import EntryKind, LedgerEntry


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


@dataclass(slots=True)
class CashReport:
    day: date
    kiosk_id: str
    cashiers: list[CashierTotals] = field(default_factory=list)
    meals_served: int = 0  # meals standing (cancelled ones excluded)
    meals_cancelled: int = 0

    @property
    def net_cents(self) -> int:
        return sum(c.net_cents for c in self.cashiers)

    def to_dict(self) -> dict:
        return {
            "date": self.day.isoformat(),
            "kiosk_id": self.kiosk_id,
            "meals_served": self.meals_served,
            "meals_cancelled": self.meals_cancelled,
            "net_cash_cents": self.net_cents,
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
