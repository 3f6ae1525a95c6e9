"""The counter's daily exceptions over the kiosk store: serve a pupil who forgot the badge, block a
lost badge, and list a pupil's meals of today so that one can be cancelled (the cancellation is
`CashierDesk.reverse`, the same as `refectory kiosk reverse`).

Each takes a reason and leaves a trace. A meal served without badge is a meal entry with the
cashier as its operator, no badge and the reason as its note (`served_without_badge`: a tap's
meal has no operator), decided by the same rules as a tap. A block is a record of its own
(`badge_blocks`), pushed to the server past its own cursor as the drawer's counts are; the
badge is refused here from the block's commit. Every exception is a line in the kiosk's log
(journald). What is refused writes nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

from domain.badges import normalize_uid
from domain.clock import from_text, service_date, to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.meals import BadgeStatus, CounterFacts, HoldReason, ReservationKind, Verdict, decide_meal
from domain.messages import N_, RefectoryError
from domain.sync import MAX_REASON_LENGTH, BadgeBlock
from domain.text import is_one_line

from .service import CashierSession, KioskService, TapResult, UnknownRecordError
from .store import Store
from .store_roster import _PUPIL_COLUMNS, _SPENDABLE, _pupil

log = logging.getLogger(__name__)
_BLOCK_COLUMNS = "id, uid, pupil_id, reason, blocked_at, blocked_by"


class ExceptionRefusedError(RefectoryError):
    code = "exception_refused"


def check_reason(text: str | None) -> str:
    """The reason as recorded: one line, 1 to `MAX_REASON_LENGTH` characters."""
    reason = (text or "").strip()
    if not reason:
        raise ExceptionRefusedError(N_("Give a reason: it is recorded with the operation."))
    if not is_one_line(reason, MAX_REASON_LENGTH):
        raise ExceptionRefusedError(N_("The reason must be one line of at most {count} characters."),
                                    count=MAX_REASON_LENGTH)
    return reason


def served_without_badge(entry: LedgerEntry) -> bool:
    """A meal the cashier served on a pupil's word: the only meals with an operator."""
    return entry.kind is EntryKind.MEAL and entry.operator is not None


# -- serving without badge ---------------------------------------------------------------------

_PUPIL_FACTS = (
    f"SELECT {_PUPIL_COLUMNS}, {_SPENDABLE}, h.reason, r.kind,"
    " (SELECT group_concat(s.served_at, ' ') FROM served s WHERE s.pupil_id = p.pupil_id AND s.service_date = ?2),"
    " h.note"
    " FROM pupils p"
    " LEFT JOIN balances bal ON bal.account_id = p.pupil_id"
    " LEFT JOIN holds h ON h.pupil_id = p.pupil_id"
    " LEFT JOIN reservations r ON r.pupil_id = p.pupil_id AND r.service_date = ?2"
    " WHERE p.pupil_id = ?1"
)


def pupil_facts(store: Store, pupil_id: str, day: date) -> CounterFacts | None:
    """What a tap would know of the pupil, no badge involved (the pupil forgot it: its status,
    even lost, is not the question)."""
    row = store.conn.execute(_PUPIL_FACTS, (pupil_id, day.isoformat())).fetchone()
    if row is None:
        return None
    balance, hold, reservation, served, note = row[8:]
    return CounterFacts(BadgeStatus.ACTIVE, _pupil(row[:8]), balance, HoldReason(hold) if hold else None,
                        ReservationKind(reservation) if reservation else None,
                        tuple(from_text(t) for t in served.split(" ")) if served else (), note or "")


def decide_without_badge(service: KioskService, pupil_id: str, now: datetime) -> Verdict:
    """The verdict a tap of the pupil's badge would get now; nothing is written."""
    store = service.store
    facts = pupil_facts(store, pupil_id, service_date(now))
    if facts is None:
        raise UnknownRecordError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
    return decide_meal(facts, settings=store.settings(), now=now)


def serve_without_badge(service: KioskService, session: CashierSession, pupil_id: str, reason: str, *,
                        now: datetime | None = None) -> TapResult:
    """Decide and debit the pupil's meal as a tap does, in one transaction; served, the meal entry
    names the cashier and the reason."""
    reason = check_reason(reason)
    now = service._recording_time(now)
    store = service.store
    with store.transaction():
        verdict = decide_without_badge(service, pupil_id, now)
        if not verdict.served:
            return TapResult("", verdict, None)
        entry = LedgerEntry(new_entry_id(), pupil_id, -verdict.price_cents, EntryKind.MEAL, now, service.kiosk_id,
                            operator=session.cashier_id, service_date=verdict.service_date, note=reason)
        store.append(entry)
    log.info("meal served without badge to %s by cashier %s: %s", pupil_id, session.cashier_id, reason)
    return TapResult("", verdict, entry)


# -- blocking a lost badge ---------------------------------------------------------------------

def pupil_badges(store: Store, pupil_id: str) -> list[tuple[str, BadgeStatus]]:
    """The pupil's badges, the active ones first."""
    rows = store.conn.execute("SELECT uid, status FROM badges WHERE pupil_id = ? ORDER BY status <> 'active', since"
                              " DESC, uid", (pupil_id,))
    return [(uid, BadgeStatus(status)) for uid, status in rows]


def block_badge(service: KioskService, session: CashierSession, uid: str, reason: str, *,
                now: datetime | None = None) -> BadgeBlock:
    """Mark a pupil's active badge lost here, and keep the block to push to the server."""
    reason = check_reason(reason)
    uid = normalize_uid(uid)
    now = service._recording_time(now)
    store = service.store
    with store.transaction():
        found = store.badge_with_pupil(uid)
        if found is None:
            raise UnknownRecordError(N_("Unknown badge {uid}."), uid=uid)
        status, pupil = found
        if status is not BadgeStatus.ACTIVE:
            raise ExceptionRefusedError(N_("Badge {uid} is already blocked: nothing to do."), uid=uid)
        block = BadgeBlock(new_entry_id(), service.kiosk_id, uid, pupil.pupil_id, reason, now, session.cashier_id)
        store.set_badge_status(uid, BadgeStatus.LOST, now)
        store.conn.execute(f"INSERT INTO badge_blocks ({_BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                           (block.id, uid, pupil.pupil_id, reason, to_text(now), session.cashier_id))
    log.info("badge %s of %s blocked as lost by cashier %s: %s", uid, pupil.pupil_id, session.cashier_id, reason)
    return block


def blocks_outbox(store: Store, limit: int) -> list[tuple[int, str, str]]:
    """Blocks the server has not acknowledged, oldest first: (seq, id, record as JSON text)."""
    kiosk_id = store.kiosk_id
    rows = store.conn.execute(
        f"SELECT seq, {_BLOCK_COLUMNS} FROM badge_blocks WHERE seq > (SELECT pushed_block_seq FROM sync_state)"
        " ORDER BY seq LIMIT ?", (limit,)).fetchall()
    return [(seq, block_id, json.dumps(BadgeBlock(block_id, kiosk_id, uid, pupil_id, reason, from_text(at),
                                                  by).to_record()))
            for seq, block_id, uid, pupil_id, reason, at, by in rows]


def mark_blocks_pushed(store: Store, up_to_seq: int) -> None:
    with store.transaction():
        store.conn.execute("UPDATE sync_state SET pushed_block_seq = MAX(pushed_block_seq, ?)", (up_to_seq,))


# -- cancelling a meal of today ----------------------------------------------------------------

def meals_today(store: Store, pupil_id: str, day: date) -> list[LedgerEntry]:
    """The pupil's meals of `day` served at this kiosk and not cancelled, the latest first: what
    the cashier may cancel here."""
    rows = store.conn.execute(
        "SELECT entry_id FROM served WHERE pupil_id = ? AND service_date = ? AND kiosk_id = ? ORDER BY served_at DESC",
        (pupil_id, day.isoformat(), store.kiosk_id)).fetchall()
    return [store.entry(entry_id) for (entry_id,) in rows]
