"""Charging the automatic top-ups that pushes queued, outside any push: the provider may be slow.

`charge_due` runs where the e-mail sender runs (every 30 s in `refectory server run`, every minute
from `refectory server send-mail`'s timer), on one machine or several at once: like the mail
sender, it claims the due charges for a while (on PostgreSQL skipping rows another runner holds),
so two runners never send the same one. For each charge it:

1. checks that a new attempt still stands: the setting is still on, the account is not on hold (a
   refund under way), the balance is still below the threshold; the attempt copies the setting's
   alias into the charge's row, where it stays until the attempt ends;
2. asks the provider to charge that alias (`datatrans.authorize_with_alias`), with the attempt's
   reference as idempotency key: an answer lost on the way is asked for again with the same key
   and the same alias and gets the first answer, not a second charge, even when the family turned
   the setting off meanwhile (then no further attempt is made);
3. records the charge as an online payment (`origin` automatic) and fetches its status, which
   `online_payments.apply` credits exactly once, with the family's e-mail, as it does for a
   payment on the portal (a webhook about it, if one came, would find it credited).

A charge the provider declines is told to the family and tried once more `RETRY_AFTER` later; a
second decline turns the automatic top-up off (the alias is forgotten) and says so; a decline of an
attempt the family turned off while it was under way is told, and not tried again. A provider
that does not answer is asked again with the same reference a few minutes later, within its
idempotency window; past that, the attempt counts as failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update

from domain.clock import to_text, utc_now
from sync_server.db import writing
from sync_server.families.accounts import mail_family
from sync_server.families.letters import mail_details
from sync_server.money import automatic_topups, datatrans, online_payments
from sync_server.money.automatic_topups import ATTEMPT_ENDED, Charge, ChargeStatus, Setting
from sync_server.sync import ledger
from sync_server.tables import automatic_topup_charges, holds, pupils
from sync_server.tables import online_payments as payments_table

log = logging.getLogger(__name__)

BATCH = 20
CLAIM = timedelta(minutes=10)  # how long a runner has the charges it took
MAX_ATTEMPTS = 2  # the first try and one retry
RETRY_AFTER = timedelta(hours=3)  # after a decline: the family may have fixed its card by then
ASK_AGAIN_AFTER = timedelta(minutes=5)  # the provider did not answer: the same request again
IDEMPOTENCY_WINDOW = timedelta(minutes=50)  # Datatrans keeps an Idempotency-Key's answer 60 minutes


@dataclass(frozen=True, slots=True)
class ChargeReport:
    paid: int = 0
    declined: int = 0  # attempts declined (told to the family)
    waiting: int = 0  # sent or unanswered: the next run looks again
    cancelled: int = 0


def charge_due(engine: Engine, account: datatrans.Account, now: datetime, *, canteen: dict, portal_url: str,
               claim: timedelta = CLAIM) -> ChargeReport:
    """Settle the charges sent earlier, then send the ones that are due; one batch."""
    counts = {"paid": 0, "declined": 0, "waiting": 0, "cancelled": 0}
    for charge in _sent(engine):
        counts[_settle(engine, account, charge, now, canteen, portal_url)] += 1
    claimed, cancelled = _claim(engine, now, claim)
    counts["cancelled"] += cancelled
    for charge in claimed:
        counts[_send(engine, account, charge, now, canteen, portal_url)] += 1
    return ChargeReport(**counts)


def _sent(engine: Engine) -> list[Charge]:
    """Charges the provider authorized, not yet settled here (a payment held for the manager's
    review waits for the manager)."""
    with writing(engine) as conn:
        ids = conn.execute(select(automatic_topup_charges.c.id)
                           .select_from(automatic_topup_charges.join(
                               payments_table, payments_table.c.reference == automatic_topup_charges.c.reference))
                           .where(automatic_topup_charges.c.status == ChargeStatus.SENT.value,
                                  payments_table.c.status != online_payments.PaymentStatus.REVIEW.value)
                           .order_by(automatic_topup_charges.c.id).limit(BATCH)).scalars().all()
        return [automatic_topups.charge_of(conn, charge_id) for charge_id in ids]


def _claim(engine: Engine, now: datetime, claim: timedelta) -> tuple[list[Charge], int]:
    """The due charges that still stand, marked as taken for `claim`; the others cancelled."""
    claimed, cancelled = [], 0
    with writing(engine) as conn:
        rows = conn.execute(select(automatic_topup_charges.c.id)
                            .where(automatic_topup_charges.c.status == ChargeStatus.DUE.value,
                                   automatic_topup_charges.c.next_attempt_at <= to_text(now))
                            .order_by(automatic_topup_charges.c.id).limit(BATCH)
                            .with_for_update(skip_locked=True)).scalars().all()
        for charge_id in rows:
            charge = automatic_topups.charge_of(conn, charge_id)
            setting = automatic_topups.setting_of(conn, charge.pupil_id)
            reason = _no_longer_due(conn, charge, setting)
            if reason is not None:
                _update(conn, charge, now, status=ChargeStatus.CANCELLED, last_error=reason)
                log.info("automatic top-up %s of %s cancelled: %s", charge.id, charge.pupil_id, reason)
                cancelled += 1
                continue
            values = {"next_attempt_at": to_text(now + claim)}
            if charge.reference is None:  # a new attempt: its own reference and alias, kept until it ends
                values |= {"reference": online_payments.new_reference(), "attempt_started_at": to_text(now),
                           **automatic_topups.attempt_values(setting)}
            conn.execute(update(automatic_topup_charges).where(automatic_topup_charges.c.id == charge.id)
                         .values(**values))
            claimed.append(automatic_topups.charge_of(conn, charge.id))
    return claimed, cancelled


def _no_longer_due(conn: Connection, charge: Charge, setting: Setting | None) -> str | None:
    if charge.reference is not None:  # an attempt waits for its answer: ask again, whatever changed since
        return None
    if setting is None:
        return "automatic top-up turned off"
    if conn.execute(select(holds.c.reason).where(holds.c.pupil_id == charge.pupil_id)).first() is not None:
        return "account on hold"
    if charge.attempts == 0 and ledger.balance(conn, charge.pupil_id) >= setting.threshold_cents:
        return "balance back above the threshold"
    return None


def _send(engine: Engine, account: datatrans.Account, charge: Charge, now: datetime, canteen: dict,
          portal_url: str) -> str:
    try:
        transaction_id = datatrans.authorize_with_alias(account, refno=charge.reference,
                                                        amount_cents=charge.amount_cents, alias=charge.alias)
    except datatrans.Declined as error:
        with writing(engine) as conn:
            _failed(conn, charge, error.render(), now, canteen, portal_url)
        return "declined"
    except datatrans.DatatransError as error:
        with writing(engine) as conn:
            return _unanswered(conn, charge, error.render(), now, canteen, portal_url)
    with writing(engine) as conn:
        online_payments.record(conn, reference=charge.reference, transaction_id=transaction_id,
                               family_id=charge.family_id, pupil_id=charge.pupil_id, amount_cents=charge.amount_cents,
                               method=charge.alias.method, terms_document_id=charge.terms_document_id, now=now,
                               origin=online_payments.Origin.AUTOMATIC)
        _update(conn, charge, now, status=ChargeStatus.SENT, last_error=None, **ATTEMPT_ENDED)
    log.info("automatic top-up %s of %s sent: %s (%s centimes)", charge.id, charge.pupil_id, transaction_id,
             charge.amount_cents)
    return _settle(engine, account, replace(charge, status=ChargeStatus.SENT), now, canteen, portal_url)


def _settle(engine: Engine, account: datatrans.Account, charge: Charge, now: datetime, canteen: dict,
            portal_url: str) -> str:
    """Bring a sent charge in line with its payment, asking the provider while it is pending."""
    with writing(engine) as conn:
        payment = online_payments.find(conn, charge.reference)
    if payment.status is online_payments.PaymentStatus.PENDING:
        try:
            told = datatrans.fetch_status(account, payment.transaction_id)
        except datatrans.DatatransError as error:
            log.warning("status of automatic top-up %s (%s) not fetched: %s", charge.id, payment.transaction_id,
                        error.render())
            return "waiting"
        with writing(engine) as conn:
            payment = online_payments.apply(conn, told, now, canteen=canteen, portal_url=portal_url) or payment
    with writing(engine) as conn:
        if payment.status is online_payments.PaymentStatus.PAID:
            _update(conn, charge, now, status=ChargeStatus.PAID, last_error=None)
            return "paid"
        if payment.status in (online_payments.PaymentStatus.DECLINED, online_payments.PaymentStatus.CANCELLED):
            _failed(conn, charge, f"the provider says {payment.provider_status}", now, canteen, portal_url)
            return "declined"
    return "waiting"


def _unanswered(conn: Connection, charge: Charge, error: str, now: datetime, canteen: dict, portal_url: str) -> str:
    """No answer we can read: ask again with the same reference, while the provider would still
    recognise it; after that the attempt counts as failed."""
    if now - charge.attempt_started_at < IDEMPOTENCY_WINDOW:
        conn.execute(update(automatic_topup_charges).where(automatic_topup_charges.c.id == charge.id)
                     .values(next_attempt_at=to_text(now + ASK_AGAIN_AFTER), last_error=error[:500],
                             updated_at=to_text(now)))
        log.warning("automatic top-up %s of %s unanswered, asked again later: %s", charge.id, charge.pupil_id, error)
        return "waiting"
    _failed(conn, charge, error, now, canteen, portal_url)
    return "declined"


def _failed(conn: Connection, charge: Charge, error: str, now: datetime, canteen: dict, portal_url: str) -> None:
    """A failed attempt: tell the family; try once more later, or give up and turn the setting off.
    Turned off by the family while the attempt was under way: no other attempt."""
    attempts = charge.attempts + 1
    was_off = automatic_topups.setting_of(conn, charge.pupil_id) is None
    final = attempts >= MAX_ATTEMPTS and not was_off
    if final or was_off:
        _update(conn, charge, now, status=ChargeStatus.DECLINED, last_error=error, attempts=attempts, **ATTEMPT_ENDED)
    else:
        _update(conn, charge, now, status=ChargeStatus.DUE, last_error=error, attempts=attempts, reference=None,
                attempt_started_at=None, next_attempt_at=to_text(now + RETRY_AFTER), **ATTEMPT_ENDED)
    if final:
        automatic_topups.turn_off(conn, charge.pupil_id, now, reason="declined twice")
    log.warning("automatic top-up %s of %s failed (attempt %s%s): %s", charge.id, charge.pupil_id, attempts,
                ", given up" if final else ", turned off meanwhile" if was_off else "", error)
    first_name = conn.execute(select(pupils.c.first_name).where(pupils.c.pupil_id == charge.pupil_id)).scalar_one()
    mail_family(conn, charge.family_id, "automatic_topup_failed", now, first_name=first_name,
                pupil_id=charge.pupil_id, amount_cents=charge.amount_cents, final=final, was_off=was_off,
                retry_hours=int(RETRY_AFTER.total_seconds() // 3600), canteen=canteen, portal_url=portal_url)


def _update(conn: Connection, charge: Charge, now: datetime, *, status: ChargeStatus, **values) -> None:
    conn.execute(update(automatic_topup_charges).where(automatic_topup_charges.c.id == charge.id)
                 .values(status=status.value, updated_at=to_text(now), **values))


def charge_due_with(engine: Engine, config, now: datetime) -> ChargeReport | None:
    """`charge_due` with the app's settings (`DATATRANS_*`, `PORTAL_URL`, `CANTEEN_*`); None
    without a payment account, when nothing can have been registered."""
    try:
        account = datatrans.Account.from_config(config)
    except datatrans.NotConfigured:
        return None
    return charge_due(engine, account, now, **mail_details(config))


def start_runner(engine: Engine, config, scheduler, every_seconds: float = 30.0, clock=utc_now) -> None:
    """Charge what is due every `every_seconds` on `scheduler` (the development server's, which
    also sends the mail), one run at a time."""
    scheduler.add_job(lambda: charge_due_with(engine, config, clock()), "interval", seconds=every_seconds,
                      max_instances=1, coalesce=True, id="automatic-topups")
