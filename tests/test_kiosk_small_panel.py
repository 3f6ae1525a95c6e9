"""The kiosk's screen tests marked `small_panel_too` again, on a 7-inch 800×480 panel.

The test window's size is fixed when it opens (tests/kivy_harness.py), so they run in one
process of their own whose window is 800×480: one process for all of them, since a process and
its window cost seconds to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MARK = "small_panel_too"


def test_the_screen_tests_marked_small_panel_too_pass_on_an_800_by_480_panel():
    here = Path(__file__).resolve().parent
    files = sorted(str(path) for path in here.glob("test_*.py")
                   if path.name != Path(__file__).name and f"pytest.mark.{MARK}" in path.read_text(encoding="utf-8"))
    assert len(files) >= 6, files  # verdicts, queue, touch targets, exceptions, idle, the cashier's screens
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MARK, *files],
                          env={**os.environ, "REFECTORY_TEST_WINDOW": "800x480"}, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "deselected" in done.stdout.splitlines()[-1]
