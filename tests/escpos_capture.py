"""A TCP "printer" on 127.0.0.1: records the bytes of each connection and answers DLE EOT.

python-escpos's `Network` printer talks to it exactly as to a networked thermal printer (port 9100),
so the tests see the real bytes the library emits. Status queries (`DLE EOT n`) get the byte a
printer would send back, chosen by `set_status`; `close()` shuts the port (connections refused)
and `reopen()` brings it back on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading

DLE_EOT = b"\x10\x04"
# Epson real-time status bytes: bits 1 and 4 are always set; bit 3 of n=1 means offline;
# bits 2-3 of n=4 mean paper near end, bits 5-6 mean paper out.
ONLINE, OFFLINE = 0x12, 0x1A
PAPER_OK, PAPER_LOW, PAPER_OUT = 0x12, 0x1E, 0x72


class CaptureServer:
    def __init__(self) -> None:
        self._finished: dict[int, bytes] = {}  # connection number → its bytes
        self._accepted = 0
        self.answers = {1: ONLINE, 4: PAPER_OK}
        self._done = threading.Condition()
        self._listener: socket.socket | None = None
        self.port = 0
        self.reopen()

    # -- control -------------------------------------------------------------------------------

    def set_status(self, *, online: bool = True, paper: str = "ok") -> None:
        self.answers = {1: ONLINE if online else OFFLINE,
                        4: {"ok": PAPER_OK, "low": PAPER_LOW, "out": PAPER_OUT}[paper]}

    def close(self) -> None:
        """Stop listening: the port is closed and a connection attempt is refused."""
        if self._listener is not None:
            listener, self._listener = self._listener, None
            # wakes the thread blocked in accept(); close() alone would keep the port listening
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def reopen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    @property
    def jobs(self) -> list[bytes]:
        """The bytes of each finished connection, in the order the connections were opened."""
        with self._done:
            return [self._finished[i] for i in sorted(self._finished)]

    def wait_for_jobs(self, count: int, timeout: float = 30.0) -> list[bytes]:
        """The bytes of the first `count` connections, in the order they were opened."""
        with self._done:
            if not self._done.wait_for(lambda: all(i in self._finished for i in range(count)), timeout):
                raise TimeoutError(f"expected {count} print job(s), got {len(self._finished)}")
            return [self._finished[i] for i in range(count)]

    @property
    def connection(self) -> str:
        return f"network:127.0.0.1:{self.port}"

    # -- serving -------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed
            number, self._accepted = self._accepted, self._accepted + 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        data = bytearray()
        scanned = 0
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
                while (found := data.find(DLE_EOT, scanned)) != -1 and found + 2 < len(data):
                    answer = self.answers.get(data[found + 2])
                    if answer is not None:
                        conn.sendall(bytes([answer]))
                    scanned = found + 3
        with self._done:
            self._finished[number] = bytes(data)
            self._done.notify_all()
