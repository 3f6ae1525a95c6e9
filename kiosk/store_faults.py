"""What a failing kiosk database means to the people at the counter.

SQLite reports a full disk, a failing disk, a read-only or a damaged file through the same few
exception classes. Each of these faults of the machine becomes a `DatabaseFault`: a stable code
(`--json`), a message the cashier and the screen can act on, and a precise line in the log (the
file, SQLite's error name and its words). A bug (a broken constraint, bad SQL) is no fault of the
machine and is left as it is. A write that fails is rolled back whole (`Store.transaction`).
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from domain.messages import N_, RefectoryError

log = logging.getLogger(__name__)

DISK_FULL = N_("The kiosk's disk is full: nothing was recorded. Free some space, then try again.")
DISK_ERROR = N_("The kiosk's disk could not be read or written: the operation may not be recorded."
                " Check the day's operations before trying again.")
READ_ONLY = N_("The kiosk database {path} cannot be written (read-only file or folder): nothing was recorded.")
DAMAGED = N_("The kiosk database {path} is damaged: restore the last backup.")
EMPTY = N_("The kiosk database {path} is empty (0 bytes): it is damaged, not new. Restore the last backup"
           " (if this kiosk never served, 'refectory kiosk init' was interrupted: delete the file and run it again).")
BUSY = N_("The kiosk database is busy in another program: nothing was recorded. Try again.")


class DatabaseFault(RefectoryError):
    code = "database_error"


class DiskFullError(DatabaseFault):
    code = "disk_full"


class DiskError(DatabaseFault):
    code = "disk_error"


class ReadOnlyDatabaseError(DatabaseFault):
    code = "database_read_only"


class DamagedDatabaseError(DatabaseFault):
    code = "database_damaged"


class DatabaseBusyError(DatabaseFault):
    code = "database_busy"


_BY_SQLITE_CODE: dict[int, tuple[type[DatabaseFault], str]] = {
    sqlite3.SQLITE_FULL: (DiskFullError, DISK_FULL),
    sqlite3.SQLITE_IOERR: (DiskError, DISK_ERROR),
    sqlite3.SQLITE_READONLY: (ReadOnlyDatabaseError, READ_ONLY),
    sqlite3.SQLITE_CANTOPEN: (ReadOnlyDatabaseError, READ_ONLY),
    sqlite3.SQLITE_PERM: (ReadOnlyDatabaseError, READ_ONLY),
    sqlite3.SQLITE_CORRUPT: (DamagedDatabaseError, DAMAGED),
    sqlite3.SQLITE_NOTADB: (DamagedDatabaseError, DAMAGED),
    sqlite3.SQLITE_BUSY: (DatabaseBusyError, BUSY),
    sqlite3.SQLITE_LOCKED: (DatabaseBusyError, BUSY),
}
_BY_EXTENDED_CODE: dict[int, tuple[type[DatabaseFault], str]] = {
    sqlite3.SQLITE_IOERR_SHMSIZE: (DiskFullError, DISK_FULL),  # no room to open the WAL index
}
_BY_ERRNO: dict[int, tuple[type[DatabaseFault], str]] = {
    errno.ENOSPC: (DiskFullError, DISK_FULL),
    errno.EDQUOT: (DiskFullError, DISK_FULL),
    errno.EROFS: (ReadOnlyDatabaseError, READ_ONLY),
    errno.EACCES: (ReadOnlyDatabaseError, READ_ONLY),
    errno.EPERM: (ReadOnlyDatabaseError, READ_ONLY),
}


def fault_from(error: BaseException, path: Path) -> DatabaseFault | None:
    """The fault behind an error of the database at `path`, logged; None when it is none (a bug)."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        found = None if code is None else _BY_EXTENDED_CODE.get(code) or _BY_SQLITE_CODE.get(code & 0xFF)
        cause = f"{getattr(error, 'sqlite_errorname', 'SQLITE_ERROR')}: {error}"
    elif isinstance(error, OSError):
        found = _BY_ERRNO.get(error.errno, (DiskError, DISK_ERROR))
        cause = f"{errno.errorcode.get(error.errno or 0, 'OSError')}: {error.strerror or error}"
    else:
        return None
    if found is None:
        return None
    kind, template = found
    log.error("Kiosk database %s: %s (%s)", path, kind.code.replace("_", " "), cause)
    return kind(template, path=path)


def raise_fault(error: BaseException, path: Path) -> None:
    """Raise SQLite's report of a fault of the machine as its `DatabaseFault`; return otherwise."""
    if isinstance(error, sqlite3.Error):
        fault = fault_from(error, path)
        if fault is not None:
            raise fault from error


@contextmanager
def database_faults(path: Path) -> Iterator[None]:
    """Within: SQLite's report of a fault of the machine is raised as its `DatabaseFault`."""
    try:
        yield
    except sqlite3.Error as error:
        raise_fault(error, path)
        raise


def empty_database(path: Path) -> DamagedDatabaseError:
    """A 0-byte database file is what is left of a lost one, never a new database."""
    log.error("Kiosk database %s: damaged (the file is empty, 0 bytes); refused", path)
    return DamagedDatabaseError(EMPTY, path=path)
