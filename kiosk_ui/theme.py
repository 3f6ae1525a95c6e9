"""Colours and sizes of the kiosk screen, in one place.

Touch targets are measured on the panel itself: its pixels per millimetre come from its
resolution and its diagonal (`[screen] diagonal_inches`), not from the 96 dpi Kivy assumes with
no display information, so 9 mm is 9 mm under the finger on a 7-inch 800×480 panel (47 px) and a
10.1-inch 1280×800 one (53 px). Text sizes stay in Kivy's units.
"""

from __future__ import annotations

import math

from kivy.metrics import sp

GREEN = (0.11, 0.55, 0.24, 1)
RED = (0.75, 0.13, 0.13, 1)
AMBER = (0.98, 0.75, 0.11, 1)
BACKGROUND = (0.96, 0.96, 0.94, 1)
INK = (0.10, 0.10, 0.12, 1)
MUTED = (0.35, 0.35, 0.40, 1)
BUTTON = (0.20, 0.33, 0.55, 1)
WHITE = (1, 1, 1, 1)

# The verdict screens, told apart without colour: a light "served" and a dark "refused" differ
# 5.1:1 in WCAG relative luminance (>= 3:1 under any colour blindness), their text keeps >= 9:1,
# and each has its own shape (✔ ✘ !). A kiosk fault is dark too (no meal), but slate, not red:
# the tap was not the child's fault. (background, text and shape)
VERDICT_COLOURS = {
    "served": ((0.47, 0.82, 0.47, 1), INK),
    "refused": ((0.55, 0.06, 0.06, 1), WHITE),
    "fault": ((0.22, 0.24, 0.32, 1), WHITE),
}


SMALL_PANEL = (800, 480, 7.0)  # the defaults: up to 800 px wide a 7" panel, above a 10.1" one
LARGE_PANEL_INCHES = 10.1
_px_per_mm = math.hypot(1280, 800) / (LARGE_PANEL_INCHES * 25.4)


def panel_inches(width: int, height: int, diagonal_inches: float = 0.0) -> float:
    """The panel's diagonal: as configured, else guessed from its resolution."""
    if diagonal_inches:
        return diagonal_inches
    return SMALL_PANEL[2] if width <= SMALL_PANEL[0] else LARGE_PANEL_INCHES


def use_panel(width: int, height: int, diagonal_inches: float = 0.0) -> None:
    """Size everything for this panel from now on (the window's size in pixels, fullscreen)."""
    global _px_per_mm
    _px_per_mm = math.hypot(width, height) / (panel_inches(width, height, diagonal_inches) * 25.4)


def mm(millimetres: float) -> float:
    """Pixels for a length on the panel."""
    return millimetres * _px_per_mm


def touch_target() -> float:
    """The smallest side of anything a finger must hit: 9 mm, in whole pixels."""
    return float(math.ceil(mm(9)))


def message_line() -> float:
    """The height kept for a screen's one-line message, there or not, so nothing moves when it comes."""
    return float(math.ceil(font("normal") * 1.5))


def font(size: str) -> float:
    return {"small": sp(16), "normal": sp(22), "large": sp(34), "huge": sp(52)}[size]
