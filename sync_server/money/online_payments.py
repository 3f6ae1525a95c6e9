"""Online top-ups: each payment a family starts on the portal, and its credit, made exactly once.

A payment is recorded (status `pending`) when the provider has opened its transaction. Whatever
then tells us the provider's verdict — the signed webhook, the status fetched when the family comes
back, a manager's "ask the provider" — goes through `apply`, in one write transaction: the first
confirmation of a settled payment writes the `online_topup` entry (published to the kiosks like
any server entry) and the family's e-mail; every later one finds `entry_id` set and adds nothing.
A settled payment whose amount or currency differs from ours is not credited: it waits as
`review` for the manager, who may credit what was settled if it is within the canteen's top-up
maximum (`topup.max`), the bound the portal put on the amount asked.

Automatic top-ups ride on the same path: the registering payment is an ordinary one that asked
the provider for an alias (its first credit also keeps the alias, `automatic_topups.register`),
and each automatic charge is recorded here (`origin` automatic) and credited by `apply`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from domain.clock import from_text, to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.messages import N_, RefectoryError
from domain.money import AmountError, check_amount, format_chf
from sync_server.admin.canteen_settings import current_settings
from sync_server.families.accounts import mail_family
from sync_server.money import automatic_topups
from sync_server.money.datatrans import Outcome, Status
from sync_server.sync import ledger
from sync_server.tables import online_payments, pupils

log = logging.getLogger(__name__)


class PaymentError(RefectoryError):
    code = "payment_refused"


class Origin(StrEnum):
    PORTAL = "portal"  # the family paid on the provider's page
    AUTOMATIC = "automatic"  # charged with the child's saved alias


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    REVIEW = "review"  # the provider settled an amount or currency that is not the one we asked


@dataclass(frozen=True, slots=True)
class Payment:
    reference: str
    transaction_id: str
    family_id: str
    pupil_id: str
    amount_cents: int
    method: str
    status: PaymentStatus
    provider_status: str
    created_at: datetime
    updated_at: datetime
    entry_id: str | None
    first_name: str = ""
    last_name: str = ""
    origin: Origin = Origin.PORTAL
    automatic_threshold_cents: int | None = None  # registers an automatic top-up once paid
    automatic_amount_cents: int | None = None
    terms_document_id: int | None = None

    @property
    def registers_automatic_topup(self) -> bool:
        return self.automatic_amount_cents is not None


def new_reference() -> str:
    """Our reference (the provider's `refno`): 14 characters, unguessable, at most 20 as Datatrans allows."""
    return "OP" + secrets.token_hex(6).upper()


def record(conn: Connection, *, reference: str, transaction_id: str, family_id: str, pupil_id: str,
           amount_cents: int, method: str, terms_document_id: int, now: datetime, origin: Origin = Origin.PORTAL,
           automatic: tuple[int, int] | None = None) -> Payment:
    """Keep a payment the provider has just opened, until it tells us how it ended. `automatic`
    (threshold, amount in centimes): the family registers what pays for automatic top-ups."""
    at = to_text(now)
    threshold, amount = automatic or (None, None)
    values = {"reference": reference, "transaction_id": transaction_id, "family_id": family_id,
              "pupil_id": pupil_id, "amount_cents": amount_cents, "method": method,
              "terms_document_id": terms_document_id, "status": PaymentStatus.PENDING.value,
              "provider_status": "initialized", "created_at": at, "updated_at": at, "origin": origin.value,
              "automatic_threshold_cents": threshold, "automatic_amount_cents": amount}
    conn.execute(insert(online_payments).values(**values))
    return find(conn, reference)


_SELECT = (select(online_payments, pupils.c.first_name, pupils.c.last_name)
           .select_from(online_payments.join(pupils, online_payments.c.pupil_id == pupils.c.pupil_id)))


def _payment(row) -> Payment:
    return Payment(row.reference, row.transaction_id, row.family_id, row.pupil_id, row.amount_cents, row.method,
                   PaymentStatus(row.status), row.provider_status, from_text(row.created_at),
                   from_text(row.updated_at), row.entry_id, row.first_name, row.last_name, Origin(row.origin),
                   row.automatic_threshold_cents, row.automatic_amount_cents, row.terms_document_id)


def find(conn: Connection, reference: str) -> Payment | None:
    row = conn.execute(_SELECT.where(online_payments.c.reference == reference)).first()
    return _payment(row) if row else None


def family_payment(conn: Connection, family_id: str, reference: str) -> Payment | None:
    """The family's own payment; None for anyone else's, as for one that does not exist."""
    found = find(conn, reference[:40])
    return found if found is not None and found.family_id == family_id else None


def recent(conn: Connection, *, status: PaymentStatus | None = None, limit: int = 200) -> list[Payment]:
    """The latest payments, newest first (the back office's list)."""
    query = _SELECT.order_by(online_payments.c.created_at.desc(), online_payments.c.reference).limit(limit)
    if status is not None:
        query = query.where(online_payments.c.status == status.value)
    return [_payment(row) for row in conn.execute(query)]


def apply(conn: Connection, told: Status, now: datetime, *, canteen: dict, portal_url: str) -> Payment | None:
    """Bring our payment in line with what the provider says; None when it is not one of ours.

    The caller's write transaction makes it one step: the credit, its e-mail and the new status, or
    nothing. A paid payment never goes back; a refused or cancelled one can still become paid if
    the provider later says so (its word on the money is final)."""
    row = conn.execute(select(online_payments).where(online_payments.c.transaction_id == told.transaction_id)
                       .with_for_update()).first()  # the webhook and the return page at once: one credits
    if row is None or (told.refno and told.refno != row.reference):
        return None
    payment = find(conn, row.reference)
    if payment.status is PaymentStatus.PAID:
        return payment  # already credited: a duplicate or late word changes nothing
    changes = {"provider_status": told.status[:40], "updated_at": to_text(now)}
    outcome = told.outcome
    if outcome is Outcome.PAID:
        if told.amount_cents != payment.amount_cents or told.currency != "CHF":
            changes["status"] = PaymentStatus.REVIEW.value
            changes["provider_status"] = f"{told.status} {told.currency} {told.amount_cents}"[:40]
        else:
            changes["status"] = PaymentStatus.PAID.value
            changes["entry_id"] = _credit(conn, payment, now, canteen, portal_url)
            if payment.registers_automatic_topup:
                _register(conn, payment, told, now)
    elif outcome is Outcome.DECLINED and payment.status is not PaymentStatus.REVIEW:
        changes["status"] = PaymentStatus.DECLINED.value
    elif outcome is Outcome.CANCELLED and payment.status is not PaymentStatus.REVIEW:
        changes["status"] = PaymentStatus.CANCELLED.value
    conn.execute(update(online_payments).where(online_payments.c.reference == payment.reference).values(**changes))
    return find(conn, payment.reference)


def credit_settled(conn: Connection, told: Status, manager_id: str, now: datetime, *, canteen: dict,
                   portal_url: str) -> Payment:
    """A payment held for review, checked by the manager: credit what the provider settled (fetched
    again just now), since that money is on the canteen's account whatever was asked."""
    payment = conn.execute(select(online_payments.c.reference).where(
        online_payments.c.transaction_id == told.transaction_id).with_for_update()).scalar_one_or_none()
    payment = find(conn, payment) if payment else None
    if payment is None or payment.status is not PaymentStatus.REVIEW:
        raise PaymentError(N_("This payment is not waiting for a check."))
    if told.outcome is not Outcome.PAID or told.currency != "CHF" or (told.amount_cents or 0) <= 0:
        raise PaymentError(N_("Datatrans now says {status} ({currency} {amount} centimes): there is nothing to credit;"
                              " settle it on the Datatrans dashboard."),
                           status=told.status, currency=told.currency,
                           amount="?" if told.amount_cents is None else told.amount_cents)
    try:
        check_amount(told.amount_cents, maximum_cents=current_settings(conn).topup_max_cents)
    except AmountError as error:
        raise PaymentError(N_("Datatrans settled {amount}: {problem} Settle it on the Datatrans dashboard."),
                           amount=format_chf(told.amount_cents), problem=error.message) from None
    payment = replace(payment, amount_cents=told.amount_cents)
    entry_id = _credit(conn, payment, now, canteen, portal_url, operator=manager_id)
    conn.execute(update(online_payments).where(online_payments.c.reference == payment.reference).values(
        status=PaymentStatus.PAID.value, entry_id=entry_id, amount_cents=told.amount_cents,
        provider_status=told.status[:40], updated_at=to_text(now)))
    return find(conn, payment.reference)


def _credit(conn: Connection, payment: Payment, now: datetime, canteen: dict, portal_url: str,
            operator: str | None = None) -> str:
    entry = LedgerEntry(new_entry_id(), payment.pupil_id, payment.amount_cents, EntryKind.ONLINE_TOPUP, now,
                        "server", operator=operator, reference=payment.transaction_id)
    ledger.append(conn, entry, now)
    _tell_family(conn, payment, now, canteen, portal_url)
    return entry.id


def _register(conn: Connection, payment: Payment, told: Status, now: datetime) -> None:
    """The registering payment is paid: keep what paid it for automatic top-ups. Without an alias
    (the merchant account lacks the provider's alias option) the payment still counts, alone."""
    if told.alias is None or told.alias.method != payment.method:
        log.warning("payment %s paid without the alias it asked for: no automatic top-up for %s",
                    payment.reference, payment.pupil_id)
        return
    family_now = conn.execute(select(pupils.c.family_id).where(pupils.c.pupil_id == payment.pupil_id)).scalar()
    if family_now != payment.family_id:  # moved to another family while the payment was open
        log.warning("payment %s paid for %s, who changed family meanwhile: no automatic top-up on %s's card",
                    payment.reference, payment.pupil_id, payment.family_id)
        return
    automatic_topups.register(conn, pupil_id=payment.pupil_id, family_id=payment.family_id,
                              threshold_cents=payment.automatic_threshold_cents,
                              amount_cents=payment.automatic_amount_cents, alias=told.alias,
                              terms_document_id=payment.terms_document_id, registered_with=payment.reference,
                              now=now)


def _tell_family(conn: Connection, payment: Payment, now: datetime, canteen: dict, portal_url: str) -> None:
    template = "automatic_topup_charged" if payment.origin is Origin.AUTOMATIC else "online_payment_received"
    mail_family(conn, payment.family_id, template, now, payment=payment, canteen=canteen, portal_url=portal_url)
