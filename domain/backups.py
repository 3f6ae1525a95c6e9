"""Backup file names and their rotation, the same for the kiosk and the server.

A backup's name says whose it is and when it was taken, in UTC to the second
(`kiosk-K1-20261130T110000Z.db`), so the folder sorts by time and the rotation needs nothing but
the names. The rotation keeps, like restic's `--keep-daily`/`--keep-weekly`, the newest backup of
each of the N most recent days that have one and of each of the M most recent ISO weeks that have
one: a device that was off for a month keeps its last backups instead of losing them all to the
calendar. Days and weeks are UTC ones, the days the names show.

Reading and writing the files is `durable.files`'s part; this module only decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from .messages import RefectoryError

KEEP_DAILY = 14
KEEP_WEEKLY = 8
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_PATTERN = r"(\d{8}T\d{6}Z)"
PARTIAL = ".partial"


class BackupError(RefectoryError):
    code = "backup_error"


class BackupDamagedError(BackupError):
    code = "backup_damaged"


class LiveDatabaseError(BackupError):
    """A restore would overwrite a database that is in use: it needs --force."""

    code = "live_database"


def backup_name(prefix: str, taken_at: datetime, suffix: str) -> str:
    """`{prefix}-{UTC stamp}{suffix}`, e.g. `kiosk-K1-20261130T110000Z.db`."""
    return f"{prefix}-{taken_at.astimezone(UTC).strftime(_STAMP)}{suffix}"


def taken_at(name: str, prefix: str, suffix: str) -> datetime | None:
    """When the backup named `name` was taken, or None if the name is not one of `prefix`'s backups."""
    match = re.fullmatch(re.escape(prefix) + "-" + _STAMP_PATTERN + re.escape(suffix), name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
    except ValueError:  # digits that are no date (20261399T...)
        return None


def to_delete(backups: Mapping[str, datetime], *, keep_daily: int = KEEP_DAILY, keep_weekly: int = KEEP_WEEKLY,
              always_keep: Iterable[str] = ()) -> list[str]:
    """The backups (names, oldest first) the rotation deletes: all but the newest of each of the
    `keep_daily` most recent days and of each of the `keep_weekly` most recent ISO weeks that have
    a backup, and but `always_keep` (the backup just made)."""
    if keep_daily < 0 or keep_weekly < 0:
        raise ValueError("keep counts cannot be negative")
    newest_first = sorted(backups, key=lambda name: (backups[name], name), reverse=True)
    kept = set(always_keep)
    for period, count in ((_day, keep_daily), (_week, keep_weekly)):
        seen: set[object] = set()
        for name in newest_first:
            key = period(backups[name])
            if key not in seen:
                if len(seen) == count:
                    break
                seen.add(key)
                kept.add(name)
    return [name for name in reversed(newest_first) if name not in kept]


def _day(moment: datetime) -> object:
    return moment.astimezone(UTC).date()


def _week(moment: datetime) -> object:
    return moment.astimezone(UTC).isocalendar()[:2]
