"""The audit log: who among the canteen's staff did what, and when (DESIGN §6).

Each entry is written in the transaction of the action it records, so an action that is rolled
back leaves no entry and an action that stands always has one. Entries are never changed.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from domain.clock import from_text, to_text
from domain.entries import EntryKind, LedgerEntry
from domain.messages import N_
from domain.money import format_chf
from sync_server.tables import audit_log

ACTIONS = {  # action → what the back office shows (msgids)
    "manager.login": N_("Logged in"),
    "bank.import": N_("Bank file imported"),
    "bank.assign": N_("Bank credit assigned"),
    "payment.ask": N_("Datatrans asked about a payment"),
    "payment.credit_settled": N_("Settled amount credited"),
    "refund.approve": N_("Refund approved"),
    "refund.refuse": N_("Refund refused"),
    "refund.paid": N_("Refund marked paid"),
    "refund.export": N_("Refund payment file downloaded"),
    "kiosk.revoke": N_("Kiosk revoked"),
    "kiosk.code": N_("Kiosk enrollment code issued"),
    "pupils.import": N_("Pupils imported"),
    "pupil.add": N_("Pupil added"),
    "pupil.edit": N_("Pupil changed"),
    "pupil.deactivate": N_("Pupil left the refectory"),
    "pupil.move": N_("Pupil moved to another family"),
    "family.email": N_("Family e-mail changed"),
    "badge.assign": N_("Badge assigned"),
    "badge.lost": N_("Badge marked lost"),
    "badge.replace": N_("Badge replaced"),
    "menus.import": N_("Menus imported"),
    "setting.set": N_("Setting changed"),
    "cashier.add": N_("Cashier added or changed"),
    "cashier.pin": N_("Cashier PIN reset"),
    "cashier.badge": N_("Cashier badge changed"),
    "family.login": N_("Family login issued"),
    "family.password": N_("Family password reset"),
    "document.add": N_("Document published"),
    "document.withdraw": N_("Document withdrawn"),
    "menus.edit": N_("Day's menu changed"),
    "calendar.close": N_("Days closed"),
    "calendar.reopen": N_("Days reopened"),
    "manager.set": N_("Back-office login issued"),
    "manager.role": N_("Back-office role changed"),
    "manager.password": N_("Back-office password reset"),
    "manager.remove": N_("Back-office login removed"),
    "server.restore": N_("Server restored from a backup"),
    "reservation.book": N_("Meal booked for a family"),
    "reservation.cancel": N_("Meal cancelled for a family"),
    "exclusion.set": N_("Pupil excluded"),
    "exclusion.lift": N_("Exclusion lifted"),
    "standing_order.cancel": N_("Standing order cancelled for a family"),
    "counter.meal_without_badge": N_("Meal served without badge at a kiosk"),
    "counter.cancel": N_("Operation cancelled at a kiosk"),
    "transfer.ask": N_("Transfer between siblings asked (amount set aside)"),
    "transfer.book": N_("Transfer between siblings booked"),
    "transfer.cancel": N_("Transfer between siblings cancelled (balance spent at a kiosk)"),
}
MAX_DETAIL = 500


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str


def record(conn: Connection, actor: str, action: str, subject: str, now: datetime, detail: str = "") -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    conn.execute(insert(audit_log).values(at=to_text(now), actor=actor, action=action, subject=subject[:200],
                                          detail=detail[:MAX_DETAIL]))


def record_counter_exceptions(conn: Connection, booked: list[LedgerEntry], now: datetime) -> None:
    """A kiosk's meals served without badge and its cancellations, as they are booked: each in the
    journal under "<kiosk>/<cashier>", with the amount and the cashier's reason."""
    for entry in booked:
        if entry.kind is EntryKind.MEAL and entry.operator is not None:
            action = "counter.meal_without_badge"
        elif entry.kind is EntryKind.REVERSAL:
            action = "counter.cancel"
        else:
            continue
        record(conn, f"{entry.origin}/{entry.operator}", action, entry.account_id, now,
               f"{format_chf(abs(entry.amount_cents))}: {entry.note or ''}")


def command_line_actor() -> str:
    """Who ran a manager command on the server's own machine."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def recent(conn: Connection, limit: int = 200) -> list[AuditEntry]:
    rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
    return [AuditEntry(from_text(row.at), row.actor, row.action, row.subject, row.detail) for row in rows]
