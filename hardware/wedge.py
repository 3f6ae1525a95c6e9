"""Keyboard-wedge badge readers: cheap USB readers that type the UID and press Enter.

Vendors type the UID differently, so the format is configuration: `hex` (the bytes as printed on
most tags), `decimal` (the UID as one big-endian number) and `decimal-reversed` (the common
10-digit number of a 4-byte UID read in reversed byte order). All three end as the upper-case hex
the badge table stores.

The reader is best read from its Linux input device, grabbed exclusively so its digits never
reach the UI (`EvdevWedgeReader`); when that is not possible the UI hands its key events over
(`KeyEventWedge`).
"""

from __future__ import annotations

import contextlib
import threading
import time

from domain.badges import BadgeUidError, normalize_uid
from domain.messages import N_, Message

from .readers import OnBadge, OnNotice, ReaderBase, ReaderStatus

FORMATS = ("hex", "decimal", "decimal-reversed")
MAX_KEY_GAP_SECONDS = 0.3  # a reader types a whole UID in a few ms; a person is far slower


def uid_from_wedge(text: str, fmt: str) -> str:
    """The badge-table UID for what a wedge reader typed in format `fmt`."""
    text = text.strip()
    if fmt == "hex":
        return normalize_uid(text)
    if fmt not in FORMATS:
        raise ValueError(f"unknown wedge format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not text.isdigit() or not text.isascii():
        raise BadgeUidError(N_("'{text}' is not a decimal badge number."), text=text)
    value = int(text)
    if fmt == "decimal-reversed":
        if value >= 2**32:
            raise BadgeUidError(N_("'{text}' is too large for a 4-byte badge number."), text=text)
        return value.to_bytes(4, "little").hex().upper()
    for size in (4, 7, 10):
        if value < 2 ** (8 * size):
            return value.to_bytes(size, "big").hex().upper()
    raise BadgeUidError(N_("'{text}' is too large for a badge number."), text=text)


class WedgeDecoder:
    """Collects typed characters up to Enter; a pause longer than `max_gap` starts afresh, so a
    person's stray key presses do not glue onto the next badge."""

    def __init__(self, fmt: str, max_gap: float = MAX_KEY_GAP_SECONDS) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown wedge format {fmt!r}; choose from {', '.join(FORMATS)}")
        self.fmt = fmt
        self.max_gap = max_gap
        self._buffer = ""
        self._last = 0.0

    def feed(self, key: str, at: float | None = None) -> str | None:
        """Feed one character, or "enter"; returns the typed text when Enter ends a UID."""
        at = time.perf_counter() if at is None else at
        if at - self._last > self.max_gap:
            self._buffer = ""
        self._last = at
        if key == "enter":
            typed, self._buffer = self._buffer, ""
            return typed or None
        if len(key) == 1 and key.isalnum():
            self._buffer += key
        return None


class _Wedge(ReaderBase):
    decoder: WedgeDecoder

    def _typed(self, typed: str, source: str) -> None:
        """A whole UID was typed: hand it over, or report why it is not a badge number."""
        try:
            uid = uid_from_wedge(typed, self.decoder.fmt)
        except BadgeUidError as error:
            self._problem(source, error.message)
            return
        self._read(uid, source)


class KeyEventWedge(_Wedge):
    """A wedge reader whose keys arrive through the UI (`key("4")`, ..., `key("enter")`)."""

    name = "keyboard"

    def __init__(self, fmt: str = "hex", max_gap: float = MAX_KEY_GAP_SECONDS) -> None:
        super().__init__()
        self.decoder = WedgeDecoder(fmt, max_gap)

    def start(self, on_badge: OnBadge, on_notice: OnNotice | None = None) -> None:
        self._bind(on_badge, on_notice)
        self._set_status(ReaderStatus.READY)

    def stop(self) -> None:
        self._set_status(ReaderStatus.STOPPED)

    def key(self, key: str, at: float | None = None) -> None:
        typed = self.decoder.feed(key, at)
        if typed is not None:
            self._typed(typed, self.name)


def key_char(code: int) -> str | None:
    """The character a wedge reader's key code stands for ("enter" for either Enter key)."""
    from evdev import ecodes

    name = ecodes.KEY.get(code)
    if isinstance(name, list):
        name = name[0]
    if not name:
        return None
    if name in ("KEY_ENTER", "KEY_KPENTER"):
        return "enter"
    tail = name.removeprefix("KEY_KP") if name.startswith("KEY_KP") else name.removeprefix("KEY_")
    return tail.lower() if len(tail) == 1 and tail.isalnum() else None


class EvdevWedgeReader(_Wedge):
    """A wedge reader read from its input device, grabbed so that no digit leaks into the UI.
    An unplugged reader is reported and reopened when it comes back."""

    name = "wedge"

    def __init__(self, device: str, fmt: str = "hex", *, retry_seconds: float = 1.0) -> None:
        super().__init__()
        self.device = device
        self.decoder = WedgeDecoder(fmt)
        self.retry_seconds = retry_seconds
        self._thread: threading.Thread | None = None
        self._input = None

    def start(self, on_badge: OnBadge, on_notice: OnNotice | None = None) -> None:
        self._bind(on_badge, on_notice)
        self._status = ReaderStatus.STARTING
        self._thread = threading.Thread(target=self._run, name="wedge-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._input is not None:
            self._input.close()
        if self._thread is not None:
            self._thread.join(timeout=self.retry_seconds + 2)
        self._set_status(ReaderStatus.STOPPED)

    def _run(self) -> None:
        import select

        from evdev import InputDevice, ecodes

        while not self._stopping.is_set():
            try:
                self._input = InputDevice(self.device)
                self._input.grab()
                self._set_status(ReaderStatus.READY, Message(N_("reader ready: {readers}"), {"readers": self.device}))
                while not self._stopping.is_set():
                    if not select.select([self._input.fd], [], [], 0.5)[0]:
                        continue
                    for event in self._input.read():
                        if event.type == ecodes.EV_KEY and event.value == 1:  # key down
                            char = key_char(event.code)
                            typed = self.decoder.feed(char, event.timestamp()) if char else None
                            if typed is not None:
                                self._typed(typed, self.device)
            except OSError as error:
                if self._stopping.is_set():
                    return
                if self._status is not ReaderStatus.DISCONNECTED:
                    self._set_status(ReaderStatus.DISCONNECTED,
                                     Message(N_("reader disconnected: {device} ({error})"),
                                             {"device": self.device, "error": error.strerror or str(error)}))
                self._stopping.wait(self.retry_seconds)
            finally:
                if self._input is not None:
                    with contextlib.suppress(OSError):
                        self._input.close()
                    self._input = None
