"""The ledger's generation: an id made with the server database and replaced by every restore.

A restored database lacks what the lost one acknowledged after the backup, and its change feed
starts over from the backup's. Kiosks read the generation in every sync answer; when it is not the
one they last saw, they send all their entries again (the server books each id once) and pull from
the start, so nothing they pushed stays stranded and no pull cursor points past the feed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select, update

from sync_server.tables import ledger_generation

_CURRENT = select(ledger_generation.c.generation)


def current(conn: Connection) -> str:
    return conn.execute(_CURRENT).scalar_one()


def new_generation() -> str:
    return uuid.uuid4().hex


def replace(conn: Connection, generation: str) -> None:
    """Give the ledger a new generation (a restore's, in the restored database's own transaction)."""
    conn.execute(update(ledger_generation).values(generation=generation))
