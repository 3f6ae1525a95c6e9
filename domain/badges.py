"""Badge UIDs: every reader format ends as the same upper-case hex the badge table stores."""

from __future__ import annotations

import re

from .messages import N_, RefectoryError

_SEPARATORS = re.compile(r"[\s:\-]")
_HEX = re.compile(r"[0-9A-F]+")
MIN_UID_BYTES, MAX_UID_BYTES = 4, 10
_CANONICAL = re.compile(rf"(?:[0-9A-F]{{2}}){{{MIN_UID_BYTES},{MAX_UID_BYTES}}}")


class BadgeUidError(RefectoryError):
    code = "invalid_badge_uid"


def normalize_uid(text: str) -> str:
    """`"04:a2:3b:1c"` → `"04A23B1C"`; rejects anything that is not 4 to 10 bytes of hex."""
    if text.__class__ is str and _CANONICAL.fullmatch(text):  # what every reader sends: nothing to do
        return text
    uid = _SEPARATORS.sub("", text or "").upper()
    if uid.startswith("0X"):
        uid = uid[2:]
    if not _HEX.fullmatch(uid) or len(uid) % 2:
        raise BadgeUidError(N_("'{text}' is not a badge UID (hexadecimal bytes expected)."), text=text)
    if not MIN_UID_BYTES <= len(uid) // 2 <= MAX_UID_BYTES:
        raise BadgeUidError(
            N_("Badge UID '{text}' has {count} bytes; 4 to 10 are expected."), text=text, count=len(uid) // 2
        )
    return uid


def normalize_or_none(text: str) -> str | None:
    try:
        return normalize_uid(text)
    except BadgeUidError:
        return None
