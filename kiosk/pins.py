"""Cashier PINs, hashed with argon2id (never stored or logged in clear)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.messages import N_, RefectoryError

# OWASP's minimum argon2id profile: about 20 ms per check here, bearable at the counter.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_PIN = re.compile(r"\d{4,8}")


class PinFormatError(RefectoryError):
    code = "invalid_pin"


def hash_pin(pin: str) -> str:
    if not _PIN.fullmatch(pin or ""):
        raise PinFormatError(N_("A PIN is 4 to 8 digits."))
    return _HASHER.hash(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    try:
        return _HASHER.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False
