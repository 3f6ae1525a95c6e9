"""A kiosk starts whatever state python-escpos's printer-database cache is in.

Every `refectory` command loads the printer driver, and with it python-escpos's pickled printer
database. Each test runs the real command in a fresh process, with its own cache folder
(`XDG_CACHE_HOME`) and temporary folder (`TMPDIR`), after putting the cache in one state.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import escpos
import pytest

from kiosk.store import Store

DEADLINE_S = 120.0
CAPABILITIES = Path(escpos.__file__).with_name("capabilities.json")
PICKLE_NAME = f"{platform.python_version()}.capabilities.pickle"


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A kiosk's data folder, an empty cache home and an empty temporary folder."""
    data = tmp_path / "kiosk"
    with Store.open(data, create=True) as store:
        store.initialize("K1")
    (tmp_path / "tmp").mkdir()
    return {"data": data, "cache_home": tmp_path / "cache", "tmp": tmp_path / "tmp"}


def cache_folder(machine: dict[str, Path]) -> Path:
    return machine["cache_home"] / "refectory" / "escpos"


def start(machine: dict[str, Path]) -> subprocess.Popen:
    """`refectory kiosk print-test` (the virtual printer: it loads python-escpos and prints)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(machine["cache_home"]), "TMPDIR": str(machine["tmp"])}
    return subprocess.Popen(
        [sys.executable, "-m", "refectory", "kiosk", "print-test", "--data", str(machine["data"]), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def printed(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, err
    answer = json.loads(out)
    assert answer["printed"] is True, answer
    return answer


def run(machine: dict[str, Path]) -> dict:
    return printed(start(machine))


def database() -> dict:
    return json.loads(CAPABILITIES.read_text(encoding="utf-8"))


def a_valid_pickle() -> bytes:
    return pickle.dumps(database(), protocol=2)


BROKEN_CACHES = {
    "empty (a kill during a first start)": lambda: b"",
    "cut short": lambda: a_valid_pickle()[: len(a_valid_pickle()) // 2],
    "garbage": lambda: bytes(range(256)) * 64,
    "another printer database": lambda: pickle.dumps({"profiles": {}, "encodings": {}}, protocol=2),
}


@pytest.mark.parametrize("content", BROKEN_CACHES.values(), ids=BROKEN_CACHES.keys())
def test_a_command_works_whatever_the_printer_cache_holds_and_leaves_it_sound(machine, content):
    cache_folder(machine).mkdir(parents=True)
    (cache_folder(machine) / PICKLE_NAME).write_bytes(content())
    run(machine)
    with (cache_folder(machine) / PICKLE_NAME).open("rb") as cached:
        assert pickle.load(cached) == database()


def test_a_first_start_leaves_a_complete_cache_and_nothing_in_the_temporary_folder(machine):
    run(machine)
    with (cache_folder(machine) / PICKLE_NAME).open("rb") as cached:
        assert pickle.load(cached) == database()
    assert os.listdir(cache_folder(machine)) == [PICKLE_NAME]
    assert os.listdir(machine["tmp"]) == []  # python-escpos made one empty folder per process here


@pytest.mark.parametrize("kill_when", ["the cache file appears", "anything appears in the cache folder"])
def test_a_first_start_killed_while_it_writes_the_cache_does_not_stop_the_next_commands(machine, kill_when):
    folder = cache_folder(machine)
    first = start(machine)
    deadline = time.monotonic() + DEADLINE_S
    while not (folder.is_dir() and ((folder / PICKLE_NAME).exists() if kill_when.startswith("the cache")
                                    else any(folder.iterdir()))):
        assert first.poll() is None, "the first start ended before it wrote its cache"
        assert time.monotonic() < deadline, "the first start wrote no cache"
        time.sleep(0.001)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=DEADLINE_S)
    run(machine)


def test_commands_starting_together_on_a_broken_cache_all_work(machine):
    cache_folder(machine).mkdir(parents=True)
    (cache_folder(machine) / PICKLE_NAME).write_bytes(b"")
    processes = [start(machine) for _ in range(4)]
    for process in processes:
        printed(process)
    assert os.listdir(machine["tmp"]) == []


@pytest.fixture
def read_only_cache(machine):
    """The cache folder on a read-only file system, holding an empty pickle it cannot replace."""
    folder = cache_folder(machine)
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    try:
        (folder / PICKLE_NAME).write_bytes(b"")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_command_works_when_the_broken_cache_cannot_be_replaced_and_leaves_no_folder_behind(machine,
                                                                                               read_only_cache):
    def private_folders() -> set[str]:
        return {name for base in ("/dev/shm", machine["tmp"]) if os.path.isdir(base)
                for name in os.listdir(base) if name.startswith("refectory-escpos-")}

    before = private_folders()
    run(machine)
    assert (read_only_cache / PICKLE_NAME).stat().st_size == 0
    assert private_folders() <= before
    assert os.listdir(machine["tmp"]) == []
