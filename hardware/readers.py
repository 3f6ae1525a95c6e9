"""What every badge reader gives the counter: a callback per badge read, stop, and a status.

Readers run on their own thread and call back from it; the counter (CLI loop or Kivy app) hands
the event to its own thread. A reader never raises into the counter: a card that answers badly
is a `ReaderNotice`, a lost reader is a status change, and the reader keeps trying by itself.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from domain.badges import normalize_or_none
from domain.messages import N_, Message


class ReaderStatus(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


STATUS_MESSAGES = {
    ReaderStatus.STARTING: N_("reader starting"),
    ReaderStatus.READY: N_("reader ready"),
    ReaderStatus.DISCONNECTED: N_("reader disconnected"),
    ReaderStatus.STOPPED: N_("reader stopped"),
}


@dataclass(frozen=True, slots=True)
class BadgeRead:
    """A badge presented once. `detected` is `time.perf_counter()` when the presence reached us."""

    uid: str
    reader: str
    detected: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True)
class ReaderNotice:
    """Something a technician should see: a status change, or a card that could not be read."""

    reader: str
    status: ReaderStatus | None
    message: Message


OnBadge = Callable[[BadgeRead], None]
OnNotice = Callable[[ReaderNotice], None]


class Reader(Protocol):
    def start(self, on_badge: OnBadge, on_notice: OnNotice | None = None) -> None: ...

    def stop(self) -> None: ...

    @property
    def status(self) -> ReaderStatus: ...


class ReaderBase:
    """Status bookkeeping shared by the implementations; subclasses call `_set_status` and `_read`."""

    name = "reader"

    def __init__(self) -> None:
        self._status = ReaderStatus.STOPPED
        self._on_badge: OnBadge = lambda read: None
        self._on_notice: OnNotice = lambda notice: None
        self._stopping = threading.Event()

    @property
    def status(self) -> ReaderStatus:
        return self._status

    def _bind(self, on_badge: OnBadge, on_notice: OnNotice | None) -> None:
        self._on_badge = on_badge
        self._on_notice = on_notice or (lambda notice: None)
        self._stopping.clear()

    def _set_status(self, status: ReaderStatus, detail: Message | None = None) -> None:
        if status is self._status and detail is None:
            return
        self._status = status
        self._on_notice(ReaderNotice(self.name, status, detail or Message(STATUS_MESSAGES[status])))

    def _problem(self, reader: str, message: Message) -> None:
        self._on_notice(ReaderNotice(reader, None, message))

    def _read(self, uid: str, reader: str, detected: float | None = None) -> None:
        """Hand a UID to the counter, normalised; a malformed one is reported, not passed on."""
        normalized = normalize_or_none(uid)
        if normalized is None:
            self._problem(reader, Message(N_("unreadable badge number '{uid}'"), {"uid": uid}))
            return
        self._on_badge(BadgeRead(normalized, reader, detected if detected is not None else time.perf_counter()))


class VirtualReader(ReaderBase):
    """Taps injected by the demo UI (`inject`) or by any local program through a Unix socket:
    each line written to the socket is one badge UID."""

    name = "virtual"

    def __init__(self, socket_path: Path | None = None) -> None:
        super().__init__()
        self.socket_path = Path(socket_path) if socket_path else None
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self, on_badge: OnBadge, on_notice: OnNotice | None = None) -> None:
        self._bind(on_badge, on_notice)
        if self.socket_path is not None:
            if self.socket_path.exists():
                self.socket_path.unlink()
            self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._server.bind(str(self.socket_path))
            os.chmod(self.socket_path, 0o600)
            self._server.listen()
            self._server.settimeout(0.2)
            self._thread = threading.Thread(target=self._serve, name="virtual-reader", daemon=True)
            self._thread.start()
        self._set_status(ReaderStatus.READY)

    def inject(self, uid: str) -> None:
        self._read(uid, self.name)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._server is not None:
            self._server.close()
            if self.socket_path and self.socket_path.exists():
                self.socket_path.unlink()
        self._set_status(ReaderStatus.STOPPED)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, conn.makefile("r", encoding="ascii", errors="replace") as lines:
                for line in lines:
                    if line.strip():
                        self.inject(line.strip())


def tap_virtual(socket_path: Path, uid: str) -> None:
    """Present a badge to a running kiosk's virtual reader (used by the demo and tests)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(socket_path))
        client.sendall(f"{uid}\n".encode("ascii"))
