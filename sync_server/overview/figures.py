"""The overview's figures, computed only for the parts a role sees (`for_role`).

Meals served are the day's meal entries (the only entries with a service date) less those a
kiosk cancelled; a cancellation is made the same day as its meal, so the day's few reversals are
enough to find them. Kiosks are judged by their last heartbeat: offline when it is older than
`OFFLINE_AFTER` (or never came), behind when it still had records to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, and_, func, select

from domain.clock import day_bounds, from_text, service_date, to_text
from domain.meals import ReservationKind
from domain.settings import Settings
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.managers import ACCOUNTANT, KITCHEN, MANAGER
from sync_server.families.reservations import closed_between
from sync_server.money.online_payments import PaymentStatus
from sync_server.money.refunds import Status
from sync_server.tables import (
    account_balances,
    balance_alerts,
    bank_credits,
    entries,
    kiosks,
    online_payments,
    pupils,
    refund_requests,
    reservations,
)

OFFLINE_AFTER = timedelta(minutes=5)  # five missed rounds of a kiosk's one-minute sync
PAYMENT_UNCONFIRMED_AFTER = timedelta(hours=1)  # a payment still pending then: its webhook never came
LOOK_AHEAD_DAYS = 14  # how far the next service day is looked for
LOW_BALANCES_LISTED = 500

SEES_MEALS = (MANAGER, KITCHEN, ACCOUNTANT)
SEES_KIOSKS = (MANAGER,)
SEES_MONEY = (MANAGER, ACCOUNTANT)
SEES_LOW_BALANCES = (MANAGER,)


@dataclass(frozen=True, slots=True)
class Booked:
    day: date
    normal: int
    special: int


@dataclass(frozen=True, slots=True)
class KioskLag:
    kiosk_id: str
    last_heartbeat: datetime | None
    pending: int
    offline: bool  # else behind: online, with records not sent yet


@dataclass(frozen=True, slots=True)
class MoneyWaiting:
    credits_to_assign: int
    refunds_to_approve: int
    refunds_to_pay: int
    payments_to_check: int  # held for review, or still unconfirmed after an hour


@dataclass(frozen=True, slots=True)
class Overview:
    """What one role sees; a part it may not see is None."""

    today: date
    served: dict[str, int] | None = None  # by kiosk
    booked: list[Booked] = field(default_factory=list)  # today and the next service day
    kiosks: list[KioskLag] | None = None
    active_kiosks: int = 0
    money: MoneyWaiting | None = None
    low_balances: int | None = None


def for_role(conn: Connection, role: str, now: datetime) -> Overview:
    today = service_date(now)
    settings = current_settings(conn)
    found = Overview(today)
    if role in SEES_MEALS:
        days = [today, next_service_day(conn, today, settings)]
        found = replace(found, served=meals_served(conn, today), booked=booked(conn, days))
    if role in SEES_KIOSKS:
        lagging, active = kiosks_lagging(conn, now)
        found = replace(found, kiosks=lagging, active_kiosks=active)
    if role in SEES_MONEY:
        found = replace(found, money=money_waiting(conn, now))
    if role in SEES_LOW_BALANCES:
        found = replace(found, low_balances=low_balances(conn, settings))
    return found


def meals_served(conn: Connection, day: date) -> dict[str, int]:
    """Meals served on `day` by kiosk, less the ones cancelled since."""
    served = dict(conn.execute(select(entries.c.origin, func.count())
                               .where(entries.c.service_date == day.isoformat())
                               .group_by(entries.c.origin)).all())
    start, end = day_bounds(day)
    meal = entries.alias("meal")
    cancelled = conn.execute(
        select(meal.c.origin, func.count())
        .select_from(entries.join(meal, meal.c.id == entries.c.reference))
        .where(entries.c.kind == "reversal", entries.c.occurred_at >= to_text(start),
               entries.c.occurred_at < to_text(end), meal.c.service_date == day.isoformat())
        .group_by(meal.c.origin)).all()
    for origin, count in cancelled:
        served[origin] -= count
    return {origin: count for origin, count in sorted(served.items()) if count}


def next_service_day(conn: Connection, today: date, settings: Settings) -> date:
    """The first day after `today` on which meals are served (a service weekday, not closed)."""
    closed = closed_between(conn, today + timedelta(days=1), today + timedelta(days=LOOK_AHEAD_DAYS))
    for ahead in range(1, LOOK_AHEAD_DAYS + 1):
        day = today + timedelta(days=ahead)
        if day.weekday() in settings.service_weekdays and day not in closed:
            return day
    return today + timedelta(days=1)


def booked(conn: Connection, days: list[date]) -> list[Booked]:
    """Normal and special meals reserved for each of `days` by active pupils."""
    rows = conn.execute(select(reservations.c.service_date, reservations.c.kind, func.count())
                        .select_from(reservations.join(pupils, pupils.c.pupil_id == reservations.c.pupil_id))
                        .where(reservations.c.service_date.in_([day.isoformat() for day in days]), pupils.c.active)
                        .group_by(reservations.c.service_date, reservations.c.kind)).all()
    counts = {(day, kind): count for day, kind, count in rows}
    return [Booked(day, counts.get((day.isoformat(), ReservationKind.NORMAL), 0),
                   counts.get((day.isoformat(), ReservationKind.SPECIAL), 0)) for day in days]


def kiosks_lagging(conn: Connection, now: datetime) -> tuple[list[KioskLag], int]:
    """The active kiosks (enrolled, not revoked) that are offline or behind, and how many are active."""
    rows = conn.execute(select(kiosks.c.kiosk_id, kiosks.c.last_heartbeat, kiosks.c.pending)
                        .where(kiosks.c.enrolled_at.is_not(None), kiosks.c.revoked_at.is_(None))
                        .order_by(kiosks.c.kiosk_id)).all()
    lagging = []
    for kiosk_id, heartbeat, pending in rows:
        seen = from_text(heartbeat) if heartbeat else None
        offline = seen is None or now - seen > OFFLINE_AFTER
        if offline or pending:
            lagging.append(KioskLag(kiosk_id, seen, pending or 0, offline))
    return lagging, len(rows)


def money_waiting(conn: Connection, now: datetime) -> MoneyWaiting:
    credits = select(func.count()).where(bank_credits.c.entry_id.is_(None)).scalar_subquery()
    refunds = {status: select(func.count()).where(refund_requests.c.status == status).scalar_subquery()
               for status in (Status.REQUESTED, Status.TO_PAY)}
    payments = select(func.count()).where(
        (online_payments.c.status == PaymentStatus.REVIEW)
        | and_(online_payments.c.status == PaymentStatus.PENDING,
               online_payments.c.created_at < to_text(now - PAYMENT_UNCONFIRMED_AFTER))).scalar_subquery()
    row = conn.execute(select(credits, refunds[Status.REQUESTED], refunds[Status.TO_PAY], payments)).one()
    return MoneyWaiting(*row)


@dataclass(frozen=True, slots=True)
class LowBalance:
    pupil_id: str
    first_name: str
    last_name: str
    class_name: str
    balance_cents: int
    threshold_cents: int


def _under_threshold(settings: Settings, columns):
    """Active pupils whose balance is under their alert threshold (the family's, else the canteen's;
    0 means no alert). The kept balances (`account_balances`), one row per pupil: no pass over the
    ledger."""
    threshold = func.coalesce(balance_alerts.c.threshold_cents, settings.low_balance_cents)
    cents = func.coalesce(account_balances.c.balance_cents, 0)
    return (select(*columns(cents, threshold))
            .select_from(pupils.outerjoin(account_balances, account_balances.c.account_id == pupils.c.pupil_id)
                         .outerjoin(balance_alerts, balance_alerts.c.pupil_id == pupils.c.pupil_id))
            .where(pupils.c.active, threshold > 0, cents < threshold))


def low_balances(conn: Connection, settings: Settings) -> int:
    return conn.execute(_under_threshold(settings, lambda cents, threshold: [func.count()])).scalar_one()


def low_balance_pupils(conn: Connection, limit: int = LOW_BALANCES_LISTED) -> list[LowBalance]:
    """The pupils under their threshold, lowest balance first (the overview's count, listed)."""
    query = _under_threshold(current_settings(conn), lambda cents, threshold: [
        pupils.c.pupil_id, pupils.c.first_name, pupils.c.last_name, pupils.c.class_name, cents, threshold])
    rows = conn.execute(query.order_by(query.selected_columns[4], pupils.c.pupil_id).limit(limit)).all()
    return [LowBalance(*row) for row in rows]
