"""A throwaway PostgreSQL cluster for tests and benchmarks, started and stopped by them.

`ThrowawayPostgres` runs `initdb` into a fresh temporary folder, starts the server listening only on
a Unix socket in that folder (no TCP, so parallel clusters cannot collide on a port), and on
`stop()` kills it (`pg_ctl stop -m immediate`) and removes the folder. Durability is switched off
(`--no-sync`, `fsync=off`, ...): the data is thrown away anyway.

Binaries: `$REFECTORY_PG_BINDIR`, else `pg_config --bindir` if `initdb` is there (on Debian,
/usr/bin/pg_config comes from libpq-dev and may name a server version that is not installed), else
the highest /usr/lib/postgresql/*/bin, else `initdb` on PATH. The Debian package `postgresql`
(installed by scripts/dev) provides them.

Root: initdb refuses to run as root, so when euid is 0 initdb, pg_ctl and the server run as the
`postgres` system user (created by the Debian package) and the temporary folder is handed to it;
otherwise they run as the current user.

Measured on the development container (PostgreSQL 15.18, Debian 12): `start()` takes 1.1-1.6 s
(initdb about 1.0 s of it, `pg_ctl start -w` about 0.1 s), `stop()` about 0.15 s, and
`create_database()` about 0.05 s.

    with ThrowawayPostgres() as pg:
        engine = sqlalchemy.create_engine(pg.create_database("sync"))
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import URL, Connection, create_engine, text
from sqlalchemy.pool import NullPool

SUPERUSER = "refectory"
SYSTEM_USER = "postgres"  # who runs the server when we are root
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, including the terminating NUL
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl (see the module docstring for the search order)."""
    candidates: list[Path] = []
    if os.environ.get("REFECTORY_PG_BINDIR"):
        candidates.append(Path(os.environ["REFECTORY_PG_BINDIR"]))
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit()) or (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
        "`postgresql` (scripts/dev does) or set REFECTORY_PG_BINDIR"
    )


def _free_port() -> int:
    """A TCP port number free right now. The server listens on no TCP port (only a Unix socket in
    its own folder), so this only makes the socket name unsurprising; collisions cannot happen."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temporary folder; connect through `url()`."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = _free_port()
        self.base_dir: Path | None = None
        self._as_root = os.geteuid() == 0
        self._postmaster_pid: int | None = None
        self._admin: Connection | None = None  # to the `postgres` database, for CREATE and DROP DATABASE

    # -- paths ---------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._require_started() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_started()

    @property
    def log_file(self) -> Path:
        return self._require_started() / "server.log"

    @property
    def running(self) -> bool:
        return self._postmaster_pid is not None

    def _require_started(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("the cluster is not started")
        return self.base_dir

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> ThrowawayPostgres:
        if self.base_dir is not None:
            raise RuntimeError("the cluster is already started")
        self.base_dir = Path(tempfile.mkdtemp(prefix="refectory-pg-"))
        try:
            self._prepare_base_dir()
            self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SUPERUSER, "--no-sync",
                      "-E", "UTF8", "--locale=C")
            options = (f"-k {shlex.quote(str(self.socket_dir))} -p {self.port} -c listen_addresses='' -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off")
            self._run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data_dir), "-l", str(self.log_file),
                      "-o", options)
            self._postmaster_pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)  # a safety net if a test run dies between start and stop
        return self

    def stop(self) -> None:
        """Kill the server (immediate shutdown) and remove the temporary folder; idempotent."""
        if self.base_dir is None:
            return
        atexit.unregister(self.stop)
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        try:
            if (self.data_dir / "postmaster.pid").exists():
                result = self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", "immediate", "-D", str(self.data_dir),
                                   check=False)
                if result.returncode != 0 and self._postmaster_pid is not None:
                    _kill(self._postmaster_pid)
            if self._postmaster_pid is not None:
                _wait_gone(self._postmaster_pid)
        finally:
            self._postmaster_pid = None
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connecting ----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """`postgresql+psycopg://refectory@/DB?host=SOCKETDIR&port=PORT` (no password: trust)."""
        return URL.create(
            "postgresql+psycopg", username=SUPERUSER, database=database,
            query={"host": str(self.socket_dir), "port": str(self.port)},
        ).render_as_string(hide_password=False)

    def create_database(self, name: str, *, template: str = "template1") -> str:
        """Create a database and return its URL: empty (UTF8, C locale, like the cluster), or a copy
        of `template`, a database of this cluster nobody is connected to."""
        for each in (name, template):
            if not _DATABASE_NAME.match(each):
                raise ValueError(f"database name {each!r}: use lower-case letters, digits and _")
        # FILE_COPY (PostgreSQL 15+) copies the template in ~0.05 s instead of ~0.25 s for the
        # default WAL_LOG: its checkpoint costs nothing with fsync off.
        strategy = " STRATEGY FILE_COPY" if self._server_version() >= (15,) else ""
        self._administer(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        return self.url(name)

    def _administer(self, statement: str) -> None:
        """Run a statement that cannot run in a transaction, on a connection kept open for the next."""
        if self._admin is None:
            self._admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool).connect()
        self._admin.execute(text(statement))

    def _server_version(self) -> tuple[int, ...]:
        if self._admin is None:
            self._administer("SELECT 1")
        return self._admin.dialect.server_version_info

    # -- helpers -------------------------------------------------------------------------------

    def _prepare_base_dir(self) -> None:
        base = self._require_started()
        if len(str(base / f".s.PGSQL.{self.port}")) > MAX_SOCKET_PATH:
            raise RuntimeError(f"socket path under {base} is too long for a Unix socket; set TMPDIR shorter")
        if "," in str(base):
            raise RuntimeError(f"{base}: a comma in the socket folder breaks the host= of the URL")
        if self._as_root:
            try:
                user = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root, PostgreSQL must run as the `{SYSTEM_USER}` system user, which "
                    "does not exist: install the Debian package `postgresql`"
                ) from None
            os.chown(base, user.pw_uid, user.pw_gid)
            # mkdtemp makes the folder 0700 for its owner, now postgres. Its parents must let
            # postgres through: /tmp does, a private TMPDIR (e.g. under /root) does not.
            probe = subprocess.run(["test", "-w", str(base), "-a", "-x", str(base)], **self._as_user())
            if probe.returncode != 0:
                raise RuntimeError(
                    f"the `{SYSTEM_USER}` user cannot reach {base}; point TMPDIR at a folder every user "
                    "can traverse (such as /tmp)"
                )

    def _as_user(self) -> dict:
        if not self._as_root:
            return {}
        return {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": [], "cwd": str(self.base_dir)}

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # LC_ALL=C: the cluster's locale is given explicitly; the caller's (maybe missing) locale
        # must not make initdb fail or chatter.
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        for variable in ("PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"):
            env.pop(variable, None)
        result = subprocess.run([str(self.bindir / tool), *args], capture_output=True, text=True, env=env,
                                stdin=subprocess.DEVNULL, **self._as_user())
        if check and result.returncode != 0:
            log = ""
            if self.base_dir is not None and self.log_file.exists():
                log = "\n--- server log ---\n" + self.log_file.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}{log}")
        return result


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's wait() is missing


def _kill(pid: int) -> None:
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, timeout=5, raise_=False):
            return


def _wait_gone(pid: int, timeout: float = 10, raise_: bool = True) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            if raise_:
                raise RuntimeError(f"postgres (pid {pid}) still running after stop")
            return False
        time.sleep(0.01)
    return True
