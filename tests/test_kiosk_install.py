"""scripts/install-kiosk into a scratch root: the files a kiosk gets, with their modes and owners,
the units systemd accepts and how exposed it rates them, the udev rules as udev parses them, and
the configuration the kiosk reads from /etc."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.systemd_units import exposure, verify

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "scripts" / "install-kiosk"
UNITS = ("refectory-kiosk.service", "refectory-kiosk-listen.service", "refectory-kiosk-backup.service",
         "refectory-kiosk-backup.timer")
# The scratch root holds no venv (--wheel needs the live mode), so verify may say only this.
NO_VENV = "Command /opt/refectory/venv/bin/refectory is not executable: No such file or directory"
EDITS = {'name = "Restaurant scolaire"': 'name = "Cantine du Lac"',
         'connection = "virtual:receipts"': 'connection = "virtual:slips"'}


def install(root: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(INSTALL), "--root", str(root), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, str]:
    """A root installed once, its kiosk.toml edited by the operator, then installed again; with
    what the second run said."""
    root = tmp_path_factory.mktemp("kiosk-root")
    install(root)
    config = root / "etc/refectory/kiosk.toml"
    text = config.read_text(encoding="utf-8")
    for default, edited in EDITS.items():
        assert default in text
        text = text.replace(default, edited)
    config.write_text(text, encoding="utf-8")
    return root, install(root).stdout


@pytest.fixture
def root(installed) -> Path:
    return installed[0]


def ids(root: Path) -> tuple[int, int]:
    user = next(line for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("refectory:"))
    group = next(line for line in (root / "etc/group").read_text().splitlines() if line.startswith("refectory:"))
    return int(user.split(":")[2]), int(group.split(":")[2])


def owner_and_mode(path: Path) -> tuple[int, int, str]:
    info = path.stat()
    return info.st_uid, info.st_gid, oct(stat.S_IMODE(info.st_mode))


def test_a_second_run_keeps_the_operators_configuration_and_rewrites_nothing(installed):
    root, second_run = installed
    text = (root / "etc/refectory/kiosk.toml").read_text(encoding="utf-8")
    assert all(edited in text for edited in EDITS.values())
    assert "wrote" not in second_run and "creating" not in second_run
    passwd = (root / "etc/passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()].count("refectory") == 1
    assert ":/var/lib/refectory:/usr/sbin/nologin" in passwd


def test_configuration_and_data_have_the_agreed_owners_and_modes(root):
    uid, gid = ids(root)
    assert owner_and_mode(root / "etc/refectory") == (0, gid, "0o750")
    assert owner_and_mode(root / "etc/refectory/kiosk.toml") == (0, gid, "0o640")
    for folder in ("var/lib/refectory", "var/lib/refectory/kiosk", "var/lib/refectory/backups/kiosk"):
        assert owner_and_mode(root / folder) == (uid, gid, "0o750"), folder
    for unit in UNITS:
        assert owner_and_mode(root / "etc/systemd/system" / unit) == (0, 0, "0o644"), unit
    assert owner_and_mode(root / "etc/udev/rules.d/60-refectory.rules") == (0, 0, "0o644")


def test_the_touchscreen_and_the_backup_timer_start_at_boot_and_headless_swaps_the_screen_out(root, tmp_path):
    system = root / "etc/systemd/system"
    assert os.readlink(system / "graphical.target.wants/refectory-kiosk.service") == \
        "/etc/systemd/system/refectory-kiosk.service"
    assert (system / "timers.target.wants/refectory-kiosk-backup.timer").is_symlink()
    assert not (system / "multi-user.target.wants/refectory-kiosk-listen.service").exists()

    headless = tmp_path / "headless"
    install(headless)
    install(headless, "--headless")
    system = headless / "etc/systemd/system"
    assert (system / "multi-user.target.wants/refectory-kiosk-listen.service").is_symlink()
    assert not (system / "graphical.target.wants/refectory-kiosk.service").exists()


def test_a_wheel_is_refused_in_a_scratch_root_because_a_venv_cannot_move(tmp_path):
    wheel = tmp_path / "refectory-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    done = subprocess.run([str(INSTALL), "--root", str(tmp_path / "r"), "--wheel", str(wheel)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--wheel cannot be used with --root" in done.stderr
    assert not (tmp_path / "r/etc").exists()


def test_systemd_accepts_the_installed_units(root):
    done = verify([root / "etc/systemd/system" / unit for unit in UNITS])
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line and NO_VENV not in line]
    assert problems == []


def test_the_long_running_kiosk_services_are_locked_down(root):
    levels = {unit: exposure(root / "etc/systemd/system" / unit) for unit in UNITS if unit.endswith(".service")}
    print("\nsystemd-analyze security --offline exposure:", levels)
    assert levels["refectory-kiosk.service"] <= 3.0
    assert levels["refectory-kiosk-listen.service"] <= 3.0
    assert levels["refectory-kiosk-backup.service"] <= 1.0


def test_udev_parses_the_rules_and_knows_their_group(root, tmp_path):
    """udev 252 has no `udevadm verify`: `udevadm test` loads every rules file and names each line it
    cannot use. It runs in a private mount namespace where only our rules and the root's group file
    are visible, so nothing on this machine changes."""
    empty = tmp_path / "empty"
    empty.mkdir()
    script = (f"mount --bind {root}/etc/udev/rules.d /etc/udev/rules.d && mount --bind {root}/etc/group /etc/group"
              f" && for d in /usr/lib/udev/rules.d /run/udev/rules.d /usr/local/lib/udev/rules.d;"
              f" do if [ -d $d ]; then mount --bind {empty} $d; fi; done"
              f" && udevadm test --action=add /sys/class/mem/null")
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "Reading rules file: /etc/udev/rules.d/60-refectory.rules" in log
    assert [line for line in log.splitlines() if line.startswith("/etc/udev/rules.d/60-refectory.rules:")] == []


def test_the_kiosk_reads_the_configuration_named_by_refectory_kiosk_config(root, tmp_path, run, monkeypatch):
    data = tmp_path / "kiosk"
    monkeypatch.setenv("REFECTORY_KIOSK_CONFIG", str(root / "etc/refectory/kiosk.toml"))
    assert run("kiosk", "init", "--data", str(data), "--kiosk-id", "K1").exit_code == 0
    assert run("kiosk", "print-test", "--data", str(data)).exit_code == 0
    receipts = sorted((data / "slips").glob("receipt-*.txt"))  # the printer /etc names, in the data folder
    assert receipts and "Cantine du Lac" in receipts[0].read_text(encoding="utf-8")
    assert not (data / "kiosk.toml").exists()
