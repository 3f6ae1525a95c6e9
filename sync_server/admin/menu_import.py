"""The menus import: each day in the CSV replaces that day's menu, published to the kiosks in the
same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert

from domain.clock import TimeInputError, parse_day
from domain.menus import MenuLineError, parse_allergens, parse_labels
from domain.messages import N_, Message
from domain.roster import RosterError, RowError, check_header
from domain.sync import ChangeType
from sync_server.sync.changes import record_change
from sync_server.tables import menus

MENU_COLUMNS = ("date", "course", "dish", "allergens", "labels")


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
