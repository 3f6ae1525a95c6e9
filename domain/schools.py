"""A school's name, as the manager types it on a pupil, a kiosk or a roster line.

A city runs several schools on one server; each kiosk serves one school's pupils (or every
school's, when it has none). The name is what ties them, so it is kept short and on one line:
trimmed, 1 to 40 characters. Empty means "no school": the pupil is served by every kiosk.
"""

from __future__ import annotations

from .messages import N_, Message
from .text import has_control_characters

MAX_SCHOOL = 40


def school_problem(name: str) -> Message | None:
    """Why `name` (already trimmed, not empty) cannot be a school's name, or None."""
    if len(name) > MAX_SCHOOL or has_control_characters(name):
        return Message(N_("A school's name is one line of at most {count} characters."), {"count": str(MAX_SCHOOL)})
    return None
