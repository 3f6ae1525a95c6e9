"""The counter loop without a screen: badge reads become taps, one at a time, on one thread.

Readers call back from their own threads; the loop takes their events from a queue, so the kiosk
database is only ever used from the loop's thread and a tap is never lost while another is being
decided. When nothing has happened for a moment it lets the store do its housekeeping.
Each tap is one log line (badge, pupil id, verdict, amounts, our time), never a pupil's name.
A tap that cannot be decided (a full or damaged disk, or a bug) is a red verdict saying so, and
the counter goes on with the next badge: the loop never dies with a pupil in front of it.
The Kivy app drives the same service the same way, through its Clock instead of a queue.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from domain.clock import service_date
from domain.meals import fault_verdict
from domain.messages import N_, Message, RefectoryError

from .service import KioskService, TapResult

log = logging.getLogger(__name__)
UNDECIDED = N_("The kiosk could not decide this tap (see the kiosk log). Please see the cashier.")

IDLE_AFTER_SECONDS = 2.0
QUIET_POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class CounterTap:
    """A tap decided by the counter: the read, the result, and our own time from read to verdict."""

    read: object  # hardware.readers.BadgeRead (duck-typed: uid, reader, detected)
    result: TapResult
    overhead_ms: float


class Counter:
    def __init__(self, service: KioskService, *, idle_after: float = IDLE_AFTER_SECONDS) -> None:
        self.service = service
        self.idle_after = idle_after
        self.events: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.turned_at = time.monotonic()  # the loop's last turn: a watchdog elsewhere sees it is alive

    # Reader callbacks: called on reader threads, they only enqueue.
    def on_badge(self, read) -> None:
        self.events.put(("badge", read))

    def on_notice(self, notice) -> None:
        self.events.put(("reader", notice))

    def tap(self, read) -> CounterTap:
        try:
            result = self.service.tap(read.uid)
        except RefectoryError as error:  # a fault of the machine is logged where it was raised
            result = self._undecided(read, error.message)
        except Exception:
            log.exception("Tap of badge %r failed", read.uid)
            result = self._undecided(read, Message(UNDECIDED))
        tap = CounterTap(read, result, (time.perf_counter() - read.detected) * 1000)
        log_tap(tap)
        return tap

    def _undecided(self, read, message: Message) -> TapResult:
        return TapResult(read.uid, fault_verdict(message, service_date(self.service.clock())), None)

    def post(self, kind: str, event: object) -> None:
        """Hand the loop anything else to report in order (e.g. a sync round's outcome)."""
        self.events.put((kind, event))

    def run(self, on_tap: Callable[[CounterTap], None], on_event: Callable[[str, object], None],
            on_quiet: Callable[[], None] | None = None, *, on_turn: Callable[[], None] | None = None,
            turn_every: float | None = None) -> None:
        """Serve events until `stopping` is set; housekeeping once after each quiet spell, and
        `on_quiet` whenever nothing happened for a moment. `on_turn` is called on every turn of the
        loop, which turns at least every `turn_every` seconds (the watchdog's ping)."""
        dirty = False
        quiet_since = time.monotonic()
        while not self.stopping.is_set():
            self.turned_at = time.monotonic()
            if on_turn is not None:
                on_turn()
            quiet_at = quiet_since + (self.idle_after if dirty else QUIET_POLL_SECONDS)
            wait = max(0.0, quiet_at - time.monotonic())
            try:
                kind, event = self.events.get(timeout=wait if turn_every is None else min(wait, turn_every))
            except queue.Empty:
                if time.monotonic() < quiet_at:  # only the watchdog's turn
                    continue
                if dirty:
                    dirty = False
                    with contextlib.suppress(RefectoryError):  # housekeeping only (logged); tried again later
                        self.service.idle()
                if on_quiet is not None:
                    on_quiet()
                quiet_since = time.monotonic()
                continue
            if kind == "badge":
                on_tap(self.tap(event))
                dirty = True
            else:
                on_event(kind, event)
            quiet_since = time.monotonic()


def log_tap(tap: CounterTap) -> None:
    """One line per tap for the journal: ids, codes and amounts only (no name is ever logged)."""
    verdict = tap.result.verdict
    log.info("tap badge=%s pupil=%s verdict=%s reason=%s price_cents=%s balance_cents=%s ms=%.1f",
             tap.result.uid, verdict.pupil.pupil_id if verdict.pupil else "-",
             "served" if verdict.served else "refused", verdict.reason or "-",
             verdict.price_cents if verdict.price_cents is not None else "-",
             verdict.balance_cents if verdict.balance_cents is not None else "-", tap.overhead_ms)
