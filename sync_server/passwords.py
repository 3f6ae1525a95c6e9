"""Secrets people choose (cashier PINs now, family passwords later), hashed with argon2id.

The kiosks verify cashier PINs offline against the hash they pull; argon2 hashes carry their own
parameters, so kiosk and server need not share code to agree.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from domain.pins import check_pin_format

_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)  # OWASP's minimum profile


def hash_pin(pin: str) -> str:
    return _HASHER.hash(check_pin_format(pin))
