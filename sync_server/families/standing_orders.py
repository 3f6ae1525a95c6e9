"""Standing orders: "every Monday, Tuesday and Thursday until 18 December" for one child.

An order is stored as its rule, not as the days it covers. It books a week at a time, each week
once it is the coming one (`booked_through` runs to the Sunday after next week's Friday), through
`reservations.change_days`: so every day meets the rules as they stand when it is booked (a
holiday the manager enters later is not booked; a day past its deadline is skipped and said),
a day the parent cancelled by hand after it was booked stays cancelled, and each week's booking
is one e-mail.

Who applies it: creating the order applies it at once (the rest of this week and the next one);
after that `apply_due`, run with the e-mail sender (`refectory server send-mail`, every minute
from the mail timer; every 30 s inside `refectory server run`), which already runs on a schedule
on every installation, on one app server or several. Each order is taken in its own transaction
with its row locked (skipped when another sender holds it), and `booked_through` says what is
done, so two senders at once book a week once. Reading the agenda does not apply orders: a family
that does not look would have no meals, and the kitchen counts from the reservations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from domain.agenda import MAX_DAYS_AHEAD, SCHOOL_WEEK, weekdays_in_words
from domain.clock import service_date, to_text
from domain.meals import ReservationKind
from domain.messages import N_, Message, RefectoryError
from domain.settings import Settings
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import fetch_all, reading, writing
from sync_server.families import reservations
from sync_server.families.accounts import Child, Family, mail_address
from sync_server.tables import standing_orders

_OF_CHILD = select(standing_orders.c.weekdays, standing_orders.c.kind, standing_orders.c.last_day,
                   standing_orders.c.booked_through).where(standing_orders.c.pupil_id == bindparam("pupil_id"))


class StandingOrderError(RefectoryError):
    code = "invalid_request"


@dataclass(frozen=True, slots=True)
class StandingOrder:
    pupil_id: str
    weekdays: frozenset[int]  # 0 is Monday
    kind: ReservationKind
    last_day: date
    booked_through: date  # every day up to it is done

    def covers(self, day: date) -> bool:
        """Whether `day` is one of the order's days (booked by it, or to be)."""
        return day.weekday() in self.weekdays and day <= self.last_day

    @property
    def weekdays_words(self) -> Message:
        return weekdays_in_words(self.weekdays)


def horizon(today: date) -> date:
    """The last day an order has booked by `today`: the Sunday that ends next week."""
    return today - timedelta(days=today.weekday()) + timedelta(days=13)


def of_child(conn: Connection, pupil_id: str) -> StandingOrder | None:
    rows = fetch_all(conn, _OF_CHILD, {"pupil_id": pupil_id})  # on every agenda page
    return _order(pupil_id, *rows[0]) if rows else None


def _order(pupil_id: str, weekdays: str, kind: str, last_day: str, booked_through: str) -> StandingOrder:
    return StandingOrder(pupil_id, frozenset(int(n) for n in weekdays.split(",")), ReservationKind(kind),
                         date.fromisoformat(last_day), date.fromisoformat(booked_through))


def start(conn: Connection, family: Family, child: Child, weekdays: set[int], kind: ReservationKind, last_day: date,
          now: datetime, *, settings: Settings, portal_url: str, canteen: dict) -> reservations.DaysChange:
    """Store the child's standing order (replacing one it had) and book its days up to the coming
    week at once, confirmed by one e-mail that states the order."""
    today = service_date(now)
    if not weekdays or not weekdays <= set(range(SCHOOL_WEEK)):
        raise StandingOrderError(N_("Choose at least one day of the week, Monday to Friday."))
    if not today <= last_day <= today + timedelta(days=MAX_DAYS_AHEAD):
        raise StandingOrderError(N_("A standing order ends today or later, at most {days} days ahead."),
                                 days=MAX_DAYS_AHEAD)
    conn.execute(delete(standing_orders).where(standing_orders.c.pupil_id == child.pupil_id))
    order = StandingOrder(child.pupil_id, frozenset(weekdays), kind, last_day, today - timedelta(days=1))
    conn.execute(insert(standing_orders).values(
        pupil_id=order.pupil_id, weekdays=",".join(str(n) for n in sorted(weekdays)), kind=str(kind),
        last_day=last_day.isoformat(), booked_through=order.booked_through.isoformat(), created_at=to_text(now)))
    mail_to = (family.email, family.language) if family.email else None
    return _apply(conn, order, child, mail_to, now, settings=settings, portal_url=portal_url, canteen=canteen,
                  announce=True)


def stop(conn: Connection, pupil_id: str) -> bool:
    """End the child's standing order: no more days are booked; those it booked stay (the agenda
    cancels them like any other). True when there was one."""
    return conn.execute(delete(standing_orders).where(standing_orders.c.pupil_id == pupil_id)).rowcount > 0


def apply_due(engine: Engine, now: datetime, *, portal_url: str, canteen: dict) -> int:
    """Book the coming week of every order that has not booked it yet; returns how many orders acted."""
    through = horizon(service_date(now))
    with reading(engine) as conn:
        due = [pupil_id for (pupil_id,) in conn.execute(
            select(standing_orders.c.pupil_id).where(standing_orders.c.booked_through < through.isoformat(),
                                                     standing_orders.c.booked_through < standing_orders.c.last_day))]
    acted = 0
    for pupil_id in due:
        with writing(engine) as conn:
            row = conn.execute(select(standing_orders.c.weekdays, standing_orders.c.kind, standing_orders.c.last_day,
                                      standing_orders.c.booked_through)
                               .where(standing_orders.c.pupil_id == pupil_id)
                               .with_for_update(skip_locked=True)).first()
            if row is None:  # stopped meanwhile, or another sender has it now
                continue
            order = _order(pupil_id, *row)
            if order.booked_through >= min(through, order.last_day):  # another sender did it
                continue
            try:
                child = reservations.pupil_to_book(conn, pupil_id)
            except RefectoryError:  # left the refectory: the order ends with the enrolment
                stop(conn, pupil_id)
                continue
            mail_to = mail_address(conn, child.family_id) if child.family_id else None
            _apply(conn, order, child, mail_to, now, settings=current_settings(conn), portal_url=portal_url,
                   canteen=canteen)
            acted += 1
    return acted


def _apply(conn: Connection, order: StandingOrder, child, mail_to: tuple[str, str] | None, now: datetime, *,
           settings: Settings, portal_url: str, canteen: dict, announce: bool = False) -> reservations.DaysChange:
    """Book the order's days after `booked_through` up to the horizon, and move `booked_through` there."""
    today = service_date(now)
    through = min(horizon(today), order.last_day)
    first = max(order.booked_through + timedelta(days=1), today)
    days = [first + timedelta(days=n) for n in range((through - first).days + 1)]
    days = [day for day in days if order.covers(day)]
    # One e-mail: when the order starts (it states the order), then for each week it books.
    done = reservations.change_days(conn, child, days, order.kind, now, mail_to if days or announce else None,
                                    settings=settings, portal_url=portal_url, canteen=canteen, standing=order)
    conn.execute(update(standing_orders).where(standing_orders.c.pupil_id == order.pupil_id)
                 .values(booked_through=max(through, order.booked_through).isoformat()))
    return done
