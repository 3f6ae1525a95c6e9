"""A TCP proxy on 127.0.0.1 that breaks HTTP/1.1 exchanges on purpose, between a client and a real server.

The sync client must survive what a school network really does: the server committed an entry but
the acknowledgement never arrived, the server is slow, down, or something else answers. Mocking
`requests` cannot show those, so the client talks to this proxy, which forwards to a real server
and injects the fault named by `mode`:

- ``pass``          forward the request and the response;
- ``drop_response`` forward the request, wait for the server's *complete* response, then close the
                    client connection without sending it (committed, ack lost; `dropped_responses`);
- ``delay``         forward, but hold the complete response `delay_seconds` before sending it;
- ``reset``         RST without contacting the server (at accept for a new connection, at the next
                    request on a kept-alive one);
- ``refuse``        stop listening (connection refused); any other mode listens again on the same port;
- ``garbage``       answer the request with bytes that are not HTTP, then close.

It reads whole messages (HTTP/1.1 framing) instead of copying bytes blindly, so a mode change
applies from the next request even on a kept-alive connection, and "the server answered" is a fact.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

MODES = ("pass", "drop_response", "delay", "reset", "refuse", "garbage")
GARBAGE = b"\x16\x03\x01\x00\xffthis is not HTTP at all\r\n\r\n"


class _Reader:
    """Buffered reads on a socket: up to a marker, an exact length, or the end of the stream."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError  # the peer closed its side
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        data, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return data

    def until(self, marker: bytes) -> bytes:
        while (end := self.buf.find(marker)) < 0:
            self._fill()
        return self._take(end + len(marker))

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        return self._take(n)

    def rest(self) -> bytes:
        try:
            while True:
                self._fill()
        except EOFError:
            return self._take(len(self.buf))

    def at_eof(self) -> bool:
        """True if the peer closed cleanly between two messages."""
        try:
            if not self.buf:
                self._fill()
        except EOFError:
            return True
        return False


def _head(reader: _Reader) -> tuple[bytes, list[str], dict[str, str]]:
    """The raw head, its start line split on spaces, and its fields (lower-cased names and values)."""
    raw = reader.until(b"\r\n\r\n")
    start, *lines = raw.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip().lower()
    return raw, start.split(" "), fields


def _body(reader: _Reader, fields: dict[str, str], *, until_close: bool) -> bytes:
    if "chunked" in fields.get("transfer-encoding", ""):
        parts = []
        while True:
            line = reader.until(b"\r\n")
            parts.append(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:  # then trailer fields, up to an empty line
                while (trailer := reader.until(b"\r\n")) != b"\r\n":
                    parts.append(trailer)
                return b"".join(parts) + b"\r\n"
            parts.append(reader.exactly(size + 2))
    if "content-length" in fields:
        return reader.exactly(int(fields["content-length"]))
    return reader.rest() if until_close else b""


def read_request(reader: _Reader) -> tuple[bytes, str] | None:
    """A whole request and its method, or None if the client closed between requests."""
    if reader.at_eof():
        return None
    raw, start, fields = _head(reader)
    return raw + _body(reader, fields, until_close=False), start[0]


def read_response(reader: _Reader, method: str) -> tuple[bytes, bool]:
    """A whole response (interim 1xx included) and whether the connection may carry another one."""
    raw = b""
    while True:
        head, (version, status, *_), fields = _head(reader)
        raw += head
        if int(status) >= 200:
            break
    connection = fields.get("connection", "")
    persistent = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
    if method == "HEAD" or int(status) in (204, 304):
        return raw, persistent
    framed = "content-length" in fields or "chunked" in fields.get("transfer-encoding", "")
    return raw + _body(reader, fields, until_close=True), framed and persistent


def _rst_on_close(sock: socket.socket) -> None:
    """Make close() send an RST rather than a FIN: linger on, timeout zero."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class FaultProxy:
    """Listens on 127.0.0.1 (ephemeral port), one thread and one upstream connection per client connection."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.requests = 0  # whole requests read from clients
        self.connections = 0  # client connections accepted
        self.dropped_responses = 0
        self.response_dropped = threading.Event()  # set at each dropped response; clear it to wait again
        self.delay_seconds = 1.0
        self._mode, self._fault, self._budget = "pass", "pass", 0
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        with self._lock:
            return self._fault if self._budget else self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        with self._lock:
            self._mode, self._budget = mode, 0
            if mode == "refuse":
                self._stop_listening()
            else:
                self._listen()

    def delay(self, seconds: float) -> None:
        self.delay_seconds = seconds
        self.mode = "delay"

    def refuse(self) -> None:
        self.mode = "refuse"

    def accept_again(self) -> None:
        self.mode = "pass"

    def fail_next(self, n: int, mode: str, seconds: float | None = None) -> None:
        """Apply `mode` to the next `n` requests (or RST connections for "reset"), then pass."""
        if mode not in MODES or mode == "refuse":  # a refused connection never reaches us to be counted
            raise ValueError(f"fail_next cannot apply {mode!r}")
        with self._lock:
            self.mode = "pass"
            if seconds is not None:
                self.delay_seconds = seconds
            self._fault, self._budget = mode, n

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._stop_listening()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _listen(self) -> None:
        if self._listener is not None or self._closed.is_set():
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))  # the same port again after "refuse"
        listener.listen(16)
        self.port, self._listener = listener.getsockname()[1], listener
        self._start(self._accept, listener)

    def _stop_listening(self) -> None:
        """Close the port and cut open connections too: a server that is down keeps no kept-alive socket."""
        listener, self._listener = self._listener, None
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone would not
        for sock in [listener, *self._sockets] if listener else list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if listener is not None:
            listener.close()

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _next_fault(self, *, request: bool) -> str:
        """The mode for this request (or, with request=False, this new connection); spends fail_next."""
        with self._lock:
            self.requests += request
            mode = self._fault if self._budget else self._mode
            if self._budget and (request or mode == "reset"):
                self._budget -= 1
            return mode

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections += 1
                if self._closed.is_set() or self._next_fault(request=False) == "reset":
                    _rst_on_close(client)
                    client.close()
                    continue
                self._sockets.add(client)
                self._start(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            reader = _Reader(client)
            while (got := read_request(reader)) is not None:
                request, method = got
                mode = self._next_fault(request=True)
                if mode in ("reset", "refuse"):  # "refuse": the request beat the shutdown of its connection
                    _rst_on_close(client)
                    return
                if mode == "garbage":
                    client.sendall(GARBAGE)
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    self._sockets.add(upstream)
                    upstream_reader = _Reader(upstream)
                upstream.sendall(request)
                response, keep_alive = read_response(upstream_reader, method)
                if mode == "drop_response":
                    with self._lock:
                        self.dropped_responses += 1
                    self.response_dropped.set()
                    return
                if mode == "delay" and self._closed.wait(self.delay_seconds):
                    return
                client.sendall(response)
                if not keep_alive:
                    return
        except (OSError, EOFError, ValueError):
            return  # a peer went away or spoke nonsense: end this connection, as a real proxy would
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    self._sockets.discard(sock)
                    sock.close()
