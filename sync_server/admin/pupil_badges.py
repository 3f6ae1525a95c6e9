"""A pupil's badges: assign, mark lost, replace, and their history.

The server is the source of every badge's status: each change is published to the change log in
its transaction, so a badge marked lost here is refused at every kiosk from its next sync. A
kiosk's cashier may block a pupil's lost badge at the counter: the kiosk refuses it at once and
pushes the block, which marks it lost here as the back office does (`ingest_blocks`). A badge
that was lost or replaced is never used again, by anyone: a found badge could have been copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from domain.badges import BadgeUidError, normalize_uid
from domain.clock import from_text, to_text
from domain.meals import BadgeStatus
from domain.messages import N_, Message
from domain.sync import Ack, AckStatus, BadgeBlock, ChangeType
from domain.text import has_control_characters
from sync_server.admin import audit
from sync_server.admin.cashiers import cashier_badges
from sync_server.admin.errors import FieldErrors
from sync_server.db import BADGE_UID, hold_name
from sync_server.sync.changes import record_change, school_of
from sync_server.tables import badge_history, badges, pupils

MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class Badge:
    uid: str
    pupil_id: str
    status: BadgeStatus
    since: datetime


@dataclass(frozen=True, slots=True)
class BadgeEvent:
    at: datetime
    uid: str
    status: BadgeStatus
    reason: str | None


def set_badge(conn: Connection, uid: str, pupil_id: str, status: str, now: datetime,
              reason: str | None = None) -> None:
    """Write a badge's status, its history line and the change the kiosks pull."""
    record = {"uid": uid, "pupil_id": pupil_id, "status": str(status), "since": to_text(now)}
    if conn.execute(update(badges).where(badges.c.uid == uid).values(**record)).rowcount == 0:
        conn.execute(insert(badges).values(**record))
    conn.execute(insert(badge_history).values(uid=uid, pupil_id=pupil_id, status=str(status), at=to_text(now),
                                              reason=reason))
    record_change(conn, ChangeType.BADGE, uid, record, now, school=school_of(conn, pupil_id))


def replace_badges(conn: Connection, pupil_id: str, uid: str, now: datetime, reason: str | None = None) -> None:
    """A new badge for a pupil: the old active ones become "replaced" (a lost badge stays lost).

    The pupil's row is locked until commit first, so two managers giving the pupil a badge at once
    take turns, and the pupil keeps one active badge."""
    conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id == pupil_id).with_for_update(key_share=True))
    old = conn.execute(select(badges.c.uid).where(badges.c.pupil_id == pupil_id, badges.c.status == "active")).all()
    for (old_uid,) in old:
        set_badge(conn, old_uid, pupil_id, BadgeStatus.REPLACED, now, reason)
    set_badge(conn, uid, pupil_id, BadgeStatus.ACTIVE, now)


def badge(conn: Connection, uid: str, *, lock: bool = False) -> Badge | None:
    """The badge; with `lock`, its row locked until commit (blocking it twice at once blocks it once)."""
    query = select(badges).where(badges.c.uid == uid)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return Badge(row.uid, row.pupil_id, BadgeStatus(row.status), from_text(row.since)) if row else None


def pupil_badges(conn: Connection, pupil_id: str) -> list[Badge]:
    rows = conn.execute(select(badges).where(badges.c.pupil_id == pupil_id)
                        .order_by(badges.c.since.desc(), badges.c.uid))
    return [Badge(row.uid, row.pupil_id, BadgeStatus(row.status), from_text(row.since)) for row in rows]


def history(conn: Connection, pupil_id: str) -> list[BadgeEvent]:
    """What happened to the pupil's badges, newest first."""
    rows = conn.execute(select(badge_history).where(badge_history.c.pupil_id == pupil_id)
                        .order_by(badge_history.c.id.desc()))
    return [BadgeEvent(from_text(row.at), row.uid, BadgeStatus(row.status), row.reason) for row in rows]


def assign(conn: Connection, pupil_id: str, uid_text: str, now: datetime) -> str:
    """Give the pupil the badge `uid_text` (any reader's format); their active badge becomes
    "replaced". Returns the UID as stored."""
    if conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id == pupil_id)).first() is None:
        raise FieldErrors({"pupil_id": Message(N_("Unknown pupil '{pupil_id}'."), {"pupil_id": pupil_id})})
    uid = _new_uid(conn, uid_text, pupil_id)
    replace_badges(conn, pupil_id, uid, now)
    return uid


def mark_lost(conn: Connection, uid_text: str, reason: str, now: datetime) -> Badge:
    """The badge is lost: refused at every kiosk from its next sync, for good."""
    found = _known(conn, uid_text)
    reason = _reason(reason)
    if found.status is not BadgeStatus.ACTIVE:
        raise FieldErrors({"uid": Message(N_("Badge {uid} is already blocked ({status})."),
                                          {"uid": found.uid, "status": Message(STATUS_NAMES[found.status])})})
    set_badge(conn, found.uid, found.pupil_id, BadgeStatus.LOST, now, reason)
    return Badge(found.uid, found.pupil_id, BadgeStatus.LOST, now)


def ingest_blocks(conn: Connection, kiosk_id: str, blocks: list[BadgeBlock], now: datetime) -> list[Ack]:
    """Badges a kiosk's cashiers blocked as lost (its own blocks, checked by the caller): each marked
    lost as `mark_lost` does, with the cashier's reason in its history and in the journal; one ack
    each, in order. A badge blocked already (this block sent again, the back office, another
    kiosk) is a duplicate: a blocked badge is never active again."""
    acks = []
    for block in blocks:
        found = badge(conn, block.uid, lock=True)
        if found is None or found.pupil_id != block.pupil_id:
            acks.append(Ack(block.id, AckStatus.REJECTED, f"badge {block.uid} is not pupil {block.pupil_id}'s here"))
        elif found.status is not BadgeStatus.ACTIVE:
            acks.append(Ack(block.id, AckStatus.DUPLICATE))
        else:
            set_badge(conn, found.uid, found.pupil_id, BadgeStatus.LOST, now, block.reason)
            audit.record(conn, f"{kiosk_id}/{block.blocked_by}", "badge.lost", found.pupil_id, now,
                         f"{found.uid}: {block.reason}")
            acks.append(Ack(block.id, AckStatus.ACCEPTED))
    return acks


def replace(conn: Connection, old_uid_text: str, new_uid_text: str, now: datetime, reason: str = "") -> Badge:
    """A new badge in place of `old_uid_text`, for the same pupil. The old one is blocked: "replaced"
    if it was active, and a lost one stays lost."""
    old = _known(conn, old_uid_text)
    reason = reason.strip()
    if reason:
        reason = _reason(reason)
    uid = _new_uid(conn, new_uid_text, old.pupil_id, field="new_uid")
    if old.status is BadgeStatus.ACTIVE:
        set_badge(conn, old.uid, old.pupil_id, BadgeStatus.REPLACED, now, reason or None)
    replace_badges(conn, old.pupil_id, uid, now, reason or None)
    return Badge(uid, old.pupil_id, BadgeStatus.ACTIVE, now)


STATUS_NAMES = {
    BadgeStatus.ACTIVE: N_("active"),
    BadgeStatus.LOST: N_("lost"),
    BadgeStatus.REPLACED: N_("replaced"),
    BadgeStatus.DISABLED: N_("disabled"),
}


def _known(conn: Connection, uid_text: str) -> Badge:
    try:
        uid = normalize_uid(uid_text.strip())
    except BadgeUidError as error:
        raise FieldErrors({"uid": error.message}) from None
    found = badge(conn, uid, lock=True)
    if found is None:
        raise FieldErrors({"uid": Message(N_("Badge {uid} is not known."), {"uid": uid})})
    return found


def _new_uid(conn: Connection, uid_text: str, pupil_id: str, *, field: str = "uid") -> str:
    """The UID of a badge that may be given to `pupil_id`: well formed, never used, no cashier's."""
    try:
        uid = normalize_uid(uid_text.strip())
    except BadgeUidError as error:
        raise FieldErrors({field: error.message}) from None
    hold_name(conn, BADGE_UID, uid)  # as a cashier's badge does: no pupil and cashier get it at once
    found = badge(conn, uid)
    if found is not None and found.pupil_id != pupil_id:
        raise FieldErrors({field: Message(N_("Badge {uid} already belongs to pupil {owner}."),
                                          {"uid": uid, "owner": found.pupil_id})})
    if found is not None and found.status is BadgeStatus.ACTIVE:
        raise FieldErrors({field: Message(N_("Badge {uid} is already this pupil's badge."), {"uid": uid})})
    if found is not None:
        raise FieldErrors({field: Message(N_("Badge {uid} was {status}: a blocked badge is never used again."),
                                          {"uid": uid, "status": Message(STATUS_NAMES[found.status])})})
    if uid in cashier_badges(conn):
        raise FieldErrors({field: Message(N_("Badge {uid} is a cashier's badge."), {"uid": uid})})
    return uid


def _reason(text: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise FieldErrors({"reason": Message(N_("Say why (e.g. where or when it was lost)."))})
    if len(reason) > MAX_REASON or has_control_characters(reason):
        raise FieldErrors({"reason": Message(N_("The reason must be one line of at most {count} characters."),
                                             {"count": str(MAX_REASON)})})
    return reason
