"""The kiosk fence of a refund: pay out only once no kiosk can still spend the money.

Approving a refund puts the account on hold with a change at feed position S (`refunds.approve`:
the hold's own position). A kiosk
is past the fence when its last heartbeat says `cursor >= S` and `pending == 0`, and that
heartbeat came after the kiosk's (latest) enrollment. Why that is enough:

- A round is push → pull → heartbeat, and the heartbeat reports the cursor and pending count as
  they are when it is sent. `cursor >= S` means the kiosk has applied the hold (a pulled page is
  applied, cursor included, in the kiosk's own transaction), so from then on it refuses meals.
  `pending == 0` at that moment means everything it made before, including a meal served offline
  between its last push and the hold's arrival, or between the pull and the heartbeat, has been
  pushed and acknowledged: it is in the server's ledger, so in the balance the refund takes.
- A heartbeat that arrives late or out of order can only show an older cursor or more pending:
  it holds the payout back, never lets it through. A kiosk enrolled again (a new machine, a
  restored disk) counts only from a heartbeat after that enrollment.
- After the fence a kiosk still takes cash top-ups and can cancel a meal: both add money, which
  the refund takes if it arrives before the payout, and which stays on the account otherwise.
  It cannot cancel a top-up while the account is on hold (`domain.corrections`): that is the one
  counter operation that takes money out, and it could take out money already refunded.
- Server credits (bank, online) only add. So once every active kiosk (enrolled, not revoked) is
  past the fence, the balance the server sees is the most that can ever be spent, and refunding
  it leaves the account at zero or above whatever happens later, offline or not.

The payout (`release_due`) writes the refund entry for the whole balance, then lifts the hold, in
one transaction: the change log gives kiosks the entry before the lift. It runs after every
heartbeat (the moment a kiosk can pass the fence), right after an approval (no kiosk at all),
and when a kiosk is revoked (`refectory server kiosk-revoke`). A dead kiosk holds every
refund back until the manager revokes it: its unsynced meals are then lost to the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, select

from domain.clock import from_text, to_text
from domain.entries import SERVER_ORIGIN, EntryKind, LedgerEntry, new_entry_id
from sync_server.money.refunds import RefundRequest, Status, advance, lift_hold, with_status
from sync_server.sync import ledger
from sync_server.tables import kiosks

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KioskState:
    kiosk_id: str
    last_heartbeat: datetime | None
    cursor: int | None
    pending: int | None
    enrolled_at: datetime

    def past(self, fence_seq: int) -> bool:
        return (self.last_heartbeat is not None and self.last_heartbeat >= self.enrolled_at
                and (self.cursor or 0) >= fence_seq and self.pending == 0)


def active_kiosks(conn: Connection) -> list[KioskState]:
    rows = conn.execute(select(kiosks.c.kiosk_id, kiosks.c.last_heartbeat, kiosks.c.cursor, kiosks.c.pending,
                               kiosks.c.enrolled_at)
                        .where(kiosks.c.enrolled_at.is_not(None), kiosks.c.token_hash.is_not(None),
                               kiosks.c.revoked_at.is_(None))
                        .order_by(kiosks.c.kiosk_id))
    return [KioskState(row.kiosk_id, from_text(row.last_heartbeat) if row.last_heartbeat else None, row.cursor,
                       row.pending, from_text(row.enrolled_at)) for row in rows]


def missing(request: RefundRequest, states: list[KioskState]) -> list[KioskState]:
    """The active kiosks an approved request still waits for."""
    return [state for state in states if not state.past(request.fence_seq or 0)]


def release_due(conn: Connection, now: datetime, *, canteen: dict, portal_url: str) -> list[RefundRequest]:
    """Pay out every approved request whose fence every active kiosk has passed."""
    waiting = with_status(conn, Status.APPROVED, claim=True)  # two heartbeats at once: one pays
    if not waiting:
        return []
    states = active_kiosks(conn)
    return [release(conn, request, now, canteen=canteen, portal_url=portal_url)
            for request in waiting if not missing(request, states)]


def release(conn: Connection, request: RefundRequest, now: datetime, *, canteen: dict,
            portal_url: str) -> RefundRequest:
    balance = ledger.balance(conn, request.pupil_id, lock=True)  # what a push books meanwhile waits
    entry_id = None
    if balance > 0:
        entry = LedgerEntry(new_entry_id(), request.pupil_id, -balance, EntryKind.REFUND, now, SERVER_ORIGIN,
                            operator=request.decided_by, reference=f"refund-{request.request_id}")
        ledger.append(conn, entry, now)
        entry_id = entry.id
    lift_hold(conn, request.pupil_id, now)  # after the entry: kiosks get the entry first
    log.info("refund %s of %s released: %s centimes", request.request_id, request.pupil_id, max(balance, 0))
    if entry_id is None:
        return advance(conn, request, now, canteen, portal_url, status=Status.CLOSED, open_for=None,
                       released_at=to_text(now), amount_cents=0)
    return advance(conn, request, now, canteen, portal_url, status=Status.TO_PAY, released_at=to_text(now),
                   amount_cents=balance, entry_id=entry_id)


def release_after_heartbeat(conn: Connection, kiosk_id: str, now: datetime, *, canteen: dict,
                            portal_url: str) -> None:
    released = after_heartbeat(conn, kiosk_id, "refund payout",
                               lambda: release_due(conn, now, canteen=canteen, portal_url=portal_url))
    for request in released:
        log.info("refund %s paid out after kiosk %s passed its fence", request.request_id, kiosk_id)


def after_heartbeat(conn: Connection, kiosk_id: str, what: str, release: Callable[[], list[T]]) -> list[T]:
    """Run `release` inside the heartbeat's transaction: a failure here must not fail the kiosk's
    round, so it is rolled back to a savepoint and logged, and the next heartbeat tries again."""
    savepoint = conn.begin_nested()
    try:
        done = release()
    except Exception:
        savepoint.rollback()
        log.exception("%s after kiosk %s's heartbeat failed; tried again at the next one", what, kiosk_id)
        return []
    savepoint.commit()
    return done
