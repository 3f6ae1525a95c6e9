"""The pupils' roster import: pupils, their badges and their parents' e-mails from a CSV.

Every row is checked before any is kept. `plan_import` says what the file would change, line by
line, without writing (the back office's preview); `apply_plan` writes exactly that plan. Each
pupil and badge written is published to the change log in the same transaction, so the kiosks
learn exactly what was committed, in order.

The optional `school` column moves a pupil whose school changes (sync/schools.py); without it
every pupil keeps its school. The preview names the schools no pupil or kiosk has yet, a typo
being a school no kiosk follows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.badges import normalize_or_none
from domain.messages import N_, Message
from domain.roster import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    ImportSummary,
    RosterError,
    RosterRow,
    RowError,
    check_header,
    validate_roster,
)
from domain.sync import ChangeType
from domain.text import email_problem
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.cashiers import cashier_badges
from sync_server.admin.family_change import change_problem, end_old_familys_arrangements, lock_children
from sync_server.admin.pupil_badges import replace_badges
from sync_server.admin.schools import known_schools
from sync_server.sync import ledger
from sync_server.sync.changes import record_change, school_of
from sync_server.sync.schools import publish_move
from sync_server.tables import badges, families, pupils

SERVER_ROSTER_COLUMNS = (*COLUMNS, "parent_email")
# What a line compares, as the preview names it: (roster column, pupils column).
_COMPARED = (("first_name", "first_name"), ("last_name", "last_name"), ("class", "class_name"),
             ("category", "category"), ("diet", "diet"), ("family_id", "family_id"), ("school", "school"))


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One pupil's change: `kind` is added, changed, unchanged or deactivated (a pupil the file
    leaves out, when asked); `changes` are (column, before, after)."""

    line: int | None  # None for a pupil the file leaves out
    pupil_id: str
    name: str
    kind: str
    changes: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class RosterPlan:
    rows: tuple[RosterRow, ...]
    emails: dict[int, str]
    new_badges: frozenset[str]
    deactivated: tuple[str, ...]
    lines: tuple[PlannedLine, ...]
    new_schools: tuple[str, ...] = ()  # schools of the file no pupil or kiosk has yet

    @property
    def changing_family(self) -> frozenset[str]:
        """The pupils of a family whom the file gives another family."""
        return frozenset(line.pupil_id for line in self.lines for column, before, _after in line.changes
                         if column == "family_id" and before)

    @property
    def fingerprint(self) -> str:
        """Names the plan: a confirmation writes only the plan its preview showed."""
        return hashlib.sha256(json.dumps([[list(line.changes), line.line, line.pupil_id, line.kind]
                                          for line in self.lines], ensure_ascii=False).encode()).hexdigest()

    def count(self, kind: str) -> int:
        return sum(1 for line in self.lines if line.kind == kind)


def import_pupils(conn: Connection, header: list[str] | None, rows: list[tuple[int, dict]],
                  now: datetime, *, deactivate_missing: bool = False) -> ImportSummary:
    """The kiosk roster columns plus `parent_email`; every row checked before any is kept."""
    return apply_plan(conn, plan_import(conn, header, rows, deactivate_missing=deactivate_missing), now)


def plan_import(conn: Connection, header: list[str] | None, rows: list[tuple[int, dict]], *,
                deactivate_missing: bool = False) -> RosterPlan:
    """What the file would change, line by line; raises RosterError with every bad line. Writes nothing."""
    errors = check_header(header, SERVER_ROSTER_COLUMNS, OPTIONAL_COLUMNS)
    if errors:
        raise RosterError(errors)
    if not rows:
        raise RosterError([RowError(1, Message(N_("The file has no pupil rows.")))])
    uids = [u for u in (normalize_or_none(r.get("badge_uid") or "") for _, r in rows) if u]
    owners = dict(conn.execute(select(badges.c.uid, badges.c.pupil_id).where(badges.c.uid.in_(uids))).all())
    valid, errors = validate_roster(rows, categories=current_settings(conn).categories,
                                    badge_owners=owners, cashier_badges=cashier_badges(conn))
    emails = {line: (raw.get("parent_email") or "").strip() for line, raw in rows}
    errors += [RowError(line, problem) for line, email in emails.items()
               if email and (problem := email_problem(email, "parent_email"))]
    if errors:
        raise RosterError(sorted(errors, key=lambda e: e.line))
    writing = bool(conn.info.get("writing"))
    if writing:  # every row it may change, before the plan is read and before any change is recorded:
        # a refund or a transfer asked for one of them waits, and none is locked after the change log's
        lock_children(conn, *(row.pupil.pupil_id for row in valid),
                      *(conn.execute(select(pupils.c.pupil_id)).scalars() if deactivate_missing else ()))
    known = {row.pupil_id: row for row in conn.execute(select(pupils))}
    if writing:
        _lock_school_changes(conn, valid, known)
    errors = [RowError(row.line, problem) for row in valid  # what the manager's move of the child refuses
              if (before := known.get(row.pupil.pupil_id)) is not None and before.family_id
              and before.family_id != row.pupil.family_id and (problem := change_problem(conn, before.pupil_id))]
    if errors:
        raise RosterError(errors)
    family_emails = dict(conn.execute(select(families.c.family_id, families.c.email)).all())
    active_badges = dict(conn.execute(select(badges.c.pupil_id, badges.c.uid).where(badges.c.status == "active"))
                         .all())
    last_of_family = {row.pupil.family_id: row.line for row in valid if row.pupil.family_id}
    lines = []
    for row in valid:
        pupil, before = row.pupil, known.get(row.pupil.pupil_id)
        after = {"first_name": pupil.first_name, "last_name": pupil.last_name, "class": pupil.class_name,
                 "category": pupil.category, "diet": pupil.diet, "family_id": pupil.family_id or "",
                 **({"school": row.school} if row.school is not None else {})}
        if before is None:
            changes = tuple((column, "", value) for column, value in after.items() if value)
        else:
            changes = tuple((column, getattr(before, name) or "", after[column]) for column, name in _COMPARED
                            if column in after and (getattr(before, name) or "") != after[column])
            if not before.active:
                changes += (("active", "no", "yes"),)
        if pupil.family_id and last_of_family[pupil.family_id] == row.line and (
                family_emails.get(pupil.family_id) or "") != emails[row.line]:  # the family's last row wins
            changes += (("parent_email", family_emails.get(pupil.family_id) or "", emails[row.line]),)
        if row.badge_uid and row.badge_uid not in owners:
            changes += (("badge_uid", active_badges.get(pupil.pupil_id, "") if before else "", row.badge_uid),)
        kind = "added" if before is None else "changed" if changes else "unchanged"
        lines.append(PlannedLine(row.line, pupil.pupil_id, f"{pupil.first_name} {pupil.last_name}", kind, changes))
    in_file = {row.pupil.pupil_id for row in valid}
    leaving = sorted((row for row in known.values() if row.active and row.pupil_id not in in_file),
                     key=lambda row: (row.last_name, row.first_name, row.pupil_id)) if deactivate_missing else []
    lines += [PlannedLine(None, row.pupil_id, f"{row.first_name} {row.last_name}", "deactivated",
                          (("active", "yes", "no"),)) for row in leaving]
    schools = set(known_schools(conn))
    return RosterPlan(tuple(valid), emails, frozenset(u for u in uids if u not in owners),
                      tuple(row.pupil_id for row in leaving), tuple(lines),
                      tuple(sorted({row.school for row in valid if row.school and row.school not in schools})))


def _lock_school_changes(conn: Connection, valid, known: dict) -> None:
    """The balances of the pupils changing school, locked before the first change is recorded:
    a push booking one of their meals meanwhile is then in what the move republishes (see
    `sync.schools.publish_move`), and nothing here takes a lock after the change log's, which a
    sibling transfer asked at the same moment takes last (the import and the transfer would
    otherwise each wait for the other)."""
    moving = sorted(row.pupil.pupil_id for row in valid if row.school is not None
                    and (before := known.get(row.pupil.pupil_id)) is not None
                    and (before.school or "") != (row.school or ""))
    for pupil_id in moving:
        ledger.balance(conn, pupil_id, lock=True)


def apply_plan(conn: Connection, plan: RosterPlan, now: datetime) -> ImportSummary:
    created = updated = assigned = 0
    changing_family = plan.changing_family
    for row in plan.rows:
        pupil = row.pupil
        if pupil.family_id:
            _upsert(conn, families, "family_id", {"family_id": pupil.family_id,
                                                  "email": plan.emails[row.line] or None})
        record = {"pupil_id": pupil.pupil_id, "first_name": pupil.first_name, "last_name": pupil.last_name,
                  "class_name": pupil.class_name, "category": pupil.category, "diet": pupil.diet,
                  "active": pupil.active, "family_id": pupil.family_id}
        if row.school is not None:
            record["school"] = row.school or None
        left = school_of(conn, pupil.pupil_id)
        if pupil.pupil_id in changing_family:
            end_old_familys_arrangements(conn, pupil.pupil_id, now)
        new = _upsert(conn, pupils, "pupil_id", record)
        if new:
            created += 1
        else:
            updated += 1
        _publish(conn, pupil.pupil_id, now, left, new=new)
        if row.badge_uid and row.badge_uid in plan.new_badges:
            replace_badges(conn, pupil.pupil_id, row.badge_uid, now)
            assigned += 1
    for pupil_id in plan.deactivated:
        publish_pupil(conn, pupil_id, now, active=False)
    return ImportSummary(created, updated, assigned, len(plan.deactivated))


def publish_pupil(conn: Connection, pupil_id: str, now: datetime, **values) -> dict:
    """Change a pupil's columns (`values`) and publish the pupil as it now is; returns that record."""
    left = school_of(conn, pupil_id)
    if values:
        conn.execute(update(pupils).where(pupils.c.pupil_id == pupil_id).values(**values))
    return _publish(conn, pupil_id, now, left)


def _publish(conn: Connection, pupil_id: str, now: datetime, left: str | None, *, new: bool = False) -> dict:
    """Publish the pupil as its row now is, to its school's kiosks; moved from school `left`, to
    both schools' (sync/schools.py). Returns the record the kiosks hold."""
    row = conn.execute(select(pupils).where(pupils.c.pupil_id == pupil_id)).one()
    record = {"pupil_id": row.pupil_id, "first_name": row.first_name, "last_name": row.last_name,
              "class_name": row.class_name, "category": row.category, "diet": row.diet,
              "active": bool(row.active), "family_id": row.family_id}
    if not new and row.school != left:
        publish_move(conn, record, left, row.school, now)
    else:
        record_change(conn, ChangeType.PUPIL, pupil_id, record, now, school=row.school)
    return record


def _upsert(conn: Connection, table, key: str, record: dict) -> bool:
    """Insert or update by primary key; True when the row is new."""
    if conn.execute(select(table.c[key]).where(table.c[key] == record[key])).first():
        conn.execute(update(table).where(table.c[key] == record[key]).values(**record))
        return False
    conn.execute(insert(table).values(**record))
    return True
