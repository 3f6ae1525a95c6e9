"""How URLs name database rows: `<int:...>` in every route of the app is a row id."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

# Row ids are INTEGER primary keys: 32 bits on PostgreSQL, which refuses a larger number as a
# parameter with an error; SQLite's driver refuses one past 64 bits.
ROW_ID_MAX = 2**31 - 1


class DatabaseIdConverter(IntegerConverter):
    """ASCII digits up to the largest row id. A larger number is no row of ours (404) and never
    reaches SQL; "١٢" is not an alias of 12. The app factory registers it as `int`, so no route
    can forget it (a route whose ids are 64-bit says `<int(max=...):...>`)."""

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", ROW_ID_MAX)
        super().__init__(map, *args, **kwargs)
