"""Alembic environment: the URL comes from the Config the code builds (`sync_server.db`)."""

from alembic import context
from sqlalchemy import create_engine

from sync_server.tables import metadata

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
