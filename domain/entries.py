"""Immutable ledger entries: the only way a balance ever changes.

A balance is the sum of its account's entries. Corrections are new entries (`reversal`,
`adjustment`); nothing is updated or deleted. Each entry carries a UUID made where the operation
happened, so kiosk and server ledgers merge as a union of sets.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from .clock import day_bounds, from_text, require_utc, service_date, to_text
from .messages import N_
from .money import MAX_BALANCE_CENTS


class EntryKind(StrEnum):
    MEAL = "meal"
    CASH_TOPUP = "cash_topup"
    BANK_TOPUP = "bank_topup"
    ONLINE_TOPUP = "online_topup"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    TRANSFER = "transfer"  # between siblings: a debit and a credit sharing the transfer's id as reference


KIND_NAMES = {  # how the portal and the statements name each kind (msgids; translated where shown)
    EntryKind.MEAL: N_("Meal"),
    EntryKind.CASH_TOPUP: N_("Cash top-up at the canteen"),
    EntryKind.BANK_TOPUP: N_("Bank transfer"),
    EntryKind.ONLINE_TOPUP: N_("Online payment"),
    EntryKind.REFUND: N_("Refund"),
    EntryKind.ADJUSTMENT: N_("Adjustment by the canteen"),
    EntryKind.REVERSAL: N_("Cancellation"),
    EntryKind.TRANSFER: N_("Transfer between brothers and sisters"),
}
CREDITS = frozenset({EntryKind.CASH_TOPUP, EntryKind.BANK_TOPUP, EntryKind.ONLINE_TOPUP})
DEBITS = frozenset({EntryKind.MEAL, EntryKind.REFUND})
SERVER_ORIGIN = "server"
_IDENTIFIER = re.compile(r"[A-Za-z0-9_\-]{1,32}")
# Ids are compared as text wherever ledgers merge, so only the canonical (lower-case, hyphenated)
# form of a UUID is an id: "ABC..." and "abc..." would otherwise be two entries for one operation.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_identifier(text: str | None) -> bool:
    """Kiosk and operator ids: 1 to 32 letters, digits, '_' or '-'."""
    return bool(_IDENTIFIER.fullmatch(text or ""))


def is_entry_id(text: str) -> bool:
    """A UUID in its canonical form: the ids of entries and of the records pushed beside them."""
    return bool(_CANONICAL_UUID.fullmatch(text))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement on a pupil's prepaid account.

    Attributes:
      id: UUID (text) made where the operation happened; identical everywhere it is copied.
      account_id: the pupil whose account moves.
      amount_cents: signed; credits positive, meals and refunds negative.
      kind: what happened (`EntryKind`).
      occurred_at: UTC instant of the operation.
      origin: kiosk id, or `server` for portal, bank and back-office operations.
      operator: cashier or admin id; None for a pupil's own tap.
      reference: receipt number, bank reference, payment id, the reversed entry's id, or the
        transfer's id (both entries of a transfer between siblings carry it).
      service_date: the Zurich school day a meal belongs to; None for other kinds.
      note: why a correction was made (required for reversals and adjustments).
    """

    id: str
    account_id: str
    amount_cents: int
    kind: EntryKind
    occurred_at: datetime
    origin: str
    operator: str | None = None
    reference: str | None = None
    service_date: date | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.kind.__class__ is not EntryKind:
            object.__setattr__(self, "kind", EntryKind(self.kind))
        object.__setattr__(self, "occurred_at", require_utc(self.occurred_at))
        if not isinstance(self.id, str) or not _CANONICAL_UUID.fullmatch(self.id):
            raise ValueError(f"entry id must be a UUID in canonical lower-case form, got {self.id!r}")
        if not self.account_id or not self.origin:
            raise ValueError("entry needs an account and an origin")
        amount = self.amount_cents
        if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
            raise ValueError(f"entry amount must be non-zero integer centimes, got {amount!r}")
        if abs(amount) > MAX_BALANCE_CENTS:
            raise ValueError(f"entry amount must be within ±{MAX_BALANCE_CENTS} centimes, got {amount}")
        if (self.kind in CREDITS and amount < 0) or (self.kind in DEBITS and amount > 0):
            raise ValueError(f"{self.kind} entry with amount of the wrong sign: {amount}")
        if (self.kind is EntryKind.MEAL) != (self.service_date is not None):
            raise ValueError("a meal entry, and only a meal entry, has a service date")
        if self.service_date is not None and not _on_day(self.occurred_at, self.service_date):
            raise ValueError(f"a meal's service date is the Zurich day it occurred on "
                             f"({service_date(self.occurred_at)}), got {self.service_date}")
        if self.kind is EntryKind.REVERSAL and not self.reference:
            raise ValueError("a reversal must reference the entry it reverses")
        if self.kind is EntryKind.TRANSFER and not self.reference:
            raise ValueError("a transfer entry must reference its transfer, which its pair shares")
        if self.kind in (EntryKind.REVERSAL, EntryKind.ADJUSTMENT) and not (self.note or "").strip():
            raise ValueError(f"a {self.kind} entry needs a note saying why")

    def to_record(self) -> dict:
        """Plain JSON-ready dict: the sync message form of an entry."""
        return {"id": self.id, "account_id": self.account_id, "amount_cents": self.amount_cents,
                "kind": self.kind.value, "occurred_at": to_text(self.occurred_at), "origin": self.origin,
                "operator": self.operator, "reference": self.reference,
                "service_date": self.service_date.isoformat() if self.service_date else None, "note": self.note}

    @classmethod
    def from_record(cls, record: dict) -> LedgerEntry:
        """The entry of a sync record, checked as the constructor checks it; its fields are set
        without the frozen dataclass's `__init__`, which cost as much as the check (a push parses hundreds)."""
        entry = _new_entry(cls)
        get, day = record.get, record.get("service_date")
        for set_field, value in zip(_FIELD_SETTERS, (
                record["id"], record["account_id"], record["amount_cents"], EntryKind(record["kind"]),
                from_text(record["occurred_at"]), record["origin"], get("operator"), get("reference"),
                date.fromisoformat(day) if day else None, get("note")), strict=True):
            set_field(entry, value)
        entry.__post_init__()
        return entry


def _on_day(moment: datetime, day: date) -> bool:
    """Whether `moment` falls on the Zurich day `day`, from the day's bounds (kept for recent days)
    rather than by turning each instant to Zurich time."""
    try:
        start, end = day_bounds(day)
    except OverflowError:  # the last days a date can hold
        return False
    return start <= moment < end


def meal_entry(account_id: str, price_cents: int, occurred_at: datetime, origin: str, uid: str) -> LedgerEntry:
    """The debit of a meal served at `occurred_at` to the holder of badge `uid`, as a tap writes it.

    What `LedgerEntry`'s check guards holds here by construction (a fresh canonical id, kind meal, a
    negative amount, the Zurich day of its own instant), so only the caller's values are checked:
    the full check of an entry just made was a tenth of a tap's Python time.
    """
    if not account_id or not origin or price_cents.__class__ is not int or not 0 < price_cents <= MAX_BALANCE_CENTS:
        raise ValueError(f"a meal needs an account, an origin and a price of 1 to {MAX_BALANCE_CENTS} centimes, "
                         f"got {account_id!r}, {origin!r}, {price_cents!r}")
    occurred_at = require_utc(occurred_at)
    entry = _new_entry(LedgerEntry)
    for set_field, value in zip(_FIELD_SETTERS, (new_entry_id(), account_id, -price_cents, EntryKind.MEAL, occurred_at,
                                                 origin, None, uid, service_date(occurred_at), None), strict=True):
        set_field(entry, value)
    return entry


_new_entry = object.__new__
_FIELD_SETTERS = tuple(getattr(LedgerEntry, name).__set__ for name in LedgerEntry.__slots__)  # in field order
# The version (7) and variant (RFC 4122) bits of a UUIDv7, and the mask that clears their place.
_UUID7_BITS = 0x7 << 76 | 0x2 << 62
_UUID7_MASK = ~(0xF << 76 | 0x3 << 62)


def new_entry_id() -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so new ids land at the end of the ledger's index
    instead of on a random page, which keeps each durable tap to a few page writes."""
    millis = time.time_ns() // 1_000_000
    value = (millis & (2**48 - 1)) << 80 | secrets.randbits(80)
    digits = (value & _UUID7_MASK | _UUID7_BITS).to_bytes(16).hex()  # str(uuid.UUID(...)) without the object
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def lowered(batch: Iterable[LedgerEntry]) -> dict[str, int]:
    """What a batch of entries brought to each account whose balance it took down, by account (a
    negative sum): the accounts a kiosk's push may have taken below a threshold."""
    brought: dict[str, int] = defaultdict(int)
    for entry in batch:
        brought[entry.account_id] += entry.amount_cents
    return {account_id: amount for account_id, amount in brought.items() if amount < 0}
