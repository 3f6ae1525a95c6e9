"""Long-poll pulls: a kiosk's pull may wait for the next change instead of coming back empty.

A waiting request sleeps on a `threading.Condition` and holds no database connection. It answers
as soon as an urgent change is pullable (one the counter must know at once: money booked on the
server or at another kiosk's desk, holds, badges, pupils, cashiers), or at the end of its wait with
whatever is pullable: reservations, menus, settings and the other kiosks' meals come then, so a
push of meals or a parent's reservation does not wake every kiosk of the city.

One watcher per process and database learns that an urgent change may be pullable and wakes every
waiting request, which runs its pull query again: on PostgreSQL from a `LISTEN` connection
(`announce` sends the `NOTIFY` inside the writing transaction, so it is delivered at commit, to
every app server); on SQLite by reading the feed's new rows a few times a second, only while
someone waits. A change may become pullable a little after its commit (once older transactions
end), so the waiters are woken again a few times after each signal; a query that still finds
nothing urgent simply waits on.

A signal names the school the change is for (`EVERY` for every kiosk): it wakes the waiting pulls
of that school's kiosks and of kiosks without a school, so a top-up wakes the pupil's canteen, not
the city's.

Kiosks that have pulled everything wait from the same cursor, so a wake-up would make hundreds of
requests run the same query at once, each needing a pooled connection: waiters with the same key
share one query per wake-up (`wait_until`'s `key`), the others waiting for its result.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection, Engine, event, text

from domain.entries import EntryKind
from domain.sync import Change, ChangeType

CHANNEL = "refectory_changes"
EVERY = ""  # a signal's school when the change is for every kiosk
# What can wait for the end of a long-poll: everything else wakes the waiting pulls.
CALM_TYPES = frozenset({ChangeType.RESERVATION, ChangeType.MENU, ChangeType.SETTING})
CALM_KINDS = frozenset({EntryKind.MEAL})
SQLITE_POLL_S = 0.2  # SQLite: how often the watcher reads the feed's new rows while someone waits
SIGNAL_WAIT_S = 0.5  # PostgreSQL: the longest the watcher blocks on its socket (how soon it sees close())
FOLLOW_UPS_S = (0.25, 1.0, 3.0)  # after a signal: when to wake the waiters again, for late-visible changes
SHARED_FOR_S = 0.5  # how long a shared result answers later waiters with the same key (no signal between)
SHARED_KEYS = 64  # results kept per process: caught-up kiosks share a handful of cursors
LINGER_S = 30.0  # the watcher keeps its connection this long after the last wait ends
RETRY_S = 2.0  # after the watcher lost its connection: how soon it tries again (the waiters re-query meanwhile)

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_ANNOUNCED = "refectory.feed_announced"
_REGISTRY = threading.Lock()
_WATCHERS: weakref.WeakSet[FeedWatcher] = weakref.WeakSet()  # every watcher of this process


def urgent(type: ChangeType, kind: str | None = None) -> bool:
    """Whether a change of this type (an entry of this kind) should end the kiosks' waits at once."""
    return type not in CALM_TYPES and not (type == ChangeType.ENTRY and kind in CALM_KINDS)


def worth_answering(page: list[Change]) -> bool:
    """Whether a waiting pull answers now with this page: it holds an urgent change."""
    return any(urgent(change.type, change.record and change.record.get("kind")) for change in page)


_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :school)")


def announce(conn: Connection, is_urgent: bool, school: str | None = None) -> None:
    """Called by whatever appends to the change feed: on PostgreSQL, for an urgent change for the
    kiosks of `school` (None: every kiosk), a `NOTIFY` delivered to every listening app server when
    (and only if) the transaction commits, once per transaction and school (notifying transactions
    queue briefly at commit: calm ones do not notify). SQLite's watchers read the feed instead."""
    if not is_urgent or conn.dialect.name != "postgresql":
        return
    transaction = conn.get_transaction()
    announced = conn.info.get(_ANNOUNCED)
    if announced is None or announced[0] is not transaction:
        announced = conn.info[_ANNOUNCED] = (transaction, set())
    payload = EVERY if school is None else school
    if payload not in announced[1]:
        conn.execute(_NOTIFY, {"school": payload})
        announced[1].add(payload)


def watcher(engine: Engine) -> FeedWatcher:
    """This process's watcher for `engine`, made on first use (after gunicorn forked its workers)."""
    with _REGISTRY:
        found = getattr(engine, "refectory_feed_watcher", None)
        if found is None:
            found = engine.refectory_feed_watcher = FeedWatcher(engine)
            _WATCHERS.add(found)
            if not event.contains(engine, "engine_disposed", _disposed):
                event.listen(engine, "engine_disposed", _disposed)
        return found


def release_all() -> None:
    """The process is stopping: every waiting pull answers now with what it has (nothing), so a
    graceful stop does not wait out the kiosks' long-polls. Safe in a signal handler: it waits for
    no thread."""
    for found in list(_WATCHERS):
        found.release()


def _disposed(engine: Engine) -> None:
    """The engine's connections were let go (a stopping server, a restore): so are the watcher's,
    and its waiting requests answer now; the next wait starts a new watcher."""
    with _REGISTRY:
        found = engine.__dict__.pop("refectory_feed_watcher", None)
    if found is not None:
        found.close()


class FeedWatcher:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # the watcher's thread and the count of waiters
        self._schools: dict[str | None, threading.Condition] = {}  # the waiters of a school's kiosks, on `_lock`
        self._version = 0  # moves each time some waiters should look again
        self._versions: dict[str, int] = {}  # by school (`EVERY`: for every kiosk)
        self._waiting = 0  # requests in `wait_until`: the watcher runs while there are any
        self._asleep = 0
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._shared: dict[object, tuple[int, float, object]] = {}  # key: (version, when, result)
        self._fetching: dict[object, threading.Lock] = {}

    @property
    def waiting(self) -> int:
        """How many requests sleep on this process's feed now (between their queries)."""
        return self._asleep

    def wait_until(self, fetch: Callable[[], _T], ready: Callable[[_T], bool], timeout: float,
                   key: object = None, school: str | None = None) -> _T:
        """`fetch()` again each time the feed may have moved for the kiosks of `school` (None: a
        kiosk of every school), until `ready` says its result is worth answering or `timeout`
        seconds have passed; returns its last result. Waiters giving the same `key` (the same
        query) share one `fetch()` per wake-up."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting += 1
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._watch, name="feed-watcher", daemon=True)
                self._thread.start()
            self._changed.notify_all()  # a watcher lingering without waiters watches again
        try:
            while True:
                seen = self._mark(school)  # read before the query: a signal during it is not lost
                result = fetch() if key is None else self._fetch_shared(key, fetch)
                remaining = deadline - time.monotonic()
                if ready(result) or remaining <= 0 or self._closed.is_set():
                    return result
                with self._changed:
                    condition = self._schools.get(school)
                    if condition is None:
                        condition = self._schools[school] = threading.Condition(self._lock)
                    self._asleep += 1
                    try:
                        condition.wait_for(functools.partial(self._moved_since, school, seen), remaining)
                    finally:
                        self._asleep -= 1
        finally:
            with self._changed:
                self._waiting -= 1
                self._changed.notify_all()

    def _fetch_shared(self, key: object, fetch: Callable[[], _T]) -> _T:
        """`fetch()`'s result for `key`, run once per wake-up however many waiters ask: the first
        runs it, the others wait for it and take the same result."""
        with self._changed:
            if key not in self._fetching and len(self._fetching) >= SHARED_KEYS:
                self._fetching.clear()
                self._shared.clear()
            lock = self._fetching.setdefault(key, threading.Lock())
        with lock:
            version = self._version  # before the query, as in `wait_until`
            found = self._shared.get(key)
            if found is not None and found[0] == version and time.monotonic() - found[1] < SHARED_FOR_S:
                return found[2]
            result = fetch()
            self._shared[key] = (version, time.monotonic(), result)
            return result

    def _mark(self, school: str | None) -> object:
        """What moves when the waiters of `school` should look again."""
        if school is None:
            return self._version
        return self._versions.get(EVERY, 0), self._versions.get(school, 0)

    def _moved_since(self, school: str | None, seen: object) -> bool:
        return self._mark(school) != seen or self._closed.is_set()

    def release(self) -> None:
        """Wake every waiting request (each answers with what it has) and end the watcher's thread."""
        self._closed.set()
        self._wake(None)

    def close(self) -> None:
        """`release`, then wait for the watcher's thread to give its connection back."""
        self.release()
        with self._changed:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    # -- the watcher's thread --------------------------------------------------------------

    def _watch(self) -> None:
        source = None
        follow_ups: list[tuple[float, frozenset[str] | None]] = []  # when, and whose waiters (None: all)
        failing = False
        try:
            while not self._closed.is_set():
                with self._changed:
                    if not self._waiting and not self._changed.wait_for(
                            lambda: self._waiting or self._closed.is_set(), LINGER_S):
                        self._thread = None  # nobody waited for a while: give the connection back
                        return
                try:
                    if source is None:
                        source = _Source.open(self.engine)
                        follow_ups = [(0.0, None)]  # anything committed while nobody listened
                    now = time.monotonic()
                    signalled = source.wait(max(0.0, min([SIGNAL_WAIT_S, *(t - now for t, _ in follow_ups)])),
                                            self._closed)
                    if failing:
                        log.info("the change feed's watcher is back")
                        failing = False
                except Exception as error:  # a lost connection must not end the long-polls
                    if not failing:
                        log.warning("the change feed's watcher lost its database (%s); waiting pulls look"
                                    " again every %.0f s until it is back", error, RETRY_S)
                        failing = True
                    if source is not None:
                        source.close()
                        source = None
                    self._wake(None)
                    self._closed.wait(RETRY_S)
                    continue
                now = time.monotonic()
                if signalled:
                    follow_ups += [(now + delay, frozenset(signalled)) for delay in FOLLOW_UPS_S]
                due = [schools for t, schools in follow_ups if t <= now]
                if signalled or due:
                    follow_ups = [(t, schools) for t, schools in follow_ups if t > now]
                    self._wake(None if None in due else set(signalled).union(*due))
        finally:
            if source is not None:
                source.close()
            with self._changed:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _wake(self, schools: Iterable[str] | None) -> None:
        """Wake the waiters of these schools (`EVERY` or None: every waiter) and those of no school."""
        with self._changed:
            self._version += 1
            everyone = schools is None or EVERY in schools
            for school in [EVERY] if everyone else schools:
                self._versions[school] = self._versions.get(school, 0) + 1
            for school, condition in self._schools.items():
                if everyone or school is None or school in schools:
                    condition.notify_all()
            self._changed.notify_all()


class _Source:
    """The watcher's own connection, taken out of the engine's pool (it is held for as long as
    someone waits), and how it hears of a change."""

    def __init__(self, driver) -> None:
        self.driver = driver

    @staticmethod
    def open(engine: Engine) -> _Source:
        raw = engine.raw_connection()
        driver = raw.driver_connection
        raw.detach()
        source = _Listening(driver) if engine.dialect.name == "postgresql" else _Polling(driver)
        try:
            source.start()
        except Exception:
            source.close()
            raise
        return source

    def close(self) -> None:
        try:
            self.driver.close()
        except Exception:  # already broken: nothing more to give back
            log.debug("closing the feed watcher's connection failed", exc_info=True)


class _Listening(_Source):
    def start(self) -> None:
        self.driver.autocommit = True
        self.driver.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float, _closed: threading.Event) -> set[str]:
        """The schools heard of within `timeout` (none: an empty set): the first signal, then any
        already queued behind it."""
        heard = {notify.payload for notify in self.driver.notifies(timeout=timeout, stop_after=1)}
        if heard:
            heard.update(notify.payload for notify in self.driver.notifies(timeout=0))
        return heard


class _Polling(_Source):
    def start(self) -> None:
        self.end = self.driver.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]

    def _read(self, after: int) -> tuple[int, set[str]]:
        """The feed's end, and the schools of the urgent changes after `after` (the rule of `urgent`,
        in SQL). The second read stops at the end the first found: a commit between them waits for the next."""
        calm_types = ", ".join(f"'{type}'" for type in CALM_TYPES)
        calm_kinds = ", ".join(f"'{kind}'" for kind in CALM_KINDS)
        end = self.driver.execute("SELECT coalesce(max(seq), ?) FROM changes", (after,)).fetchone()[0]
        schools = self.driver.execute(
            "SELECT DISTINCT coalesce(c.school, '') FROM changes c LEFT JOIN entries e"
            " ON c.type = 'entry' AND e.id = c.key WHERE c.seq > ? AND c.seq <= ? AND c.type NOT IN ("
            + calm_types + ") AND NOT (c.type = 'entry' AND coalesce(e.kind IN (" + calm_kinds + "), 0))",
            (after, end)).fetchall()
        return end, {school for (school,) in schools}

    def wait(self, timeout: float, closed: threading.Event) -> set[str]:
        if closed.wait(min(timeout, SQLITE_POLL_S)):
            return set()
        self.end, found = self._read(self.end)
        return found
