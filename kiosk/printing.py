"""Receipts after the fact: an operation is committed first, then printed; printing can only fail
on its own, never undo the money (the receipt can be printed again from the ledger).

Once the money is committed every failure of the printer or the drawer, whatever it is, is an
outcome reported beside the operation's success, never an error of the operation: a cashier told
"error" after a recorded top-up would take the cash again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from domain.messages import N_, Message, RefectoryError
from domain.receipts import Receipt

log = logging.getLogger(__name__)
UNEXPECTED = N_("unexpected printer error ({problem}); details in the kiosk log")


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
        problem = _attempt(printer.open_drawer, "Opening the cash drawer")
        drawer_opened = problem is None
    printed = _attempt(lambda: printer.print_receipt(receipt), "Printing a receipt")
    if printed is not None:
        return PrintOutcome(False, drawer_opened, printed)
    return PrintOutcome(True, drawer_opened, problem)


def _attempt(action: Callable[[], None], what: str) -> Message | None:
    """Run one printer action; None when it worked, else what went wrong."""
    try:
        action()
    except RefectoryError as error:  # the printer's own report, shown to the cashier
        return error.message
    except Exception as error:  # a driver's own failure: the money is committed all the same
        log.exception("%s failed unexpectedly", what)
        return Message(UNEXPECTED, {"problem": type(error).__name__})
    return None
