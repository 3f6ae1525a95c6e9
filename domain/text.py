"""Checks on free text that reaches e-mail headers, receipts and web pages."""

from __future__ import annotations

import re

MAX_EMAIL = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs and other control characters: harmless in a cell, harmful in a header."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def is_email(text: str) -> bool:
    return len(text) <= MAX_EMAIL and _EMAIL.fullmatch(text) is not None
