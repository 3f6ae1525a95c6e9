"""Checks on free text that reaches e-mail headers, receipts and web pages."""

from __future__ import annotations

import re

from .messages import N_, Message

MAX_EMAIL = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs and other control characters: harmless in a cell, harmful in a header."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def is_email(text: str) -> bool:
    return len(text) <= MAX_EMAIL and not has_control_characters(text) and _EMAIL.fullmatch(text) is not None


def email_problem(text: str, field: str) -> Message | None:
    """Why `text`, given as `field` (a column, an option), cannot be a family's e-mail address, or
    None. Every address the server keeps passes here, so none can break a mail's `To:` header."""
    if has_control_characters(text):  # named, not echoed: the character would garble the message too
        return Message(N_("{column} contains a line break or another control character."), {"column": field})
    if not is_email(text):
        return Message(N_("{column} '{value}' is not an e-mail address."), {"column": field, "value": text})
    return None
