"""Backing up the kiosk's ledger while it serves, and restoring it on the same or a new device.

A backup is `kiosk-<kiosk id>-<UTC stamp>.db`, a consistent copy made with SQLite's online backup
while taps go on (see `domain.backups.copy_sqlite`), checked with `PRAGMA integrity_check` before it
gets its name; beside it its SHA-256 (`.sha256`: the integrity check cannot see a flipped byte in
a page's unused space, or in a pupil's name), and `kiosk.toml` (`.toml`: small, and needed to rebuild
a device). Nothing half-written ever carries a backup's name: the copy is made
under `<name>.partial` and renamed once it is whole, checked and on disk.

A restore checks the file first (sound, a kiosk database with its id, a schema this software
knows), never overwrites a kiosk database unless forced, and then keeps the replaced one beside
the new one (`kiosk.replaced-<UTC stamp>.db`), never deletes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from domain.backups import (
    KEEP_DAILY,
    KEEP_WEEKLY,
    PARTIAL,
    BackupDamagedError,
    BackupError,
    LiveDatabaseError,
    backup_name,
)
from domain.messages import N_
from durable.files import copy_sqlite, integrity_problems, one_at_a_time, publish, replace_database, rotate

from . import schema
from .store import DB_NAME, Store

DATABASE_SUFFIX = ".db"
CONFIG_SUFFIX = ".toml"
CHECKSUM_SUFFIX = ".sha256"  # `sha256sum -c` reads it too

@dataclass(frozen=True)
class BackupReport:
    path: Path
    config_path: Path | None
    size_bytes: int
    entries: int
    seconds: float
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"file": str(self.path), "config": str(self.config_path) if self.config_path else None,
                "size_bytes": self.size_bytes, "entries": self.entries, "seconds": round(self.seconds, 3),
                "deleted": self.deleted}


@dataclass(frozen=True)
class RestoreReport:
    kiosk_id: str
    entries: int
    replaced: Path | None  # where the database that was there before now is
    from_version: int

    def to_dict(self) -> dict:
        return {"kiosk_id": self.kiosk_id, "entries": self.entries,
                "replaced": str(self.replaced) if self.replaced else None, "schema_version": self.from_version}


def default_backup_dir(data_dir: Path) -> Path:
    """Beside the data folder: /var/lib/refectory/kiosk backs up into /var/lib/refectory/backups/kiosk."""
    return Path(data_dir).resolve().parent / "backups" / "kiosk"


def back_up(data_dir: Path, to_dir: Path, now: datetime, *, config_file: Path | None,
            keep_daily: int = KEEP_DAILY, keep_weekly: int = KEEP_WEEKLY) -> BackupReport:
    """Copy the kiosk database (and `config_file`, if there is one) into `to_dir`, then rotate the
    backups there; the one just made is never deleted."""
    started = time.monotonic()
    source = Path(data_dir) / DB_NAME
    if not source.is_file():
        raise BackupError(N_("No kiosk database in {dir}: nothing to back up."), dir=data_dir)
    to_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    with one_at_a_time(to_dir):
        partial = to_dir / f".backup{DATABASE_SUFFIX}{PARTIAL}"
        partial.unlink(missing_ok=True)  # a copy a crash left unfinished
        try:
            _copy(source, partial)
            kiosk_id, entries, _version = _check(partial, shown=source)
            prefix = f"kiosk-{kiosk_id}"
            final = to_dir / backup_name(prefix, now, DATABASE_SUFFIX)
            if final.exists():
                raise BackupError(N_("A backup named {name} already exists: nothing was replaced."), name=final.name)
            digest = _sha256(partial)
            os.chmod(partial, 0o640)
            publish(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        _publish_bytes(final.with_suffix(CHECKSUM_SUFFIX), f"{digest}  {final.name}\n".encode())
        config_path = None
        if config_file is not None and config_file.is_file():
            config_path = final.with_suffix(CONFIG_SUFFIX)
            _publish_bytes(config_path, config_file.read_bytes())
        deleted = rotate(to_dir, prefix, DATABASE_SUFFIX, keep_daily=keep_daily, keep_weekly=keep_weekly,
                         just_made=final.name, companions=(CHECKSUM_SUFFIX, CONFIG_SUFFIX))
    return BackupReport(final, config_path, final.stat().st_size, entries, time.monotonic() - started, deleted)


def restore(backup_file: Path, data_dir: Path, now: datetime, *, force: bool = False) -> RestoreReport:
    """Put the backup in place of the kiosk database of `data_dir`, then bring it to this software's
    schema. A damaged backup, or a kiosk database already there without `force`, changes nothing."""
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupError(N_("No backup file {file}."), file=backup_file)
    digest = _sha256(backup_file)
    checksum = backup_file.with_suffix(CHECKSUM_SUFFIX)
    if checksum.is_file() and checksum.read_text(encoding="ascii", errors="replace").split()[:1] != [digest]:
        raise BackupDamagedError(N_("{file} is damaged ({problem}): nothing was changed."), file=backup_file,
                                 problem=f"SHA-256 {digest} differs from {checksum.name}")
    kiosk_id, entries, version = _check(backup_file)
    data_dir = Path(data_dir)
    live = data_dir / DB_NAME
    if live.exists() and not force:
        raise LiveDatabaseError(
            N_("{file} already holds a kiosk database: stop the kiosk, then restore with --force (the"
               " current database is kept beside it)."), file=live)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    partial = data_dir / f"{DB_NAME}{PARTIAL}"
    try:
        shutil.copyfile(backup_file, partial)
        if _sha256(partial) != digest:  # the copy itself, read back
            raise BackupError(N_("The backup could not be copied whole into {dir}: nothing was changed."), dir=data_dir)
        os.chmod(partial, 0o640)
        replaced = replace_database(partial, live, live.with_name(backup_name("kiosk.replaced", now, DATABASE_SUFFIX)))
    finally:
        partial.unlink(missing_ok=True)
    Store.open(data_dir).close()  # migrations, from the backup's schema to this software's
    return RestoreReport(kiosk_id, entries, replaced, version)


# -- parts --------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _publish_bytes(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}{PARTIAL}")
    try:
        partial.write_bytes(data)
        os.chmod(partial, 0o640)
        publish(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _copy(source: Path, partial: Path) -> None:
    try:
        copy_sqlite(source, partial)
    except sqlite3.Error as error:
        raise BackupError(N_("The kiosk database {file} could not be copied: {error}. Nothing was backed up."),
                          file=source, error=error) from error


def _check(path: Path, *, shown: Path | None = None) -> tuple[str, int, int]:
    """The kiosk id, entry count and schema version of the sound kiosk database at `path` (named
    `shown` in messages); else BackupDamagedError."""
    shown = shown or path
    problems = integrity_problems(path)
    if problems:
        raise BackupDamagedError(
            N_("{file} is damaged ({problem}): nothing was changed."),
            file=shown, problem=problems[0])
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            kiosk = conn.execute("SELECT kiosk_id FROM kiosk").fetchone()
            entries = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    except sqlite3.Error:
        kiosk = None
    if kiosk is None:
        raise BackupDamagedError(N_("{file} is not a kiosk database with a kiosk id: nothing was changed."), file=shown)
    if version > schema.LATEST:
        raise BackupError(
            N_("{file} comes from a newer version of Refectory (schema {version}, this one knows up to"
               " {latest}): upgrade this device first. Nothing was changed."),
            file=shown, version=version, latest=schema.LATEST)
    return kiosk[0], entries, version
