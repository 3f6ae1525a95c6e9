"""The server's backup: one `server-<UTC stamp>.tar.gz` holding everything a new machine needs.

    manifest.json        what it holds: the database's kind, its migration, its entry count, when
    database.sqlite      SQLite: an online backup, checked with `PRAGMA integrity_check`
    database.pgdump      PostgreSQL: `pg_dump --format=custom` from one snapshot, checked with `pg_restore --list`
    instance/config.py, instance/secret_key, instance/documents/...   the instance files there are

One archive rather than a folder: it is written under `.partial`, read back whole, then renamed, so
a backup is there whole or not at all, and it is one file to copy off the machine. The settings in
`/etc/refectory/server.env` (passwords among them) are not in it: they are kept apart, as secrets.

A restore reads the whole archive (gzip's checksum catches a damaged byte) and checks the database
in it before anything changes. It refuses a database that holds data unless forced; forced, a
SQLite file is kept beside the new one, a PostgreSQL database is emptied and refilled in one
transaction. Instance files it replaces are kept as `<name>.replaced-<UTC stamp>`. Migrations run
after.

The restored database gets a new ledger generation (`sync_server.sync.generation`), written into
it before it is put in place, so no restored database ever serves under the generation the kiosks
knew: at their next sync they send again what the lost server had acknowledged after the backup.
The restore is recorded in the restored database's audit log.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL, create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool

from domain.backups import (
    KEEP_DAILY,
    KEEP_WEEKLY,
    PARTIAL,
    BackupDamagedError,
    BackupError,
    LiveDatabaseError,
    backup_name,
)
from domain.clock import to_text
from domain.messages import N_
from durable.files import copy_sqlite, integrity_problems, one_at_a_time, publish, replace_database, rotate, sync_folder
from sync_server.admin import audit
from sync_server.db import alembic_config, make_engine, upgrade, writing
from sync_server.sync import generation
from sync_server.sync.changes import REBASE_OFFSET

PREFIX = "server"
SUFFIX = ".tar.gz"
FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
INSTANCE_FILES = ("config.py", "secret_key", "documents")  # what a new machine needs from the instance folder
DATA_TABLES = ("pupils", "entries", "families", "managers")  # a database with rows in one of them is live


@dataclass(frozen=True)
class BackupReport:
    path: Path
    database: str
    size_bytes: int
    entries: int
    seconds: float
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"file": str(self.path), "database": self.database, "size_bytes": self.size_bytes,
                "entries": self.entries, "seconds": round(self.seconds, 3), "deleted": self.deleted}


@dataclass(frozen=True)
class RestoreReport:
    database: str
    entries: int
    revision: str
    taken_at: str
    replaced: list[str]  # what was kept aside (files), or "database emptied" on PostgreSQL
    generation: str  # the restored ledger's new generation (kiosks send everything again)

    def to_dict(self) -> dict:
        return {"database": self.database, "entries": self.entries, "revision": self.revision,
                "taken_at": self.taken_at, "replaced": self.replaced, "generation": self.generation}


def default_backup_dir(instance: Path) -> Path:
    """Beside the instance: /var/lib/refectory/server backs up into /var/lib/refectory/backups/server."""
    return Path(instance).resolve().parent / "backups" / "server"


def back_up(database_url: str, instance: Path, to_dir: Path, now: datetime, *,
            keep_daily: int = KEEP_DAILY, keep_weekly: int = KEEP_WEEKLY) -> BackupReport:
    """Write the archive into `to_dir` while the server keeps serving, then rotate the backups there."""
    started = time.monotonic()
    url = make_url(database_url)
    kind = url.get_backend_name()
    to_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    with one_at_a_time(to_dir), tempfile.TemporaryDirectory(dir=to_dir, prefix=".backup-") as staging:
        staged = Path(staging) / DATABASE_MEMBERS[kind]
        if kind == "sqlite":
            revision, entries = _copy_sqlite(url, staged)
        else:
            revision, entries = _dump_postgresql(url, staged)
        manifest = {"format": FORMAT, "database": kind, "revision": revision, "entries": entries,
                    "taken_at": to_text(now)}
        final = to_dir / backup_name(PREFIX, now, SUFFIX)
        if final.exists():
            raise BackupError(N_("A backup named {name} already exists: nothing was replaced."), name=final.name)
        partial = Path(staging) / f"archive{PARTIAL}"
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            member = tarfile.TarInfo(MANIFEST)
            member.size, member.mtime = len(data), int(now.timestamp())
            archive.addfile(member, io.BytesIO(data))
            archive.add(staged, DATABASE_MEMBERS[kind])
            for name in INSTANCE_FILES:
                if (instance / name).exists():
                    archive.add(instance / name, f"instance/{name}")
        _read_whole(partial)
        os.chmod(partial, 0o640)
        publish(partial, final)
        deleted = rotate(to_dir, PREFIX, SUFFIX, keep_daily=keep_daily, keep_weekly=keep_weekly, just_made=final.name)
    return BackupReport(final, kind, final.stat().st_size, entries, time.monotonic() - started, deleted)


def restore(archive: Path, database_url: str, instance: Path, now: datetime, *, actor: str,
            force: bool = False) -> RestoreReport:
    """Put the archive's database and instance files in place (see the module docstring); `actor`
    is who the audit log names."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(N_("No backup file {file}."), file=archive)
    url = make_url(database_url)
    kind = url.get_backend_name()
    instance = Path(instance).resolve()
    instance.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=instance.parent, prefix=".restore-") as staging:
        staging = Path(staging)
        manifest = _unpack(archive, staging)
        if manifest["database"] != kind:
            raise BackupError(
                N_("{file} holds a {found} database, and this server uses {kind}: nothing was changed."),
                file=archive, found=manifest["database"], kind=kind)
        _known_revision(database_url, manifest["revision"], archive)
        staged = staging / DATABASE_MEMBERS[kind]
        if kind == "sqlite":
            problems = integrity_problems(staged)
            if problems:
                raise BackupDamagedError(N_("{file} is damaged ({problem}): nothing was changed."),
                                               file=archive, problem=problems[0])
        else:
            _pg_tool(["pg_restore", "--list", str(staged)], archive)
        if _holds_data(database_url) and not force:
            raise LiveDatabaseError(
                N_("The server database already holds data: stop the server, then restore with --force"
                   " (a SQLite file is kept beside the new one; a PostgreSQL database is emptied first)."))
        renewed = generation.new_generation()
        if kind == "sqlite":
            _renew_sqlite_generation(staged, renewed)
            replaced = _put_sqlite(url, staged, now)
        else:
            replaced = _put_postgresql(url, staged, staging, archive, renewed)
        instance.mkdir(exist_ok=True, mode=0o750)
        for name in INSTANCE_FILES:
            if (staging / "instance" / name).exists():
                if (instance / name).exists():
                    aside = instance / backup_name(f"{name}.replaced", now, "")
                    os.replace(instance / name, aside)
                    replaced.append(str(aside))
                os.replace(staging / "instance" / name, instance / name)
        sync_folder(instance)
    upgrade(database_url)
    return RestoreReport(kind, manifest["entries"], manifest["revision"], manifest["taken_at"], replaced,
                         _record_restore(database_url, archive, manifest, actor, now))


# -- SQLite -------------------------------------------------------------------------------------

def _copy_sqlite(url: URL, staged: Path) -> tuple[str, int]:
    source = Path(url.database)
    if not source.is_file():
        raise BackupError(N_("No server database {file}: nothing to back up."), file=source)
    copy_sqlite(source, staged)
    problems = integrity_problems(staged)
    if problems:
        raise BackupDamagedError(N_("The copy of {file} is damaged ({problem}): nothing was backed up."),
                                       file=source, problem=problems[0])
    return _revision_and_entries(f"sqlite:///{staged}")


def _renew_sqlite_generation(staged: Path, renewed: str) -> None:
    """The new generation, in the checked copy before it replaces anything. A backup older than the
    generation has none: the migration that runs after the restore makes one, new as well."""
    engine = create_engine(f"sqlite:///{staged}", poolclass=NullPool)  # closed at the end: nothing left in a WAL
    try:
        with engine.begin() as conn:
            if inspect(conn).has_table("ledger_generation"):
                generation.replace(conn, renewed)
    finally:
        engine.dispose()


def _put_sqlite(url: URL, staged: Path, now: datetime) -> list[str]:
    target = Path(url.database)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL)
    try:
        shutil.copyfile(staged, partial)
        os.chmod(partial, 0o640)
        kept = replace_database(partial, target, target.with_name(
            backup_name(f"{target.stem}.replaced", now, target.suffix)))
    finally:
        partial.unlink(missing_ok=True)
    return [str(kept)] if kept else []


# -- PostgreSQL ---------------------------------------------------------------------------------

def _dump_postgresql(url: URL, staged: Path) -> tuple[str, int]:
    """`pg_dump` of one snapshot, the one the revision and the entry count are read in."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            entries = conn.execute(text("SELECT COUNT(*) FROM entries")).scalar_one()
            _pg_tool(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={staged}",
                      f"--dbname={_libpq(url)}"], None, url)
    finally:
        engine.dispose()
    _pg_tool(["pg_restore", "--list", str(staged)], None)
    return revision, entries


def _put_postgresql(url: URL, staged: Path, staging: Path, archive: Path, renewed: str) -> list[str]:
    """Empty the database, load the dump into it and give it its new generation (see
    `_renew_sqlite_generation`), in one transaction: all of it or nothing."""
    script = staging / "restore.sql"
    _pg_tool(["pg_restore", "--no-owner", "--no-privileges", f"--file={script}", str(staged)], archive)
    _pg_tool(["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
              "--command=DROP SCHEMA IF EXISTS public CASCADE", "--command=CREATE SCHEMA public",
              f"--file={script}",
              "--command=DO $$ BEGIN IF to_regclass('public.ledger_generation') IS NOT NULL THEN"
              f" UPDATE public.ledger_generation SET generation = '{renewed}'; END IF;"
              # The dump's feed positions came from another cluster's transaction ids: new ones above them.
              " IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
              " AND table_name = 'ledger_generation' AND column_name = 'feed_offset') THEN"
              " PERFORM set_config('search_path', 'public', true);"  # the dump's script emptied it
              f" EXECUTE '{REBASE_OFFSET}'; END IF; END $$",
              _libpq(url)], archive, url)
    return []


def _libpq(url: URL) -> str:
    """The URL as libpq takes it (no driver name; the password goes through the environment)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _pg_tool(command: list[str], archive: Path | None, url: URL | None = None) -> None:
    environment = {**os.environ, **({"PGPASSWORD": str(url.password)} if url is not None and url.password else {})}
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=3600)
    except FileNotFoundError:
        raise BackupError(N_("{tool} is not installed (Debian package postgresql-client)."),
                                tool=command[0]) from None
    if result.returncode != 0:
        problem = (result.stderr.strip().splitlines() or ["exit code " + str(result.returncode)])[-1]
        if archive is not None and command[:2] == ["pg_restore", "--list"]:
            raise BackupDamagedError(N_("{file} is damaged ({problem}): nothing was changed."),
                                           file=archive, problem=problem)
        raise BackupError(N_("{tool} failed: {problem}"), tool=command[0], problem=problem)


# -- both ---------------------------------------------------------------------------------------

def _revision_and_entries(database_url: str) -> tuple[str, int]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return (conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one(),
                    conn.execute(text("SELECT COUNT(*) FROM entries")).scalar_one())
    finally:
        engine.dispose()


def _record_restore(database_url: str, archive: Path, manifest: dict, actor: str, now: datetime) -> str:
    """Write the restore into the restored audit log; returns the generation it serves under."""
    engine = make_engine(database_url)
    try:
        with writing(engine) as conn:
            renewed = generation.current(conn)
            audit.record(conn, actor, "server.restore", archive.name, now,
                         f"backup of {manifest['taken_at']}, ledger generation {renewed}")
    finally:
        engine.dispose()
    return renewed


def _holds_data(database_url: str) -> bool:
    """Whether the database has rows that matter: a database that `server init` just made has none."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
        return False
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names()) & set(DATA_TABLES)
            return any(conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar_one() for table in tables)
    finally:
        engine.dispose()


def _known_revision(database_url: str, revision: str, archive: Path) -> None:
    try:
        known = ScriptDirectory.from_config(alembic_config(database_url)).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            N_("{file} comes from another version of Refectory (migration {revision} unknown here):"
               " upgrade this server first. Nothing was changed."), file=archive, revision=revision)


def _unpack(archive: Path, staging: Path) -> dict:
    """Every member of the archive into `staging`, once the whole archive is known sound, and the manifest."""
    try:
        _read_whole(archive)
        with tarfile.open(archive, "r:gz") as opened:
            opened.extractall(staging, filter="data")
        manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("database") not in DATABASE_MEMBERS:
            raise ValueError(manifest)
        if not (staging / DATABASE_MEMBERS[manifest["database"]]).is_file():
            raise ValueError("no database")
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, KeyError, AttributeError) as error:
        raise BackupDamagedError(N_("{file} is damaged or is no server backup ({problem}): nothing was changed."),
                                       file=archive, problem=str(error) or type(error).__name__) from error
    return manifest


def _read_whole(archive: Path) -> None:
    """Read the archive to its end, where gzip checks its checksum (tarfile stops at the last member)."""
    with gzip.open(archive) as stream:
        while stream.read(1 << 20):
            pass
