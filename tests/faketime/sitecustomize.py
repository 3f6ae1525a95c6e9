"""Put on PYTHONPATH for the test command's pass under libfaketime, so every Python process of
that pass (pytest, its workers, the kiosks and servers they start) loads it.

libfaketime 0.9.10 (Debian 12) runs with FAKETIME_DONT_FAKE_MONOTONIC=1 so that lock and queue
timeouts, which wait on the real monotonic clock, still end; but in that mode it answers
`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...)`, which `time.sleep` uses since Python 3.11,
with EINVAL. Here `time.sleep` waits in `select` instead, which libfaketime passes through.
"""

import os
import select
import time

if "faketime" in os.environ.get("LD_PRELOAD", ""):
    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:  # select returns early on a signal
            select.select([], [], [], left)

    time.sleep = _sleep
