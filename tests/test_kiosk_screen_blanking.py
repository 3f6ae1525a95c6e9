"""The touchscreen never blanks while the kiosk runs: on the device the app draws through
Xwayland, an X server whose screensaver blanks after 10 minutes without input. Here a real X
server (Xvfb) is given a 1-second screensaver, and the X screensaver extension says whether it
came on. The same run stops the kiosk with SIGTERM, as systemd does, long after it started."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

SAVER_TIMEOUT_S = 1
SCREEN_SAVER_ON = 1  # XScreenSaverInfo.state: Off 0, On 1, Cycle 2, Disabled 3


class _SaverInfo(ctypes.Structure):
    _fields_ = [("window", ctypes.c_ulong), ("state", ctypes.c_int), ("kind", ctypes.c_int),
                ("til_or_since", ctypes.c_ulong), ("idle", ctypes.c_ulong), ("event_mask", ctypes.c_ulong)]


class ScreenSaver:
    """The X screensaver's state on one display, through libXss."""

    def __init__(self, display: str) -> None:
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xss = ctypes.CDLL("libXss.so.1")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_SaverInfo)
        self.xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_SaverInfo)]
        self.connection = self.x11.XOpenDisplay(display.encode())
        assert self.connection, f"cannot open X display {display}"
        self.info = self.xss.XScreenSaverAllocInfo()

    def on(self) -> bool:
        root = self.x11.XDefaultRootWindow(self.connection)
        assert self.xss.XScreenSaverQueryInfo(self.connection, root, self.info)
        return self.info.contents.state == SCREEN_SAVER_ON

    def close(self) -> None:
        self.x11.XCloseDisplay(self.connection)


@contextmanager
def x_server():
    """Xvfb on a display it picks itself, with a short screensaver (kept: no reset when a client leaves)."""
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-noreset", "-screen", "0", "800x480x24",
                               "-nolisten", "tcp"],
                              pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as numbers:
        display = f":{numbers.readline().strip()}"
    try:
        subprocess.run(["xset", "-display", display, "s", str(SAVER_TIMEOUT_S)], check=True)
        yield display
    finally:
        server.terminate()
        server.wait(30)


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_the_screen_never_blanks_while_the_kiosk_runs_full_screen_and_sigterm_stops_it_later(kiosk_dir):
    with x_server() as display:
        saver = ScreenSaver(display)
        try:
            # The check can fail: with no kiosk, the screensaver comes on after its timeout.
            assert wait_for(saver.on, 60), "the X server's screensaver never came on by itself"
            # SDL's own hint asks to let the screensaver run, as a desktop session may: the kiosk
            # must keep it off all the same.
            env = {**os.environ, "DISPLAY": display, "REFECTORY_LANG": "en", "SDL_VIDEO_ALLOW_SCREENSAVER": "1"}
            env.pop("SDL_VIDEODRIVER", None)
            env.pop("WAYLAND_DISPLAY", None)
            with subprocess.Popen([sys.executable, "-m", "refectory", "kiosk", "run", "--data", str(kiosk_dir)],
                                  stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  text=True, env=env) as kiosk:
                try:
                    for line in kiosk.stderr:
                        if "Kiosk screen ready" in line:
                            break
                    else:
                        raise AssertionError("the kiosk ended without its idle screen")
                    subprocess.run(["xset", "-display", display, "s", "reset"], check=True)
                    # Three timeouts with no input at all: the screensaver would have come on.
                    assert not wait_for(saver.on, SAVER_TIMEOUT_S * 3), "the screen blanked while the kiosk ran"
                    # Seconds after it started, as systemd stops it: SIGTERM ends it cleanly.
                    kiosk.send_signal(signal.SIGTERM)
                    assert kiosk.wait(60) == 0
                finally:
                    if kiosk.poll() is None:
                        kiosk.kill()
        finally:
            saver.close()
