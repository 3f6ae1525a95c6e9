"""The schools of a city's install: those its pupils and kiosks have (sync/changes.py says what a
school does to the kiosks' feeds). An install where none has one (no known school) is a
one-school install, whose pages show no school at all.

"Unknown school", as "unknown class" (admin/pupils.py): a school no pupil and no kiosk has yet is
refused unless the manager says it is a new one, since a typo would make a school no kiosk
follows (its pupils served nowhere) or a kiosk that serves nobody, for good once it has synced.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, union

from domain.messages import N_, Message
from domain.schools import school_problem
from sync_server.tables import kiosks, pupils


def known_schools(conn: Connection) -> list[str]:
    """Every school a pupil or a kiosk has, sorted."""
    query = union(select(pupils.c.school).where(pupils.c.school.is_not(None)),
                  select(kiosks.c.school).where(kiosks.c.school.is_not(None)))
    return sorted(conn.execute(query).scalars())


def check_school(conn: Connection, name: str, *, new_school: bool = False,
                 current: str | None = None) -> Message | None:
    """Why school `name` (trimmed; empty: every school) cannot be given, or None. `current` is
    the school the pupil or kiosk already has, which needs no confirming."""
    if not name or name == current:
        return None
    if problem := school_problem(name):
        return problem
    schools = known_schools(conn)
    if not new_school and name not in schools:
        if not schools:
            return Message(N_("No pupil and no kiosk has a school yet: confirm that '{value}' is a new school."),
                           {"value": name})
        return Message(N_("'{value}' is not one of the schools ({known}). Check the spelling, or confirm that it"
                          " is a new school."), {"value": name, "known": ", ".join(schools)})
    return None
