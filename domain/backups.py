"""Backup file names and their rotation, the same for the kiosk and the server.

A backup's name says whose it is and when it was taken, in UTC to the second
(`kiosk-K1-20261130T110000Z.db`), so the folder sorts by time and the rotation needs nothing but
the names. The rotation keeps, like restic's `--keep-daily`/`--keep-weekly`, the newest backup of
each of the N most recent days that have one and of each of the M most recent ISO weeks that have
one: a device that was off for a month keeps its last backups instead of losing them all to the
calendar. Days and weeks are UTC ones, the days the names show.

The kiosk's and the server's backups are written, checked, put in place and rotated the same way
(the functions under "files"): standard library only, so both sides share them without importing
each other.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from .messages import N_, RefectoryError

KEEP_DAILY = 14
KEEP_WEEKLY = 8
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_PATTERN = r"(\d{8}T\d{6}Z)"
PARTIAL = ".partial"
_SQLITE_SIDE_FILES = ("-wal", "-shm")  # SQLite's files beside a database in WAL mode, which belong to it


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


# -- files ------------------------------------------------------------------------------------

def copy_sqlite(source: Path, target: Path, *, busy_timeout_ms: int = 30_000) -> None:
    """A consistent copy of the SQLite database `source` into the new file `target`, while others
    keep writing to it: SQLite's online backup in one step, which reads one snapshot (WAL: writers
    are not blocked; a copy made in several steps would restart at each of their commits). The copy
    is one self-contained file (rollback journal, no -wal beside it)."""
    # mode=ro: a backup never creates or changes the source, even a missing one
    source_conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    target_conn = sqlite3.connect(target)
    try:
        source_conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        source_conn.backup(target_conn)
        target_conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        target_conn.close()
        source_conn.close()


def integrity_problems(path: Path) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong in the database file at `path` (empty: sound), read
    without writing anything beside it; a file that is no database at all is one problem too."""
    try:
        size = path.stat().st_size
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            page_count = conn.execute("PRAGMA page_count").fetchone()[0]
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except (sqlite3.DatabaseError, OSError) as error:
        return [str(error)]
    problems = [] if rows == ["ok"] else [line for row in rows for line in row.splitlines()
                                          if line and not line.startswith("***")]  # "*** in database main ***"
    if size != page_size * page_count or size == 0:  # cut short: the header counts pages the file lacks
        problems.append(f"file of {size} bytes, {page_count} pages of {page_size} bytes expected")
    return problems


def publish(partial: Path, final: Path) -> None:
    """Make the finished file `partial` durable under its name `final`: its bytes on disk first,
    then the rename, then the folder's entry, so a power cut leaves either no `final` or a whole one."""
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, final)
    sync_folder(final.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_database(partial: Path, target: Path, aside: Path) -> Path | None:
    """Put the finished SQLite file `partial` in place of `target`; a database that was there is
    renamed to `aside` with its -wal and -shm (returned), never deleted."""
    kept = None
    if target.exists():
        if aside.exists():
            raise BackupError(N_("{file} already exists: nothing was changed."), file=aside)
        for side in _SQLITE_SIDE_FILES:
            with suppress(FileNotFoundError):
                os.replace(target.with_name(target.name + side), aside.with_name(aside.name + side))
        os.replace(target, aside)
        kept = aside
    for side in _SQLITE_SIDE_FILES:  # left by a database that is gone, they would be applied to this one
        target.with_name(target.name + side).unlink(missing_ok=True)
    publish(partial, target)
    return kept


def rotate(folder: Path, prefix: str, suffix: str, *, keep_daily: int, keep_weekly: int, just_made: str,
           companions: tuple[str, ...] = ()) -> list[str]:
    """Delete the backups of `prefix` in `folder` that `to_delete` does not keep, each with its
    companion files (same name, `companions` suffixes instead of `suffix`); returns their names."""
    found = {path.name: when for path in folder.iterdir() if (when := taken_at(path.name, prefix, suffix)) is not None}
    deleted = to_delete(found, keep_daily=keep_daily, keep_weekly=keep_weekly, always_keep=[just_made])
    for name in deleted:
        (folder / name).unlink(missing_ok=True)
        for companion in companions:
            (folder / (name.removesuffix(suffix) + companion)).unlink(missing_ok=True)
    return deleted


@contextmanager
def one_at_a_time(folder: Path) -> Iterator[None]:
    """One backup into a folder at a time (the timer's and a person's), so neither removes the other's files."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(N_("Another backup into {dir} is running: try again when it is over."),
                              dir=folder) from None
        yield
    finally:
        os.close(fd)
