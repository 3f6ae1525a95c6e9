"""Low-balance alerts: one e-mail when a child's balance falls below the family's threshold.

Each child has a threshold: the family's own (`balance_alerts`), else the canteen's
`balance.low_threshold`; 0 switches the alert off. Meals are debited on the kiosks, so the server
learns of a fall when a kiosk pushes: the alert goes when a push takes the balance from at or above
the threshold to below it. No flag is kept: an account already below is not told again, because
its next push starts below too, until a credit (bank, online, cash) has taken it back above and a
later push takes it below once more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select

from domain.clock import to_text
from domain.money import parse_amount
from domain.settings import MAX_TOPUP_CEILING_CENTS
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import in_json_list
from sync_server.families.accounts import alert_threshold
from sync_server.mail import outbox
from sync_server.mail.compose import compose
from sync_server.tables import balance_alerts, families, pupils

_OWN_THRESHOLDS = select(balance_alerts.c.pupil_id, balance_alerts.c.threshold_cents).where(
    in_json_list(balance_alerts.c.pupil_id, "pupil_ids"))
_FALLEN = (select(pupils.c.pupil_id, pupils.c.first_name, families.c.email, families.c.language)
           .select_from(pupils.join(families, pupils.c.family_id == families.c.family_id))
           .where(pupils.c.pupil_id.in_(bindparam("pupil_ids", expanding=True))))
_OWN_THRESHOLD = select(balance_alerts.c.threshold_cents).where(balance_alerts.c.pupil_id == bindparam("pupil_id"))


def own_threshold(conn: Connection, pupil_id: str) -> int | None:
    """The family's threshold for this child, or None when the canteen's applies."""
    return conn.execute(_OWN_THRESHOLD, {"pupil_id": pupil_id}).scalar_one_or_none()


def set_threshold(conn: Connection, pupil_id: str, typed: str, now: datetime) -> int | None:
    """The family's threshold for a child, as typed: empty returns to the canteen's, 0 switches the
    alert off. Returns it in centimes (None: the canteen's); `AmountError` says what is wrong."""
    typed = typed.strip()
    threshold_cents = parse_amount(typed, minimum_cents=0, maximum_cents=MAX_TOPUP_CEILING_CENTS) if typed else None
    conn.execute(delete(balance_alerts).where(balance_alerts.c.pupil_id == pupil_id))
    if threshold_cents is not None:
        conn.execute(insert(balance_alerts).values(pupil_id=pupil_id, threshold_cents=threshold_cents,
                                                   updated_at=to_text(now)))
    return threshold_cents


def alert_fallen(conn: Connection, brought: Mapping[str, int], balances: Mapping[str, int], now: datetime, *,
                 canteen: dict, portal_url: str) -> list[str]:
    """Queue the alert for each child this push took below its threshold; returns their pupil ids.

    Runs in the push's transaction, after its entries are in: `brought` is what the push brought to
    each account it took down (`domain.entries.lowered`), `balances` the accounts' kept balances
    after it (`ledger.Ingested`), so the balance before the push is the one minus the other. Only
    the children who crossed their threshold are read further."""
    falling = list(brought)
    if not falling:
        return []
    default_cents = current_settings(conn).low_balance_cents
    own = dict(conn.execute(_OWN_THRESHOLDS, {"pupil_ids": json.dumps(falling)}).all())
    crossed = {}
    for pupil_id in falling:
        threshold, after = alert_threshold(own.get(pupil_id), default_cents), balances[pupil_id]
        if threshold and after < threshold <= after - brought[pupil_id]:
            crossed[pupil_id] = threshold
    if not crossed:
        return []
    alerted = []
    for row in conn.execute(_FALLEN, {"pupil_ids": sorted(crossed)}):
        if row.email:
            _tell_family(conn, row, balances[row.pupil_id], crossed[row.pupil_id], now, canteen, portal_url)
            alerted.append(row.pupil_id)
    return alerted


def _tell_family(conn: Connection, row, balance: int, threshold: int, now: datetime, canteen: dict,
                 portal_url: str) -> None:
    mail = compose("low_balance", row.language, first_name=row.first_name, pupil_id=row.pupil_id,
                   balance_cents=balance, threshold_cents=threshold, canteen=canteen, portal_url=portal_url)
    outbox.enqueue(conn, row.email, mail.subject, mail.body, now)
