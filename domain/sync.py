"""The sync message schema shared by kiosk and server (DESIGN.md §3).

A kiosk pushes the entries it made; the server answers each with an `Ack`. A kiosk pulls
`Change`s in server sequence order: the current form of a record (or None when it was removed),
which the kiosk applies idempotently, so a change received twice or an entry the kiosk made itself
coming back is a no-op. Field limits live here so both sides refuse the same things.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .entries import EntryKind

PUSH_BATCH_MAX = 500  # records per push request; more is 413
PULL_LIMIT_DEFAULT = 500
PULL_LIMIT_MAX = 5000
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 500
CLOCK_SKEW_WARNING_SECONDS = 120
# What a kiosk may create: everything else (bank, online, refund, adjustment) is the server's.
KIOSK_ENTRY_KINDS = frozenset({EntryKind.MEAL, EntryKind.CASH_TOPUP, EntryKind.REVERSAL})


class ChangeType(StrEnum):
    PUPIL = "pupil"
    BADGE = "badge"
    SETTING = "setting"
    CASHIER = "cashier"
    HOLD = "hold"
    RESERVATION = "reservation"
    MENU = "menu"
    ENTRY = "entry"


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
