"""The canteen's settings (prices, service hours, deadlines, limits) as the server stores them.

A setting is checked by the same gate as on the kiosk, and every change is published to the
change log in its transaction, so the kiosks learn exactly what was committed, in order.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, insert, select, update

from domain.clock import to_text
from domain.settings import Settings, parse_setting
from domain.sync import ChangeType
from sync_server.db import fetch_all
from sync_server.sync.changes import record_change
from sync_server.tables import pupils, settings

_ALL_SETTINGS = select(settings.c.key, settings.c.value).order_by(settings.c.key)


def stored_settings(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(_ALL_SETTINGS).all())


def current_settings(conn: Connection) -> Settings:
    """The canteen's settings, parsed once per set of stored values (every portal page needs them)."""
    return _parsed(tuple(fetch_all(conn, _ALL_SETTINGS)))


@lru_cache(maxsize=16)
def _parsed(items: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_mapping(dict(items))


def set_setting(conn: Connection, key: str, value: str, now: datetime) -> tuple[str, str]:
    """Validate and store one setting (the same gate as the kiosk's), and publish it."""
    key, canonical = key.strip().lower(), parse_setting(key, value)
    Settings.from_mapping({**stored_settings(conn), key: canonical})
    if conn.execute(update(settings).where(settings.c.key == key)
                    .values(value=canonical, updated_at=to_text(now))).rowcount == 0:
        conn.execute(insert(settings).values(key=key, value=canonical, updated_at=to_text(now)))
    record_change(conn, ChangeType.SETTING, key, {"key": key, "value": canonical}, now)
    return key, canonical


def categories(conn: Connection) -> set[str]:
    """The meal categories known: those pupils are in and those with a price."""
    priced = {key.removeprefix("price.") for key in conn.execute(
        select(settings.c.key).where(settings.c.key.like("price.%"))).scalars()}
    return priced | set(conn.execute(select(pupils.c.category).distinct()).scalars())
