"""Time rules: instants are stored in UTC, service days and hours are decided in Europe/Zurich."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .messages import N_, RefectoryError

SCHOOL_TZ = ZoneInfo("Europe/Zurich")
# The instants this system can mean: a timestamp outside them is a wrong clock or a forged message,
# and far enough out (year 1 or 9999 with an offset) it cannot even be converted to UTC.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
END = datetime(2100, 1, 1, tzinfo=UTC)


class TimeInputError(RefectoryError):
    code = "invalid_time"


class ClockOutOfRange(RefectoryError):
    """A device whose clock reads outside the instants this system can mean (a lost date after a
    power cut, a forgotten setting) must not record: the server would refuse every such entry."""

    code = "clock_out_of_range"


def recordable(moment: datetime) -> datetime:
    """`moment` as UTC if an entry may carry it; otherwise ClockOutOfRange, saying what the clock reads."""
    utc = _in_window(moment)
    if utc is None:
        raise ClockOutOfRange(N_("The kiosk's clock reads {moment}: set the date and time, then try again."),
                              moment=moment.strftime("%d.%m.%Y %H:%M"))
    return utc


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:  # the common case, and the cheap one
        return moment
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: instants must carry a time zone")
    return moment.astimezone(UTC)


def to_text(moment: datetime) -> str:
    """Fixed-width UTC text (always with microseconds), so stored instants sort as text."""
    return require_utc(moment).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    """An ISO 8601 instant with its offset, as UTC; ValueError for one outside 2000-2099 (UTC)."""
    return _within_window(datetime.fromisoformat(text), text)


def _within_window(moment: datetime, text: str) -> datetime:
    utc = _in_window(moment)
    if utc is None:
        raise ValueError(f"instant {text[:40]!r} is outside {EARLIEST.year}-{END.year - 1} (UTC)")
    return utc


def _in_window(moment: datetime) -> datetime | None:
    """`moment` as UTC when it falls within EARLIEST..END, else None."""
    try:
        utc = require_utc(moment)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is in year 0 in UTC
        return None
    return utc if EARLIEST <= utc < END else None


@lru_cache(maxsize=64)
def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Zurich calendar day starts and the next one starts (kept for the
    last days asked: a pushed batch checks each meal's day against its instant)."""
    start = datetime.combine(day, time(0), SCHOOL_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), SCHOOL_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


def local(moment: datetime) -> datetime:
    """`moment` on Zurich's wall clock. A tap asks this of its one instant several times (its day,
    its service hours, its entry's check), so the last answer is kept for the same object."""
    global _last_local
    last = _last_local
    if last[0] is moment:
        return last[1]
    wall = require_utc(moment).astimezone(SCHOOL_TZ)
    _last_local = (moment, wall)
    return wall


_last_local: tuple[datetime | None, datetime | None] = (None, None)


def service_date(moment: datetime) -> date:
    """The school day an instant belongs to (Zurich calendar date)."""
    return local(moment).date()


def parse_instant(text: str) -> datetime:
    """ISO 8601 from an operator; without an offset it means Zurich wall-clock time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeInputError(
            N_("'{text}' is not a date and time: use ISO 8601, e.g. 2026-11-30T12:05."), text=text
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SCHOOL_TZ)
    try:
        return _within_window(moment, text)
    except ValueError:
        raise TimeInputError(N_("'{text}' is too far in the past or the future: give a date from {first} to {last}."),
                             text=text, first=EARLIEST.year, last=END.year - 1) from None


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise TimeInputError(N_("'{text}' is not a date: use YYYY-MM-DD."), text=text) from None


def within_window(day: date) -> bool:
    """Whether `day` falls in the years an instant may take (a day of year 1 or 9999 has no Zurich
    bounds to compute)."""
    return EARLIEST.date() <= day < END.date()


def parse_day_within_window(text: str) -> date:
    """`parse_day`, refusing a day outside `within_window`."""
    day = parse_day(text)
    if not within_window(day):
        raise TimeInputError(N_("'{text}' is too far in the past or the future: give a date from {first} to {last}."),
                             text=text, first=EARLIEST.year, last=END.year - 1)
    return day
