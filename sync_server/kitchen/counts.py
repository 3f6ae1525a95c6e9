"""The counts to cook for a day, from the reservations, and after service reserved against served.

A meal counts as special when the counter would show the special-meal banner
(`domain.meals.special_meal`): a special reservation, or any reservation of a pupil with a diet.
Reservations of a pupil who is no longer enrolled or whose account is on hold are left out (the
kiosk refuses them) and counted apart. Served meals are the server's meal entries of that day not
reversed: as complete as the kiosks' last sync.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, exists, select

from domain.agenda import deadline
from domain.clock import SCHOOL_TZ, require_utc
from domain.entries import EntryKind
from domain.meals import ReservationKind, special_meal
from domain.messages import N_
from domain.settings import Settings
from domain.text import spreadsheet_text
from sync_server.families.reservations import closed_between
from sync_server.tables import entries, holds, pupils, reservations

CSV_COLUMNS = ("section", "name", "normal", "special", "total", "served", "reserved_not_served",
               "served_without_reservation")
NO_DIET = N_("Special meal, no diet recorded")


@dataclass(frozen=True, slots=True)
class Diner:
    """A pupil with a reservation for the day, or served that day, or both."""

    pupil_id: str
    first_name: str
    last_name: str
    class_name: str
    diet: str
    reserved: ReservationKind | None
    served: int  # meals served that day

    @property
    def special(self) -> str | None:
        return special_meal(self.diet, self.reserved)


@dataclass(slots=True)
class Tally:
    normal: int = 0  # normal meals reserved
    special: int = 0  # special meals reserved
    served: int = 0
    wasted: int = 0  # reserved, not served
    unreserved: int = 0  # served without a reservation

    @property
    def total(self) -> int:
        return self.normal + self.special

    def add(self, diner: Diner) -> None:
        if diner.reserved is not None:
            if diner.special is None:
                self.normal += 1
            else:
                self.special += 1
            if not diner.served:
                self.wasted += 1
        elif diner.served:
            self.unreserved += 1
        self.served += diner.served


@dataclass(frozen=True, slots=True)
class KitchenDay:
    day: date
    cutoff: datetime  # normal meals can be booked or cancelled until then: the count is final after it
    final: bool
    closed_reason: str | None  # the manager's reason for a closed day
    service_day: bool  # a service weekday and not closed
    diners: list[Diner]
    left_out: int  # reservations of pupils on hold or no longer enrolled
    total: Tally
    by_class: dict[str, Tally]
    by_diet: dict[str, Tally]  # special meals, by diet ("": none recorded)

    @property
    def wasted(self) -> list[Diner]:
        return [d for d in self.diners if d.reserved is not None and not d.served]

    @property
    def unreserved(self) -> list[Diner]:
        return [d for d in self.diners if d.reserved is None and d.served]


def kitchen_day(conn: Connection, day: date, now: datetime, settings: Settings) -> KitchenDay:
    """The day's counts as of `now`."""
    reserved = {row.pupil_id: row for row in conn.execute(
        select(reservations.c.pupil_id, reservations.c.kind, pupils.c.active, holds.c.reason.label("hold"))
        .join(pupils, pupils.c.pupil_id == reservations.c.pupil_id)
        .outerjoin(holds, holds.c.pupil_id == reservations.c.pupil_id)
        .where(reservations.c.service_date == day.isoformat()))}
    served = _served(conn, day)
    left_out = {pupil_id for pupil_id, row in reserved.items() if not row.active or row.hold is not None}
    counted = {pupil_id: ReservationKind(row.kind) for pupil_id, row in reserved.items() if pupil_id not in left_out}
    ids = sorted(counted.keys() | served.keys())
    people = {row.pupil_id: row for row in conn.execute(
        select(pupils.c.pupil_id, pupils.c.first_name, pupils.c.last_name, pupils.c.class_name, pupils.c.diet)
        .where(pupils.c.pupil_id.in_(ids)))} if ids else {}
    diners = sorted((Diner(p.pupil_id, p.first_name, p.last_name, p.class_name, p.diet or "", counted.get(p.pupil_id),
                           served.get(p.pupil_id, 0)) for p in people.values()),
                    key=lambda d: (class_order(d.class_name), d.last_name, d.first_name, d.pupil_id))
    total, by_class, by_diet = Tally(), {}, {}
    for diner in diners:  # in class order
        total.add(diner)
        by_class.setdefault(diner.class_name, Tally()).add(diner)
        if diner.special is not None:
            by_diet.setdefault(diner.special, Tally()).add(diner)
    closed = closed_between(conn, day, day)
    cutoff = deadline(day, False, settings)
    return KitchenDay(day, cutoff, require_utc(now) > cutoff, closed.get(day),
                      day.weekday() in settings.service_weekdays and day not in closed, diners, len(left_out),
                      total, by_class, dict(sorted(by_diet.items())))


def class_order(name: str) -> tuple:
    """Classes as a school lists them: 3A before 10A (numbers compared as numbers)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
                 for part in re.findall(r"\d+|\D+", name))


def _served(conn: Connection, day: date) -> dict[str, int]:
    original = entries.alias("original")
    reversed_ = exists().where(entries.c.kind == EntryKind.REVERSAL.value, entries.c.reference == original.c.id)
    rows = conn.execute(select(original.c.account_id).where(original.c.kind == EntryKind.MEAL.value,
                                                            original.c.service_date == day.isoformat(), ~reversed_))
    counts: dict[str, int] = {}
    for (pupil_id,) in rows:
        counts[pupil_id] = counts.get(pupil_id, 0) + 1
    return counts


def service_started(found: KitchenDay, now: datetime, settings: Settings) -> bool:
    """Whether the day's service has begun, so that served meals mean something."""
    start = datetime.combine(found.day, settings.service_start, SCHOOL_TZ)
    return require_utc(now) >= start


def csv_text(found: KitchenDay, _: Callable[[str], str]) -> str:
    """The counts as CSV: the day's total, each class, then each diet's special meals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def row(section: str, name: str, tally: Tally) -> None:
        writer.writerow((section, spreadsheet_text(name), tally.normal, tally.special, tally.total, tally.served,
                         tally.wasted, tally.unreserved))

    row("total", found.day.isoformat(), found.total)
    for class_name, tally in found.by_class.items():
        row("class", class_name, tally)
    for diet, tally in found.by_diet.items():
        row("diet", diet or _(NO_DIET), tally)
    return out.getvalue()


def as_json(found: KitchenDay) -> dict:
    """The counts as one JSON document (the command line's `--json`)."""
    def tally(t: Tally) -> dict:
        return {"normal": t.normal, "special": t.special, "total": t.total, "served": t.served,
                "reserved_not_served": t.wasted, "served_without_reservation": t.unreserved}

    def diner(d: Diner) -> dict:
        return {"pupil_id": d.pupil_id, "first_name": d.first_name, "last_name": d.last_name,
                "class": d.class_name, "reserved": str(d.reserved) if d.reserved else None, "served": d.served}

    return {"ok": True, "day": found.day.isoformat(), "cutoff": found.cutoff.isoformat(), "final": found.final,
            "service_day": found.service_day, "closed_reason": found.closed_reason, "left_out": found.left_out,
            "total": tally(found.total), "by_class": {k: tally(v) for k, v in found.by_class.items()},
            "by_diet": {k: tally(v) for k, v in found.by_diet.items()},
            "reserved_not_served": [diner(d) for d in found.wasted],
            "served_without_reservation": [diner(d) for d in found.unreserved]}
