"""A private PC/SC stack for tests and the badge benchmark: pcscd with vsmartcard's vpcd reader,
and a virtual contactless card that answers GET UID.

pcscd 1.9.9 always listens on /run/pcscd/pcscd.comm, so it runs in its own mount namespace with a
temporary folder bound over /run/pcscd; this process's PC/SC client finds it through
PCSCLITE_CSOCK_NAME, which must be set before the first PC/SC context (`use_private_pcscd`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
# A contactless card behind a PC/SC part 3 reader (MIFARE Classic 1K), as real readers report it.
CONTACTLESS_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
SW_OK = b"\x90\x00"


def free_port_pair() -> int:
    """A port P with P and P+1 free (vpcd listens on one port per virtual reader)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as second:
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no pair of free TCP ports")


class PrivatePcscd:
    """pcscd with two vpcd readers (`Virtual PCD 00 00` on `port`, `... 00 01` on port + 1)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pcscd-"))
        self.socket_dir = self.root / "run"
        self.socket_dir.mkdir()
        self.port = free_port_pair()
        conf = self.root / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:{self.port}\nLIBPATH {VPCD_DRIVER}\n'
            f"CHANNELID {self.port}\n"
        )
        self.process: subprocess.Popen | None = None

    @property
    def client_socket(self) -> Path:
        return self.socket_dir / "pcscd.comm"

    def start(self) -> None:
        Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
        prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
        script = f'mount --bind "{self.socket_dir}" /run/pcscd && exec pcscd -f -c "{self.root / "reader.conf.d"}"'
        self.process = subprocess.Popen([*prefix, "sh", "-c", script], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.client_socket.exists() and self._vpcd_listening():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError("pcscd did not start within 60 s")

    def _vpcd_listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as probe:
                probe.close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.client_socket.exists():
            self.client_socket.unlink()

    def wait_for_card(self, reader: str, *, present: bool, timeout: float = 30.0) -> None:
        """Wait until pcscd itself sees a card on `reader` (or sees none). A card taken away and
        presented again before pcscd's next poll would be, for pcscd, a card that never left."""
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise RuntimeError(f"no PC/SC context: {scard.SCardGetErrorMessage(hresult)}")
        try:
            deadline = time.monotonic() + timeout
            while True:
                hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
                if hresult == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_PRESENT) == present:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pcscd did not see the card {'arrive' if present else 'leave'} on {reader}"
                                       f" within {timeout} s")
                time.sleep(0.05)
        finally:
            scard.SCardReleaseContext(context)

    def restart(self) -> None:
        self.stop()
        self.start()


def use_private_pcscd(daemon: PrivatePcscd) -> None:
    os.environ["PCSCLITE_CSOCK_NAME"] = str(daemon.client_socket)


class VirtualCard:
    """A card on a vpcd reader: connecting to the reader's port is presenting the card, closing
    the connection is taking it away. `answer` maps an APDU to its response (GET UID by default)."""

    def __init__(self, port: int, uid: str, *, status: bytes = SW_OK) -> None:
        self.port = port
        self.uid = bytes.fromhex(uid)
        self.status = status
        self.apdus: list[bytes] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def answer(self, apdu: bytes) -> bytes:
        if apdu[:4] == bytes.fromhex("FFCA0000"):
            return self.uid + self.status if self.status == SW_OK else self.status
        return bytes.fromhex("6D00")  # instruction not supported

    def insert(self, timeout: float = 30.0) -> VirtualCard:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._thread = threading.Thread(target=self._serve, args=(self._sock,), daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _recv(self, sock: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            # vpcd writes length and payload separately: acknowledge at once, or each APDU waits
            # for the delayed ACK (about 40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                header = self._recv(sock, 2)
                if header is None:
                    return
                payload = self._recv(sock, struct.unpack(">H", header)[0])
                if payload is None:
                    return
                if len(payload) == 1:
                    if payload[0] == 0x04:  # get ATR; 0x00 off, 0x01 on, 0x02 reset need no answer
                        sock.sendall(struct.pack(">H", len(CONTACTLESS_ATR)) + CONTACTLESS_ATR)
                    continue
                self.apdus.append(payload)
                response = self.answer(payload)
                sock.sendall(struct.pack(">H", len(response)) + response)
        except OSError:
            return
