"""The manager's work on one pupil or family at a time: find, add, edit, a child leaving school,
a move to another family, a family's e-mail (its login letters: `families.login_letters`).

The back office and `refectory server pupil ...` both call these. Every problem is named with its
field (`FieldErrors`), all of them at once, and nothing is written while there is one. Each pupil
written is published to the change log in its transaction, as the roster import does.

"Unknown class": the school's classes are those its active pupils are in. A class no active pupil
is in is refused unless the manager says it is a new one (a typo such as "5a" for "5A" would
otherwise make a class of one). A school is checked alike (admin/schools.py); a pupil given
another school moves there (sync/schools.py).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.badges import normalize_or_none
from domain.messages import N_, Message
from domain.roster import MAX_TEXT, is_pupil_id
from domain.text import email_problem, has_control_characters
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.errors import FieldErrors
from sync_server.admin.family_change import change_problem, end_old_familys_arrangements, lock_children
from sync_server.admin.pupil_badges import Badge, BadgeEvent, history, pupil_badges
from sync_server.admin.roster_import import publish_pupil
from sync_server.admin.schools import check_school
from sync_server.sync.ledger import balance
from sync_server.tables import badges, families, pupils

SEARCH_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Details:
    """What the manager edits about a pupil."""

    first_name: str
    last_name: str
    class_name: str
    category: str
    diet: str = ""
    active: bool = True
    school: str = ""  # empty: served by every kiosk


@dataclass(frozen=True, slots=True)
class PupilRow:
    pupil_id: str
    first_name: str
    last_name: str
    class_name: str
    category: str
    diet: str
    active: bool
    family_id: str | None
    school: str | None

    @property
    def details(self) -> Details:
        return Details(self.first_name, self.last_name, self.class_name, self.category, self.diet, self.active,
                       self.school or "")


@dataclass(frozen=True, slots=True)
class Family:
    family_id: str
    email: str | None
    login: str | None
    children: list[PupilRow]


@dataclass(frozen=True, slots=True)
class PupilFile:
    """A pupil's page: the pupil, the family, the badges and what happened to them, the balance."""

    pupil: PupilRow
    family: Family | None
    badges: list[Badge]
    history: list[BadgeEvent]
    balance_cents: int


def _row(row) -> PupilRow:
    return PupilRow(row.pupil_id, row.first_name, row.last_name, row.class_name, row.category, row.diet or "",
                    bool(row.active), row.family_id, row.school)


def _folded(text: str) -> str:
    """Lower case without accents: "Zoé" is found as "zoe"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def search(conn: Connection, query: str) -> list[PupilRow]:
    """Pupils whose name, class or id hold every word of `query`, or whose badge (any status) it is;
    active pupils first, then by name. A school has a few thousand pupils: read once, matched here."""
    words = _folded(query).split()
    if not words:
        return []
    owners = set()
    if (uid := normalize_or_none(query.strip())) is not None:
        owners = set(conn.execute(select(badges.c.pupil_id).where(badges.c.uid == uid)).scalars())
    found = [row for row in map(_row, conn.execute(select(pupils)))
             if row.pupil_id in owners or all(
                 word in _folded(f"{row.first_name} {row.last_name} {row.class_name} {row.pupil_id}").split()
                 or any(part.startswith(word) for part in
                        _folded(f"{row.first_name} {row.last_name}").replace("-", " ").split())
                 for word in words)]
    found.sort(key=lambda row: (not row.active, _folded(row.last_name), _folded(row.first_name), row.pupil_id))
    return found[:SEARCH_LIMIT]


def pupil(conn: Connection, pupil_id: str) -> PupilRow | None:
    row = conn.execute(select(pupils).where(pupils.c.pupil_id == pupil_id)).first()
    return _row(row) if row else None


def pupil_file(conn: Connection, pupil_id: str) -> PupilFile | None:
    found = pupil(conn, pupil_id)
    if found is None:
        return None
    return PupilFile(found, family(conn, found.family_id) if found.family_id else None,
                     pupil_badges(conn, pupil_id), history(conn, pupil_id), balance(conn, pupil_id))


def family(conn: Connection, family_id: str) -> Family | None:
    row = conn.execute(select(families.c.family_id, families.c.email, families.c.login)
                       .where(families.c.family_id == family_id)).first()
    if row is None:
        return None
    children = [_row(child) for child in conn.execute(
        select(pupils).where(pupils.c.family_id == family_id).order_by(pupils.c.first_name, pupils.c.pupil_id))]
    return Family(row.family_id, row.email, row.login, children)


def known_classes(conn: Connection) -> list[str]:
    """The school's classes: those its active pupils are in."""
    return sorted(conn.execute(select(pupils.c.class_name).where(pupils.c.active).distinct()).scalars())


def check_details(conn: Connection, details: Details, *, new_class: bool = False, new_school: bool = False,
                  current: PupilRow | None = None) -> dict[str, Message]:
    """Every problem of `details`, by field."""
    problems: dict[str, Message] = {}
    for field, value in (("first_name", details.first_name), ("last_name", details.last_name),
                         ("class_name", details.class_name), ("diet", details.diet)):
        if not value.strip() and field != "diet":
            problems[field] = Message(N_("Fill this in."))
        elif len(value) > MAX_TEXT or has_control_characters(value):
            problems[field] = Message(N_("One line of at most {count} characters."), {"count": str(MAX_TEXT)})
    classes = known_classes(conn)
    if ("class_name" not in problems and not new_class
            and details.class_name.strip() != (current.class_name if current else None)
            and details.class_name.strip() not in classes):
        problems["class_name"] = Message(
            N_("'{value}' is not one of the school's classes ({known}). Check the spelling, or confirm that it"
               " is a new class."), {"value": details.class_name.strip(), "known": ", ".join(classes)})
    if problem := check_school(conn, details.school.strip(), new_school=new_school,
                               current=current.school if current else None):
        problems["school"] = problem
    categories = current_settings(conn).categories
    if details.category not in categories:
        problems["category"] = Message(N_("Unknown category '{value}' (known: {known})."),
                                       {"value": details.category, "known": ", ".join(sorted(categories))})
    return problems


def _cleaned(details: Details) -> dict:
    return {"first_name": details.first_name.strip(), "last_name": details.last_name.strip(),
            "class_name": details.class_name.strip(), "category": details.category,
            "diet": details.diet.strip(), "active": details.active, "school": details.school.strip() or None}


def _family_problem(conn: Connection, family_id: str, new_family: bool) -> Message | None:
    if len(family_id) > MAX_TEXT or has_control_characters(family_id) or not family_id:
        return Message(N_("A family id is one line of at most {count} characters."), {"count": str(MAX_TEXT)})
    exists = conn.execute(select(families.c.family_id).where(families.c.family_id == family_id)).first()
    if exists is None and not new_family:
        return Message(N_("There is no family '{family_id}'. Check the id, or confirm that it is a new family."),
                       {"family_id": family_id})
    if exists is not None and new_family:
        return Message(N_("Family '{family_id}' already exists: it is not a new family."), {"family_id": family_id})
    return None


def add_pupil(conn: Connection, pupil_id: str, details: Details, family_id: str | None, now: datetime, *,
              new_class: bool = False, new_school: bool = False, new_family: bool = False) -> dict:
    """A new pupil, in a family of the school's (or a new one, said so), published to the kiosks."""
    pupil_id, family_id = pupil_id.strip(), (family_id or "").strip() or None
    problems = check_details(conn, details, new_class=new_class, new_school=new_school)
    if not is_pupil_id(pupil_id):
        problems["pupil_id"] = Message(N_("1 to 40 letters, digits, '.', '_' or '-'."))
    elif pupil(conn, pupil_id) is not None:
        problems["pupil_id"] = Message(N_("Pupil '{pupil_id}' already exists."), {"pupil_id": pupil_id})
    if family_id and (problem := _family_problem(conn, family_id, new_family)):
        problems["family_id"] = problem
    if problems:
        raise FieldErrors(problems)
    if family_id and new_family:
        conn.execute(insert(families).values(family_id=family_id))
    conn.execute(insert(pupils).values(pupil_id=pupil_id, family_id=family_id, **_cleaned(details)))
    return publish_pupil(conn, pupil_id, now)


def edit_pupil(conn: Connection, pupil_id: str, details: Details, now: datetime, *,
               new_class: bool = False, new_school: bool = False) -> dict:
    """Change what the manager edits about a pupil (name, class, category, diet, active, school)."""
    found = existing(conn, pupil_id)
    problems = check_details(conn, details, new_class=new_class, new_school=new_school, current=found)
    if problems:
        raise FieldErrors(problems)
    return publish_pupil(conn, pupil_id, now, **_cleaned(details))


def deactivate(conn: Connection, pupil_id: str, now: datetime) -> dict:
    """A child leaving school: refused at the kiosks from their next sync; the balance stays for a refund."""
    found = existing(conn, pupil_id)
    if not found.active:
        raise FieldErrors({"pupil_id": Message(N_("{name} has already left the refectory."),
                                               {"name": f"{found.first_name} {found.last_name}"})})
    return publish_pupil(conn, pupil_id, now, active=False)


def move(conn: Connection, pupil_id: str, family_id: str, now: datetime, *, new_family: bool = False) -> dict:
    """The child now belongs to `family_id` (an existing family, or a new one, said so): its balance,
    history and badges go with it, and the old family's portal no longer shows it, nor books its
    days, nor charges its card (`family_change`). Not while money leaves it or moves between it and
    a sibling."""
    found, family_id = existing(conn, pupil_id), family_id.strip()
    problem = _family_problem(conn, family_id, new_family)
    if problem is None and family_id == found.family_id:
        problem = Message(N_("The child already belongs to family '{family_id}'."), {"family_id": family_id})
    if problem is None:
        lock_children(conn, pupil_id)  # a refund or a transfer asked at this moment: one waits for the other
        problem = change_problem(conn, pupil_id)
    if problem:
        raise FieldErrors({"family_id": problem})
    if new_family:
        conn.execute(insert(families).values(family_id=family_id))
    end_old_familys_arrangements(conn, pupil_id, now)
    return publish_pupil(conn, pupil_id, now, family_id=family_id)


def set_family_email(conn: Connection, family_id: str, email: str) -> str | None:
    """The address the family's e-mails go to; empty: none."""
    email = email.strip()
    if family(conn, family_id) is None:
        raise FieldErrors({"family_id": Message(N_("There is no family '{family_id}'."), {"family_id": family_id})})
    if email and (problem := email_problem(email, "email")):
        raise FieldErrors({"email": problem})
    conn.execute(update(families).where(families.c.family_id == family_id).values(email=email or None))
    return email or None


def existing(conn: Connection, pupil_id: str) -> PupilRow:
    found = pupil(conn, pupil_id)
    if found is None:
        raise FieldErrors({"pupil_id": Message(N_("Unknown pupil '{pupil_id}'."), {"pupil_id": pupil_id})})
    return found
