"""Server databases for the tests: each test gets its own, copied from a template made once per test
session (per xdist worker) and per kind of database.

Migrating a database and hashing the test school's passwords (argon2) is most of what a server
test used to cost before its first request; copying the result is a file copy on SQLite and
`CREATE DATABASE ... TEMPLATE` on PostgreSQL. Two templates per kind: `migrated` (the schema,
nothing in it) and `school` (`tests.live_server.seed_school`, portal logins for families F01 and
F02, and manager `sandra`), each made on first use.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sync_server import families, managers
from sync_server.db import make_engine, upgrade, writing
from sync_server.families import Letter

from .conftest import MONDAY_NOON
from .live_server import seed_school
from .pg_cluster import ThrowawayPostgres

DATABASES = ("sqlite", "postgresql")
FAMILIES_WITH_LOGINS = ("F01", "F02")
MANAGER = ("sandra", "Sandra Morel")


@dataclass(frozen=True)
class ServerDatabase:
    """A test's own server database, and the secrets its template was given."""

    url: str
    letters: dict[str, Letter] = field(default_factory=dict)  # by family id
    manager_password: str | None = None
    name: str | None = None  # on PostgreSQL, to drop it


@dataclass(frozen=True)
class _Template:
    location: str  # the SQLite file, or the PostgreSQL database name
    database: ServerDatabase


class ServerTemplates:
    """The templates of one test session, SQLite files in `folder` and databases on its cluster."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[tuple[str, str], _Template] = {}

    def copy(self, kind: str, folder: Path, *, seeded: bool = True,
             postgres: ThrowawayPostgres | None = None) -> ServerDatabase:
        """A new database for one test, in `folder` on SQLite, on the `postgres` cluster otherwise."""
        template = self._template(kind, "school" if seeded else "migrated", postgres)
        secrets = {"letters": dict(template.database.letters), "manager_password": template.database.manager_password}
        if kind == "sqlite":
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "server.db"
            shutil.copyfile(template.location, path)
            return ServerDatabase(f"sqlite:///{path}", **secrets)
        name = f"t_{uuid.uuid4().hex[:12]}"
        return ServerDatabase(postgres.create_database(name, template=template.location), **secrets, name=name)

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
                url = f"sqlite:///{self.folder / 'migrated.db'}"
                location = str(self.folder / "migrated.db")
            else:
                location = "template_migrated"
                url = postgres.create_database(location)
            upgrade(url)
            return _Template(location, ServerDatabase(url))
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
                letters = {family_id: families.issue_login(conn, family_id, MONDAY_NOON)
                           for family_id in FAMILIES_WITH_LOGINS}
                password = managers.set_manager(conn, *MANAGER, MONDAY_NOON)
        finally:
            engine.dispose()  # a template is copied only when nobody is connected to it
        return _Template(location, ServerDatabase(url, letters, password))

    def drop(self, database: ServerDatabase, postgres: ThrowawayPostgres | None) -> None:
        """Free what a test's database holds once the test is over (a SQLite file goes with its folder)."""
        if database.name is not None:
            postgres.drop_database(database.name)
