"""A serving process's start-up objects (modules, the app, its caches) live as long as it does.

Frozen out of the garbage collector's generations once the process serves (`gc.freeze`), they are
no longer walked by the full collections that requests' garbage sets off: a kiosk's push of
hundreds of entries made them run often enough to cost a noticeable share of its CPU. The young
generation is collected after 7,000 new objects instead of 700: such a push makes tens of
thousands, nearly all freed when it ends. Only for a process that makes its app once: frozen
objects are never freed, so a process that makes apps over and over (a test run) must not call this.
"""

from __future__ import annotations

import gc

YOUNG_OBJECTS = 7_000


def settle() -> None:
    """Collect what start-up left as garbage, freeze the rest, collect the young less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])
