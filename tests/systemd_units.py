"""systemd's own checks of our unit files, as the suite runs them: `systemd-analyze verify` and the
exposure score of `systemd-analyze security --offline=true` (0 is locked down, 10 is wide open)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_EXPOSURE = re.compile(r"Overall exposure level for (\S+): (\d+(?:\.\d+)?)")


def verify(units: list[Path], *, root: Path | None = None) -> subprocess.CompletedProcess:
    """Run `systemd-analyze verify` on unit files; `root` resolves their paths inside a scratch root."""
    command = ["systemd-analyze", "verify", "--man=no"]
    if root is not None:
        command.append(f"--root={root}")
    return subprocess.run([*command, *map(str, units)], capture_output=True, text=True, timeout=120)


def exposure(unit: Path) -> float:
    """The overall exposure level systemd gives a service unit, read offline from its file."""
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=120)
    found = _EXPOSURE.search(done.stdout)
    if found is None:
        raise AssertionError(f"no exposure level for {unit}:\n{done.stdout}\n{done.stderr}")
    return float(found.group(2))
