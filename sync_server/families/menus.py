"""The published menus, as the portal shows them: each day's dishes with allergen codes and labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, bindparam, select

from domain.menus import origin_of
from sync_server.db import fetch_all
from sync_server.tables import menus

_BETWEEN = (select(menus.c.service_date, menus.c.course, menus.c.dish, menus.c.allergens, menus.c.labels)
            .where(menus.c.service_date >= bindparam("first"), menus.c.service_date <= bindparam("last"))
            .order_by(menus.c.service_date, menus.c.position))


@dataclass(frozen=True, slots=True)
class Dish:
    course: str
    dish: str
    allergens: list[str]  # codes of domain.menus.ALLERGENS
    labels: list[str]  # vegetarian, vegan
    origins: list[str]  # "poulet Suisse"


def menus_of(conn: Connection, days: list[date]) -> dict[date, list[Dish]]:
    found: dict[date, list[Dish]] = {day: [] for day in days}
    for day, course, dish, allergens, labels in fetch_all(  # on every agenda page too
            conn, _BETWEEN, {"first": days[0].isoformat(), "last": days[-1].isoformat()}):
        parts = [part.strip() for part in labels.split(";") if part.strip()]
        found.setdefault(date.fromisoformat(day), []).append(Dish(
            course, dish, [code for code in allergens.split(",") if code],
            [part.lower() for part in parts if origin_of(part) is None],
            [origin for origin in map(origin_of, parts) if origin]))
    return found
