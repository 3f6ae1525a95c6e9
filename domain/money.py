"""Money as integer centimes (CHF): parsing amounts, their bounds, and Swiss formatting.

Floats never touch an amount: input is parsed from text with a regular expression. Every amount
that enters the system passes `check_amount`, and every balance the server books stays within
`MAX_BALANCE_CENTS` (`check_balance`), so no sum over the ledger can overflow a 64-bit integer.
"""

from __future__ import annotations

import re

from .messages import N_, RefectoryError

CASH_STEP_CENTS = 5  # the smallest Swiss coin is 5 centimes
# No balance, and so no single amount, ever goes beyond CHF 1 billion either way: 92 million
# accounts at this bound still sum inside a signed 64-bit integer (9.2e18), so neither SQLite's
# SUM (which fails on overflow) nor an int64 column can break on money.
MAX_BALANCE_CENTS = 100_000_000_000
# A meal, a cash top-up or the cancellation of one moves at most this: the highest top-up maximum
# a canteen may set (meal prices are far below). The kiosk API's entry schema holds the same bound.
MAX_COUNTER_AMOUNT_CENTS = 10_000_00

# Typed by a person: "20", "20.50", "20,50", "1'234.50", "CHF 20".
_TYPED = re.compile(r"(?P<sign>[+-]?)(?P<units>[0-9]+)(?:[.,](?P<frac>[0-9]*))?")
# Written by a machine (a bank file): a plain decimal with a point. No exponent, NaN or Infinity.
_PLAIN = re.compile(r"(?P<sign>[+-]?)(?P<units>[0-9]+)(?:\.(?P<frac>[0-9]+))?")
_MAX_UNIT_DIGITS = len(str(MAX_BALANCE_CENTS // 100))


class AmountError(RefectoryError):
    code = "invalid_amount"


def _shown(text: str) -> str:
    """What was given, briefly: enough to find it, never a page of digits."""
    return text if len(text) <= 20 else text[:20] + "…"


def parse_amount(
    text: str,
    *,
    maximum_cents: int | None = None,
    minimum_cents: int = 1,
    cash: bool = False,
    plain: bool = False,
) -> int:
    """Parse `"20"`, `"20.5"`, `"20.50"` or `"20,50"` into centimes, validating the limits.

    `minimum_cents=0` admits zero (a threshold switched off; a stored price meets its own rule
    later). `plain=True` is for amounts a machine wrote (bank files): only digits and a decimal
    point, nothing a person types around an amount (currency, grouping apostrophes, a decimal comma).
    """
    raw = (text or "").strip()
    if not plain:
        raw = raw.replace("'", "").replace("\u2019", "")
        if raw.upper().startswith("CHF"):
            raw = raw[3:].strip()
    if not raw and not plain:
        raise AmountError(N_("Give an amount, like 20, 20.50 or 20,50."))
    match = (_PLAIN if plain else _TYPED).fullmatch(raw)
    if not match:
        if plain:
            raise AmountError(N_("'{text}' is not a plain decimal amount such as 20.50."), text=_shown(text or ""))
        raise AmountError(N_("'{text}' is not an amount: write it like 20, 20.50 or 20,50."), text=_shown(text or ""))
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise AmountError(N_("'{text}' has more than two decimals: amounts are in centimes."), text=_shown(text))
    if match["sign"] == "-":
        raise AmountError(N_("The amount must be positive (got {text})."), text=_shown(text))
    units = match["units"].lstrip("0")
    if len(units) > _MAX_UNIT_DIGITS:  # too large to be money: said so without reading it as a number
        raise AmountError(N_("The maximum amount is {maximum}."), maximum=format_chf(_ceiling(maximum_cents)))
    cents = int(units or "0") * 100 + int(frac.ljust(2, "0"))
    return check_amount(cents, minimum_cents=minimum_cents, maximum_cents=maximum_cents, cash=cash)


def _ceiling(maximum_cents: int | None) -> int:
    return MAX_BALANCE_CENTS if maximum_cents is None else min(maximum_cents, MAX_BALANCE_CENTS)


def check_amount(
    cents: int, *, minimum_cents: int = 1, maximum_cents: int | None = None, cash: bool = False
) -> int:
    """Enforce the limits on an amount already in centimes; returns it unchanged.

    Whatever `maximum_cents` says, no amount is larger than `MAX_BALANCE_CENTS`.
    """
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise TypeError(f"amount must be integer centimes, got {cents!r}")
    if cents < 0:
        raise AmountError(N_("The amount must be positive (got {text})."), text=format_chf(cents))
    if cents == 0 and minimum_cents > 0:
        raise AmountError(N_("The amount must be greater than zero."))
    if cents < minimum_cents:
        raise AmountError(N_("The minimum amount is {minimum}."), minimum=format_chf(minimum_cents))
    if cents > _ceiling(maximum_cents):
        raise AmountError(N_("The maximum amount is {maximum}."), maximum=format_chf(_ceiling(maximum_cents)))
    if cash and cents % CASH_STEP_CENTS:
        raise AmountError(
            N_("Cash amounts must be a multiple of 0.05 (got {amount})."), amount=format_chf(cents)
        )
    return cents


def check_balance(balance_cents: int, amount_cents: int) -> int:
    """The balance after an entry of `amount_cents` (signed), refused if it would leave the range
    an account can hold (±`MAX_BALANCE_CENTS`)."""
    after = balance_cents + amount_cents
    if not -MAX_BALANCE_CENTS <= after <= MAX_BALANCE_CENTS:
        raise AmountError(N_("An entry of {amount} would take the balance to {balance}, beyond the {limit}"
                             " an account can hold."), amount=format_chf(amount_cents), balance=format_chf(after),
                          limit=format_chf(MAX_BALANCE_CENTS))
    return after


def format_chf(cents: int, *, currency: bool = True) -> str:
    """`123450` → `CHF 1'234.50`; negative amounts keep their sign after the currency."""
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise TypeError(f"amount must be integer centimes, got {cents!r}")
    sign = "-" if cents < 0 else ""
    units, frac = divmod(abs(cents), 100)
    text = f"{sign}{units:,}.{frac:02d}".replace(",", "'")
    return f"CHF {text}" if currency else text
