"""PC/SC badge readers through pyscard: every reader pcscd knows, one tap per card presence.

pyscard's `CardMonitor` is a process-wide thread that stops for good when pcscd goes away
(SCARD_E_NO_SERVICE), so a restarted pcscd would leave the counter deaf. This monitor is the same
idea on pyscard's `scard` layer, but owns its context: when the service or a reader disappears it
reports "reader disconnected", releases the context and keeps trying until pcscd answers again.

A card that stays on the reader is one tap; the next tap needs it removed first. Cards already on
a reader when the monitor (re)connects are not taps: after a pcscd restart, a badge left lying on
the reader must not be charged again.
"""

from __future__ import annotations

import threading
import time

from smartcard import scard

from domain.messages import N_, Message

from .readers import OnBadge, OnNotice, ReaderBase, ReaderStatus

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]  # PC/SC part 3 GET DATA: the card's UID
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
SLOW_CARD_SECONDS = 1.5  # a badge answers GET UID in milliseconds; past this, say so at once
SERVICE_LOST = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE,
                scard.SCARD_F_COMM_ERROR}
READERS_CHANGED = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE,
                   scard.SCARD_E_NO_READERS_AVAILABLE}


class _ServiceLost(Exception):
    pass


def _error_text(hresult: int) -> str:
    return f"{scard.SCardGetErrorMessage(hresult).strip()} (0x{hresult & 0xFFFFFFFF:08X})"


class PcscReader(ReaderBase):
    """All PC/SC readers whose name contains `name_filter` (every reader when empty)."""

    name = "pcsc"

    def __init__(self, name_filter: str = "", *, poll_ms: int = 500, retry_seconds: float = 0.5) -> None:
        super().__init__()
        self.name_filter = name_filter
        self.poll_ms = poll_ms
        self.retry_seconds = retry_seconds
        self._thread: threading.Thread | None = None
        self.readers: list[str] = []

    def start(self, on_badge: OnBadge, on_notice: OnNotice | None = None) -> None:
        self._bind(on_badge, on_notice)
        self._status = ReaderStatus.STARTING
        self._thread = threading.Thread(target=self._run, name="pcsc-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_ms / 1000 + 2)
        self._set_status(ReaderStatus.STOPPED)

    # -- the monitor thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                self._disconnected(Message(N_("reader disconnected: PC/SC service unavailable ({error})"),
                                           {"error": _error_text(hresult)}))
                continue
            try:
                self._watch(context)
            except _ServiceLost as lost:
                self._disconnected(Message(N_("reader disconnected: PC/SC service unavailable ({error})"),
                                           {"error": str(lost)}))
            finally:
                scard.SCardReleaseContext(context)

    def _disconnected(self, detail: Message) -> None:
        if self._status is not ReaderStatus.DISCONNECTED:
            self._set_status(ReaderStatus.DISCONNECTED, detail)
        self._stopping.wait(self.retry_seconds)

    def _watch(self, context: int) -> None:
        """Wait for card and reader changes until stopped or until pcscd goes away."""
        present: dict[str, bool] = {}
        states: dict[str, int] = {}
        pnp_state = scard.SCARD_STATE_UNAWARE
        readers = self._list_readers(context)
        while not self._stopping.is_set():
            request = [(r, states.get(r, scard.SCARD_STATE_UNAWARE)) for r in readers]
            request.append((PNP_NOTIFICATION, pnp_state))
            hresult, changes = scard.SCardGetStatusChange(context, self.poll_ms, request)
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult in SERVICE_LOST:
                raise _ServiceLost(_error_text(hresult))
            if hresult in READERS_CHANGED:
                readers = self._list_readers(context)
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                raise _ServiceLost(_error_text(hresult))
            detected = time.perf_counter()
            relist = False
            for reader, event_state, _atr in changes:
                if reader == PNP_NOTIFICATION:
                    relist = relist or bool(event_state & scard.SCARD_STATE_CHANGED)
                    pnp_state = event_state & ~scard.SCARD_STATE_CHANGED
                    continue
                if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                    relist = True
                    continue
                first_look = reader not in states
                states[reader] = event_state & ~scard.SCARD_STATE_CHANGED
                has_card = bool(event_state & scard.SCARD_STATE_PRESENT) and not event_state & scard.SCARD_STATE_MUTE
                if has_card and not present.get(reader) and not first_look:
                    self._read_card(context, reader, detected)
                present[reader] = has_card
            if relist:
                readers = self._list_readers(context)
                states = {r: s for r, s in states.items() if r in readers}
                present = {r: p for r, p in present.items() if r in readers}

    def _list_readers(self, context: int) -> list[str]:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult in SERVICE_LOST:
            raise _ServiceLost(_error_text(hresult))
        readers = [n for n in (names or []) if self.name_filter in n] if hresult == scard.SCARD_S_SUCCESS else []
        if readers:
            if readers != self.readers or self._status is not ReaderStatus.READY:
                self.readers = readers
                self._set_status(ReaderStatus.READY,
                                 Message(N_("reader ready: {readers}"), {"readers": ", ".join(readers)}))
        else:
            self.readers = []
            if self._status is not ReaderStatus.DISCONNECTED:
                self._set_status(ReaderStatus.DISCONNECTED, Message(N_("reader disconnected: no reader found")))
        return readers

    def _read_card(self, context: int, reader: str, detected: float) -> None:
        """GET UID from the card just presented; every failure is a notice, never an exception.

        PC/SC calls cannot be interrupted, and some cards (or a virtual reader) never answer until
        taken away: a watchdog says so while the read still waits, so the person can try again.
        """
        watchdog = threading.Timer(SLOW_CARD_SECONDS, self._problem,
                                   (reader, Message(N_("badge not read: the card does not answer; take it away"
                                                       " and present it again")),))
        watchdog.daemon = True
        watchdog.start()
        try:
            hresult, response = self._transmit_get_uid(context, reader)
        finally:
            watchdog.cancel()
        if hresult != scard.SCARD_S_SUCCESS:
            self._problem(reader, Message(N_("badge not read: {error}"), {"error": _error_text(hresult)}))
        elif len(response) < 2:
            self._problem(reader, Message(N_("badge not read: the card did not answer")))
        elif response[-2:] != [0x90, 0x00]:
            status = " ".join(f"{b:02X}" for b in response[-2:])
            self._problem(reader, Message(N_("badge not read: the card answered {status}"), {"status": status}))
        else:
            self._read(bytes(response[:-2]).hex().upper(), reader, detected)

    def _transmit_get_uid(self, context: int, reader: str) -> tuple[int, list[int]]:
        hresult, card, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        if hresult in SERVICE_LOST:
            raise _ServiceLost(_error_text(hresult))
        if hresult != scard.SCARD_S_SUCCESS:
            return hresult, []
        try:
            return scard.SCardTransmit(card, protocol, GET_UID)
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
