"""Secrets people choose (cashier PINs, family passwords), hashed with argon2id.

The kiosks verify cashier PINs offline against the hash they pull; argon2 hashes carry their own
parameters, so kiosk and server need not share code to agree.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.pins import check_pin_format

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"  # nothing to misread on paper
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)  # OWASP's minimum profile


def new_secret(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def hash_pin(pin: str) -> str:
    return _HASHER.hash(check_pin_format(pin))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """False for a wrong password or no account; the hash is checked either way, so an unknown
    login takes as long to refuse as a wrong password."""
    try:
        return _HASHER.verify(password_hash or _DECOY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_DECOY = _HASHER.hash("no account has this password")
