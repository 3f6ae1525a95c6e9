"""A child's meals as the portal's home page tells them: the next two service days (reserved,
special or none, with the dish of the menu), whether a required reservation is still missing
before its cut-off, and the last meals eaten.

The deadlines are the agenda's own (`domain.agenda.deadline`), so the warning disappears at the
very instant the agenda stops taking the booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from domain.agenda import deadline
from domain.clock import from_text, require_utc, service_date
from domain.entries import EntryKind
from domain.meals import ReservationKind
from domain.settings import Settings
from sync_server.db import fetch_all
from sync_server.families.menus import Dish, menus_of
from sync_server.families.reservations import booked_between, closed_between
from sync_server.tables import entries

DAYS_SHOWN = 2  # today (when served) and the next service day
LAST_MEALS = 3
RECENT_ENTRIES = 40  # the last meals are looked for among this many of the account's latest entries

_RECENT = (select(entries.c.id, entries.c.kind, entries.c.occurred_at, entries.c.service_date,
                  entries.c.amount_cents, entries.c.reference)
           .where(entries.c.account_id == bindparam("pupil_id"))
           .order_by(entries.c.seq.desc()).limit(RECENT_ENTRIES))


@dataclass(frozen=True, slots=True)
class MealDay:
    day: date
    served: bool  # a service weekday and not a closed day
    closed_reason: str | None
    reservation: ReservationKind | None
    dishes: list[Dish]
    cutoff: datetime  # until when a normal meal of the day can be booked (UTC)
    missing: bool  # a reservation is required, none is made, and it can still be made
    late: bool  # the cut-off has passed
    eaten_at: datetime | None  # when the child's meal of the day was served


@dataclass(frozen=True, slots=True)
class Meal:
    day: date
    occurred_at: datetime
    amount_cents: int
    dishes: list[Dish]


def days_shown(today: date, settings: Settings) -> list[date]:
    """The first `DAYS_SHOWN` service weekdays from today on (closed days included: the family is
    told why there is no meal)."""
    days, day = [], today
    while len(days) < DAYS_SHOWN and (day - today).days < 14:
        if day.weekday() in settings.service_weekdays:
            days.append(day)
        day += timedelta(days=1)
    return days


def last_meals(conn: Connection, pupil_id: str) -> list[tuple[date, datetime, int]]:
    """The child's last meals not cancelled, newest first: (service day, served at, amount). A
    cancellation follows its meal, so both are among the latest entries."""
    rows = fetch_all(conn, _RECENT, {"pupil_id": pupil_id})
    cancelled = {reference for _id, kind, *_rest, reference in rows if kind == EntryKind.REVERSAL}
    meals = [(date.fromisoformat(day), from_text(at), amount) for entry_id, kind, at, day, amount, _ref in rows
             if kind == EntryKind.MEAL and entry_id not in cancelled and day]
    return sorted(meals, key=lambda meal: meal[1], reverse=True)[:LAST_MEALS]


def meal_days(conn: Connection, pupil_ids: list[str], now: datetime,
              settings: Settings) -> dict[str, tuple[list[MealDay], list[Meal]]]:
    """For each child: the days shown on the home page, and the last meals."""
    days = days_shown(service_date(now), settings)
    eaten = {pupil_id: last_meals(conn, pupil_id) for pupil_id in pupil_ids}
    if not days:
        menus, closed = {}, {}
    else:
        menus = menus_of(conn, days)
        closed = closed_between(conn, days[0], days[-1])
    past_days = sorted({day for meals in eaten.values() for day, _at, _amount in meals})
    past_menus = menus_of(conn, past_days) if past_days else {}
    found = {}
    for pupil_id in pupil_ids:
        booked = booked_between(conn, pupil_id, days[0], days[-1]) if days else {}
        served_at = {day: at for day, at, _amount in reversed(eaten[pupil_id])}
        shown = []
        for day in days:
            cutoff = deadline(day, False, settings)
            served = day not in closed
            late = require_utc(now) > cutoff
            shown.append(MealDay(day, served, closed.get(day), booked.get(day), menus.get(day, []), cutoff,
                                 settings.reservation_required and served and day not in booked and not late
                                 and day not in served_at, late, served_at.get(day)))
        found[pupil_id] = (shown, [Meal(day, at, amount, past_menus.get(day, []))
                                   for day, at, amount in eaten[pupil_id]])
    return found
