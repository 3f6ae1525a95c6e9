"""Counter corrections: which entries a cashier may reverse, and the reversal entry itself."""

from __future__ import annotations

from datetime import datetime

from .clock import service_date
from .entries import EntryKind, LedgerEntry, new_entry_id
from .messages import N_, RefectoryError
from .money import format_chf
from .sync import MAX_REASON_LENGTH
from .text import is_one_line

REVERSIBLE_AT_KIOSK = frozenset({EntryKind.MEAL, EntryKind.CASH_TOPUP})


class ReversalError(RefectoryError):
    code = "reversal_refused"


def reversal_for(
    original: LedgerEntry,
    *,
    already_reversed: bool,
    balance_cents: int,
    on_hold: bool = False,
    kiosk_id: str,
    cashier_id: str,
    reason: str,
    now: datetime,
) -> LedgerEntry:
    """The entry that cancels `original`, or a `ReversalError` saying why it may not."""
    if original.kind not in REVERSIBLE_AT_KIOSK:
        raise ReversalError(N_("Only meals and cash top-ups can be cancelled at the counter."))
    if original.origin != kiosk_id:
        raise ReversalError(N_("This operation was made on another kiosk ({origin})."), origin=original.origin)
    if service_date(original.occurred_at) != service_date(now):
        raise ReversalError(N_("Only operations of the same day can be cancelled; ask the manager."))
    if already_reversed:
        raise ReversalError(N_("This operation has already been cancelled."))
    if not reason.strip():
        raise ReversalError(N_("Give a reason for the cancellation."))
    if not is_one_line(reason.strip(), MAX_REASON_LENGTH):
        # the note the server takes and a receipt prints: one line, no printer commands in it
        raise ReversalError(N_("The reason must be one line of at most {count} characters."), count=MAX_REASON_LENGTH)
    if on_hold and original.amount_cents > 0:
        # A refund may already have paid this money out (sync_server/money/refund_fence.py).
        raise ReversalError(N_("The account is on hold (refund in progress): a top-up cannot be cancelled"
                               " now; ask the manager."))
    if balance_cents - original.amount_cents < 0:
        raise ReversalError(
            N_("Cannot cancel: the balance ({balance}) no longer covers {amount}."),
            balance=format_chf(balance_cents),
            amount=format_chf(original.amount_cents),
        )
    return LedgerEntry(
        id=new_entry_id(),
        account_id=original.account_id,
        amount_cents=-original.amount_cents,
        kind=EntryKind.REVERSAL,
        occurred_at=now,
        origin=kiosk_id,
        operator=cashier_id,
        reference=original.id,
        note=reason.strip(),
    )
