"""The canteen's settings (prices, service hours, deadlines, limits) as the server stores them.

A setting is checked by the same gate as on the kiosk, and every change is published to the
change log in its transaction, so the kiosks learn exactly what was committed, in order.
`change_settings` is the one way a manager changes them: the back office's page, `refectory
server settings set` and `set-price` all go through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, func, select, update

from domain.clock import from_text, to_text
from domain.messages import Message, RefectoryError
from domain.settings import DEFAULTS, PRICE_PREFIX, SettingError, Settings, parse_setting
from domain.sync import ChangeType
from sync_server.admin import audit
from sync_server.db import fetch_all, insert_new
from sync_server.sync.changes import record_change
from sync_server.tables import changes, kiosks, pupils, settings

_ALL_SETTINGS = select(settings.c.key, settings.c.value).order_by(settings.c.key)
# A rule that spans two settings is reported beside the second one, the one usually changed.
_CROSS_RULES = {"service.start must be before service.end.": "service.end",
                "topup.min ({minimum}) cannot be above topup.max ({maximum}).": "topup.max"}


class SettingsRefused(RefectoryError):
    """Some values were refused; `fields` gives each refused key its message. Nothing was stored."""

    code = "invalid_setting"

    def __init__(self, fields: Mapping[str, Message]) -> None:
        first = next(iter(fields.values()))  # each message names its setting: shown alone, it is enough
        super().__init__(first.template, **first.params)
        self.fields = dict(fields)


@dataclass(frozen=True, slots=True)
class KioskReach:
    """Whether an active kiosk has pulled the latest settings change."""

    kiosk_id: str
    last_heartbeat: datetime | None
    has_latest: bool


def stored_settings(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(_ALL_SETTINGS).all())


def shown_settings(conn: Connection) -> dict[str, str]:
    """Every setting the kiosks use: the stored values over the defaults, in key order."""
    return dict(sorted({**DEFAULTS, **stored_settings(conn)}.items()))


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
    _store(conn, key, canonical, now)
    return key, canonical


def _store(conn: Connection, key: str, canonical: str, now: datetime) -> None:
    """Write the setting (the first time, or after a concurrent first write) and publish it."""
    changed = update(settings).where(settings.c.key == key).values(value=canonical, updated_at=to_text(now))
    if (conn.execute(changed).rowcount == 0
            and conn.execute(insert_new(conn, settings).values(key=key, value=canonical,
                                                               updated_at=to_text(now))).rowcount == 0):
        conn.execute(changed)  # another writer made the row meanwhile: this value comes after its
    record_change(conn, ChangeType.SETTING, key, {"key": key, "value": canonical}, now)


def change_settings(conn: Connection, values: Mapping[str, str], actor: str, now: datetime) -> dict[str, str]:
    """Check every value, then store and publish those that differ from what the kiosks have, each
    with its audit entry; returns them (key → canonical value). One refused value stores nothing."""
    problems: dict[str, Message] = {}
    canonical: dict[str, str] = {}
    for key, value in values.items():
        key = key.strip().lower()
        try:
            canonical[key] = parse_setting(key, value)
        except SettingError as error:
            problems[key] = error.message
    if problems:
        raise SettingsRefused(problems)
    current = shown_settings(conn)
    try:
        Settings.from_mapping({**current, **canonical})
    except SettingError as error:
        raise SettingsRefused({_CROSS_RULES.get(error.message.template, next(iter(canonical))): error.message}) \
            from None
    changed = {key: value for key, value in canonical.items() if current.get(key) != value}
    for key, value in changed.items():
        _store(conn, key, value, now)
        audit.record(conn, actor, "setting.set", key, now, value)
    return changed


def kiosks_reached(conn: Connection) -> list[KioskReach]:
    """Each active kiosk, and whether its last heartbeat says it has applied the latest setting."""
    latest = conn.execute(select(func.coalesce(func.max(changes.c.seq), 0))
                          .where(changes.c.type == str(ChangeType.SETTING))).scalar_one()
    rows = conn.execute(select(kiosks.c.kiosk_id, kiosks.c.last_heartbeat, kiosks.c.cursor)
                        .where(kiosks.c.enrolled_at.is_not(None), kiosks.c.token_hash.is_not(None),
                               kiosks.c.revoked_at.is_(None)).order_by(kiosks.c.kiosk_id))
    return [KioskReach(row.kiosk_id, from_text(row.last_heartbeat) if row.last_heartbeat else None,
                       (row.cursor or 0) >= latest) for row in rows]


def categories(conn: Connection) -> set[str]:
    """The meal categories known: those pupils are in and those with a price."""
    priced = {key.removeprefix(PRICE_PREFIX) for key in conn.execute(
        select(settings.c.key).where(settings.c.key.like(f"{PRICE_PREFIX}%"))).scalars()}
    return priced | set(conn.execute(select(pupils.c.category).distinct()).scalars())
