"""Cashier rules (id, name, PIN), shared by the kiosk and the server (each hashes with argon2 itself)."""

from __future__ import annotations

import re

from .entries import is_identifier
from .messages import N_, RefectoryError

_PIN = re.compile(r"\d{4,8}")


class PinFormatError(RefectoryError):
    code = "invalid_pin"


def check_pin_format(pin: str) -> str:
    if not _PIN.fullmatch(pin or ""):
        raise PinFormatError(N_("A PIN is 4 to 8 digits."))
    return pin


class CashierError(RefectoryError):
    code = "invalid_cashier"


def check_cashier(cashier_id: str, name: str) -> str:
    """The cashier's name as it will be printed on receipts; refuses a bad id or an empty name."""
    if not is_identifier(cashier_id) or not (name or "").strip():
        raise CashierError(N_("A cashier needs an id (letters, digits, '_', '-') and a name."))
    return name.strip()
