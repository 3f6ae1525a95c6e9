"""Cashier PIN rules, shared by the kiosk and the server (each hashes with argon2 itself)."""

from __future__ import annotations

import re

from .messages import N_, RefectoryError

_PIN = re.compile(r"\d{4,8}")


class PinFormatError(RefectoryError):
    code = "invalid_pin"


def check_pin_format(pin: str) -> str:
    if not _PIN.fullmatch(pin or ""):
        raise PinFormatError(N_("A PIN is 4 to 8 digits."))
    return pin
