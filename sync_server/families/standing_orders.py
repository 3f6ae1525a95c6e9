"""Standing orders: "every Monday, Tuesday and Thursday until 18 December" for one child.

An order is stored as its rule, not as the days it covers. It books a week at a time, each week
once it is the coming one (`booked_through` runs to the Sunday after next week's Friday), through
`reservations.change_days`: so every day meets the rules as they stand when it is booked (a
holiday the manager enters later is not booked; a day past its deadline is skipped and said),
a day the parent cancelled by hand after it was booked stays cancelled, and each week's booking
is one e-mail.

Who applies it: creating the order applies it at once (the rest of this week and the next one);
after that `apply_due`, run with the e-mail sender (`refectory server send-mail` from the mail
timer; `start_runner` inside `refectory server run`), every minute, which already runs on a schedule
on every installation, on one app server or several. Each order is taken in its own transaction
with its row locked (skipped when another sender holds it), and `booked_through` says what is
done, so two senders at once book a week once. Reading the agenda does not apply orders: a family
that does not look would have no meals, and the kitchen counts from the reservations.

Each order keeps what it last did (the latest day it booked, the latest day the rules left out
and why), which the family's agenda and the manager's list show; the manager can cancel an order
for the family (`cancel_for_family`), which stops it as the family's own button does and tells the
family by e-mail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from domain.agenda import MAX_DAYS_AHEAD, SCHOOL_WEEK, day_in_words, weekdays_in_words
from domain.clock import service_date, to_text, utc_now
from domain.meals import ReservationKind
from domain.messages import N_, Message, RefectoryError
from domain.settings import Settings
from sync_server.admin import audit
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import fetch_all, reading, writing
from sync_server.families import letters, reservations
from sync_server.families.accounts import Child, Family, mail_address, mail_family
from sync_server.tables import families, pupils, standing_orders

MAX_REASON = 300  # a manager's reason for cancelling, told to the family
_COLUMNS = (standing_orders.c.weekdays, standing_orders.c.kind, standing_orders.c.last_day,
            standing_orders.c.booked_through, standing_orders.c.family_id, standing_orders.c.last_booked_day,
            standing_orders.c.last_skipped_day, standing_orders.c.last_skip_reason)
_OF_CHILD = select(*_COLUMNS).where(standing_orders.c.pupil_id == bindparam("pupil_id"))


class StandingOrderError(RefectoryError):
    code = "invalid_request"


class NoStandingOrderError(StandingOrderError):
    code = "not_found"


@dataclass(frozen=True, slots=True)
class StandingOrder:
    pupil_id: str
    weekdays: frozenset[int]  # 0 is Monday
    kind: ReservationKind
    last_day: date
    booked_through: date  # every day up to it is done
    family_id: str | None = None  # whose login made it
    last_booked: date | None = None  # the latest day it booked
    last_skip: tuple[date, Message] | None = None  # the latest day the rules left out, and why

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


def _order(pupil_id: str, weekdays: str, kind: str, last_day: str, booked_through: str, family_id: str | None = None,
           last_booked: str | None = None, last_skipped: str | None = None,
           skip_reason: str | None = None) -> StandingOrder:
    skip = (date.fromisoformat(last_skipped), Message.from_data(json.loads(skip_reason))) \
        if last_skipped and skip_reason else None
    return StandingOrder(pupil_id, frozenset(int(n) for n in weekdays.split(",")), ReservationKind(kind),
                         date.fromisoformat(last_day), date.fromisoformat(booked_through), family_id,
                         date.fromisoformat(last_booked) if last_booked else None, skip)


@dataclass(frozen=True, slots=True)
class Listed:
    """An order as the manager's list shows it: the order, its child and the family that made it."""

    order: StandingOrder
    first_name: str
    last_name: str
    class_name: str | None
    school: str | None
    family_email: str | None


def active(conn: Connection, today: date) -> list[Listed]:
    """Every order that still has days to come (its last day today or later), by school, class and
    name; the schools without a name first."""
    rows = conn.execute(
        select(standing_orders.c.pupil_id, *_COLUMNS, pupils.c.first_name, pupils.c.last_name, pupils.c.class_name,
               pupils.c.school, families.c.email)
        .select_from(standing_orders.join(pupils, pupils.c.pupil_id == standing_orders.c.pupil_id)
                     .outerjoin(families, families.c.family_id == standing_orders.c.family_id))
        .where(standing_orders.c.last_day >= today.isoformat())
        .order_by(pupils.c.school.is_not(None), pupils.c.school, pupils.c.class_name, pupils.c.last_name,
                  pupils.c.first_name, standing_orders.c.pupil_id))
    return [Listed(_order(*row[:9]), *row[9:]) for row in rows]


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
    if not any((today + timedelta(days=n)).weekday() in weekdays for n in range(min((last_day - today).days + 1, 7))):
        raise StandingOrderError(N_("None of the chosen weekdays falls between today and {day}: choose a later"
                                    " last day."), day=day_in_words(last_day))
    conn.execute(delete(standing_orders).where(standing_orders.c.pupil_id == child.pupil_id))
    order = StandingOrder(child.pupil_id, frozenset(weekdays), kind, last_day, today - timedelta(days=1),
                          family.family_id)
    conn.execute(insert(standing_orders).values(
        pupil_id=order.pupil_id, weekdays=",".join(str(n) for n in sorted(weekdays)), kind=str(kind),
        last_day=last_day.isoformat(), booked_through=order.booked_through.isoformat(), created_at=to_text(now),
        family_id=family.family_id))
    mail_to = (family.email, family.language) if family.email else None
    return _apply(conn, order, child, mail_to, now, settings=settings, portal_url=portal_url, canteen=canteen,
                  announce=True)


def stop(conn: Connection, pupil_id: str) -> bool:
    """End the child's standing order: no more days are booked; those it booked stay (the agenda
    cancels them like any other). True when there was one."""
    return conn.execute(delete(standing_orders).where(standing_orders.c.pupil_id == pupil_id)).rowcount > 0


def cancel_for_family(conn: Connection, pupil_id: str, now: datetime, *, actor: str, reason: str, portal_url: str,
                      canteen: dict) -> StandingOrder:
    """The canteen (`actor`, in the journal) stops a child's order, as the family's own button does
    (the days it booked stay), and tells the family by e-mail, with the reason when one is given."""
    reason = " ".join((reason or "").split())
    if len(reason) > MAX_REASON:
        raise StandingOrderError(N_("Give a reason of at most {count} characters."), count=MAX_REASON)
    order = of_child(conn, pupil_id)
    if order is None or order.last_day < service_date(now) or not stop(conn, pupil_id):  # ended: nothing to tell
        raise NoStandingOrderError(N_("There is no standing order for {pupil_id} (any more)."), pupil_id=pupil_id)
    child = conn.execute(select(pupils.c.first_name, pupils.c.family_id).where(pupils.c.pupil_id == pupil_id)).one()
    if child.family_id:
        mail_family(conn, child.family_id, "standing_order_cancelled", now, order=order, first_name=child.first_name,
                    reason=reason, portal_url=portal_url, canteen=canteen)
    days = ",".join(str(n) for n in sorted(order.weekdays))
    audit.record(conn, actor, "standing_order.cancel", pupil_id, now,
                 f"{order.kind} on {days} until {order.last_day.isoformat()}" + (f"; {reason}" if reason else ""))
    return order


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
            row = conn.execute(select(*_COLUMNS).where(standing_orders.c.pupil_id == pupil_id)
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


def apply_due_with(engine: Engine, config, now: datetime) -> int:
    """`apply_due` with the app's settings (`PORTAL_URL`, `CANTEEN_*`)."""
    return apply_due(engine, now, **letters.mail_details(config))


def start_runner(engine: Engine, config, scheduler, every_seconds: float = 60.0, clock=utc_now) -> None:
    """Book the coming weeks every `every_seconds` on `scheduler` (the development server's, which
    also sends the mail, so their confirmations go out with its next run), one run at a time."""
    scheduler.add_job(lambda: apply_due_with(engine, config, clock()), "interval", seconds=every_seconds,
                      max_instances=1, coalesce=True, id="standing-orders")


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
    values = {"booked_through": max(through, order.booked_through).isoformat()}
    if done.changed:
        values["last_booked_day"] = max(one.day for one in done.changed).isoformat()
    if done.skipped:
        day, refused = done.skipped[-1]  # the days go in order: the latest
        values |= {"last_skipped_day": day.isoformat(), "last_skip_reason": json.dumps(refused.message.as_data())}
    conn.execute(update(standing_orders).where(standing_orders.c.pupil_id == order.pupil_id).values(**values))
    return done
