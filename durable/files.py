"""Files written so that a power cut or a crash leaves either the old state or the new one whole:
a consistent copy of a live SQLite database, its integrity check, the rename that publishes a
finished file, and the rotation of a backup folder. The kiosk and the server back up the same way
through here (standard library and the domain only, so both may import it and neither the other).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from domain.backups import BackupError, taken_at, to_delete
from domain.messages import N_

_SQLITE_SIDE_FILES = ("-wal", "-shm")  # SQLite's files beside a database in WAL mode, which belong to it


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
