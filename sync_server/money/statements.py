"""Account statements and the yearly statement for the tax return: figures only (the PDFs are
`statement_pdf.py`).

A statement covers Zurich calendar days: "1 to 31 January" is every entry from midnight on 1
January to midnight after 31 January, Zurich time, whatever the UTC date stored. The balances are
the sums of the ledger: the opening balance is everything before the first day, and each line
carries the balance after it.

The tax year nets corrections: a reversal counts with the entry it cancels, so a cancelled meal
lowers the meals of the year the cancellation happened in, a cancelled top-up lowers the top-ups.
A reversal whose original is not on the server (yet), or that cancels a reversal, is counted with
the adjustments, so opening + top-ups − meals − refunds + adjustments is always the closing
balance.

Statements are built once at import and run with bound parameters: building a `select()` costs
several times its execution on these small queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, bindparam, case, func, literal, select
from sqlalchemy.orm import aliased

from domain.clock import day_bounds, from_text, local, to_text
from domain.entries import CREDITS, EntryKind
from domain.messages import N_, RefectoryError
from sync_server.db import sum_cents
from sync_server.tables import entries, pupils

MAX_STATEMENT_DAYS = 5 * 366  # five years: enough for any request, bounded work for one PDF
_CHUNK = 500  # pupil ids per query in `tax_years` (well under every driver's parameter limit)


class StatementError(RefectoryError):
    code = "invalid_period"


@dataclass(frozen=True, slots=True)
class AccountHolder:
    """The pupil whose account a statement is of, as its heading names them (the counter's
    `domain.meals.Pupil` carries what a meal decision needs instead)."""

    pupil_id: str
    first_name: str
    last_name: str
    class_name: str
    family_id: str | None


@dataclass(frozen=True, slots=True)
class StatementLine:
    occurred_at: datetime  # UTC
    kind: EntryKind
    amount_cents: int  # signed, as in the ledger
    balance_cents: int  # after this entry
    reversed_kind: EntryKind | None  # for a reversal: what it cancels, when the original is known
    note: str | None

    @property
    def day(self) -> date:
        """The Zurich calendar date of the entry (what the statement shows)."""
        return local(self.occurred_at).date()

    @property
    def debit_cents(self) -> int:
        return -self.amount_cents if self.amount_cents < 0 else 0

    @property
    def credit_cents(self) -> int:
        return self.amount_cents if self.amount_cents > 0 else 0


@dataclass(frozen=True, slots=True)
class Statement:
    pupil: AccountHolder
    first: date
    last: date
    opening_cents: int  # the balance at the start of `first` (Zurich time)
    lines: tuple[StatementLine, ...]  # in time order
    closing_cents: int  # the balance at the end of `last`
    debits_cents: int  # the sum of the lines' debits (a positive number)
    credits_cents: int  # the sum of the lines' credits


@dataclass(frozen=True, slots=True)
class TaxYear:
    """One calendar year of a pupil's account; every figure is a positive amount except
    `adjustments_cents` and `transfers_cents` (signed) and the balances."""

    pupil: AccountHolder
    year: int
    opening_cents: int  # on 1 January, 00:00 Zurich
    topups_cents: int  # cash, bank and online, net of their cancellations
    meals_cents: int  # meals paid, net of cancelled meals
    refunds_cents: int  # paid back to the family, net of cancelled refunds
    adjustments_cents: int  # the canteen's corrections, and reversals of unknown entries
    closing_cents: int  # on 31 December, 24:00 Zurich
    transfers_cents: int = 0  # signed: moved from (-) or to (+) a brother's or sister's account

    def __post_init__(self) -> None:
        expected = (self.opening_cents + self.topups_cents - self.meals_cents - self.refunds_cents
                    + self.adjustments_cents + self.transfers_cents)
        if expected != self.closing_cents:  # cannot happen with figures made by `tax_years`
            raise ValueError(f"tax year {self.year} of {self.pupil.pupil_id} does not add up: "
                             f"{expected} != {self.closing_cents}")


_original = aliased(entries, name="original")
_REVERSED = _original.c.id == entries.c.reference
_WITH_ORIGINAL = entries.outerjoin(_original, and_(entries.c.kind == EntryKind.REVERSAL.value, _REVERSED))
_PUPIL_COLUMNS = (pupils.c.pupil_id, pupils.c.first_name, pupils.c.last_name, pupils.c.class_name,
                  pupils.c.family_id)

_PUPIL = select(*_PUPIL_COLUMNS).where(pupils.c.pupil_id == bindparam("pupil_id"))
_PUPILS = select(*_PUPIL_COLUMNS).where(pupils.c.pupil_id.in_(bindparam("pupil_ids", expanding=True)))
_FAMILY_PUPILS = (select(pupils.c.pupil_id).where(pupils.c.family_id == bindparam("family_id"))
                  .order_by(pupils.c.first_name, pupils.c.pupil_id))
_BEFORE = (select(sum_cents(entries.c.amount_cents))
           .where(entries.c.account_id == bindparam("pupil_id"), entries.c.occurred_at < bindparam("start")))
_LINES = (select(entries.c.occurred_at, entries.c.kind, entries.c.amount_cents, _original.c.kind, entries.c.note)
          .select_from(_WITH_ORIGINAL)
          .where(entries.c.account_id == bindparam("pupil_id"), entries.c.occurred_at >= bindparam("start"),
                 entries.c.occurred_at < bindparam("end"))
          .order_by(entries.c.occurred_at, entries.c.seq))

# What an entry counts as in the tax year: its own kind, or for a reversal the kind it cancels
# (a reversal of nothing known, or of a reversal, counts as an adjustment).
_COUNTS_AS = case((entries.c.kind != EntryKind.REVERSAL.value, entries.c.kind),
                  else_=func.coalesce(_original.c.kind, literal(EntryKind.ADJUSTMENT.value)))
_IN_YEAR = entries.c.occurred_at >= bindparam("start")
_YEAR_SUMS = (select(entries.c.account_id, _IN_YEAR.label("in_year"), _COUNTS_AS.label("counts_as"),
                     sum_cents(entries.c.amount_cents))
              .select_from(_WITH_ORIGINAL)
              .where(entries.c.account_id.in_(bindparam("pupil_ids", expanding=True)),
                     entries.c.occurred_at < bindparam("end"))
              .group_by(entries.c.account_id, _IN_YEAR, _COUNTS_AS))


def _bounds(first: date, last: date) -> dict[str, str]:
    return {"start": to_text(day_bounds(first)[0]), "end": to_text(day_bounds(last)[1])}


def account_holder(conn: Connection, pupil_id: str) -> AccountHolder:
    row = conn.execute(_PUPIL, {"pupil_id": pupil_id}).first()
    if row is None:
        raise StatementError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
    return AccountHolder(*row)


def check_period(first: date, last: date) -> None:
    if last < first:
        raise StatementError(N_("A statement cannot end ({last}) before it starts ({first})."),
                             first=first, last=last)
    if (last - first).days >= MAX_STATEMENT_DAYS:
        raise StatementError(N_("A statement covers at most {years} years: choose a shorter period."), years=5)


def statement(conn: Connection, pupil_id: str, first: date, last: date) -> Statement:
    """Every entry of the pupil's account from `first` to `last` (Zurich days, both included)."""
    check_period(first, last)
    found = account_holder(conn, pupil_id)
    params = {"pupil_id": pupil_id, **_bounds(first, last)}
    opening = balance = conn.execute(_BEFORE, params).scalar_one()
    lines, debits, credits = [], 0, 0
    for at, kind, amount, reversed_kind, note in conn.execute(_LINES, params):
        balance += amount
        if amount < 0:
            debits -= amount
        else:
            credits += amount
        lines.append(StatementLine(from_text(at), EntryKind(kind), amount, balance,
                                   EntryKind(reversed_kind) if reversed_kind else None, note))
    return Statement(found, first, last, opening, tuple(lines), balance, debits, credits)


def statements(conn: Connection, pupil_ids: Iterable[str], first: date, last: date) -> list[Statement]:
    """The same period for several pupils (a family's children), in the order given."""
    return [statement(conn, pupil_id, first, last) for pupil_id in pupil_ids]


def family_pupil_ids(conn: Connection, family_id: str) -> list[str]:
    """Every pupil of the family, active or not (a pupil who left still had a year), by first name."""
    return list(conn.execute(_FAMILY_PUPILS, {"family_id": family_id}).scalars())


def tax_year(conn: Connection, pupil_id: str, year: int) -> TaxYear:
    """The pupil's figures for the tax return of `year` (see the module docstring)."""
    found = tax_years(conn, [pupil_id], year)
    if not found:
        raise StatementError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
    return found[0]


def tax_years(conn: Connection, pupil_ids: Iterable[str], year: int) -> list[TaxYear]:
    """`tax_year` for many pupils at once: one grouped query per 500 pupils, whatever their
    number of entries. Unknown pupil ids are left out; the others keep the order given."""
    wanted = list(dict.fromkeys(pupil_ids))
    bounds = _bounds(date(year, 1, 1), date(year, 12, 31))
    known: dict[str, AccountHolder] = {}
    sums: dict[str, dict[tuple[bool, str], int]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        known.update((row[0], AccountHolder(*row)) for row in conn.execute(_PUPILS, {"pupil_ids": chunk}))
        for pupil_id, in_year, counts_as, total in conn.execute(_YEAR_SUMS, {"pupil_ids": chunk, **bounds}):
            sums.setdefault(pupil_id, {})[(bool(in_year), counts_as)] = total
    return [_year(known[pupil_id], year, sums.get(pupil_id, {})) for pupil_id in wanted if pupil_id in known]


def _year(pupil: AccountHolder, year: int, sums: dict[tuple[bool, str], int]) -> TaxYear:
    opening = sum(total for (in_year, _kind), total in sums.items() if not in_year)
    year_sums = {kind: total for (in_year, kind), total in sums.items() if in_year}
    topups = sum(year_sums.get(kind.value, 0) for kind in CREDITS)
    meals = -year_sums.get(EntryKind.MEAL.value, 0)
    refunds = -year_sums.get(EntryKind.REFUND.value, 0)
    adjustments = year_sums.get(EntryKind.ADJUSTMENT.value, 0) + year_sums.get(EntryKind.REVERSAL.value, 0)
    transfers = year_sums.get(EntryKind.TRANSFER.value, 0)
    closing = opening + sum(year_sums.values())
    return TaxYear(pupil, year, opening, topups, meals, refunds, adjustments, closing, transfers)
