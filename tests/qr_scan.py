"""Reading a QR-bill's code back from its PDF, as a banking app would: the page rendered by poppler's
pdftoppm, the QR code decoded by zbarimg."""

from __future__ import annotations

import shutil
import subprocess


def scanned(pdf: bytes, tmp_path) -> list[str]:
    """The QR code's lines. zbar reads this QR at some resolutions and not others (measured: a bill
    read at 150 dpi and missed at 200-600), so the page is rendered at several, as a phone tries
    several frames; the first reading is the answer."""
    (tmp_path / "bill.pdf").write_bytes(pdf)
    for dpi in (150, 200, 300, 600, 100):
        subprocess.run([shutil.which("pdftoppm"), "-r", str(dpi), "-png", "-singlefile", str(tmp_path / "bill.pdf"),
                        str(tmp_path / "page")], check=True)
        decoded = subprocess.run([shutil.which("zbarimg"), "--raw", "-q", "-Sbinary", str(tmp_path / "page.png")],
                                 capture_output=True)  # the bytes as they are: the Swiss Payment Code is UTF-8
        if decoded.returncode == 0:
            return decoded.stdout.decode("utf-8").rstrip("\n").splitlines()
    raise AssertionError("no resolution gave a readable QR code")
