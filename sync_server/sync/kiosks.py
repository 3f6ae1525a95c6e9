"""Kiosk identities: one-time enrollment codes, bearer tokens (stored hashed), heartbeats.

Codes and tokens are random and long, so a SHA-256 of them is enough to store (argon2 is for
secrets people choose). A code works once, for the kiosk it was made for, within a day.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update

from domain.clock import from_text, to_text
from domain.messages import N_, RefectoryError
from sync_server.db import fetch_all
from sync_server.tables import enrollment_codes, kiosks

CODE_LIFETIME = timedelta(hours=24)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen and typed
# The skew column is a 32-bit integer (on PostgreSQL): 68 years, less than a clock can be off
# within the instants we accept (2000-2099), so a wilder clock is recorded as 68 years off.
SKEW_LIMIT_SECONDS = 2**31 - 1


class EnrollmentError(RefectoryError):
    code = "enrollment_refused"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_code(conn: Connection, kiosk_id: str, now: datetime, school: str | None = None) -> str:
    """A one-time code (e.g. `K7QF-2M9X-PL4D`) that lets kiosk `kiosk_id` of `school` (None: a
    kiosk of every school) enroll within a day.

    A kiosk keeps the school it first synced for: its ledger holds that school's pupils, and its
    cursor is past the other schools' changes, which it never pulled."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    code = "-".join(raw[i:i + 4] for i in range(0, 12, 4))
    row = conn.execute(select(kiosks.c.school, kiosks.c.cursor).where(kiosks.c.kiosk_id == kiosk_id)
                       .with_for_update()).first()
    if row is None:
        conn.execute(insert(kiosks).values(kiosk_id=kiosk_id, school=school))
    elif row.school != school:
        if row.cursor is not None and row.school is None:
            raise EnrollmentError(N_("Kiosk {kiosk_id} has synced as a kiosk of every school: a kiosk keeps its"
                                     " school. Enroll the machine as a new kiosk to give it one."), kiosk_id=kiosk_id)
        if row.cursor is not None:
            raise EnrollmentError(N_("Kiosk {kiosk_id} has synced for school {school}: a kiosk keeps its school."
                                     " Enroll the machine as a new kiosk to move it."),
                                  kiosk_id=kiosk_id, school=row.school)
        conn.execute(update(kiosks).where(kiosks.c.kiosk_id == kiosk_id).values(school=school))
    conn.execute(insert(enrollment_codes).values(code_hash=digest(_canonical(code)), kiosk_id=kiosk_id,
                                                 expires_at=to_text(now + CODE_LIFETIME)))
    return code


def _canonical(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def hold(conn: Connection, kiosk_id: str) -> None:
    """Lock the kiosk's row until commit. An enrollment and a heartbeat take it before reading the
    clock, so their instants are in the order they commit: a replaced machine's heartbeat can never
    look later than the enrollment that replaced it (the refund fence counts on it)."""
    conn.execute(select(kiosks.c.kiosk_id).where(kiosks.c.kiosk_id == kiosk_id).with_for_update())


def enroll(conn: Connection, code: str, kiosk_id: str, now: datetime) -> str:
    """Exchange a code for the kiosk's token; a new enrollment replaces the kiosk's old token."""
    row = conn.execute(select(enrollment_codes).where(enrollment_codes.c.code_hash == digest(_canonical(code)))
                       .with_for_update()).first()  # used at once by two machines: the second finds it used
    if row is None or row.used_at is not None or from_text(row.expires_at) <= now:
        raise EnrollmentError(N_("This enrollment code is unknown, used or expired."))
    if row.kiosk_id != kiosk_id:
        raise EnrollmentError(N_("This enrollment code is for kiosk {expected}, not {kiosk_id}."),
                              expected=row.kiosk_id, kiosk_id=kiosk_id)
    token = secrets.token_urlsafe(32)
    conn.execute(update(enrollment_codes).where(enrollment_codes.c.code_hash == row.code_hash)
                 .values(used_at=to_text(now)))
    conn.execute(update(kiosks).where(kiosks.c.kiosk_id == kiosk_id)
                 .values(token_hash=digest(token), enrolled_at=to_text(now), revoked_at=None))
    return token


class Kiosk(NamedTuple):
    kiosk_id: str
    school: str | None  # whose changes it pulls (None: every change)


_OF_TOKEN = select(kiosks.c.kiosk_id, kiosks.c.school, kiosks.c.revoked_at).where(
    kiosks.c.token_hash == bindparam("token_hash"))


def kiosk_for_token(conn: Connection, token: str) -> Kiosk | None:
    """The kiosk a token is for, unless revoked: every kiosk request asks it first."""
    found = fetch_all(conn, _OF_TOKEN, {"token_hash": digest(token)})
    return Kiosk(found[0][0], found[0][1]) if found and found[0][2] is None else None


class Revocation(NamedTuple):
    at: datetime
    new: bool  # False: the kiosk was already revoked, and that first revocation stands


def revoke(conn: Connection, kiosk_id: str, now: datetime) -> Revocation | None:
    """Revoke the kiosk, or say since when it already is; None for no such kiosk. Its codes not
    used yet expire with it: a code made before the revocation must not bring the kiosk back."""
    new = conn.execute(update(kiosks).where(kiosks.c.kiosk_id == kiosk_id, kiosks.c.revoked_at.is_(None))
                       .values(revoked_at=to_text(now))).rowcount == 1
    conn.execute(update(enrollment_codes).where(enrollment_codes.c.kiosk_id == kiosk_id,
                                                enrollment_codes.c.used_at.is_(None),
                                                enrollment_codes.c.expires_at > to_text(now))
                 .values(expires_at=to_text(now)))
    revoked_at = conn.execute(select(kiosks.c.revoked_at).where(kiosks.c.kiosk_id == kiosk_id)).scalar()
    return None if revoked_at is None else Revocation(from_text(revoked_at), new)


class LastError(NamedTuple):
    """Why a kiosk's sync failed, and when (by the kiosk's clock), as its next heartbeat says."""

    message: str
    at: datetime
    code: str | None = None  # domain.sync.SyncErrorCode, or one this server does not know; None from older kiosks


def heartbeat(conn: Connection, token: str, *, cursor: int, pending: int, clock: datetime, version: str,
              now: datetime, last_error: LastError | None = None) -> int | None:
    """Record a kiosk's health; returns its clock's difference from ours in seconds, or None when
    the token is no longer the kiosk's (enrolled again or revoked since the request was checked).
    A reported error is kept until the kiosk reports another: the kiosks page says whether a
    heartbeat came after it.

    The refund fence trusts the cursor and pending count recorded here, so a heartbeat from a
    replaced machine must not land after the new one's enrollment."""
    skew = max(-SKEW_LIMIT_SECONDS, min(SKEW_LIMIT_SECONDS, round((clock - now).total_seconds())))
    error = {} if last_error is None else {"last_error": last_error.message, "last_error_at": to_text(last_error.at),
                                           "last_error_code": last_error.code}
    recorded = conn.execute(update(kiosks).where(kiosks.c.token_hash == digest(token), kiosks.c.revoked_at.is_(None))
                            .values(last_heartbeat=to_text(now), cursor=cursor, pending=pending,
                                    clock_skew_seconds=skew, version=version, **error)).rowcount
    return skew if recorded == 1 else None
