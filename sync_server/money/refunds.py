"""Refunds of a child's balance (DESIGN.md §2): never automatic, never ahead of the kiosks.

A family asks (`ask`: IBAN in Switzerland, Liechtenstein or the SEPA area, the holder's name); the
manager approves (`approve`): the account goes on hold, published to the kiosks like any change,
and the hold's change `seq` is the fence point. The payout waits until every active kiosk has
synced past it (`refund_fence`), which writes the refund entry; the manager then marks it paid or,
before the payout, refuses with a reason. Every step is one transaction and mails the family.

    requested ─approve→ approved ─fence passed→ to_pay ─mark_paid→ paid
        │                  │            └─(balance nil)→ closed
        └──────refuse──────┴→ refused
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schwifty import IBAN
from schwifty.exceptions import NationalChecksumNotVerified, SchwiftyException
from sqlalchemy import Connection, delete, insert, select, update

from domain.clock import from_text, service_date, to_text
from domain.i18n import DEFAULT_LANGUAGE, gettext_for
from domain.meals import HoldReason
from domain.messages import N_, RefectoryError
from domain.money import format_chf
from domain.sync import ChangeType
from domain.text import has_control_characters
from sync_server.admin.family_change import lock_children
from sync_server.families import accounts
from sync_server.money import pain001
from sync_server.money.refund_mail import tell_family
from sync_server.sync.changes import record_change, school_of
from sync_server.tables import holds, pupils, refund_requests

log = logging.getLogger(__name__)

MAX_HOLDER_LENGTH = 70  # a pain.001 creditor name holds 70 characters
MAX_REASON_LENGTH = 500
DOMESTIC = pain001.DOMESTIC


class RefundError(RefectoryError):
    code = "invalid_request"


class Status(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"  # the account is on hold; the payout waits for the kiosks
    TO_PAY = "to_pay"  # the refund entry is written; the transfer is the manager's to make
    PAID = "paid"
    CLOSED = "closed"  # the balance was nil at the payout: nothing to transfer
    REFUSED = "refused"


OPEN = frozenset({Status.REQUESTED, Status.APPROVED, Status.TO_PAY})


@dataclass(frozen=True, slots=True)
class RefundRequest:
    request_id: int
    pupil_id: str
    family_id: str
    first_name: str
    last_name: str
    iban: str
    holder: str
    status: Status
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    fence_seq: int | None
    released_at: datetime | None
    amount_cents: int | None
    entry_id: str | None
    exported_at: datetime | None
    paid_at: datetime | None
    paid_by: str | None
    refusal_reason: str | None

    @property
    def iban_grouped(self) -> str:
        return " ".join(self.iban[i:i + 4] for i in range(0, len(self.iban), 4))

    @property
    def iban_masked(self) -> str:
        """For e-mails: enough to recognise the account, not enough to reuse it."""
        return f"{self.iban[:4]} … {self.iban[-4:]}"


# -- what a family gives -----------------------------------------------------------------------

def normalise_iban(text: str) -> str:
    """The IBAN in electronic form, or a `RefundError` saying in words what is wrong with it."""
    text = (text or "").strip()
    if not text:
        raise RefundError(N_("Enter the IBAN of the account to refund."))
    if len(text) > 50 or has_control_characters(text):
        raise RefundError(N_("This IBAN is not valid: check it against your bank statement."))
    try:
        with warnings.catch_warnings():  # some countries' own check digits schwifty cannot verify
            warnings.simplefilter("ignore", NationalChecksumNotVerified)
            iban = IBAN(text)
    except SchwiftyException as error:
        log.info("refund IBAN refused: %s", error)
        raise RefundError(N_("This IBAN is not valid: check it against your bank statement.")) from None
    if iban.country_code not in DOMESTIC and not iban.in_sepa_zone:
        raise RefundError(N_("Refunds go to an account in Switzerland, Liechtenstein or the SEPA area;"
                             " an IBAN from {country} cannot be used."), country=iban.country_code)
    if pain001.is_qr_iban(iban):
        raise RefundError(N_("This is a QR-IBAN, which only receives QR-bill payments: give the account's"
                             " ordinary IBAN (on your bank statement or in your e-banking)."))
    return iban.compact


def check_holder(text: str) -> str:
    holder = " ".join((text or "").split())
    if not holder:
        raise RefundError(N_("Enter the name of the account holder."))
    if len(holder) > MAX_HOLDER_LENGTH:
        raise RefundError(N_("The account holder's name must fit in {count} characters."), count=MAX_HOLDER_LENGTH)
    if has_control_characters(holder):
        raise RefundError(N_("The account holder's name holds characters that cannot be used."))
    return holder


# -- reading -----------------------------------------------------------------------------------

_SELECT = (select(refund_requests, pupils.c.first_name, pupils.c.last_name)
           .select_from(refund_requests.join(pupils, pupils.c.pupil_id == refund_requests.c.pupil_id)))


def _request(row) -> RefundRequest:
    value = row._mapping

    def instant(name: str) -> datetime | None:
        return from_text(value[name]) if value[name] else None

    return RefundRequest(
        value["request_id"], value["pupil_id"], value["family_id"], value["first_name"], value["last_name"],
        value["iban"], value["holder"], Status(value["status"]), from_text(value["requested_at"]),
        instant("decided_at"), value["decided_by"], value["fence_seq"], instant("released_at"),
        value["amount_cents"], value["entry_id"], instant("exported_at"), instant("paid_at"), value["paid_by"],
        value["refusal_reason"])


def find(conn: Connection, request_id: int) -> RefundRequest:
    row = conn.execute(_SELECT.where(refund_requests.c.request_id == request_id)).first()
    if row is None:
        raise RefundError(N_("No refund request no. {number}."), number=request_id)
    return _request(row)


def of_child(conn: Connection, family_id: str, pupil_id: str) -> list[RefundRequest]:
    """The requests this family made for the child, newest first: a child who moved to another
    family (a new roster) does not show the other family's account to it."""
    rows = conn.execute(_SELECT.where(refund_requests.c.pupil_id == pupil_id, refund_requests.c.family_id == family_id)
                        .order_by(refund_requests.c.request_id.desc()))
    return [_request(row) for row in rows]


def with_status(conn: Connection, *statuses: Status, limit: int | None = None,
                newest_first: bool = False, claim: bool = False) -> list[RefundRequest]:
    """The requests in these statuses; with `claim`, locked until the transaction ends, leaving out
    any another transaction holds (it is deciding them: the payout happens once)."""
    order = refund_requests.c.request_id.desc() if newest_first else refund_requests.c.request_id
    query = _SELECT.where(refund_requests.c.status.in_([str(s) for s in statuses])).order_by(order)
    if claim:
        query = query.with_for_update(of=refund_requests, skip_locked=True)
    return [_request(row) for row in conn.execute(query.limit(limit) if limit else query)]


# -- the steps ---------------------------------------------------------------------------------

def ask(conn: Connection, family_id: str, pupil_id: str, iban: str, holder: str, now: datetime, *,
        canteen: dict, portal_url: str) -> RefundRequest:
    """A family's request for the whole balance of its child; one open request per child."""
    lock_children(conn, pupil_id)  # a move to another family at the same moment: one waits for the other
    child = accounts.own_child(conn, family_id, pupil_id)  # NotYoursError for anyone else's child
    iban, holder = normalise_iban(iban), check_holder(holder)
    if conn.execute(select(refund_requests.c.request_id).where(refund_requests.c.open_for == pupil_id)).first():
        raise RefundError(N_("A refund for {name} is already in progress."), name=child.first_name)
    if child.balance_cents <= 0:
        raise RefundError(N_("There is nothing to refund: the balance of {name} is {balance}."),
                          name=child.first_name, balance=format_chf(child.balance_cents))
    request_id = conn.execute(insert(refund_requests).values(
        pupil_id=pupil_id, family_id=family_id, open_for=pupil_id, iban=iban, holder=holder,
        status=str(Status.REQUESTED), requested_at=to_text(now))).inserted_primary_key[0]
    request = find(conn, request_id)
    tell_family(conn, request, now, canteen=canteen, portal_url=portal_url, balance_cents=child.balance_cents)
    return request


def approve(conn: Connection, request_id: int, manager_id: str, now: datetime, *, canteen: dict,
            portal_url: str) -> RefundRequest:
    """Put the account on hold and remember the hold's place in the change log (the fence point).

    The caller then runs `refund_fence.release_due` in the same transaction, which pays out at
    once when no kiosk is active."""
    pupil_id = _in(find(conn, request_id), Status.REQUESTED).pupil_id
    # The pupil's row locked until commit (as an exclusion does), then the request read again: a
    # concurrent approval or exclusion has committed by then, and is seen.
    conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id == pupil_id).with_for_update(key_share=True))
    request = _in(find(conn, request_id), Status.REQUESTED)
    held = conn.execute(select(holds.c.reason).where(holds.c.pupil_id == request.pupil_id)).scalar()
    if held is not None:
        raise RefundError(N_("The account of {name} is already on hold ({reason})."), name=request.first_name,
                          reason=held)
    since = to_text(now)
    conn.execute(insert(holds).values(pupil_id=request.pupil_id, reason=str(HoldReason.REFUND), since=since))
    fence = record_change(conn, ChangeType.HOLD, request.pupil_id,
                          {"pupil_id": request.pupil_id, "reason": str(HoldReason.REFUND), "since": since}, now,
                          school=school_of(conn, request.pupil_id))
    return advance(conn, request, now, canteen, portal_url, status=Status.APPROVED, decided_at=since,
                 decided_by=manager_id, fence_seq=fence)


def refuse(conn: Connection, request_id: int, manager_id: str, reason: str, now: datetime, *, canteen: dict,
           portal_url: str) -> RefundRequest:
    """Refuse before the payout; an approved request's hold is lifted (no money moved)."""
    request = _in(find(conn, request_id), Status.REQUESTED, Status.APPROVED)
    reason = " ".join((reason or "").split())
    if not reason:
        raise RefundError(N_("Give the family the reason for the refusal."))
    if len(reason) > MAX_REASON_LENGTH:
        raise RefundError(N_("Keep the reason under {count} characters."), count=MAX_REASON_LENGTH)
    if request.status is Status.APPROVED:
        lift_hold(conn, request.pupil_id, now)
    return advance(conn, request, now, canteen, portal_url, status=Status.REFUSED, open_for=None,
                 decided_at=to_text(now), decided_by=manager_id, refusal_reason=reason)


def mark_paid(conn: Connection, request_id: int, manager_id: str, now: datetime, *, canteen: dict,
              portal_url: str) -> RefundRequest:
    request = _in(find(conn, request_id), Status.TO_PAY)
    return advance(conn, request, now, canteen, portal_url, status=Status.PAID, open_for=None,
                 paid_at=to_text(now), paid_by=manager_id)


def mark_exported(conn: Connection, request_ids: list[int], now: datetime) -> set[int]:
    """Mark these requests exported, and return those no other file took first (a concurrent
    export waits for this one's row locks and then finds them exported)."""
    return set(conn.execute(update(refund_requests).where(refund_requests.c.request_id.in_(request_ids),
                                                          refund_requests.c.exported_at.is_(None))
                            .values(exported_at=to_text(now)).returning(refund_requests.c.request_id)).scalars())


def payment_file(conn: Connection, config, now: datetime) -> tuple[bytes, list[RefundRequest]]:
    """A pain.001 file paying every refund to pay that no earlier file holds, marked exported (not
    yet paid: the manager marks each paid once the bank has executed it). A refund is in one file
    only: uploaded twice, a file would pay it twice."""
    to_pay = [r for r in with_status(conn, Status.TO_PAY) if r.amount_cents]
    claimed = mark_exported(conn, [r.request_id for r in to_pay if r.exported_at is None], now)
    due = [r for r in to_pay if r.request_id in claimed]
    if to_pay and not due:
        raise RefundError(N_("Every refund to pay is in a payment file already: mark each paid once the bank has"
                             " executed it."))
    _ = gettext_for(DEFAULT_LANGUAGE)  # the canteen's language, on the family's bank statement
    transfers = [pain001.Transfer(f"REFUND-{r.request_id}", r.amount_cents, r.iban, r.holder,
                                  _("Refund of the canteen balance of {name}").format(
                                      name=f"{r.first_name} {r.last_name}")) for r in due]
    document = pain001.credit_transfer(
        transfers, pain001.Debtor.from_config(config), message_id=f"REFECTORY-{now:%Y%m%d%H%M%S}",
        created_at=now, execution_date=service_date(now), version=config.get("REFUND_PAIN001_VERSION") or "09")
    return document, due


def lift_hold(conn: Connection, pupil_id: str, now: datetime) -> None:
    conn.execute(delete(holds).where(holds.c.pupil_id == pupil_id, holds.c.reason == str(HoldReason.REFUND)))
    record_change(conn, ChangeType.HOLD, pupil_id, None, now, school=school_of(conn, pupil_id))


def _in(request: RefundRequest, *allowed: Status) -> RefundRequest:
    if request.status not in allowed:
        raise RefundError(N_("Refund request no. {number} is {status} already: it cannot change that way."),
                          number=request.request_id, status=str(request.status))
    return request


def advance(conn: Connection, request: RefundRequest, now: datetime, canteen: dict, portal_url: str, *,
          status: Status, **values) -> RefundRequest:
    """The request's next step, guarded by its current status (a double click changes nothing)."""
    moved = conn.execute(update(refund_requests).where(refund_requests.c.request_id == request.request_id,
                                                       refund_requests.c.status == str(request.status))
                         .values(status=str(status), **values)).rowcount
    if moved != 1:
        raise RefundError(N_("Refund request no. {number} changed meanwhile: reload the page."),
                          number=request.request_id)
    request = find(conn, request.request_id)
    tell_family(conn, request, now, canteen=canteen, portal_url=portal_url)
    return request
