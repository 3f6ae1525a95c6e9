"""The sync message schema shared by kiosk and server (DESIGN.md §3).

A kiosk pushes the entries it made; the server answers each with an `Ack`. A kiosk pulls
`Change`s in server sequence order: the current form of a record (or None when it was removed),
which the kiosk applies idempotently, so a change received twice or an entry the kiosk made itself
coming back is a no-op. Field limits live here so both sides refuse the same things.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .clock import from_text, require_utc, to_text
from .entries import EntryKind, is_entry_id, is_identifier
from .text import has_control_characters

PUSH_BATCH_MAX = 500  # records per push request; more is 413
PULL_LIMIT_DEFAULT = 500
PULL_LIMIT_MAX = 5000
PULL_WAIT_MAX = 30  # seconds a pull may wait for the next change (long-poll); 0 answers at once
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 500
CLOCK_SKEW_WARNING_SECONDS = 120
# What a kiosk may create: everything else (bank, online, refund, adjustment) is the server's.
KIOSK_ENTRY_KINDS = frozenset({EntryKind.MEAL, EntryKind.CASH_TOPUP, EntryKind.REVERSAL})
MAX_REASON_LENGTH = 200  # a counter exception's reason, as the back office's badge reasons


class ChangeType(StrEnum):
    PUPIL = "pupil"
    BADGE = "badge"
    SETTING = "setting"
    CASHIER = "cashier"
    HOLD = "hold"
    RESERVATION = "reservation"
    MENU = "menu"
    ENTRY = "entry"
    TRANSFER = "transfer"  # money set aside on a pupil's account for a transfer to a sibling; None: released


class SyncErrorCode(StrEnum):
    """Why a kiosk's sync round failed, sent beside its own text in the next heartbeat, so that the
    back office says it in the manager's language. A server may meet a code it does not know (a
    newer kiosk): it shows the kiosk's text then."""

    UNREACHABLE = "unreachable"  # no connection to the server
    TIMEOUT = "timeout"  # connected, but no answer in time
    REJECTED = "rejected"  # the server refused the request (4xx: a revoked kiosk, a refused record)
    SERVER_ERROR = "server_error"  # the server failed (5xx)
    BAD_ANSWER = "bad_answer"  # an answer the kiosk cannot use


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same id with the same content was already there
    REJECTED = "rejected"  # kept in quarantine on the server for the manager


@dataclass(frozen=True, slots=True)
class Ack:
    id: str
    status: AckStatus
    reason: str | None = None

    def to_record(self) -> dict:
        record = {"id": self.id, "status": str(self.status)}
        if self.reason:
            record["reason"] = self.reason
        return record


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    type: ChangeType
    key: str
    record: dict | None  # None: the record was removed (a cancelled reservation, a lifted hold)

    def to_record(self) -> dict:
        return {"seq": self.seq, "type": str(self.type), "key": self.key, "record": self.record}

    @classmethod
    def from_record(cls, raw: dict) -> Change:
        return cls(int(raw["seq"]), ChangeType(raw["type"]), str(raw["key"]), raw.get("record"))


@dataclass(frozen=True, slots=True)
class BadgeBlock:
    """A pupil's badge blocked as lost by a cashier at a kiosk: refused there at once, pushed beside
    the entries past its own cursor, and marked lost on the server as the back office does, so
    every other kiosk learns it at its next pull."""

    id: str
    kiosk_id: str
    uid: str
    pupil_id: str
    reason: str
    blocked_at: datetime
    blocked_by: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocked_at", require_utc(self.blocked_at))
        if not isinstance(self.id, str) or not is_entry_id(self.id):
            raise ValueError(f"block id must be a UUID in canonical lower-case form, got {self.id!r}")
        if not is_identifier(self.kiosk_id) or not is_identifier(self.blocked_by):
            raise ValueError("a block's kiosk and cashier are identifiers")
        if not self.uid or not self.pupil_id or len(self.uid) > MAX_ID_LENGTH or len(self.pupil_id) > MAX_ID_LENGTH:
            raise ValueError("a block names its badge and the badge's pupil")
        reason = self.reason
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_LENGTH \
                or has_control_characters(reason):
            raise ValueError(f"a block's reason is one line of 1 to {MAX_REASON_LENGTH} characters")

    def to_record(self) -> dict:
        return {"id": self.id, "origin": self.kiosk_id, "uid": self.uid, "pupil_id": self.pupil_id,
                "reason": self.reason, "blocked_at": to_text(self.blocked_at), "blocked_by": self.blocked_by}

    @classmethod
    def from_record(cls, record: dict) -> BadgeBlock:
        return cls(record["id"], record["origin"], record["uid"], record["pupil_id"], record["reason"],
                   from_text(record["blocked_at"]), record["blocked_by"])
