"""The throwaway PostgreSQL cluster the server tests run against (refectory/testing/pg_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, insert, select, text
from sqlalchemy.engine import Engine

from refectory.testing.pg_cluster import ThrowawayPostgres


@pytest.fixture(scope="module")
def pg() -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres() as cluster:
        yield cluster


def engine_for(url: str) -> Engine:
    return create_engine(url)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def test_a_started_cluster_round_trips_a_non_ascii_string_and_a_bigint_through_sqlalchemy_and_psycopg(pg):
    engine = engine_for(pg.url())
    metadata = MetaData()
    people = Table("people", metadata, Column("name", String(100)), Column("cents", BigInteger))
    big = 9_007_199_254_740_993  # 2**53 + 1: beyond a float, within BIGINT
    try:
        with engine.begin() as connection:
            assert connection.dialect.driver == "psycopg"
            metadata.create_all(connection)
            connection.execute(insert(people).values(name="Zoé Müller", cents=big))
        with engine.connect() as connection:
            assert connection.execute(select(people.c.name, people.c.cents)).one() == ("Zoé Müller", big)
            assert connection.execute(text("SELECT pg_column_size(name) FROM people")).scalar_one() == 1 + len(
                "Zoé Müller".encode())
            assert connection.execute(text("SHOW server_encoding")).scalar_one() == "UTF8"
    finally:
        engine.dispose()


def test_create_database_gives_two_isolated_databases(pg):
    first = engine_for(pg.create_database("first_db"))
    second = engine_for(pg.create_database("second_db"))
    try:
        assert first.url.database == "first_db" and second.url.database == "second_db"
        with first.begin() as connection:
            connection.execute(text("CREATE TABLE only_here (n integer)"))
            connection.execute(text("INSERT INTO only_here VALUES (1)"))
        with second.connect() as connection:
            assert connection.execute(text("SELECT current_database()")).scalar_one() == "second_db"
            assert connection.execute(text("SELECT to_regclass('only_here')")).scalar_one() is None
        with second.begin() as connection:  # the same name is free in the other database
            connection.execute(text("CREATE TABLE only_here (n integer)"))
        with first.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM only_here")).scalar_one() == 1
    finally:
        first.dispose()
        second.dispose()


def test_stop_removes_the_data_dir_and_leaves_no_postgres_process_running():
    cluster = ThrowawayPostgres().start()
    base_dir, data_dir = cluster.base_dir, cluster.data_dir
    postmaster = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    engine = engine_for(cluster.url())
    connection = engine.connect()  # a client backend as well as the background processes
    assert connection.execute(text("SELECT 1")).scalar_one() == 1
    ours = [postmaster, *_children(postmaster)]
    assert len(ours) > 1 and all(_alive(pid) for pid in ours)

    cluster.stop()  # with the connection still open: an immediate shutdown does not wait for it
    connection.invalidate()  # the server is gone; drop the connection without a ROLLBACK
    connection.close()
    engine.dispose()

    assert not data_dir.exists() and not base_dir.exists()
    assert [pid for pid in ours if _alive(pid)] == []
    assert not cluster.running and cluster.base_dir is None
    cluster.stop()  # idempotent
