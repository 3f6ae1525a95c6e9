"""The kiosk's log: Python logging to stderr, which systemd hands to journald.

Under journald (stderr is the stream $JOURNAL_STREAM names) a line carries no timestamp, since
journald stamps it, but a "<N>" syslog priority prefix, so `journalctl -p warning` finds the
problems; elsewhere (a terminal, a test) each line starts with the time. Stdout stays for the
commands' own output (the JSON lines of `kiosk listen`).
"""

from __future__ import annotations

import logging
import os
import sys

QUIET_LIBRARIES = ("apscheduler", "urllib3")  # a line per scheduled job or connection says nothing new
SYSLOG_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def journald_owns_stderr() -> bool:
    """True when stderr is the journal's stream ($JOURNAL_STREAM is "device:inode" of it), not a
    file or terminal a child inherited the variable with."""
    device, _colon, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        status = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return f"{status.st_dev}:{status.st_ino}" == f"{device}:{inode}"


def configure_logging(level: int = logging.INFO) -> None:
    """Log the kiosk's lines (taps, sync rounds, faults) to stderr; once per process."""
    root = logging.getLogger()
    if any(getattr(handler, "refectory", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.refectory = True
    if journald_owns_stderr():
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
