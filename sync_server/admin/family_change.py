"""A child changing family, by the manager's move or a roster import: what refuses it, and what
of the old family's ends with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, or_, select, update

from domain.clock import to_text
from domain.messages import N_, Message
from sync_server.tables import (
    automatic_topup_charges,
    automatic_topups,
    pupils,
    refund_requests,
    sibling_transfers,
    standing_orders,
)


def lock_children(conn: Connection, *pupil_ids: str) -> None:
    """The children's rows locked until commit, in id order: a change of family and a refund or a
    transfer asked for one of them at the same moment take turns, and the second sees what the
    first did (on PostgreSQL; SQLite has one writer at a time anyway)."""
    conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id.in_(sorted(set(pupil_ids))))
                 .order_by(pupils.c.pupil_id).with_for_update(key_share=True)).all()


def change_problem(conn: Connection, pupil_id: str) -> Message | None:
    """Why the child may not change family now: money on its way out of the account (a refund), or
    between it and a sibling (once booked, one family's money would reach another's child). A
    writer locks the child's row first (`lock_children`); a preview only reads."""
    if conn.execute(select(refund_requests.c.request_id).where(refund_requests.c.open_for == pupil_id)).first():
        return Message(N_("A refund is open for this child: settle it before moving the child."))
    if conn.execute(select(sibling_transfers.c.transfer_id).where(
            sibling_transfers.c.status == "waiting",  # money.sibling_transfers.Status.WAITING (money imports admin)
            or_(sibling_transfers.c.from_pupil == pupil_id, sibling_transfers.c.to_pupil == pupil_id))).first():
        return Message(N_("A transfer between this child and a brother or sister is waiting for the kiosks:"
                          " move the child once it is booked."))
    return None


def end_old_familys_arrangements(conn: Connection, pupil_id: str, now: datetime) -> None:
    """The old family's standing order, and its automatic top-up with today's charge not yet sent
    (as the family turning it off would: `money.automatic_topups.turn_off`): the new family agreed
    to neither."""
    conn.execute(delete(standing_orders).where(standing_orders.c.pupil_id == pupil_id))
    conn.execute(delete(automatic_topups).where(automatic_topups.c.pupil_id == pupil_id))
    conn.execute(update(automatic_topup_charges)  # money.automatic_topups.ChargeStatus, as above
                 .where(automatic_topup_charges.c.pupil_id == pupil_id, automatic_topup_charges.c.status == "due",
                        automatic_topup_charges.c.reference.is_(None))
                 .values(status="cancelled", last_error="the child changed family", updated_at=to_text(now)))
