"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time

from aiosmtpd.controller import Controller

from .live_server import free_port


class _Keep:
    def __init__(self, refuse: str | None, delay_s: float) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = refuse
        self.delay_s = delay_s

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        await asyncio.sleep(self.delay_s)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"


class SmtpSink:
    def __init__(self, refuse: str | None = None, *, delay_s: float = 0) -> None:
        """`delay_s`: how long it takes to accept each message (a slow mail server)."""
        self.port = free_port()
        self._handler = _Keep(refuse, delay_s)
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    @property
    def messages(self):
        return self._handler.messages

    def wait_for(self, count: int, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def stop(self) -> None:
        self._controller.stop()
