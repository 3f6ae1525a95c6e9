"""Sessions that a logout ended, for families and staff alike.

A session is its signed cookie, which the server does not keep: a copy taken from a shared
computer would outlive the logout. Each login gives its session a random id; logging out records
that id here, and the signed-in check refuses a session whose id is recorded. An id is kept as long
as a session can last at all (`SESSION_MAX_HOURS`), then forgotten.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select

from domain.clock import to_text
from sync_server.db import fetch_all, insert_new
from sync_server.tables import ended_sessions

_ENDED = select(ended_sessions.c.sid).where(ended_sessions.c.sid == bindparam("sid"))


def new_id() -> str:
    return secrets.token_urlsafe(16)


def has_ended(conn: Connection, sid: str | None) -> bool:
    """Whether a logout ended the session `sid` (a session from before ids were given has none)."""
    return sid is not None and bool(fetch_all(conn, _ENDED, {"sid": sid}))  # every signed-in request asks


def end(conn: Connection, sid: str | None, now: datetime, longest: timedelta) -> None:
    """Record the session `sid` as ended, and forget those that could no longer be used anyway."""
    conn.execute(delete(ended_sessions).where(ended_sessions.c.ended_at < to_text(now - longest)))
    if sid is not None:
        conn.execute(insert_new(conn, ended_sessions).values(sid=sid, ended_at=to_text(now)))  # twice: once
