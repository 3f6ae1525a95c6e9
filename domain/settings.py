"""Canteen settings: a small set of named keys stored as text, parsed into one typed value.

`parse_setting` is the single gate for every key (CLI, sync, back office), so a bad value is
refused with a precise message before it is stored. A value is checked against the rules that
use it: a meal price is above zero (every meal served is a debit, and the served record is that
debit: a free meal would be neither counted nor limited to one a day), and so is the smallest
top-up (a top-up of nothing is no entry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType

from .messages import N_, RefectoryError
from .money import format_chf, parse_amount

PRICE_PREFIX = "price."
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_DIGITS = re.compile(r"[0-9]{1,3}")
_TRUE, _FALSE = {"true", "yes", "oui", "1", "on"}, {"false", "no", "non", "0", "off"}
MAX_PRICE_CENTS = 100_00
MAX_TOPUP_CEILING_CENTS = 10_000_00

DEFAULTS: Mapping[str, str] = MappingProxyType(
    {
        "price.primary": "7.00",
        "price.secondary": "8.50",
        "price.staff": "10.00",
        "service.start": "11:00",
        "service.end": "14:00",
        "service.days": "mon,tue,wed,thu,fri",
        "balance.low_threshold": "20.00",
        "reservation.required": "false",
        "reservation.cutoff": "08:15",
        "reservation.special_days_ahead": "3",
        "meals.per_day": "1",
        "topup.min": "5.00",
        "topup.max": "500.00",
    }
)


class SettingError(RefectoryError):
    code = "invalid_setting"


def _money(key: str, value: str, maximum: int, minimum: int = 0) -> str:
    try:
        cents = parse_amount(value, maximum_cents=maximum, minimum_cents=minimum, cash=True)
    except RefectoryError as error:
        raise SettingError(N_("{key}: {problem}"), key=key, problem=error.message) from None
    return format_chf(cents, currency=False).replace("'", "")


def _clock(key: str, value: str) -> str:
    try:
        return time.fromisoformat(value.strip()).strftime("%H:%M")
    except ValueError:
        raise SettingError(N_("{key}: '{value}' is not a time of day (HH:MM)."), key=key, value=value) from None


def _days(key: str, value: str) -> str:
    days = [d.strip().lower() for d in value.split(",") if d.strip()]
    if not days or any(d not in WEEKDAYS for d in days):
        raise SettingError(
            N_("{key}: '{value}' must list days among {days}."), key=key, value=value, days=",".join(WEEKDAYS)
        )
    return ",".join(d for d in WEEKDAYS if d in days)


def _bool(key: str, value: str) -> str:
    word = value.strip().lower()
    if word not in _TRUE | _FALSE:
        raise SettingError(N_("{key}: '{value}' must be true or false."), key=key, value=value)
    return "true" if word in _TRUE else "false"


def _days_ahead(key: str, value: str) -> str:
    if (days := _whole(value, 0, 14)) is None:
        raise SettingError(N_("{key}: '{value}' must be a whole number of days from 0 to 14."), key=key, value=value)
    return str(days)


def _count(key: str, value: str) -> str:
    if (count := _whole(value, 1, 5)) is None:
        raise SettingError(N_("{key}: '{value}' must be a whole number from 1 to 5."), key=key, value=value)
    return str(count)


def _whole(value: str, low: int, high: int) -> int | None:
    """ASCII digits within low..high; None otherwise (str.isdigit() also takes "²", which int()
    refuses, and "٣", which it reads as 3)."""
    text = value.strip()
    return int(text) if _DIGITS.fullmatch(text) and low <= int(text) <= high else None


_PARSERS = {
    "service.start": _clock,
    "service.end": _clock,
    "service.days": _days,
    "balance.low_threshold": lambda k, v: _money(k, v, MAX_TOPUP_CEILING_CENTS),
    "reservation.required": _bool,
    "reservation.cutoff": _clock,
    "reservation.special_days_ahead": _days_ahead,
    "meals.per_day": _count,
    "topup.min": lambda k, v: _money(k, v, MAX_TOPUP_CEILING_CENTS, minimum=1),
    "topup.max": lambda k, v: _money(k, v, MAX_TOPUP_CEILING_CENTS),
}


def parse_setting(key: str, value: str) -> str:
    """Validate one key and return its canonical text form."""
    key = key.strip().lower()
    if key.startswith(PRICE_PREFIX):
        if not _CATEGORY.fullmatch(key[len(PRICE_PREFIX) :]):
            raise SettingError(N_("{key}: a category is lower-case letters, digits and _."), key=key)
        return _money(key, value, MAX_PRICE_CENTS, minimum=1)
    if key not in _PARSERS:
        raise SettingError(
            N_("Unknown setting '{key}'. Known settings: {known}."),
            key=key,
            known=", ".join(["price.<category>", *_PARSERS]),
        )
    return _PARSERS[key](key, value)


@dataclass(frozen=True, slots=True)
class Settings:
    prices_cents: Mapping[str, int] = field(default_factory=dict)
    service_start: time = time(11, 0)
    service_end: time = time(14, 0)
    service_weekdays: frozenset[int] = frozenset(range(5))
    low_balance_cents: int = 20_00
    reservation_required: bool = False
    reservation_cutoff: time = time(8, 15)  # a day's normal meal is booked or cancelled until then
    special_days_ahead: int = 3  # a special meal: until the cut-off this many days before
    meals_per_day: int = 1
    topup_min_cents: int = 5_00
    topup_max_cents: int = 500_00

    @classmethod
    def from_mapping(cls, stored: Mapping[str, str]) -> Settings:
        """Typed settings from stored text (defaults first, stored values over them)."""
        values = {**DEFAULTS, **stored}

        def cents(key: str) -> int:
            return parse_amount(values[key], minimum_cents=0)

        settings = cls(
            prices_cents=MappingProxyType(
                {k[len(PRICE_PREFIX) :]: cents(k) for k in sorted(values) if k.startswith(PRICE_PREFIX)}
            ),
            service_start=time.fromisoformat(values["service.start"]),
            service_end=time.fromisoformat(values["service.end"]),
            service_weekdays=frozenset(WEEKDAYS.index(d) for d in values["service.days"].split(",")),
            low_balance_cents=cents("balance.low_threshold"),
            reservation_required=values["reservation.required"] == "true",
            reservation_cutoff=time.fromisoformat(values["reservation.cutoff"]),
            special_days_ahead=int(values["reservation.special_days_ahead"]),
            meals_per_day=int(values["meals.per_day"]),
            topup_min_cents=cents("topup.min"),
            topup_max_cents=cents("topup.max"),
        )
        if settings.topup_min_cents > settings.topup_max_cents:
            raise SettingError(
                N_("topup.min ({minimum}) cannot be above topup.max ({maximum})."),
                minimum=format_chf(settings.topup_min_cents),
                maximum=format_chf(settings.topup_max_cents),
            )
        if settings.service_start >= settings.service_end:
            raise SettingError(N_("service.start must be before service.end."))
        return settings

    def topup_from(self, typed: str) -> int:
        """A top-up as a family types it, in centimes, within the canteen's limits (`AmountError`
        says what is wrong)."""
        return parse_amount(typed, minimum_cents=self.topup_min_cents, maximum_cents=self.topup_max_cents)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(self.prices_cents)
