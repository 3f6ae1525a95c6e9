"""Time rules: instants are stored in UTC, service days and hours are decided in Europe/Zurich."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .messages import N_, RefectoryError

SCHOOL_TZ = ZoneInfo("Europe/Zurich")


class TimeInputError(RefectoryError):
    code = "invalid_time"


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
    return require_utc(datetime.fromisoformat(text))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Zurich calendar day starts and the next one starts."""
    start = datetime.combine(day, time(0), SCHOOL_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), SCHOOL_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


def local(moment: datetime) -> datetime:
    return require_utc(moment).astimezone(SCHOOL_TZ)


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
    return moment.astimezone(UTC)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise TimeInputError(N_("'{text}' is not a date: use YYYY-MM-DD."), text=text) from None
