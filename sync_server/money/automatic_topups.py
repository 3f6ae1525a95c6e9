"""Automatic top-ups: a family lets the canteen charge a saved card or Twint when a child runs low.

The family registers the alias with an ordinary online payment (`online_payments.apply` calls
`register` when that payment is paid and the provider gave an alias). From then on, a kiosk push
that takes the child's balance below the family's threshold queues one charge for that Zurich day
(`queue_fallen`, in the push's transaction: an insert, no call to the provider, so a push stays
fast and never waits on it). The charge itself is made later, outside any push, by
`automatic_charges.charge_due`. One charge row per child and day (a unique index) makes "at most
once a day" hold whatever the number of pushes, kiosks or app servers. Turning the setting off
forgets the alias and cancels a charge not yet sent; an attempt already sent but not yet answered
keeps its own copy of the alias until it ends, so it is asked again and its outcome booked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Connection, delete, insert, select, update

from domain.clock import from_text, service_date, to_text
from domain.money import parse_amount
from domain.settings import Settings
from sync_server.db import in_json_list, insert_new
from sync_server.money.datatrans import Alias
from sync_server.tables import automatic_topup_charges, automatic_topups

RECENT_CHARGES = 5


class ChargeStatus(StrEnum):
    DUE = "due"  # to be sent to the provider at `next_attempt_at` (again, when its attempt has a reference)
    SENT = "sent"  # authorized by the provider; its online payment waits for the final word
    PAID = "paid"  # credited
    DECLINED = "declined"  # declined twice (or the provider never answered): given up, the setting off
    CANCELLED = "cancelled"  # not sent: the setting was turned off, or the account is on hold


@dataclass(frozen=True, slots=True)
class Setting:
    pupil_id: str
    family_id: str
    threshold_cents: int
    amount_cents: int
    alias: Alias
    terms_document_id: int
    created_at: datetime
    registered_with: str  # the reference of the payment that registered the alias


@dataclass(frozen=True, slots=True)
class Charge:
    id: int
    pupil_id: str
    family_id: str
    day: date
    amount_cents: int
    status: ChargeStatus
    attempts: int
    reference: str | None
    attempt_started_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None
    alias: Alias | None = None  # what the attempt under way charges (None between attempts)
    terms_document_id: int | None = None

    @property
    def under_way(self) -> bool:
        """Sent to the provider, its answer not read yet: it must be asked again, whatever changed."""
        return self.status is ChargeStatus.DUE and self.reference is not None


def _setting(row) -> Setting:
    return Setting(row.pupil_id, row.family_id, row.threshold_cents, row.amount_cents,
                   Alias(row.method, row.alias, row.expiry_month, row.expiry_year, row.masked),
                   row.terms_document_id, from_text(row.created_at), row.registered_with)


def _charge(row) -> Charge:
    return Charge(row.id, row.pupil_id, row.family_id, date.fromisoformat(row.day), row.amount_cents,
                  ChargeStatus(row.status), row.attempts, row.reference,
                  from_text(row.attempt_started_at) if row.attempt_started_at else None,
                  from_text(row.next_attempt_at), row.last_error,
                  Alias(row.method, row.alias, row.expiry_month, row.expiry_year) if row.alias else None,
                  row.terms_document_id)


def attempt_values(setting: Setting) -> dict:
    """The columns a charge's new attempt copies from the setting it charges."""
    alias = setting.alias
    return {"method": alias.method, "alias": alias.alias, "expiry_month": alias.expiry_month,
            "expiry_year": alias.expiry_year, "terms_document_id": setting.terms_document_id}


# What a charge's attempt forgets when it ends (answered, declined or given up).
ATTEMPT_ENDED = {"method": None, "alias": None, "expiry_month": None, "expiry_year": None,
                 "terms_document_id": None}


def setting_of(conn: Connection, pupil_id: str) -> Setting | None:
    row = conn.execute(select(automatic_topups).where(automatic_topups.c.pupil_id == pupil_id)).first()
    return _setting(row) if row else None


def threshold_from(typed: str, settings: Settings) -> int:
    """The balance below which a child's account is topped up, as the family types it: at least a
    centime, at most the canteen's largest top-up (`AmountError` says what is wrong)."""
    return parse_amount(typed, minimum_cents=1, maximum_cents=settings.topup_max_cents)


def register(conn: Connection, *, pupil_id: str, family_id: str, threshold_cents: int, amount_cents: int,
             alias: Alias, terms_document_id: int, registered_with: str, now: datetime) -> Setting:
    """Keep the alias a paid registration brought; a new registration replaces the child's old one."""
    conn.execute(delete(automatic_topups).where(automatic_topups.c.pupil_id == pupil_id))
    conn.execute(insert(automatic_topups).values(
        pupil_id=pupil_id, family_id=family_id, threshold_cents=threshold_cents, amount_cents=amount_cents,
        method=alias.method, alias=alias.alias, expiry_month=alias.expiry_month, expiry_year=alias.expiry_year,
        masked=alias.masked, terms_document_id=terms_document_id, registered_with=registered_with,
        created_at=to_text(now)))
    return setting_of(conn, pupil_id)


def turn_off(conn: Connection, pupil_id: str, now: datetime, *, reason: str = "turned off") -> bool:
    """Forget the child's alias and cancel a charge not yet sent; False when there was none.

    An attempt already sent and not answered is left to run: the provider may have charged it,
    so the runner asks again (with the alias the charge kept) and books its outcome."""
    removed = conn.execute(delete(automatic_topups).where(automatic_topups.c.pupil_id == pupil_id)).rowcount
    conn.execute(update(automatic_topup_charges)
                 .where(automatic_topup_charges.c.pupil_id == pupil_id,
                        automatic_topup_charges.c.status == ChargeStatus.DUE.value,
                        automatic_topup_charges.c.reference.is_(None))
                 .values(status=ChargeStatus.CANCELLED.value, last_error=reason, updated_at=to_text(now)))
    return bool(removed)


def attempt_under_way(conn: Connection, pupil_id: str) -> bool:
    """Whether a charge of the child waits for the provider's answer (what a family turning the
    setting off is told)."""
    return conn.execute(select(automatic_topup_charges.c.id).where(
        automatic_topup_charges.c.pupil_id == pupil_id,
        automatic_topup_charges.c.status.in_((ChargeStatus.DUE.value, ChargeStatus.SENT.value)),
        automatic_topup_charges.c.reference.is_not(None))).first() is not None


_SETTINGS_OF = select(automatic_topups.c.pupil_id, automatic_topups.c.family_id, automatic_topups.c.threshold_cents,
                      automatic_topups.c.amount_cents).where(
    in_json_list(automatic_topups.c.pupil_id, "pupil_ids"))


def queue_fallen(conn: Connection, brought: Mapping[str, int], balances: Mapping[str, int],
                 now: datetime) -> list[str]:
    """In the push's transaction: queue today's charge for each child with an automatic top-up
    whose balance this push lowered to below the threshold; returns their pupil ids.

    Only children the push debited are looked up, in one query; a child who already has a charge
    today gets no second one (the insert skips the existing row, another push's included)."""
    falling = list(brought)  # what the push brought to each account it took down (`domain.entries.lowered`)
    if not falling:
        return []
    fallen = [row for row in conn.execute(_SETTINGS_OF, {"pupil_ids": json.dumps(falling)})
              if balances[row.pupil_id] < row.threshold_cents]
    if not fallen:
        return []
    at, day = to_text(now), service_date(now).isoformat()
    conn.execute(insert_new(conn, automatic_topup_charges), [
        {"pupil_id": row.pupil_id, "family_id": row.family_id, "day": day, "amount_cents": row.amount_cents,
         "status": ChargeStatus.DUE.value, "attempts": 0, "next_attempt_at": at, "created_at": at,
         "updated_at": at} for row in fallen])
    return [row.pupil_id for row in fallen]


def recent_charges(conn: Connection, pupil_id: str, limit: int = RECENT_CHARGES) -> list[Charge]:
    """The child's latest charges, newest first (what the family's page lists)."""
    return [_charge(row) for row in conn.execute(
        select(automatic_topup_charges).where(automatic_topup_charges.c.pupil_id == pupil_id)
        .order_by(automatic_topup_charges.c.day.desc(), automatic_topup_charges.c.id.desc()).limit(limit))]


def charge_of(conn: Connection, charge_id: int) -> Charge:
    return _charge(conn.execute(select(automatic_topup_charges)
                                .where(automatic_topup_charges.c.id == charge_id)).one())
