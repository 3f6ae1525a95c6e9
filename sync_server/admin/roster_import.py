"""The pupils' roster import: pupils, their badges and their parents' e-mails from a CSV.

Every row is checked before any is kept; each pupil and badge written is published to the change
log in the same transaction, so the kiosks learn exactly what was committed, in order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.badges import normalize_or_none
from domain.clock import to_text
from domain.messages import N_, Message
from domain.roster import COLUMNS, ImportSummary, RosterError, RowError, check_header, validate_roster
from domain.sync import ChangeType
from domain.text import email_problem
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.cashiers import cashier_badges
from sync_server.sync.changes import record_change
from sync_server.tables import badge_history, badges, families, pupils

SERVER_ROSTER_COLUMNS = (*COLUMNS, "parent_email")


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
                                    badge_owners=owners, cashier_badges=cashier_badges(conn))
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
