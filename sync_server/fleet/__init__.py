"""The kiosks as the manager looks after them: each one's health (last heartbeat, records waiting,
clock skew, version, last sync error, how long offline, the refunds and transfers it holds back),
enrollment codes and revocation. The back office's kiosks page and `refectory server kiosks`, `kiosk-code`
and `kiosk-revoke` call these same functions, each writing its audit entry.

A package of its own because it joins identities (`sync.kiosks`) with the refund fence
(`money.refund_fence`), which itself builds on `sync`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from domain.clock import from_text, to_text
from domain.entries import is_identifier
from domain.messages import N_
from domain.sync import SyncErrorCode
from sync_server.admin import audit
from sync_server.admin.errors import AdminError, FieldErrors
from sync_server.admin.schools import check_school
from sync_server.money import refund_fence, refunds, sibling_transfers
from sync_server.money.refunds import RefundRequest
from sync_server.money.sibling_transfers import SiblingTransfer
from sync_server.sync import kiosks
from sync_server.sync.changes import changes_behind, latest_seq
from sync_server.tables import kiosks as kiosks_table

# What the manager reads for a kiosk's error code; a code not here (a newer kiosk) shows the kiosk's text.
ERROR_SENTENCES = {
    SyncErrorCode.UNREACHABLE: N_("The kiosk could not reach the server (network, or the server was down)."),
    SyncErrorCode.TIMEOUT: N_("The server did not answer the kiosk in time."),
    SyncErrorCode.REJECTED: N_("The server refused the kiosk's request (a revoked kiosk, or a refused record)."),
    SyncErrorCode.SERVER_ERROR: N_("The server failed during the kiosk's sync: see the server's log."),
    SyncErrorCode.BAD_ANSWER: N_("The kiosk could not use the server's answer (versions that do not match?)."),
}

# A running kiosk syncs every minute or so (kiosk.sync_scheduler): five minutes without a
# heartbeat is a kiosk that is off, or cut from the network.
OFFLINE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class KioskHealth:
    kiosk_id: str
    enrolled_at: datetime | None
    revoked_at: datetime | None
    last_heartbeat: datetime | None
    pending: int | None  # records not yet pushed, as of its last heartbeat
    behind: int | None  # server changes it had not pulled yet at its last heartbeat
    clock_skew_seconds: int | None
    version: str | None
    last_error: str | None
    last_error_at: datetime | None
    last_error_code: str | None
    offline_for: timedelta | None  # None while it is online (or was never enrolled, or is revoked)
    holding_back: tuple[RefundRequest, ...]  # approved refunds that wait for this kiosk
    school: str | None = None  # the school whose pupils it serves; None: every school's
    holding_transfers: tuple[SiblingTransfer, ...] = ()  # transfers between siblings that wait for it

    @property
    def state(self) -> str:
        """revoked, waiting (a code issued, never enrolled), never_synced, offline or online."""
        if self.revoked_at is not None:
            return "revoked"
        if self.enrolled_at is None:
            return "waiting"
        if self.last_heartbeat is None:
            return "never_synced"
        return "offline" if self.offline_for is not None else "online"

    def error_said(self, gettext: Callable[[str], str]) -> str | None:
        """The last error in the reader's language when the kiosk sent a known code; else its own text."""
        sentence = ERROR_SENTENCES.get(self.last_error_code) if self.last_error_code else None
        return gettext(sentence) if sentence and self.last_error else self.last_error

    @property
    def error_resolved(self) -> bool:
        """A heartbeat came after the last error: the kiosk synced again since."""
        return (self.last_error_at is not None and self.last_heartbeat is not None
                and self.last_heartbeat > self.last_error_at)

    def to_dict(self) -> dict:
        def text(moment: datetime | None) -> str | None:
            return to_text(moment) if moment else None

        return {"kiosk_id": self.kiosk_id, "state": self.state, "enrolled_at": text(self.enrolled_at),
                "school": self.school, "revoked_at": text(self.revoked_at), "last_heartbeat": text(self.last_heartbeat),
                "pending": self.pending, "behind": self.behind, "clock_skew_seconds": self.clock_skew_seconds,
                "version": self.version, "last_error": self.last_error,
                "last_error_code": self.last_error_code, "last_error_at": text(self.last_error_at),
                "error_resolved": self.error_resolved,
                "offline_seconds": round(self.offline_for.total_seconds()) if self.offline_for else None,
                "holding_back_refunds": [{"request_id": r.request_id, "pupil_id": r.pupil_id} for r in
                                         self.holding_back],
                "holding_back_transfers": [{"transfer_id": t.transfer_id, "from_pupil": t.from_pupil,
                                            "to_pupil": t.to_pupil, "amount_cents": t.amount_cents}
                                           for t in self.holding_transfers]}


def overview(conn: Connection, now: datetime) -> list[KioskHealth]:
    """Every kiosk the server knows, by id."""
    head = latest_seq(conn)
    states = {state.kiosk_id: state for state in refund_fence.active_kiosks(conn)}
    approved = refunds.with_status(conn, refunds.Status.APPROVED)
    transfers = [(t, sibling_transfers.fence(conn, t)) for t in sibling_transfers.waiting(conn)]
    found = []
    for row in conn.execute(select(kiosks_table).order_by(kiosks_table.c.kiosk_id)):
        heartbeat = from_text(row.last_heartbeat) if row.last_heartbeat else None
        enrolled = from_text(row.enrolled_at) if row.enrolled_at else None
        active = row.kiosk_id in states
        offline = now - heartbeat if active and heartbeat and now - heartbeat > OFFLINE_AFTER else None
        if active and heartbeat is None and enrolled is not None and now - enrolled > OFFLINE_AFTER:
            offline = now - enrolled
        holding = tuple(r for r in approved if active and not states[row.kiosk_id].past(r.fence_seq or 0))
        found.append(KioskHealth(
            row.kiosk_id, enrolled, from_text(row.revoked_at) if row.revoked_at else None, heartbeat, row.pending,
            changes_behind(conn, row.cursor, head, row.school) if row.cursor is not None else None,
            row.clock_skew_seconds, row.version,
            row.last_error, from_text(row.last_error_at) if row.last_error_at else None, row.last_error_code, offline,
            holding, school=row.school,
            holding_transfers=tuple(t for t, fence in transfers if active and not states[row.kiosk_id].past(fence))))
    return found


def issue_code(conn: Connection, kiosk_id: str, actor: str, now: datetime, school: str = "", *,
               new_school: bool = False) -> str:
    """A one-time enrollment code for kiosk `kiosk_id` of `school` (empty: a kiosk of every school;
    a school no pupil or kiosk has yet only when `new_school` says so), shown once: only its hash
    is kept. A kiosk that has synced keeps its school (EnrollmentError)."""
    if not is_identifier(kiosk_id):
        raise AdminError(N_("A kiosk id is 1 to 32 letters, digits, '_' or '-'."))
    school = school.strip()
    current = conn.execute(select(kiosks_table.c.school).where(kiosks_table.c.kiosk_id == kiosk_id)).scalar()
    if problem := check_school(conn, school, new_school=new_school, current=current):
        raise FieldErrors({"school": problem})
    code = kiosks.issue_code(conn, kiosk_id, now, school or None)
    audit.record(conn, actor, "kiosk.code", kiosk_id, now, f"school {school}" if school else "")
    return code


@dataclass(frozen=True, slots=True)
class Revoked:
    at: datetime
    new: bool  # False: it was already revoked and nothing changed
    released: list[RefundRequest]  # refunds booked now that no one waits for this kiosk
    settled: list[SiblingTransfer]  # transfers between siblings booked or cancelled, likewise


def revoke(conn: Connection, kiosk_id: str, actor: str, now: datetime, *, canteen: dict,
           portal_url: str) -> Revoked:
    """Revoke the kiosk (its token stops working at its next sync) and book the refunds that
    waited only for it. What it made and never sent is lost to the server."""
    revocation = kiosks.revoke(conn, kiosk_id, now)
    if revocation is None:
        raise AdminError(N_("No kiosk {kiosk_id}."), kiosk_id=kiosk_id)
    if not revocation.new:
        return Revoked(revocation.at, False, [], [])
    released = refund_fence.release_due(conn, now, canteen=canteen, portal_url=portal_url)
    settled = sibling_transfers.release_due(conn, now, canteen=canteen, portal_url=portal_url)
    audit.record(conn, actor, "kiosk.revoke", kiosk_id, now, f"refunds booked: {[r.request_id for r in released]};"
                 f" transfers settled: {[t.transfer_id for t in settled]}")
    return Revoked(revocation.at, True, released, settled)
