"""Meal reservations and the school calendar on the server.

A family's change is checked against the domain's deadlines, stored, published to the kiosks
(they apply it at their next sync) and confirmed by an e-mail queued in the same transaction: the
three happen together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from domain.agenda import (
    MAX_DAYS_AHEAD,
    AgendaDay,
    DeadlinePassedError,
    ReservationRuleError,
    agenda_day,
    agenda_week,
    check_change,
    day_in_words,
    term_end,
    week_of,
)
from domain.clock import EARLIEST, END, service_date, to_text, within_window
from domain.meals import Pupil, ReservationKind
from domain.messages import N_, RefectoryError
from domain.settings import Settings
from domain.sync import ChangeType
from sync_server.db import fetch_all
from sync_server.families.accounts import Child, Family, mail_address
from sync_server.mail import outbox
from sync_server.mail.compose import Mail, compose
from sync_server.sync.changes import record_change, school_of
from sync_server.tables import closed_days, pupils, reservations

MAX_REASON = 200


class CalendarError(RefectoryError):
    code = "invalid_request"


class UnknownPupilError(RefectoryError):
    code = "not_found"


@dataclass(frozen=True, slots=True)
class ReservationChange:
    child: Child | Pupil  # whose meal (the mail names them by first name)
    day: date
    before: ReservationKind | None
    after: ReservationKind | None
    agenda_day: AgendaDay  # the day as the agenda now shows it
    overridden: bool = False  # made past the deadline, on the manager's word


_CLOSED = select(closed_days.c.day, closed_days.c.reason).where(closed_days.c.day >= bindparam("first"),
                                                                closed_days.c.day <= bindparam("last"))
_BOOKED = select(reservations.c.service_date, reservations.c.kind).where(
    reservations.c.pupil_id == bindparam("pupil_id"), reservations.c.service_date >= bindparam("first"),
    reservations.c.service_date <= bindparam("last"))

# A parent's change of a day, built once (each click runs one of them).
_LOCK_CHILD = select(pupils.c.pupil_id).where(pupils.c.pupil_id == bindparam("pupil_id")).with_for_update(
    key_share=True)
_CANCEL = delete(reservations).where(reservations.c.pupil_id == bindparam("pupil_id"),
                                     reservations.c.service_date == bindparam("service_date"))
_BOOK = insert(reservations)
# An UPDATE's own parameters are named after the columns it sets; the day's are named apart.
_REBOOK = update(reservations).where(reservations.c.pupil_id == bindparam("the_pupil"),
                                     reservations.c.service_date == bindparam("the_day"))


def closed_between(conn: Connection, start: date, end: date) -> dict[date, str]:
    rows = fetch_all(conn, _CLOSED, {"first": start.isoformat(), "last": end.isoformat()})  # on every agenda page
    return {date.fromisoformat(day): reason for day, reason in rows}


def close_days(conn: Connection, first: date, last: date, reason: str, *, today: date) -> int:
    """Mark the days from `first` to `last` (inclusive) as without service; returns how many. A day
    already past is refused: its meals were served or not, and closing it would rewrite the agenda."""
    if first < today:
        raise CalendarError(N_("{day} is in the past: only today and later days can be closed."),
                            day=first.strftime("%d.%m.%Y"))
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise CalendarError(N_("Give the reason for closing (at most {count} characters)."), count=MAX_REASON)
    if last < first or (last - first).days >= 366:  # 366 days at most, a leap year's
        raise CalendarError(N_("The closing period must run forwards and last at most a year."))
    _within_calendar(last)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    conn.execute(delete(closed_days).where(closed_days.c.day.in_([d.isoformat() for d in days])))
    conn.execute(insert(closed_days), [{"day": d.isoformat(), "reason": reason} for d in days])
    return len(days)


def reopen_days(conn: Connection, first: date, last: date, *, today: date) -> int:
    """Serve meals again from `first` to `last` (inclusive); returns how many closed days that was.
    Past days stay as they were, as for closing."""
    if first < today:
        raise CalendarError(N_("{day} is in the past: only today and later days can be reopened."),
                            day=first.strftime("%d.%m.%Y"))
    if last < first:
        raise CalendarError(N_("The period to reopen must run forwards."))
    _within_calendar(last)
    return conn.execute(delete(closed_days).where(closed_days.c.day >= first.isoformat(),
                                                  closed_days.c.day <= last.isoformat())).rowcount


def _within_calendar(day: date) -> None:
    if not within_window(day):
        raise CalendarError(N_("Choose a day from {first} to {last}."), first=EARLIEST.year, last=END.year - 1)


def booked_between(conn: Connection, pupil_id: str, start: date, end: date) -> dict[date, ReservationKind]:
    """The child's reservations from `start` to `end` (inclusive), by day."""
    rows = fetch_all(conn, _BOOKED, {"pupil_id": pupil_id, "first": start.isoformat(), "last": end.isoformat()})
    return {date.fromisoformat(day): ReservationKind(kind) for day, kind in rows}


def end_of_term(conn: Connection, today: date, settings: Settings) -> date | None:
    """The last service day before the next holidays, from the calendar the manager keeps."""
    return term_end(today, settings, closed_between(conn, today, today + timedelta(days=MAX_DAYS_AHEAD + 7)))


def week(conn: Connection, pupil_id: str, day: date, settings: Settings) -> list[AgendaDay]:
    days = week_of(day)
    return agenda_week(day, settings, closed_between(conn, days[0], days[-1]),
                       booked_between(conn, pupil_id, days[0], days[-1]))


def change(conn: Connection, family: Family, child: Child, day: date, kind: ReservationKind | None,
           now: datetime, *, settings: Settings, portal_url: str, canteen: dict) -> ReservationChange:
    """Book (`kind`) or cancel (None) the child's meal on `day`, within the deadlines."""
    return _change(conn, child, day, kind, now, (family.email, family.language) if family.email else None,
                   settings=settings, portal_url=portal_url, canteen=canteen)


def change_for_pupil(conn: Connection, pupil_id: str, day: date, kind: ReservationKind | None, now: datetime, *,
                     override: str | None, settings: Settings, portal_url: str,
                     canteen: dict) -> ReservationChange:
    """The manager's booking or cancellation for a family that phoned or wrote: the portal's rules
    and confirmation mail, except that a deadline passed gives way to `override`, the manager's
    reason (the caller records it in the audit log). Closed days stay closed."""
    pupil = pupil_to_book(conn, pupil_id)
    override = " ".join((override or "").split()) or None
    if override is not None and len(override) > MAX_REASON:
        raise CalendarError(N_("Give the reason for going past the deadline (at most {count} characters)."),
                            count=MAX_REASON)
    return _change(conn, pupil, day, kind, now, mail_address(conn, pupil.family_id) if pupil.family_id else None,
                   settings=settings, portal_url=portal_url, canteen=canteen, override=override is not None)


def audit_entry(done: ReservationChange, override: str | None) -> tuple[str, str, str]:
    """The manager's change as the audit log records it (action, subject, detail), with the reason
    for going past the deadline when one was given."""
    reason = " ".join((override or "").split()) if done.overridden else ""
    return ("reservation.cancel" if done.after is None else "reservation.book",
            f"{done.child.pupil_id}/{done.day.isoformat()}",
            f"{done.before or '-'} -> {done.after or '-'}" + (f"; past the deadline: {reason}" if reason else ""))


def pupil_to_book(conn: Connection, pupil_id: str) -> Pupil:
    """An active pupil of the roster, for the manager's page and commands."""
    row = conn.execute(select(pupils.c.pupil_id, pupils.c.first_name, pupils.c.last_name, pupils.c.class_name,
                              pupils.c.category, pupils.c.diet, pupils.c.active, pupils.c.family_id)
                       .where(pupils.c.pupil_id == pupil_id)).first()
    if row is None:
        raise UnknownPupilError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
    pupil = Pupil(*row)
    if not pupil.active:
        raise CalendarError(N_("{first_name} is not enrolled at the refectory."), first_name=pupil.first_name)
    return pupil


def _change(conn: Connection, child: Child | Pupil, day: date, kind: ReservationKind | None, now: datetime,
            mail_to: tuple[str, str] | None, *, settings: Settings, portal_url: str, canteen: dict,
            override: bool = False) -> ReservationChange:
    _within_calendar(day)  # what the pages ask for already; a command can send any day
    if override and day < service_date(now):  # going past a deadline is for today's or a coming day's meal
        raise CalendarError(N_("{day} is past: a reservation no longer changes it."), day=day_in_words(day))
    _lock_child(conn, child.pupil_id)
    before = booked_between(conn, child.pupil_id, day, day).get(day)
    closed = closed_between(conn, day, day)
    done = ReservationChange(child, day, before, kind, agenda_day(day, settings, closed, kind))
    if before == kind:
        return done
    try:
        check_change(day, before, kind, now, settings, closed)
    except DeadlinePassedError:
        if not override:
            raise
        done = replace(done, overridden=True)
    if mail_to is not None:  # before the change: recording it holds the feed's lock until commit (changes.py)
        email, language = mail_to
        subject, body = confirmation(done, language, portal_url, canteen)
        outbox.enqueue(conn, email, subject, body, now)
    _write(conn, child.pupil_id, day, before, kind, now)
    return done


@dataclass(frozen=True, slots=True)
class DaysChange:
    """One action over several days (a whole week, chosen weekdays, a standing order's week): what
    it changed, what was already so, what the rules left out with the rule that did, and the days
    it left booked with the other meal."""

    child: Child | Pupil
    kind: ReservationKind | None  # booked, or None: cancelled
    changed: list[ReservationChange]
    unchanged: list[date]  # already as asked
    skipped: list[tuple[date, ReservationRuleError]]
    kept: tuple[date, ...] = ()  # booked with the other meal, which stays (the family cancels the day to change it)


def change_days(conn: Connection, child: Child | Pupil, days: Iterable[date], kind: ReservationKind | None,
                now: datetime, mail_to: tuple[str, str] | None, *, settings: Settings, portal_url: str,
                canteen: dict, standing: object = None) -> DaysChange:
    """Book (`kind`) or cancel (None) the child's meal on each of `days` that the rules allow, and
    confirm the whole action with one e-mail. A day booked with the other kind keeps it: a week
    of normal meals does not undo a special meal chosen for one day. `standing` is the standing
    order that acts, named in the mail."""
    days = sorted(set(days))
    _lock_child(conn, child.pupil_id)
    booked = booked_between(conn, child.pupil_id, days[0], days[-1]) if days else {}
    closed = closed_between(conn, days[0], days[-1]) if days else {}
    changed: list[ReservationChange] = []
    unchanged: list[date] = []
    kept: list[date] = []
    skipped: list[tuple[date, ReservationRuleError]] = []
    for day in days:
        before = booked.get(day)
        if before == kind:
            unchanged.append(day)
            continue
        if kind is not None and before is not None:
            kept.append(day)
            continue
        try:
            check_change(day, before, kind, now, settings, closed)
        except ReservationRuleError as refused:
            skipped.append((day, refused))
            continue
        changed.append(ReservationChange(child, day, before, kind, agenda_day(day, settings, closed, kind)))
    done = DaysChange(child, kind, changed, unchanged, skipped, tuple(kept))
    if mail_to is not None and (changed or standing is not None):
        email, language = mail_to
        subject, body = compose("reservation_days", language, done=done, standing=standing, portal_url=portal_url,
                                canteen=canteen)
        outbox.enqueue(conn, email, subject, body, now)
    for one in changed:
        _write(conn, child.pupil_id, one.day, one.before, kind, now)
    return done


def _lock_child(conn: Connection, pupil_id: str) -> None:
    # The child's row locked until commit: a double click on two app servers changes the day once,
    # the second finding what the first did.
    fetch_all(conn, _LOCK_CHILD, {"pupil_id": pupil_id})


def _write(conn: Connection, pupil_id: str, day: date, before: ReservationKind | None, kind: ReservationKind | None,
           now: datetime) -> None:
    """Store the day's reservation and publish it to the kiosks."""
    key = {"pupil_id": pupil_id, "service_date": day.isoformat()}
    if kind is None:
        conn.execute(_CANCEL, key)
        record_change(conn, ChangeType.RESERVATION, f"{pupil_id}/{day.isoformat()}", None, now,
                      school=school_of(conn, pupil_id))
        return
    values = {"kind": str(kind), "updated_at": to_text(now)}
    if before is None:
        conn.execute(_BOOK, {**key, **values})
    else:
        conn.execute(_REBOOK, {"the_pupil": pupil_id, "the_day": day.isoformat(), **values})
    record_change(conn, ChangeType.RESERVATION, f"{pupil_id}/{day.isoformat()}", {**key, "kind": str(kind)},
                  now, school=school_of(conn, pupil_id))


def confirmation(done: ReservationChange, language: str, portal_url: str, canteen: dict) -> Mail:
    """The e-mail confirming a change, in the family's language."""
    return compose("reservation_cancelled" if done.after is None else "reservation_confirmed", language, done=done,
                   portal_url=portal_url, canteen=canteen)
