"""Sync in the background of a running kiosk (APScheduler): every `interval` seconds with jitter,
at once after a cash top-up, and backing off exponentially while the server cannot be reached.

Beside the rounds, a long-poll thread waits on the server for new changes (a parent's top-up,
a reservation) and applies them as soon as they come, so a credit paid online reaches the
counter within seconds. It takes the rounds' lock to apply, so two pulls never apply at once.
When the server does not hold its pulls, fails or cannot be reached, the thread backs off and the
rounds carry on alone; a successful round or its retry brings it back.

The agent runs on the scheduler's thread with its own database connection, so the counter's
connection is never shared; SQLite's locking keeps each of the agent's short transactions from
overlapping a tap's. Each round is one log line: what moved, how long it took, or why it failed.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from domain.clock import utc_now
from domain.messages import N_

from .store import Store
from .store_faults import DatabaseFault
from .sync_agent import LONG_POLL_WAIT, RoundReport, SyncAgent, SyncError
from .sync_store import sync_state

log = logging.getLogger(__name__)
JOB_ID = "sync"
GIL_SWITCH_SECONDS = 0.001  # Python's default is 5 ms
DEFAULT_INTERVAL = 60.0
MAX_BACKOFF = 15 * 60.0
LONG_POLL_RETRY = 5.0  # the long-poll's first wait after a failure; doubles up to MAX_BACKOFF
# After a long-poll brought changes, the least time before the next one: while the feed is busy
# (the morning's reservations), a kiosk pulls them in batches instead of once per change.
LONG_POLL_SPACING = 3.0


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """For the status bar: are we in touch, since when, and what waits to be sent."""

    online: bool
    last_sync_at: datetime | None
    pending: int
    last_error: str | None


class SyncScheduler:
    def __init__(self, data_dir: Path, *, interval: float = DEFAULT_INTERVAL, jitter: float | None = None,
                 max_backoff: float = MAX_BACKOFF, on_round: Callable[[RoundReport | SyncError], None] | None = None,
                 agent_factory: Callable[[Store], SyncAgent] = SyncAgent, watch_store: Store | None = None,
                 long_poll: bool = True, long_poll_retry: float = LONG_POLL_RETRY,
                 long_poll_spacing: float = LONG_POLL_SPACING) -> None:
        self.data_dir = data_dir
        self.interval = interval
        self.jitter = interval / 6 if jitter is None else jitter
        self.max_backoff = max_backoff
        self.on_round = on_round or (lambda outcome: None)
        self.agent_factory = agent_factory
        self.failures = 0
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._store: Store | None = None
        self._watch_store = watch_store
        self._cash_seen = self._pending_cash() if watch_store else 0
        self.long_poll = long_poll
        self.long_poll_retry = long_poll_retry
        self.long_poll_spacing = long_poll_spacing
        self.long_poll_failures = 0
        self._stopping = threading.Event()
        self._poll_wake = threading.Event()  # stop(), or a round that went through: a backing-off long-poll goes on
        self._poller: SyncAgent | None = None
        self._poll_thread: threading.Thread | None = None

    @staticmethod
    def keep_taps_quick() -> None:
        """The agent parses pages of JSON in Python on its own thread; with the default 5 ms GIL
        switch interval a tap could wait several of those. 1 ms keeps a tap during sync quick."""
        sys.setswitchinterval(GIL_SWITCH_SECONDS)

    def start(self) -> None:
        self.keep_taps_quick()
        self._scheduler.add_job(self.run_round, IntervalTrigger(seconds=self.interval, jitter=self.jitter),
                                id=JOB_ID, max_instances=1, coalesce=True, next_run_time=utc_now())
        self._scheduler.start()
        if self.long_poll:
            self._poll_thread = threading.Thread(target=self._long_poll, name="sync-long-poll", daemon=True)
            self._poll_thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._poll_wake.set()
        self._end_long_poll()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._store is not None:
            self._store.close()

    def _end_long_poll(self, timeout: float = 5.0) -> None:
        """Cut the long-poll's request until its thread has seen `_stopping` (it may be about to send one)."""
        deadline = time.monotonic() + timeout
        while self._poll_thread is not None and self._poll_thread.is_alive() and time.monotonic() < deadline:
            if self._poller is not None:
                self._poller.interrupt()
            self._poll_thread.join(0.1)

    def trigger(self) -> None:
        """Sync as soon as possible (after a cash top-up: the server should know about the cash)."""
        self._scheduler.modify_job(JOB_ID, next_run_time=utc_now())

    def watch_cash(self) -> None:
        """Called when the counter is quiet: a new cash top-up (made here or by the cashier's
        command on this kiosk) starts a round at once, so the server learns of the cash."""
        try:
            pending = self._pending_cash()
        except sqlite3.Error:  # a failing database: the scheduled round reports it, with backoff
            return
        if pending > self._cash_seen:
            self.trigger()
        self._cash_seen = pending

    def _pending_cash(self) -> int:
        store = self._watch_store
        return store.conn.execute(
            "SELECT COUNT(*) FROM entries WHERE seq > (SELECT pushed_seq FROM sync_state) AND origin = ?"
            " AND kind = 'cash_topup'", (store.kiosk_id,)).fetchone()[0]

    def backoff_seconds(self) -> float:
        return min(self.interval * 2 ** self.failures, self.max_backoff) if self.failures else self.interval

    def run_round(self) -> RoundReport | SyncError | DatabaseFault:
        """One round; a server out of reach or a failing disk is its outcome, with backoff."""
        with self._lock:
            started = time.perf_counter()
            try:
                outcome: RoundReport | SyncError | DatabaseFault = self.agent_factory(self._opened()).run_round()
                self.failures = 0
                self._poll_wake.set()
            except (SyncError, DatabaseFault) as error:
                outcome = error
                self.failures += 1
            log_round(outcome, (time.perf_counter() - started) * 1000, self.failures)
            if self._scheduler.running:
                delay = self.backoff_seconds() + random.uniform(0, self.jitter)
                self._scheduler.modify_job(JOB_ID, next_run_time=utc_now() + timedelta(seconds=delay))
        self.on_round(outcome)
        return outcome

    def _opened(self) -> Store:
        """The agent's connection, opened on first use (under `_lock`)."""
        if self._store is None:
            self._store = Store.open(self.data_dir)
        return self._store

    def _long_poll(self) -> None:
        """The long-poll thread: wait on the server, apply what it brings, again; back off on failure."""
        while not self._stopping.is_set():
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    if self._poller is None:
                        self._poller = self.agent_factory(self._opened())
                    state = self._poller.position()
                started = time.monotonic()
                body = self._poller.wait_for_changes(state, LONG_POLL_WAIT)
                if self._stopping.is_set():
                    return
                brought = body.get("changes") if isinstance(body, dict) else True  # else apply_waited says why
                if not brought and time.monotonic() - started < LONG_POLL_WAIT / 2:
                    raise SyncError(N_("The server answered a long-poll at once with nothing: it does not hold"
                                       " pulls."))
                if self.long_poll_failures:
                    log.info("sync long-poll back after %d failures", self.long_poll_failures)
                    self.long_poll_failures = 0
                with self._lock:
                    if self._stopping.is_set():
                        return
                    report = self._poller.apply_waited(state.cursor, body)
            except (SyncError, DatabaseFault) as error:
                if self._stopping.is_set():
                    return
                self._long_poll_failed(error)
                continue
            if report is not None and (report.pulled or report.server_restored):
                log.info("sync long-poll pulled=%d entries_added=%d", report.pulled, report.entries_added)
                if report.server_restored:
                    self.trigger()
                self._stopping.wait(self.long_poll_spacing)

    def _long_poll_failed(self, error: SyncError | DatabaseFault) -> None:
        """One warning when the long-poll stops working, then quiet retries, each twice as far apart
        (or at once after a round that went through)."""
        self.long_poll_failures += 1
        delay = min(self.long_poll_retry * 2 ** (self.long_poll_failures - 1), self.max_backoff)
        if self.long_poll_failures == 1:
            log.warning("sync long-poll failed, syncing every %.0f s until it works again: %s", self.interval,
                        error.render())
        else:
            log.debug("sync long-poll failed again (%d in a row), next try in %.1f s: %s", self.long_poll_failures,
                      delay, error.render())
        self._poll_wake.clear()
        if not self._stopping.is_set():
            self._poll_wake.wait(delay)

    @staticmethod
    def status(store: Store) -> SyncStatus:
        """What the status bar shows; any connection to the kiosk's database will do."""
        state = sync_state(store)
        return SyncStatus(online=state.last_error is None and state.last_sync_at is not None,
                          last_sync_at=state.last_sync_at, pending=store.pending_push(), last_error=state.last_error)


def log_round(outcome: RoundReport | SyncError | DatabaseFault, duration_ms: float, failures: int) -> None:
    """One line per sync round for the journal (a failure as a warning, with the backoff's count)."""
    if isinstance(outcome, RoundReport):
        log.info("sync ok pushed=%d accepted=%d duplicates=%d rejected=%d pulled=%d entries_added=%d"
                 " clock_skew_s=%s ms=%.0f", outcome.pushed, outcome.accepted, outcome.duplicates,
                 len(outcome.rejected), outcome.pulled, outcome.entries_added, outcome.clock_skew_seconds,
                 duration_ms)
    else:
        log.warning("sync failed code=%s failures_in_a_row=%d ms=%.0f: %s", outcome.code, failures, duration_ms,
                    outcome.render())
