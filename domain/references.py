"""Payment references that tie a bank credit to a pupil's account (Swiss QR-bill).

Each account gets a number once; its reference is derived from that number, so it never changes
and a parent's monthly standing order keeps working all year:
- with a QR-IBAN, a QR reference (QRR): 26 digits and a check digit (modulo 10, recursive), as the
  ISR/BVR slips had;
- with a plain IBAN, an ISO 11649 creditor reference: `RF`, two check digits (ISO 7064 mod 97-10)
  and the account number.
"""

from __future__ import annotations

from .messages import N_, RefectoryError

_MOD10_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)
QRR_LENGTH = 27
# Account numbers are given one by one from 1 and kept as a signed 64-bit integer: a reference may
# carry a larger one (a QRR holds 26 digits, an RF reference 21), but then it is not one we issued.
MAX_ACCOUNT_NUMBER = 2**63 - 1


class ReferenceError_(RefectoryError):  # noqa: N801 (the builtin ReferenceError is something else)
    code = "invalid_reference"


def mod10_recursive(digits: str) -> int:
    """The check digit of the Swiss modulo 10 recursive method."""
    carry = 0
    for digit in digits:
        carry = _MOD10_TABLE[(carry + int(digit)) % 10]
    return (10 - carry) % 10


def _account(number: int) -> int:
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_ACCOUNT_NUMBER:
        raise ReferenceError_(N_("An account number for a payment reference is a whole number from 1."))
    return number


def qr_reference(number: int) -> str:
    body = f"{_account(number):026d}"
    return body + str(mod10_recursive(body))


def is_qr_reference(text: str) -> bool:
    compact = compact_reference(text)
    return (len(compact) == QRR_LENGTH and compact.isascii() and compact.isdigit() and compact != "0" * QRR_LENGTH
            and mod10_recursive(compact[:-1]) == int(compact[-1]))


def _mod97(text: str) -> int:
    """ISO 7064 mod 97-10 over letters (A=10 … Z=35) and digits."""
    return int("".join(str(int(c, 36)) for c in text)) % 97


def creditor_reference(number: int) -> str:
    body = str(_account(number))
    return f"RF{98 - _mod97(body + 'RF00'):02d}{body}"


def is_creditor_reference(text: str) -> bool:
    compact = compact_reference(text).upper()
    return (5 <= len(compact) <= 25 and compact.startswith("RF") and compact[2:4].isdigit()
            and compact[4:].isascii() and compact[4:].isalnum() and _mod97(compact[4:] + compact[:4]) == 1)


def account_number(reference: str) -> int | None:
    """The account number a valid QR or creditor reference of ours carries, or None (mistyped, or
    a valid reference that is not ours, such as another creditor's QRR)."""
    compact = compact_reference(reference).upper()
    if is_qr_reference(compact):
        number = int(compact[:-1])
    elif is_creditor_reference(compact) and compact[4:].isdigit():
        number = int(compact[4:])
    else:
        return None
    return number if 1 <= number <= MAX_ACCOUNT_NUMBER else None


def compact_reference(text: str) -> str:
    return "".join((text or "").split())


def grouped(reference: str) -> str:
    """As printed on a QR-bill: a QRR in groups of five from the right, an RF reference in fours."""
    compact = compact_reference(reference)
    if compact.upper().startswith("RF"):
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    head = len(compact) % 5
    groups = [compact[:head]] if head else []
    return " ".join(groups + [compact[i:i + 5] for i in range(head, len(compact), 5)])
