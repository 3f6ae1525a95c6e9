"""python-escpos imported so that no state of its printer-database cache can stop a start.

On import, python-escpos reads its printer database (`capabilities.json`, parsed as YAML: about
300 ms) unless the pickle of it in `ESCPOS_CAPABILITIES_PICKLE_DIR` is at least as recent, and
then writes that pickle in place. A process killed while writing leaves it empty or cut short,
and every later import fails on it (`EOFError`) until someone deletes the file; a process starting
meanwhile reads the half-written file. Its default folder is a `mkdtemp()` evaluated even when the
variable is set: one empty folder left in /tmp per process.

So the cache is ours: the database read as JSON (under a millisecond) is compared with the pickle
in place; a missing, stale or damaged one is replaced by a complete one written under a temporary
name and renamed over it. python-escpos then only ever finds a complete, current pickle and
never writes. Where the cache folder cannot be written (read-only home, full disk), this process
gets a private copy, in memory where /dev/shm exists, removed right after the import. Only when no
folder at all can be written does the import fail, as python-escpos's own would.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

PICKLE_DIR_VARIABLE = "ESCPOS_CAPABILITIES_PICKLE_DIR"
PRIVATE_FOLDER_BASES = ("/dev/shm",)  # then the temporary folder
LEFTOVER_AGE_SECONDS = 600  # a temporary pickle this old was left by a killed process


def import_escpos() -> None:
    """Import python-escpos's capabilities module (which every printer class needs) safely."""
    if "escpos.capabilities" in sys.modules:
        return
    source = _source()
    database = _read_database(source)
    name = f"{platform.python_version()}.capabilities.pickle"
    folder = cache_folder()
    if folder is not None and (_is_current(folder / name, database, source) or _write(folder / name, database, source)):
        _import_with(folder)
        return
    private = _private_folder(name, database, source)
    try:
        _import_with(private)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def cache_folder() -> Path | None:
    """`$XDG_CACHE_HOME/refectory/escpos` (`~/.cache/...` by default), or None if it cannot be made."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = base / "refectory" / "escpos"
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    return folder


def _source() -> Path:
    """The printer database python-escpos will compare its pickle with."""
    chosen = os.environ.get("ESCPOS_CAPABILITIES_FILE")
    if chosen:
        return Path(chosen)
    spec = importlib.util.find_spec("escpos")  # the package is located, not imported
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).with_name("capabilities.json")


def _read_database(source: Path) -> dict:
    text = source.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError:  # a capabilities file of one's own may be YAML, as python-escpos allows
        import yaml

        return yaml.safe_load(text)


def _is_current(path: Path, database: dict, source: Path) -> bool:
    """The pickle holds exactly the database and python-escpos will not want to rewrite it."""
    try:
        if path.stat().st_mtime < source.stat().st_mtime:
            return False
        with path.open("rb") as cached:
            return pickle.load(cached) == database
    except Exception:  # a damaged pickle can fail in any way; it is then rewritten
        return False


def _write(path: Path, database: dict, source: Path) -> bool:
    """Replace `path` atomically by a pickle of the database; False if the folder refuses it."""
    _sweep_leftovers(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(database, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            os.fsync(out.fileno())
        # Never older than the database, even with the clock behind: python-escpos would rebuild it.
        stamp = max(time.time(), source.stat().st_mtime)
        os.utime(temporary, (stamp, stamp))
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return False
    return True


def _sweep_leftovers(path: Path) -> None:
    """Remove temporary pickles that a process killed while writing one left behind."""
    with contextlib.suppress(OSError):
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                if time.time() - leftover.stat().st_mtime > LEFTOVER_AGE_SECONDS:
                    leftover.unlink()


def _private_folder(name: str, database: dict, source: Path) -> Path:
    """A folder of this process's own holding a current pickle (the caller removes it)."""
    bases = [base for base in PRIVATE_FOLDER_BASES if os.path.isdir(base)] + [tempfile.gettempdir()]
    for base in bases:
        try:
            folder = Path(tempfile.mkdtemp(prefix="refectory-escpos-", dir=base))
        except OSError:
            continue
        if _write(folder / name, database, source):
            return folder
        shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="refectory-escpos-"))  # python-escpos writes it, or says why not


def _import_with(folder: Path) -> None:
    """Import with python-escpos pointed at `folder`, and its `mkdtemp()` default not evaluated."""
    previous = os.environ.get(PICKLE_DIR_VARIABLE)
    os.environ[PICKLE_DIR_VARIABLE] = str(folder)
    real_mkdtemp = tempfile.mkdtemp
    tempfile.mkdtemp = lambda *args, **kwargs: str(folder)
    try:
        importlib.import_module("escpos.capabilities")
    finally:
        tempfile.mkdtemp = real_mkdtemp
        if previous is None:
            del os.environ[PICKLE_DIR_VARIABLE]
        else:
            os.environ[PICKLE_DIR_VARIABLE] = previous
