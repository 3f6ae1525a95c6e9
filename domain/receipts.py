"""A receipt as a document: what it says, not how a printer draws it.

The kiosk builds a `Receipt` from facts it already knows (a committed top-up, a report); the
printer lays it out to its paper width (32 or 42/48 characters). Keeping the document free of
widths and printer commands lets the same receipt go to a thermal printer, a text file or a
test assertion, and keeps this module pure (standard library only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Style(StrEnum):
    TITLE = "title"  # large, bold, centred
    CENTER = "center"
    BOLD = "bold"
    NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph; the printer wraps it at word boundaries when it is wider than the paper."""

    text: str
    style: Style = Style.NORMAL


@dataclass(frozen=True, slots=True)
class Row:
    """A label on the left and a value (usually an amount) flush right."""

    left: str
    right: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A full-width separator line."""

    char: str = "-"


@dataclass(frozen=True, slots=True)
class Blank:
    """An empty line (spacing between blocks)."""


Line = Text | Row | Rule | Blank


@dataclass(frozen=True, slots=True)
class Receipt:
    """An ordered tuple of lines; `number` (when it has one) names the printed file."""

    lines: tuple[Line, ...]
    number: int | None = None

    def texts(self) -> list[str]:
        """The words of the receipt, without layout (handy in logs and tests)."""
        out: list[str] = []
        for line in self.lines:
            if isinstance(line, Text):
                out.append(line.text)
            elif isinstance(line, Row):
                out.append(f"{line.left} {line.right}")
        return out
