"""Money as integer centimes (CHF): parsing operator input and Swiss formatting.

Floats never touch an amount: input is parsed from text with a regular expression.
"""

from __future__ import annotations

import re

from .messages import N_, RefectoryError

CASH_STEP_CENTS = 5  # the smallest Swiss coin is 5 centimes

_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<units>\d{1,12})(?:[.,](?P<frac>\d*))?")


class AmountError(RefectoryError):
    code = "invalid_amount"


def parse_amount(
    text: str,
    *,
    maximum_cents: int | None = None,
    minimum_cents: int = 1,
    cash: bool = False,
) -> int:
    """Parse `"20"`, `"20.5"`, `"20.50"` or `"20,50"` into centimes, validating the limits.

    `minimum_cents=0` admits zero (a free meal, a threshold switched off).
    """
    raw = (text or "").strip().replace("'", "").replace("\u2019", "")
    if raw.upper().startswith("CHF"):
        raw = raw[3:].strip()
    match = _AMOUNT.fullmatch(raw)
    if not match:
        shown = text if len(text) <= 20 else text[:20] + "…"  # typed into a form: say what it was, briefly
        raise AmountError(N_("'{text}' is not an amount: write it like 20, 20.50 or 20,50."), text=shown)
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise AmountError(N_("'{text}' has more than two decimals: amounts are in centimes."), text=text)
    cents = int(match["units"]) * 100 + int(frac.ljust(2, "0") or "0")
    if match["sign"] == "-":
        raise AmountError(N_("The amount must be positive (got {text})."), text=text)
    return check_amount(cents, minimum_cents=minimum_cents, maximum_cents=maximum_cents, cash=cash)


def check_amount(
    cents: int, *, minimum_cents: int = 1, maximum_cents: int | None = None, cash: bool = False
) -> int:
    """Enforce the limits on an amount already in centimes; returns it unchanged."""
    if cents < 0:
        raise AmountError(N_("The amount must be positive (got {text})."), text=format_chf(cents))
    if cents == 0 and minimum_cents > 0:
        raise AmountError(N_("The amount must be greater than zero."))
    if cents < minimum_cents:
        raise AmountError(N_("The minimum amount is {minimum}."), minimum=format_chf(minimum_cents))
    if maximum_cents is not None and cents > maximum_cents:
        raise AmountError(N_("The maximum amount is {maximum}."), maximum=format_chf(maximum_cents))
    if cash and cents % CASH_STEP_CENTS:
        raise AmountError(
            N_("Cash amounts must be a multiple of 0.05 (got {amount})."), amount=format_chf(cents)
        )
    return cents


def format_chf(cents: int, *, currency: bool = True) -> str:
    """`123450` → `CHF 1'234.50`; negative amounts keep their sign after the currency."""
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise TypeError(f"amount must be integer centimes, got {cents!r}")
    sign = "-" if cents < 0 else ""
    units, frac = divmod(abs(cents), 100)
    text = f"{sign}{units:,}.{frac:02d}".replace(",", "'")
    return f"CHF {text}" if currency else text
