"""Alembic environment: the URL comes from the Config the code builds (`sync_server.db`).

Each upgrade runs in one transaction, so a revision that fails leaves the previous one whole. On
PostgreSQL that is plain transactional DDL; on SQLite, Python's driver would commit each DDL
statement on its own, so the transaction is opened here with SQLite's own BEGIN."""

from alembic import context
from sqlalchemy import create_engine, event

from sync_server.tables import metadata

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
if url.startswith("sqlite"):
    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

try:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()  # a failed revision too: its pooled connection would otherwise stay open
