"""The reservation agenda's rules: which days are served, and until when a meal can be changed.

Deadlines are decided on the Zurich wall clock and returned as UTC instants. A normal meal is
booked or cancelled until the cut-off (08:15 by default) of the day itself; anything that touches
a special meal (booked, cancelled, or switched to or from normal), which the kitchen prepares
apart, closes at the cut-off `special_days_ahead` calendar days before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .clock import SCHOOL_TZ, local, require_utc
from .meals import ReservationKind
from .messages import N_, Message, RefectoryError
from .settings import Settings

SCHOOL_WEEK = 5  # the agenda shows Monday to Friday
MAX_DAYS_AHEAD = 366  # reservations open for the coming year


class ReservationRuleError(RefectoryError):
    code = "reservation_refused"


class DeadlinePassedError(ReservationRuleError):
    code = "deadline_passed"


class NoServiceError(ReservationRuleError):
    """A weekday outside the canteen's service days."""
    code = "no_service"


class ClosedDayError(ReservationRuleError):
    """A day the manager closed (a holiday, a school trip)."""
    code = "day_closed"


# A date in a sentence, by weekday: French writes the weekday in lower case there ("le lundi 7
# décembre"), where a label alone takes a capital ("Lundi").
DATES_BY_WEEKDAY = (N_("Monday {day} {month}"), N_("Tuesday {day} {month}"), N_("Wednesday {day} {month}"),
                    N_("Thursday {day} {month}"), N_("Friday {day} {month}"), N_("Saturday {day} {month}"),
                    N_("Sunday {day} {month}"))
# The first of a month, which French writes as an ordinal ("le mardi 1er décembre").
FIRSTS_BY_WEEKDAY = (N_("Monday 1 {month}"), N_("Tuesday 1 {month}"), N_("Wednesday 1 {month}"),
                     N_("Thursday 1 {month}"), N_("Friday 1 {month}"), N_("Saturday 1 {month}"),
                     N_("Sunday 1 {month}"))
MONTH_NAMES = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
               N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))
WEEKDAYS_PLURAL = (N_("Mondays"), N_("Tuesdays"), N_("Wednesdays"), N_("Thursdays"), N_("Fridays"))


def day_in_words(day: date, *, year: bool = False) -> Message:
    """A date as people say it ("Friday 4 December"; with `year`, "Friday 4 December 2026", for a
    day that may lie in another year), in whatever language the message is rendered: refusals are
    read by families, who should not decode an ISO date."""
    month = Message(MONTH_NAMES[day.month - 1])
    words = Message(FIRSTS_BY_WEEKDAY[day.weekday()], {"month": month}) if day.day == 1 else \
        Message(DATES_BY_WEEKDAY[day.weekday()], {"day": str(day.day), "month": month})
    return Message(N_("{date} {year}"), {"date": words, "year": str(day.year)}) if year else words


@dataclass(frozen=True, slots=True)
class AgendaDay:
    day: date
    served: bool  # a service weekday and not a closed day
    closed_reason: str | None  # the manager's reason for a closed day (a holiday, a school trip)
    reservation: ReservationKind | None
    normal_deadline: datetime
    special_deadline: datetime


def week_of(day: date) -> list[date]:
    """Monday to Friday of the week holding `day`."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(SCHOOL_WEEK)]


def first_week_shown(today: date) -> date:
    """The week a family sees first: this one, or from Saturday on the coming one."""
    return today + timedelta(days=7 - today.weekday()) if today.weekday() >= SCHOOL_WEEK else today


def deadline(day: date, special: bool, settings: Settings) -> datetime:
    """The last instant (UTC) at which a meal of `day` can still be changed."""
    days_before = settings.special_days_ahead if special else 0
    wall_clock = datetime.combine(day - timedelta(days=days_before), settings.reservation_cutoff, SCHOOL_TZ)
    return wall_clock.astimezone(UTC)


def agenda_day(day: date, settings: Settings, closed: Mapping[date, str],
               reservation: ReservationKind | None) -> AgendaDay:
    """Any day as the agenda shows it, a weekend day too (not served): a change asked for one is
    then refused by the rules, not lost looking for the day in its Monday-to-Friday week."""
    return AgendaDay(day, day.weekday() in settings.service_weekdays and day not in closed, closed.get(day),
                     reservation, deadline(day, False, settings), deadline(day, True, settings))


def agenda_week(day: date, settings: Settings, closed: Mapping[date, str],
                reservations: Mapping[date, ReservationKind]) -> list[AgendaDay]:
    return [agenda_day(d, settings, closed, reservations.get(d)) for d in week_of(day)]


def check_change(day: date, old: ReservationKind | None, new: ReservationKind | None, now: datetime,
                 settings: Settings, closed: Mapping[date, str]) -> None:
    """Refuse a reservation change for `day` that the rules do not allow, saying which rule."""
    if (day - local(now).date()).days > MAX_DAYS_AHEAD:
        raise ReservationRuleError(N_("Reservations open at most {days} days ahead."), days=MAX_DAYS_AHEAD)
    if day.weekday() not in settings.service_weekdays:
        raise NoServiceError(N_("There is no meal service on {day}."), day=day_in_words(day))
    if day in closed:
        raise ClosedDayError(N_("The canteen is closed on {day} ({reason})."), day=day_in_words(day),
                             reason=closed[day])
    special = ReservationKind.SPECIAL in (old, new)
    limit = deadline(day, special, settings)
    if require_utc(now) > limit:
        local_limit = limit.astimezone(SCHOOL_TZ)
        template = (N_("Special meals can be changed until {time} on {deadline_day}, {days} days before; that"
                       " deadline has passed.") if special else
                    N_("Meals can be booked or cancelled until {time} on the day itself; that deadline has passed."))
        raise DeadlinePassedError(template, time=local_limit.strftime("%H:%M"),
                                  deadline_day=day_in_words(local_limit.date()), days=settings.special_days_ahead)


def changeable(entry: AgendaDay, new: ReservationKind | None, now: datetime) -> bool:
    """Whether the agenda may still offer to change `entry`'s day to `new` (None: cancel). The same
    deadlines as `check_change`, read from the day the agenda already holds, so that a button
    whose answer would be a refusal is not shown at all."""
    if not entry.served or entry.reservation == new or (entry.day - local(now).date()).days > MAX_DAYS_AHEAD:
        return False
    special = ReservationKind.SPECIAL in (entry.reservation, new)
    return require_utc(now) <= (entry.special_deadline if special else entry.normal_deadline)


def weekdays_in_words(weekdays: Iterable[int]) -> Message:
    """"Mondays, Tuesdays and Thursdays": the weekdays of a standing order, as a sentence says them."""
    names = [Message(WEEKDAYS_PLURAL[n]) for n in sorted(weekdays)]
    listed = names[0]
    for name in names[1:-1]:
        listed = Message(N_("{first}, {next}"), {"first": listed, "next": name})
    return Message(N_("{first} and {last}"), {"first": listed, "last": names[-1]}) if len(names) > 1 else listed


def term_end(today: date, settings: Settings, closed: Mapping[date, str]) -> date | None:
    """The last service day before the next holidays, where a standing order "until the end of
    term" stops: holidays are the first school week whose service days are all closed. None when
    the coming year has none."""
    this_monday = today - timedelta(days=today.weekday())
    for monday in sorted({day - timedelta(days=day.weekday()) for day in closed if day >= this_monday}):
        week = week_of(monday)
        served = [day for day in week if day.weekday() in settings.service_weekdays]
        if served and all(day in closed for day in served):
            day = week[0] - timedelta(days=1)
            while day >= today:
                if day.weekday() in settings.service_weekdays and day not in closed:
                    return day
                day -= timedelta(days=1)
            return None
    return None
