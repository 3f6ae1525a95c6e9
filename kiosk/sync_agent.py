"""The kiosk's sync agent: one round = push the outbox, pull until caught up, send a heartbeat.

Network calls happen outside any database transaction, and each database step is short (one
acknowledged batch, one pulled page), so a tap waits at most for one of those steps. Records are
marked pushed only once the server has acknowledged them: a lost acknowledgement means the same
batch is sent again, which the server answers "duplicate". A round that fails leaves everything
as it was for the next one. Every answer carries the server ledger's generation: a new one (the
server was restored from a backup) sends the whole outbox again and pulls from the start.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import requests
from requests.adapters import HTTPAdapter

from domain.clock import to_text, utc_now
from domain.messages import N_, RefectoryError
from domain.sync import CLOCK_SKEW_WARNING_SECONDS, MAX_TEXT_LENGTH, PUSH_BATCH_MAX, AckStatus, Change, SyncErrorCode

from . import cash_counts, counter_exceptions, sync_store
from .store import Store

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 15.0
LONG_POLL_WAIT = 25  # seconds the server holds a long-poll with nothing new (at most PULL_WAIT_MAX)
PULL_PAGE = 200  # changes per request; written in chunks (sync_store.APPLY_CHUNK) so taps slip in between
SOFTWARE_VERSION = "0.1.0"

log = logging.getLogger(__name__)


class SyncError(RefectoryError):
    """A round that could not finish; `reason` says why in a word the server translates."""

    code = "sync_failed"

    def __init__(self, template: str, *, reason: SyncErrorCode = SyncErrorCode.BAD_ANSWER, **params: object) -> None:
        super().__init__(template, **params)
        self.reason = reason


@dataclass(slots=True)
class RoundReport:
    """What moved in one round (printed by `refectory kiosk sync`)."""

    pushed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    pulled: int = 0
    entries_added: int = 0
    clock_skew_seconds: int | None = None
    server_restored: bool = False  # a new ledger generation: everything sent and pulled again

    @property
    def clock_warning(self) -> bool:
        return self.clock_skew_seconds is not None and abs(self.clock_skew_seconds) > CLOCK_SKEW_WARNING_SECONDS

    def to_dict(self) -> dict:
        return {"pushed": self.pushed, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "pulled": self.pulled, "entries_added": self.entries_added,
                "clock_skew_seconds": self.clock_skew_seconds, "clock_warning": self.clock_warning,
                "server_restored": self.server_restored}


class SyncAgent:
    def __init__(self, store: Store, *, session: requests.Session | None = None, batch: int = PUSH_BATCH_MAX,
                 clock: Callable[[], datetime] = utc_now,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)) -> None:
        self.store = store
        self.session = session or _session()
        self.batch = batch
        self.clock = clock
        self.timeout = timeout

    # -- enrollment ------------------------------------------------------------------------

    def enroll(self, server_url: str, code: str) -> None:
        url = server_url.rstrip("/")
        body = self._call("POST", f"{url}/api/v1/kiosks/enroll", json={"code": code, "kiosk_id": self.store.kiosk_id})
        sync_store.save_enrollment(self.store, url, body["token"])

    # -- a round ---------------------------------------------------------------------------

    def _enrolled(self) -> sync_store.SyncState:
        state = sync_store.sync_state(self.store)
        if not state.server_url or not state.token:
            raise SyncError(N_("This kiosk is not enrolled: run refectory kiosk enroll first."))
        return state

    def push_outbox(self) -> RoundReport:
        """Only the push half of a round (what the ingest benchmark measures)."""
        state = self._enrolled()
        report = RoundReport()
        self._push(state.server_url, state.token, report)
        return report

    def run_round(self) -> RoundReport:
        """Push, pull, heartbeat; raises SyncError (recorded as the last error) when it cannot finish."""
        state = self._enrolled()
        report = RoundReport()
        try:
            self._push(state.server_url, state.token, report)
            self._pull(state.server_url, state.token, report)
            if report.server_restored:  # learnt while pulling: send now what the restored server lacks
                self._push(state.server_url, state.token, report)
            self._heartbeat(state.server_url, state.token, report)
        except SyncError as error:
            sync_store.record_round(self.store, self.clock(), error=error.render(), error_code=error.reason)
            raise
        sync_store.record_round(self.store, self.clock(), error=None, skew=report.clock_skew_seconds)
        return report

    def _push(self, url: str, token: str, report: RoundReport) -> None:
        while batch := self.store.outbox(self.batch):
            ids = [entry_id for _seq, entry_id, _text in batch]
            records = ",".join(text for _seq, _id, text in batch)
            body = self._call("POST", f"{url}/api/v1/sync/push", token=token,
                              data=f'{{"records":[{records}]}}'.encode(),
                              headers={"Content-Type": "application/json"})
            if self._follow(body, report):
                continue  # the outbox starts over from this kiosk's first entry
            acks = body.get("acks", [])
            if [a.get("id") for a in acks] != ids:
                raise SyncError(N_("The server acknowledged a different set of records; nothing marked as sent."))
            for ack in acks:  # compared as text: an enum made of each of 500 statuses cost more than the loop
                status = ack["status"]
                if status == AckStatus.ACCEPTED:
                    report.accepted += 1
                elif status == AckStatus.DUPLICATE:
                    report.duplicates += 1
                elif AckStatus(status) is AckStatus.REJECTED:  # anything else is not an answer we know
                    report.rejected.append({"id": ack["id"], "reason": ack.get("reason", "")})
            sync_store.mark_pushed(self.store, batch[-1][0])
            report.pushed += len(batch)
        self._push_counts(url, token, report)

    def _push_counts(self, url: str, token: str, report: RoundReport) -> None:
        """The drawer's counts, after the entries they count, past their own cursor."""
        while batch := cash_counts.outbox(self.store, self.batch):
            records = ",".join(text for _seq, _id, text in batch)
            body = self._call("POST", f"{url}/api/v1/sync/push", token=token,
                              data=f'{{"records":[],"cash_counts":[{records}]}}'.encode(),
                              headers={"Content-Type": "application/json"})
            if [a.get("id") for a in body.get("cash_count_acks", [])] != [count_id for _s, count_id, _t in batch]:
                raise SyncError(N_("The server acknowledged a different set of records; nothing marked as sent."))
            cash_counts.mark_pushed(self.store, batch[-1][0])
        self._push_blocks(url, token)

    def _push_blocks(self, url: str, token: str) -> None:
        """The badges blocked here, past their own cursor: the server marks each one lost."""
        while batch := counter_exceptions.blocks_outbox(self.store, self.batch):
            records = ",".join(text for _seq, _id, text in batch)
            body = self._call("POST", f"{url}/api/v1/sync/push", token=token,
                              data=f'{{"records":[],"badge_blocks":[{records}]}}'.encode(),
                              headers={"Content-Type": "application/json"})
            acks = body.get("badge_block_acks", [])
            if [a.get("id") for a in acks] != [block_id for _s, block_id, _t in batch]:
                raise SyncError(N_("The server acknowledged a different set of records; nothing marked as sent."))
            for ack in acks:
                if ack.get("status") == AckStatus.REJECTED:
                    log.warning("the server refused badge block %s: %s", ack["id"], ack.get("reason", ""))
            counter_exceptions.mark_blocks_pushed(self.store, batch[-1][0])

    def _pull(self, url: str, token: str, report: RoundReport) -> None:
        cursor = sync_store.sync_state(self.store).cursor
        while True:
            body = self._call("GET", f"{url}/api/v1/sync/pull", token=token,
                              params={"since": cursor, "limit": PULL_PAGE})
            if self._follow(body, report):
                cursor = "0"  # this page was counted from a cursor of the server's lost feed
                continue
            cursor, more = self._apply(body, report)
            if not more:
                return

    def _apply(self, body: dict, report: RoundReport) -> tuple[str, bool]:
        """One pulled page applied; returns the cursor after it and whether the server has more."""
        try:  # the cursor never moves past a page that does not parse
            changes = [Change.from_record(raw) for raw in body["changes"]]
            cursor, more = str(body["next"]), bool(body["more"])
            report.entries_added += sync_store.apply_page(self.store, changes, cursor, self.clock())
        except (KeyError, TypeError, ValueError) as error:
            raise SyncError(N_("The server's answer is not what this kiosk expects ({problem})."),
                            problem=f"{type(error).__name__}: {error}") from None
        self.store.checkpoint()  # here, not in the commit of the next tap (a bootstrap fills the WAL)
        report.pulled += len(changes)
        return cursor, more

    # -- long-poll -------------------------------------------------------------------------

    def position(self) -> sync_store.SyncState:
        """Where this kiosk pulls from (read under the lock that keeps rounds out)."""
        return self._enrolled()

    def wait_for_changes(self, state: sync_store.SyncState, wait: int = LONG_POLL_WAIT) -> dict:
        """One long-poll from `state`'s cursor: the server answers as soon as a change is pullable
        after it, or after `wait` seconds with none. Touches no database: apply the answer with
        `apply_waited`."""
        return self._call("GET", f"{state.server_url}/api/v1/sync/pull", token=state.token,
                          params={"since": state.cursor, "limit": PULL_PAGE, "wait": wait},
                          timeout=(self.timeout[0], wait + self.timeout[1]))

    def apply_waited(self, since: str, body: dict) -> RoundReport | None:
        """Apply what a long-poll from `since` brought, then pull on while the server has more; None
        when a round moved the cursor meanwhile (that page is here already). The caller keeps
        rounds out while this runs."""
        state = self._enrolled()
        if state.cursor != since:
            return None
        report = RoundReport()
        if self._follow(body, report):
            return report  # a restored server: the next round sends everything again and pulls from 0
        _cursor, more = self._apply(body, report)
        if more:
            self._pull(state.server_url, state.token, report)
        return report

    def interrupt(self) -> None:
        """End, from another thread, a request waiting on the server (a long-poll): it fails at once."""
        for adapter in self.session.adapters.values():
            if isinstance(adapter, _CuttableAdapter):
                adapter.cut()

    def _heartbeat(self, url: str, token: str, report: RoundReport) -> None:
        state = sync_store.sync_state(self.store)
        body = self._call("POST", f"{url}/api/v1/kiosks/heartbeat", token=token, json={
            "cursor": state.cursor, "pending": self.store.pending_push(), "clock": to_text(self.clock()),
            "version": SOFTWARE_VERSION, "last_error": state.last_error and state.last_error[:MAX_TEXT_LENGTH],
            "last_error_code": state.last_error_code if state.last_error else None,
            "last_error_at": to_text(state.last_attempt_at) if state.last_error and state.last_attempt_at else None})
        report.clock_skew_seconds = int(body["clock_skew_seconds"])
        self._follow(body, report)  # restored since this round's pull: the next round sends everything

    def _follow(self, body: dict, report: RoundReport) -> bool:
        """Whether this answer says the server was restored since the last one; then both cursors
        are back at the start (`sync_store.follow_generation`)."""
        generation = body.get("generation") if isinstance(body, dict) else None
        if not isinstance(generation, str) or not generation:  # a server from before generations
            return False
        replaced = sync_store.follow_generation(self.store, generation)
        if replaced is None:
            return False
        report.server_restored = True
        log.warning("server restored from a backup (ledger generation %s replaces %s): sending again all %d"
                    " entries of this kiosk and pulling every change from the start",
                    generation, replaced, self.store.pending_push())
        return True

    # -- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, url: str, *, token: str | None = None, headers: dict | None = None,
              timeout: tuple[float, float] | None = None, **kwargs) -> dict:
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        try:
            response = self.session.request(method, url, headers=headers, timeout=timeout or self.timeout,
                                            **kwargs)
        except requests.RequestException as error:
            waited = isinstance(error, requests.Timeout) and not isinstance(error, requests.ConnectionError)
            raise SyncError(N_("Server unreachable ({problem})."), problem=type(error).__name__,
                            reason=SyncErrorCode.TIMEOUT if waited else SyncErrorCode.UNREACHABLE) from None
        if response.status_code != 200:
            try:
                problem = response.json()
                detail = problem.get("detail") or problem.get("title") or response.reason
            except ValueError:
                detail = response.reason
            failed = response.status_code >= 500
            raise SyncError(N_("The server refused the request ({status}: {detail})."),
                            status=response.status_code, detail=detail,
                            reason=SyncErrorCode.SERVER_ERROR if failed else SyncErrorCode.REJECTED)
        try:
            return response.json()
        except ValueError:
            raise SyncError(N_("The server's answer is not JSON.")) from None


def _session() -> requests.Session:
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, _CuttableAdapter())
    return session


class _CuttableAdapter(HTTPAdapter):
    """requests' adapter, keeping its connections' sockets so that `cut()` can end from another
    thread a request blocked on the server's answer (a kiosk stopping during a long-poll)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self.poolmanager.pool_classes_by_scheme = {
            scheme: type(pool.__name__, (pool,), {"ConnectionCls": _tracked(pool.ConnectionCls, self.sockets)})
            for scheme, pool in self.poolmanager.pool_classes_by_scheme.items()}

    def cut(self) -> None:
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):  # closed already
                sock.shutdown(socket.SHUT_RDWR)


def _tracked(connection_class: type, sockets: weakref.WeakSet) -> type:
    def connect(self) -> None:
        connection_class.connect(self)
        sockets.add(self.sock)

    return type(connection_class.__name__, (connection_class,), {"connect": connect})
