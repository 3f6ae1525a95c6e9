"""Cashier PINs, hashed with argon2id (never stored or logged in clear)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.pins import check_pin_format

# OWASP's minimum argon2id profile: about 20 ms per check here, bearable at the counter.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_pin(pin: str) -> str:
    return _HASHER.hash(check_pin_format(pin))


def pin_matches(pin_hash: str, pin: str) -> bool:
    try:
        return _HASHER.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False
