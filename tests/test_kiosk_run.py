"""`refectory kiosk run` as a process: it opens the screen (SDL offscreen here) and says when the
idle screen is up; with no display at all it says so and stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def test_kiosk_run_opens_the_idle_screen_and_says_when(kiosk_dir):
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "REFECTORY_LANG": "fr"}
    env.pop("DISPLAY", None)
    started = time.monotonic()
    with subprocess.Popen([sys.executable, "-m", "refectory", "kiosk", "run", "--data", str(kiosk_dir), "--windowed"],
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env) as kiosk:
        try:
            line = kiosk.stderr.readline()
            while line and "Écran de la borne prêt" not in line:
                line = kiosk.stderr.readline()
            assert "Écran de la borne prêt (idle)" in line, "the kiosk ended without its idle screen"
            assert time.monotonic() - started < 120  # a deadline for a hang, not a speed target
        finally:
            kiosk.send_signal(signal.SIGTERM)
            kiosk.wait(60)


def test_kiosk_run_without_any_display_says_so(run, kiosk_dir, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    result = run("--lang", "fr", "kiosk", "run", "--data", str(kiosk_dir))
    assert result.exit_code == 1
    assert "Pas d'écran" in result.stderr and "refectory kiosk listen" in result.stderr
