"""Menus: a week's CSV, or one day edited in the back office. Each day given replaces that day's
menu, published to the kiosks in the same transaction; a file or a day with one bad line stores
nothing, and every bad line is named."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, delete, insert, select

from domain.clock import TimeInputError, parse_day
from domain.menus import MenuLineError, parse_allergens, parse_labels
from domain.messages import N_, Message
from domain.roster import RosterError, RowError, check_header, parse_csv
from domain.sync import ChangeType
from sync_server.sync.changes import record_change
from sync_server.tables import menus

MENU_COLUMNS = ("date", "course", "dish", "allergens", "labels")
ITEM_FIELDS = ("course", "dish", "allergens", "labels")
MAX_MENU_FILE_BYTES = 1024 * 1024  # a year of menus is a few hundred kB
MAX_TEXT = 200


def check_size(size: int) -> None:
    """Refuse, in words, a file too large to be menus (a wrong file), before it is read."""
    if size > MAX_MENU_FILE_BYTES:
        raise RosterError([RowError(0, Message(
            N_("The file holds {size} MB; a menu file holds at most {limit} MB."),
            {"size": f"{size / 2**20:.1f}", "limit": str(MAX_MENU_FILE_BYTES // 2**20)}))])


def read_menu_file(data: bytes) -> tuple[list[str] | None, list[tuple[int, dict]]]:
    """The CSV's header and rows, once its size is known to be a menu file's."""
    check_size(len(data))
    return parse_csv(data)


def import_menus(conn: Connection, header: list[str] | None, rows: list[tuple[int, dict]], now: datetime) -> int:
    """Menus per day (`date,course,dish,allergens,labels`); a day in the file replaces that day."""
    errors = check_header(header, MENU_COLUMNS)
    if errors:
        raise RosterError(errors)
    days: dict[str, list[dict]] = {}
    for line, raw in rows:
        try:
            day = parse_day((raw.get("date") or "").strip()).isoformat()
        except TimeInputError as error:
            errors.append(RowError(line, error.message))
            continue
        item = _checked(line, raw, errors)
        if item is not None:
            days.setdefault(day, []).append(item)
    if errors:
        raise RosterError(errors)
    for day, items in days.items():
        _replace(conn, day, items, now)
    return len(days)


def edit_day(conn: Connection, day: date, lines: Iterable[dict], now: datetime) -> int:
    """Replace one day's dishes with `lines` (numbered from 1; blank ones are left out); returns how many."""
    errors: list[RowError] = []
    items = []
    for number, raw in enumerate(lines, start=1):
        if any((raw.get(c) or "").strip() for c in ITEM_FIELDS):
            item = _checked(number, raw, errors)
            if item is not None:
                items.append(item)
    if errors:
        raise RosterError(errors)
    _replace(conn, day.isoformat(), items, now)
    return len(items)


def day_items(conn: Connection, day: date) -> list[dict]:
    """One day's dishes as stored (course, dish, allergen codes, labels), in their order."""
    rows = conn.execute(select(*(menus.c[c] for c in ITEM_FIELDS)).where(menus.c.service_date == day.isoformat())
                        .order_by(menus.c.position))
    return [dict(row._mapping) for row in rows]


def _checked(line: int, raw: dict, errors: list[RowError]) -> dict | None:
    value = {c: (raw.get(c) or "").strip() for c in ITEM_FIELDS}
    if not value["dish"] or not value["course"]:
        errors.append(RowError(line, Message(N_("course and dish are required."))))
        return None
    if max(len(text) for text in value.values()) > MAX_TEXT:
        errors.append(RowError(line, Message(N_("A field holds at most {count} characters."),
                                             {"count": str(MAX_TEXT)})))
        return None
    try:
        value["allergens"] = ",".join(parse_allergens(value["allergens"]))
        value["labels"] = "; ".join(parse_labels(value["labels"]))
    except MenuLineError as error:
        errors.append(RowError(line, error.message))
        return None
    return value


def _replace(conn: Connection, day: str, items: list[dict], now: datetime) -> None:
    conn.execute(delete(menus).where(menus.c.service_date == day))
    if items:
        conn.execute(insert(menus), [{"service_date": day, "position": i, **item} for i, item in enumerate(items)])
    record_change(conn, ChangeType.MENU, day, {"service_date": day, "items": items}, now)
