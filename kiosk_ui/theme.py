"""Colours and sizes of the kiosk screen, in one place.

Sizes are in Kivy's density-independent units; touch targets are at least 9 mm (`mm(9)`) on
the 800×480 and 1280×800 panels the kiosk runs on.
"""

from __future__ import annotations

from kivy.metrics import dp, mm, sp

GREEN = (0.11, 0.55, 0.24, 1)
RED = (0.75, 0.13, 0.13, 1)
AMBER = (0.98, 0.75, 0.11, 1)
BACKGROUND = (0.96, 0.96, 0.94, 1)
INK = (0.10, 0.10, 0.12, 1)
MUTED = (0.35, 0.35, 0.40, 1)
BUTTON = (0.20, 0.33, 0.55, 1)
WHITE = (1, 1, 1, 1)


def touch_target() -> float:
    """The smallest side of anything a finger must hit."""
    return max(mm(9), dp(48))


def font(size: str) -> float:
    return {"small": sp(16), "normal": sp(22), "large": sp(34), "huge": sp(52)}[size]
