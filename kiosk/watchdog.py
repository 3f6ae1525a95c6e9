"""Telling systemd how the kiosk is doing (the sd_notify(3) protocol): READY=1 once it serves,
WATCHDOG=1 from its main loop, STATUS= for `systemctl status`, STOPPING=1 on a clean stop.

Each message is one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' = Linux's
abstract namespace). $WATCHDOG_USEC gives systemd's watchdog interval: the loop that pings must
turn at least every `ping_every` (a quarter of it) so a ping never comes later than half of it.
Pings come from the loop itself, never from a side thread: a hung loop stops pinging and systemd
restarts the service. Outside systemd (no $NOTIFY_SOCKET) every call does nothing.

Our own twenty lines rather than a library: `sdnotify` on PyPI has had no release since 2017 and
knows nothing of the watchdog interval; `systemd-python` needs libsystemd-dev to build.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        self.timeout = watchdog_usec / 1e6 if address and watchdog_usec else None  # seconds
        self.ping_every = self.timeout / 4 if self.timeout else None
        self._socket: socket.socket | None = None
        self._last_ping = float("-inf")
        self._failed = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """The service manager's socket and watchdog, when systemd started us (the watchdog only
        when it is meant for this process, as $WATCHDOG_PID says)."""
        usec = environ.get("WATCHDOG_USEC", "")
        for_us = environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid())
        return cls(environ.get("NOTIFY_SOCKET") or None, int(usec) if usec.isdigit() and for_us else None)

    def ready(self, status: str | None = None) -> None:
        self._send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def ping(self) -> None:
        """WATCHDOG=1, at most every `ping_every / 2`: call it on every turn of the main loop."""
        if self.ping_every is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.ping_every / 2:
            self._last_ping = now
            self._send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, *fields: str) -> None:
        if not self.address:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never wait on systemd: a full queue drops this message (the next ping follows soon)
            # instead of freezing the loop, which would also keep SIGTERM's handler from running.
            self._socket.sendto("\n".join(fields).encode(), socket.MSG_DONTWAIT, self.address)
        except OSError as error:  # systemd then restarts us on its own; the counter must not stop for this
            if not self._failed:
                log.warning("cannot notify systemd at %r: %s", self.address, error)
            self._failed = True
