"""Server databases for the tests: each test gets its own, holding exactly what a template holds,
made once per test session (per xdist worker) and per kind of database.

Migrating a database and hashing the test school's passwords (argon2) is most of what a server
test used to cost before its first request. Two templates per kind: `migrated` (the schema, as the
migrations leave it) and `school` (`tests.live_server.seed_school`, portal logins for families F01
and F02, and manager `sandra`), each made on first use. On SQLite a test's database is a copy of
the template's file. On PostgreSQL a copy (`CREATE DATABASE ... TEMPLATE`) costs a checkpoint and
some 8 MB of files, far more than the few rows a template holds, so the databases a test had go
back to a pool when it ends and the next test's is reset to its template: its sessions ended, every
table written since it was last emptied emptied again (TRUNCATE gives new files, so rows come back
in the order they are written, as in a fresh copy), the template's rows written back and its
sequences set where the template's are.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, MetaData, Table, create_engine, select, text
from sqlalchemy.pool import NullPool

from refectory.testing.pg_cluster import ThrowawayPostgres
from sync_server.admin import managers
from sync_server.db import make_engine, upgrade, writing
from sync_server.families import accounts
from sync_server.families.accounts import Letter

from .conftest import MONDAY_NOON
from .live_server import seed_school

DATABASES = ("sqlite", "postgresql")
FAMILIES_WITH_LOGINS = ("F01", "F02")
MANAGER = ("sandra", "Sandra Morel")
MIGRATIONS_TABLE = "alembic_version"  # the same in every copy: never emptied


@dataclass(frozen=True)
class ServerDatabase:
    """A test's own server database, and the secrets its template was given."""

    url: str
    letters: dict[str, Letter] = field(default_factory=dict)  # by family id
    manager_password: str | None = None
    name: str | None = None  # on PostgreSQL, to give it back to the pool


@dataclass(frozen=True)
class _Template:
    location: str  # the SQLite file, or the PostgreSQL database name
    database: ServerDatabase
    content: _Content | None = None  # on PostgreSQL, what a reset writes back


@dataclass(frozen=True)
class _Content:
    tables: MetaData  # reflected from the template, in the order rows can be written
    rows: dict[str, list[dict]]  # by table
    sequences: list[tuple[str, int | None]]  # (qualified name, last value or None if never used)


class ServerTemplates:
    """The templates of one test session, SQLite files in `folder` and databases on its cluster,
    and the PostgreSQL databases tests gave back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[tuple[str, str], _Template] = {}
        self._idle: list[str] = []
        self._resetting: dict[str, Connection] = {}  # an autocommit session in each pooled database

    def copy(self, kind: str, folder: Path, *, seeded: bool = True,
             postgres: ThrowawayPostgres | None = None) -> ServerDatabase:
        """A database for one test, as the template: in `folder` on SQLite, on the `postgres` cluster otherwise."""
        template = self._template(kind, "school" if seeded else "migrated", postgres)
        secrets = {"letters": dict(template.database.letters), "manager_password": template.database.manager_password}
        if kind == "sqlite":
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "server.db"
            shutil.copyfile(template.location, path)
            return ServerDatabase(f"sqlite:///{path}", **secrets)
        name = self._idle.pop() if self._idle else self._new_pooled(postgres)
        self._reset(name, template.content)
        return ServerDatabase(postgres.url(name), **secrets, name=name)

    def give_back(self, database: ServerDatabase) -> None:
        """The test is over: a PostgreSQL database returns to the pool (a SQLite file goes with its folder)."""
        if database.name is not None:
            self._idle.append(database.name)

    def close(self) -> None:
        for session in self._resetting.values():
            session.close()
        self._resetting.clear()

    # -- templates -----------------------------------------------------------------------------

    def _template(self, kind: str, content: str, postgres: ThrowawayPostgres | None) -> _Template:
        made = self._made.get((kind, content))
        if made is None:
            made = self._made[kind, content] = self._make(kind, content, postgres)
        return made

    def _make(self, kind: str, content: str, postgres: ThrowawayPostgres | None) -> _Template:
        if kind not in DATABASES:
            raise ValueError(f"no {kind!r} database: choose one of {', '.join(DATABASES)}")
        if content == "migrated":
            if kind == "sqlite":
                location = str(self.folder / "migrated.db")
                url = f"sqlite:///{location}"
            else:
                location = "template_migrated"
                url = postgres.create_database(location)
            upgrade(url)
            return _Template(location, ServerDatabase(url), _content(url) if kind == "postgresql" else None)
        migrated = self._template(kind, "migrated", postgres)
        if kind == "sqlite":
            location = str(self.folder / "school.db")
            shutil.copyfile(migrated.location, location)
            url = f"sqlite:///{location}"
        else:
            location = "template_school"
            url = postgres.create_database(location, template=migrated.location)
        engine = make_engine(url)
        try:
            with writing(engine) as conn:
                seed_school(conn, MONDAY_NOON)
                letters = {family_id: accounts.issue_login(conn, family_id, MONDAY_NOON)
                           for family_id in FAMILIES_WITH_LOGINS}
                password = managers.set_manager(conn, *MANAGER, MONDAY_NOON)
        finally:
            engine.dispose()  # a template is copied only when nobody is connected to it
        content = _content(url) if kind == "postgresql" else None
        return _Template(location, ServerDatabase(url, letters, password), content)

    # -- the PostgreSQL pool -------------------------------------------------------------------

    def _new_pooled(self, postgres: ThrowawayPostgres) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        url = postgres.create_database(name, template=self._template("postgresql", "migrated", postgres).location)
        self._resetting[name] = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool).connect()
        return name

    def _reset(self, name: str, content: _Content) -> None:
        session = self._resetting[name]
        with session.begin():
            # Whatever the last test left connected (a server thread, an engine never disposed) goes first.
            session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                 " WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            # Only the tables that were ever written since their last TRUNCATE (a file longer than
            # nothing): emptying all forty makes and removes forty-odd files, most of a reset's time.
            tables = [table for table in content.tables.sorted_tables if table.name != MIGRATIONS_TABLE]
            sizes = session.execute(text("SELECT " + ", ".join(
                f"pg_relation_size('{table.name}')" for table in tables))).one()
            written = _with_referencing({table for table, size in zip(tables, sizes, strict=True) if size > 0}, tables)
            if written:
                session.execute(text(f"TRUNCATE {', '.join(table.name for table in written)}"))
            for table in tables:
                if content.rows[table.name]:
                    session.execute(table.insert(), content.rows[table.name])
            for sequence, last_value in content.sequences:
                session.execute(text("SELECT setval(:sequence, :value, :called)"),
                                {"sequence": sequence, "value": last_value or 1, "called": last_value is not None})


def _with_referencing(chosen: set[Table], tables: list[Table]) -> list[Table]:
    """`chosen` and every table whose foreign keys lead to one of them (TRUNCATE empties a referenced
    table only with its referencing ones, empty or not), in `tables`' order."""
    while more := {table for table in tables if table not in chosen
                   and any(key.column.table in chosen for key in table.foreign_keys)}:
        chosen |= more
    return [table for table in tables if table in chosen]


def _content(url: str) -> _Content:
    """Every row and sequence of a template, read once, to write back into a pooled database."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = MetaData()
            tables.reflect(conn)
            rows = {table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
                    for table in tables.sorted_tables}
            sequences = [(f'"{schema}"."{name}"', last_value) for schema, name, last_value in conn.execute(
                text("SELECT schemaname, sequencename, last_value FROM pg_sequences"))]
    finally:
        engine.dispose()
    return _Content(tables, rows, sequences)
