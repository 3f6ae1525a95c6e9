"""Checks on free text that reaches e-mail headers, receipts and web pages."""

from __future__ import annotations

import re

from .messages import N_, Message

MAX_EMAIL = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs and other control characters: harmless in a cell, harmful in a header.
    Unicode's line and paragraph separators (U+2028, U+2029) are line breaks to e-mail too."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in text)


def is_one_line(text: str, most: int) -> bool:
    """At most `most` characters and no control character: what prints as one line of a receipt,
    a note the server keeps, a header."""
    return len(text) <= most and not has_control_characters(text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """A text cell of a CSV export that a spreadsheet shows as text, never runs as a formula (a name
    such as `=HYPERLINK(...)`): such a cell starts with an apostrophe. Amounts are not text cells."""
    return "'" + text if text.startswith(_FORMULA_START) else text


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


# French typography: a no-break space before a colon, a narrow one before ; ! ? and inside « »,
# so that a line never starts with the sign. Only spaces already there are changed for ; (an HTML
# entity ends with one), and a missing one is added before : ! ? only where a word ends and a space
# follows (never in 08:15, a URL or a query string).
_SPACE_BEFORE = re.compile(r"[ \u00a0\u202f]+([:;!?»])")
_SPACE_AFTER = re.compile(r"«[ \u00a0\u202f]+")
_MISSING_SPACE = re.compile(r"(?<=[^\W\d_]|[)}])([:!?])(?=\s|$)")
_NO_BREAK = {":": "\u00a0"}


def french_spacing(text: str) -> str:
    """`text` with French spaces before : ; ! ? » and after «, none of which can break."""
    if not any(sign in text for sign in ":;!?«»"):
        return text
    text = _SPACE_BEFORE.sub(lambda m: _NO_BREAK.get(m.group(1), "\u202f") + m.group(1), text)
    text = _MISSING_SPACE.sub(lambda m: _NO_BREAK.get(m.group(1), "\u202f") + m.group(1), text)
    return _SPACE_AFTER.sub("«\u202f", text)
