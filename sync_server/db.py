"""The server database: one SQLAlchemy engine per app, migrations, and the write transaction.

SQLite (the default, one file in the instance folder) runs in WAL with `synchronous=FULL`;
PostgreSQL when `DATABASE_URL` names one. Every write goes through `writing()`.

Kiosks follow the change feed (`sync/changes.py`) by one integer cursor, which is only safe if a
change below a position already handed out can never commit later. SQLite has one writer at a time
(`BEGIN IMMEDIATE` and a lock file), so its `changes.seq` order is commit order. PostgreSQL writers
run side by side: a change's position is made from its transaction's id, and a pull hands out only
the positions below the oldest transaction still writing (the snapshot's xmin), where nothing can
commit any more. So a long *write* transaction (one that holds an xid: it wrote a row, or locked one
FOR UPDATE) delays every pull until it ends, in any database of the cluster (xmin is the
cluster's); read-only transactions and pg_dump hold nothing back.
`idle_in_transaction_session_timeout` (60 s) ends a session left idle inside a transaction, so a
stuck writer cannot hold the feed forever.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Executable,
    Insert,
    Table,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MIGRATIONS = Path(__file__).parent / "migrations"
# A session left idle inside a transaction is ended after this long (it would hold the feed back).
IDLE_IN_TRANSACTION_TIMEOUT = "60s"


# PostgreSQL connections per process (a gunicorn worker); `make_engine` says why these.
POOL_SIZE = 8
MAX_OVERFLOW = 4
POOL_TIMEOUT_S = 5


def make_engine(url: str, *, pool_size: int = POOL_SIZE, max_overflow: int = MAX_OVERFLOW,
                pool_timeout_s: float = POOL_TIMEOUT_S) -> Engine:
    """The app's engine. SQLite keeps SQLAlchemy's pool as it is (one writer at a time anyway).

    PostgreSQL's pool is sized against its `max_connections` (100, 3 kept for superusers): each
    worker holds up to `pool_size + max_overflow` (12) plus the feed watcher's own connection, so
    2 app servers x 2 workers hold 52 and a third app server would bring 78, leaving room for the
    mail senders, a backup's pg_dump, `refectory server` commands and a benchmark's own. More would
    not serve more: a worker runs Python on one core at a time (the GIL) and keeps few queries in
    flight, and the database's cores are as few. A request that finds every connection busy waits
    for one, briefly (`pool_timeout_s`), then gets an honest 503 (`web/request_services.py`)
    instead of SQLAlchemy's 30 s wait and a 500."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Straight to the driver: every portal page opens a transaction, and sending the BEGIN
            # through SQLAlchemy's execution machinery costs many times the BEGIN itself.
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if conn.info.get("writing") else "BEGIN")

        if engine.url.database and engine.url.database != ":memory:":
            engine.refectory_writer = WriterLock(Path(engine.url.database + ".writer"))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow,
                         pool_timeout=pool_timeout_s, connect_args={
                             "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT}"})


class WriterLock:
    """One SQLite writer at a time across threads and processes (gunicorn's workers).

    SQLite's own busy handler waits by sleeping between tries, so two processes writing at once
    make the later one wait far longer than the write it waits for; a lock file wakes the next
    writer as soon as the previous one commits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # closing it releases the lock too
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: on SQLite the only writer until it commits; on PostgreSQL one of many,
    whose changes reach kiosks once it has ended (see the module docstring)."""
    writer = getattr(engine, "refectory_writer", None)
    with writer.held() if writer else nullcontext(), engine.connect() as conn:
        conn.info["writing"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("writing", None)


# Names `hold_name` locks, one space each (any constants; the feed's lock is a one-key lock, apart).
KIOSK_PUSH = 1  # a kiosk's pushes, one at a time
BADGE_UID = 2  # a badge UID being given to a pupil or a cashier
_HOLD_NAME = text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))")


def hold_name(conn: Connection, space: int, name: str) -> None:
    """Until the transaction ends, be the only writer holding `name` in `space` (PostgreSQL's
    advisory lock; on SQLite every writer is the only one already). For checks no constraint can
    make, such as a UID unique across two tables."""
    if conn.dialect.name == "postgresql":
        conn.execute(_HOLD_NAME, {"space": space, "name": name})


def insert_new(conn: Connection, table: Table) -> Insert:
    """`INSERT ... ON CONFLICT DO NOTHING` on either database: a row another writer made first is
    skipped, not an error (with RETURNING, only the rows really added come back)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing()


def sum_cents(amounts: ColumnElement[int]) -> ColumnElement[int]:
    """The sum of amounts in centimes (0 over no rows), which every database hands over as an int.

    Money sums go through here or `running_cents`, nowhere else. PostgreSQL sums a BIGINT into a
    NUMERIC, which its driver gives as a Decimal; the cast back to BIGINT happens in SQL, so the
    value is an int on every path, `fetch_all` (no SQLAlchemy type processing) included, and a sum
    past 64 bits fails in the database instead of reaching a page."""
    return cast(func.coalesce(func.sum(amounts), 0), BigInteger)


class _JsonTexts(FunctionElement):
    """The texts of a JSON array, as a table with one column `value`."""
    inherit_cache = True
    name = "json_texts"


@compiles(_JsonTexts, "sqlite")
def _json_texts_on_sqlite(element, compiler, **kw) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(_JsonTexts, "postgresql")
def _json_texts_on_postgresql(element, compiler, **kw) -> str:
    return f"json_array_elements_text(CAST({compiler.process(element.clauses, **kw)} AS JSON))"


def in_json_list(column: ColumnElement[str], name: str) -> ColumnElement[bool]:
    """`column IN` the texts of the parameter `name`, given as one JSON array (`json.dumps(ids)`).

    A statement built once with it serves every list (a push's hundreds of pupils, a family's
    children), where an expanding IN renders and binds one parameter per id on every call."""
    return column.in_(select(_JsonTexts(bindparam(name)).table_valued("value").c.value))


def running_cents(amounts: ColumnElement[int], *, order_by) -> ColumnElement[int]:
    """The running sum of amounts in centimes in `order_by` order (a balance after each entry), as
    an int on every database (see `sum_cents`)."""
    return cast(func.sum(amounts).over(order_by=order_by), BigInteger)


def fetch_all(conn: Connection, statement: Executable, params: Mapping[str, object] | None = None) -> list[tuple]:
    """A prebuilt SELECT run straight on the driver, its rows as plain tuples.

    For the few queries every portal page makes, where SQLAlchemy's execution path costs many times
    the query itself. Give it module-level statements (each is compiled once per
    dialect and kept) without expanding IN parameters. Values are the driver's, with no SQLAlchemy
    type processing: what must be an int is typed in SQL (`sum_cents`)."""
    sql, names, defaults = _driver_sql(statement, conn.dialect)
    values = {**defaults, **(params or {})}
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, [values[name] for name in names] if names is not None else values)
        return cursor.fetchall()
    finally:
        cursor.close()


_DRIVER_SQL: dict[tuple, tuple[str, tuple[str, ...] | None, dict]] = {}


def _driver_sql(statement: Executable, dialect) -> tuple[str, tuple[str, ...] | None, dict]:
    key = (statement, dialect.name)
    found = _DRIVER_SQL.get(key)
    if found is None:
        if len(_DRIVER_SQL) >= 256:  # module-level statements are a few dozen: something builds them per call
            _DRIVER_SQL.clear()
        compiled = statement.compile(dialect=dialect)
        positional = tuple(compiled.positiontup) if compiled.positional else None
        found = _DRIVER_SQL[key] = (compiled.string, positional, dict(compiled.params))
    return found


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database to the latest schema (idempotent)."""
    command.upgrade(alembic_config(url), "head")


@functools.cache
def head_revisions() -> tuple[str, ...]:
    """The revisions `upgrade` brings a database to (read from the migration files once)."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the database can serve: `problem` is None, `database_unreachable` (`detail` says
    why, for logs: it may name hosts and paths), `database_busy` (every pooled connection stayed
    taken for the pool's whole wait: the database answers, the server is overloaded) or
    `migrations_behind` (`current` is not `head`: an older schema, none at all, or one this code
    does not know)."""

    problem: str | None
    current: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    detail: str = ""


def readiness(engine: Engine) -> Readiness:
    """Ask the database whether it answers and is at the migrations' head. A SQLite file that does
    not exist is reported as a database without schema, and is not created."""
    head = head_revisions()
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not os.path.exists(database):
        return Readiness("migrations_behind", (), head, f"{database} does not exist")
    try:
        with engine.connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except PoolTimeout:
        return Readiness("database_busy", (), head, engine.pool.status())
    except (SQLAlchemyError, OSError) as error:
        return Readiness("database_unreachable", (), head, str(getattr(error, "orig", None) or error).strip())
    return Readiness(None if current == head else "migrations_behind", current, head)


# Ids in one `IN (...)` list: far below the bound-parameter limits of SQLite (32,766) and of
# PostgreSQL's protocol (65,535), whatever else the statement binds.
SQL_CHUNK = 500
_T = TypeVar("_T")


def chunked(items: Iterable[_T], size: int = SQL_CHUNK) -> Iterator[list[_T]]:
    part: list[_T] = []
    for item in items:
        part.append(item)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part
