"""Cashier rules (id, name, PIN), shared by the kiosk and the server (each hashes with argon2 itself)."""

from __future__ import annotations

import re

from .entries import is_identifier
from .messages import N_, RefectoryError
from .text import is_one_line

MAX_NAME = 60  # a receipt line and the cashier screen show this much
_PIN = re.compile(r"[0-9]{4,8}")  # what a keypad types: "١٢٣٤" is \d too


class PinFormatError(RefectoryError):
    code = "invalid_pin"


def check_pin_format(pin: str) -> str:
    if not _PIN.fullmatch(pin or ""):
        raise PinFormatError(N_("A PIN is 4 to 8 digits."))
    return pin


class CashierError(RefectoryError):
    code = "invalid_cashier"


def check_cashier(cashier_id: str, name: str) -> str:
    """The cashier's name as it will be printed on receipts; refuses a bad id, an empty name, and
    one that would not print as a line (control characters, longer than a receipt shows)."""
    if not is_identifier(cashier_id) or not (name or "").strip():
        raise CashierError(N_("A cashier needs an id (letters, digits, '_', '-') and a name."))
    name = name.strip()
    if not is_one_line(name, MAX_NAME):
        raise CashierError(N_("A cashier's name is at most {count} characters, without line breaks or other control"
                              " characters."), count=MAX_NAME)
    return name
