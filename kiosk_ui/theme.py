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

# The verdict screens, told apart without colour: a light "served" and a dark "refused" differ
# 5.1:1 in WCAG relative luminance (>= 3:1 under any colour blindness), their text keeps >= 9:1,
# and each has its own shape (✔ ✘ !). A kiosk fault is dark too (no meal), but slate, not red:
# the tap was not the child's fault. (background, text and shape)
VERDICT_COLOURS = {
    "served": ((0.47, 0.82, 0.47, 1), INK),
    "refused": ((0.55, 0.06, 0.06, 1), WHITE),
    "fault": ((0.22, 0.24, 0.32, 1), WHITE),
}


def touch_target() -> float:
    """The smallest side of anything a finger must hit."""
    return max(mm(9), dp(48))


def font(size: str) -> float:
    return {"small": sp(16), "normal": sp(22), "large": sp(34), "huge": sp(52)}[size]
