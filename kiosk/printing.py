"""Receipts after the fact: an operation is committed first, then printed; printing can only fail
on its own, never undo the money (the receipt can be printed again from the ledger)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.messages import Message, RefectoryError
from domain.receipts import Receipt


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    printed: bool
    drawer_opened: bool
    problem: Message | None = None


def deliver(printer, receipt: Receipt, *, open_drawer: bool) -> PrintOutcome:
    """Open the cash drawer (cash changes hands even when the paper ran out), then print.

    `printer` is a `hardware.printer.ReceiptPrinter`, or anything with `open_drawer()` and
    `print_receipt(receipt)` raising `RefectoryError` on failure.
    """
    drawer_opened, problem = False, None
    if open_drawer:
        try:
            printer.open_drawer()
            drawer_opened = True
        except RefectoryError as error:
            problem = error.message
    try:
        printer.print_receipt(receipt)
    except RefectoryError as error:
        return PrintOutcome(False, drawer_opened, error.message)
    return PrintOutcome(True, drawer_opened, problem)
