"""A serving process's start-up objects (modules, the app, its caches) live as long as it does.

Frozen out of the garbage collector's generations once the process serves (`gc.freeze`), they are
no longer walked by the full collections that requests' garbage sets off now and then: with the
app's hundred thousand objects walked, such a collection held a request (a kiosk's push, a
parent's page) for tens of milliseconds. Only for a process that makes its app once: frozen
objects are never freed, so a process that makes apps over and over (a test run) must not call this.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what start-up left as garbage, then freeze the rest."""
    gc.collect()
    gc.freeze()
