"""What the canteen manager changes on the server (CLI now, back office later).

Each operation writes its tables and appends the new form of every record to the change log in
the same transaction, so the kiosks learn exactly what was committed, in order.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, delete, insert, select, update

from domain.badges import normalize_or_none, normalize_uid
from domain.clock import TimeInputError, parse_day, to_text
from domain.menus import MenuLineError, parse_allergens, parse_labels
from domain.messages import N_, Message, RefectoryError
from domain.pins import check_cashier
from domain.roster import (
    COLUMNS,
    ImportSummary,
    RosterError,
    RowError,
    check_header,
    validate_roster,
)
from domain.settings import Settings, parse_setting
from domain.sync import ChangeType
from domain.text import email_problem
from sync_server.admin.passwords import hash_pin
from sync_server.db import fetch_all
from sync_server.sync.changes import record_change
from sync_server.tables import badge_history, badges, cashiers, families, menus, pupils, settings

SERVER_ROSTER_COLUMNS = (*COLUMNS, "parent_email")
MENU_COLUMNS = ("date", "course", "dish", "allergens", "labels")


class AdminError(RefectoryError):
    code = "invalid_request"


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


def add_cashier(conn: Connection, cashier_id: str, name: str, pin: str, now: datetime,
                badge: str | None = None) -> None:
    """Add a cashier or replace one's name, PIN and badge (None: no badge)."""
    name = check_cashier(cashier_id, name)
    uid = normalize_uid(badge) if badge else None
    if uid is not None:
        if conn.execute(select(badges.c.uid).where(badges.c.uid == uid)).first():
            raise AdminError(N_("Badge {uid} belongs to a pupil; a cashier needs a badge of their own."), uid=uid)
        holder = conn.execute(select(cashiers.c.cashier_id).where(cashiers.c.badge_uid == uid,
                                                                 cashiers.c.cashier_id != cashier_id)).scalar()
        if holder is not None:
            raise AdminError(N_("Badge {uid} is already cashier {holder}'s."), uid=uid, holder=holder)
    record = {"cashier_id": cashier_id, "name": name, "pin_hash": hash_pin(pin), "active": True, "badge_uid": uid}
    if conn.execute(select(cashiers.c.cashier_id).where(cashiers.c.cashier_id == cashier_id)).first():
        conn.execute(update(cashiers).where(cashiers.c.cashier_id == cashier_id).values(**record))
    else:
        conn.execute(insert(cashiers).values(**record))
    record_change(conn, ChangeType.CASHIER, cashier_id, record, now)


def import_pupils(conn: Connection, header: list[str] | None, rows: list[tuple[int, dict]],
                  now: datetime) -> ImportSummary:
    """The kiosk roster columns plus `parent_email`; every row checked before any is kept."""
    errors = check_header(header, SERVER_ROSTER_COLUMNS)
    if errors:
        raise RosterError(errors)
    if not rows:
        raise RosterError([RowError(1, Message(N_("The file has no pupil rows.")))])
    uids = [u for u in (normalize_or_none(r.get("badge_uid") or "") for _, r in rows) if u]
    owners = dict(conn.execute(select(badges.c.uid, badges.c.pupil_id).where(badges.c.uid.in_(uids))).all())
    valid, errors = validate_roster(rows, categories=current_settings(conn).categories,
                                    badge_owners=owners, cashier_badges=_cashier_badges(conn))
    emails = {line: (raw.get("parent_email") or "").strip() for line, raw in rows}
    errors += [RowError(line, problem) for line, email in emails.items()
               if email and (problem := email_problem(email, "parent_email"))]
    if errors:
        raise RosterError(sorted(errors, key=lambda e: e.line))
    created = updated = assigned = 0
    for row in valid:
        pupil = row.pupil
        if pupil.family_id:
            _upsert(conn, families, "family_id", {"family_id": pupil.family_id, "email": emails[row.line] or None})
        record = {"pupil_id": pupil.pupil_id, "first_name": pupil.first_name, "last_name": pupil.last_name,
                  "class_name": pupil.class_name, "category": pupil.category, "diet": pupil.diet,
                  "active": pupil.active, "family_id": pupil.family_id}
        if _upsert(conn, pupils, "pupil_id", record):
            created += 1
        else:
            updated += 1
        record_change(conn, ChangeType.PUPIL, pupil.pupil_id, record, now)
        if row.badge_uid and row.badge_uid not in owners:
            _replace_badges(conn, pupil.pupil_id, row.badge_uid, now)
            assigned += 1
    return ImportSummary(created, updated, assigned)


def _cashier_badges(conn: Connection) -> set[str]:
    return set(conn.execute(select(cashiers.c.badge_uid).where(cashiers.c.badge_uid.is_not(None))).scalars())


def _upsert(conn: Connection, table, key: str, record: dict) -> bool:
    """Insert or update by primary key; True when the row is new."""
    if conn.execute(select(table.c[key]).where(table.c[key] == record[key])).first():
        conn.execute(update(table).where(table.c[key] == record[key]).values(**record))
        return False
    conn.execute(insert(table).values(**record))
    return True


def _replace_badges(conn: Connection, pupil_id: str, uid: str, now: datetime) -> None:
    """A new badge for a pupil: the old active ones become "replaced" (a lost badge stays lost)."""
    old = conn.execute(select(badges.c.uid).where(badges.c.pupil_id == pupil_id, badges.c.status == "active")).all()
    for (old_uid,) in old:
        _set_badge(conn, old_uid, pupil_id, "replaced", now)
    _set_badge(conn, uid, pupil_id, "active", now)


def _set_badge(conn: Connection, uid: str, pupil_id: str, status: str, now: datetime) -> None:
    record = {"uid": uid, "pupil_id": pupil_id, "status": status, "since": to_text(now)}
    _upsert(conn, badges, "uid", record)
    conn.execute(insert(badge_history).values(uid=uid, pupil_id=pupil_id, status=status, at=to_text(now)))
    record_change(conn, ChangeType.BADGE, uid, record, now)


def import_menus(conn: Connection, header: list[str] | None, rows: list[tuple[int, dict]], now: datetime) -> int:
    """Menus per day (`date,course,dish,allergens,labels`); a day in the file replaces that day."""
    errors = check_header(header, MENU_COLUMNS)
    if errors:
        raise RosterError(errors)
    days: dict[str, list[dict]] = {}
    for line, raw in rows:
        value = {c: (raw.get(c) or "").strip() for c in MENU_COLUMNS}
        try:
            day = parse_day(value["date"]).isoformat()
        except TimeInputError as error:
            errors.append(RowError(line, error.message))
            continue
        if not value["dish"] or not value["course"]:
            errors.append(RowError(line, Message(N_("course and dish are required."))))
            continue
        try:
            value["allergens"] = ",".join(parse_allergens(value["allergens"]))
            value["labels"] = "; ".join(parse_labels(value["labels"]))
        except MenuLineError as error:
            errors.append(RowError(line, error.message))
            continue
        days.setdefault(day, []).append({k: value[k] for k in ("course", "dish", "allergens", "labels")})
    if errors:
        raise RosterError(errors)
    for day, items in days.items():
        conn.execute(delete(menus).where(menus.c.service_date == day))
        conn.execute(insert(menus), [{"service_date": day, "position": i, **item} for i, item in enumerate(items)])
        record_change(conn, ChangeType.MENU, day, {"service_date": day, "items": items}, now)
    return len(days)
