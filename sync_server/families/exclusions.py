"""Exclusions: the manager puts a pupil's account on hold, with the committee's reason (the canteen's
rule: a pupil whose account goes negative may be excluded), and lifts it the same way.

An exclusion is a hold of reason `manager` in the same `holds` table as a refund's, published to
the kiosks through the same change feed; the kiosk shows its reason at the refusal
(`domain.meals.decide_meal`) and the family reads it on the portal's home page. A pupil has one
hold at a time: an account on hold for a refund cannot be excluded until the refund is done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select

from domain.clock import from_text, to_text
from domain.meals import HoldReason
from domain.messages import N_, RefectoryError
from domain.sync import ChangeType
from domain.text import has_control_characters
from sync_server.db import fetch_all, in_json_list
from sync_server.sync.changes import record_change, school_of
from sync_server.tables import holds, pupils

MAX_REASON = 80  # fits the two hint lines under the kiosk's refusal on an 800×480 panel


class ExclusionError(RefectoryError):
    code = "invalid_request"


@dataclass(frozen=True, slots=True)
class Exclusion:
    pupil_id: str
    reason: str
    since: datetime


def check_reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if not reason or len(reason) > MAX_REASON:
        raise ExclusionError(N_("Give the reason for the exclusion (at most {count} characters)."), count=MAX_REASON)
    if has_control_characters(reason):
        raise ExclusionError(N_("The reason holds characters that cannot be used."))
    return reason


def exclude(conn: Connection, pupil_id: str, reason: str, now: datetime) -> Exclusion:
    """Hold the account: every kiosk refuses the pupil's meals from its next sync, saying why."""
    reason = check_reason(reason)
    # The pupil's row locked until commit: a refund's approval (which locks it too) cannot put its
    # hold in between the check below and this hold.
    name = conn.execute(select(pupils.c.first_name).where(pupils.c.pupil_id == pupil_id)
                        .with_for_update(key_share=True)).scalar()
    if name is None:
        raise ExclusionError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
    held = conn.execute(select(holds.c.reason).where(holds.c.pupil_id == pupil_id)).scalar()
    if held == HoldReason.REFUND:
        raise ExclusionError(N_("The account of {name} is on hold for a refund: exclude it once the refund is"
                                " done."), name=name)
    since = to_text(now)
    conn.execute(delete(holds).where(holds.c.pupil_id == pupil_id))  # a new reason replaces the old one
    conn.execute(insert(holds).values(pupil_id=pupil_id, reason=str(HoldReason.MANAGER), since=since, note=reason))
    record_change(conn, ChangeType.HOLD, pupil_id,
                  {"pupil_id": pupil_id, "reason": str(HoldReason.MANAGER), "since": since, "note": reason}, now,
                  school=school_of(conn, pupil_id))
    return Exclusion(pupil_id, reason, now)


def lift(conn: Connection, pupil_id: str, now: datetime) -> Exclusion:
    """End the exclusion: the kiosks serve the pupil again from their next sync."""
    found = of_pupils(conn, [pupil_id]).get(pupil_id)
    if found is None:
        raise ExclusionError(N_("Pupil '{pupil_id}' is not excluded."), pupil_id=pupil_id)
    conn.execute(delete(holds).where(holds.c.pupil_id == pupil_id, holds.c.reason == str(HoldReason.MANAGER)))
    record_change(conn, ChangeType.HOLD, pupil_id, None, now, school=school_of(conn, pupil_id))
    return found


# Built once: the home page asks on every visit.
_OF_PUPILS = select(holds.c.pupil_id, holds.c.note, holds.c.since).where(
    in_json_list(holds.c.pupil_id, "pupil_ids"), holds.c.reason == bindparam("reason", HoldReason.MANAGER.value))


def of_pupils(conn: Connection, pupil_ids: Iterable[str]) -> dict[str, Exclusion]:
    """The exclusions in force among these pupils, by pupil id."""
    rows = fetch_all(conn, _OF_PUPILS, {"pupil_ids": json.dumps(list(pupil_ids))})
    return {pupil_id: Exclusion(pupil_id, note or "", from_text(since)) for pupil_id, note, since in rows}
