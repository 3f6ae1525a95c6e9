"""The server as a city would run it, on loopback: N gunicorn app servers behind nginx, sharing one
database, one instance folder (so one session key) and one Redis for the rate limits.

`server_stack` starts Redis (Debian's `redis-server`, no persistence), the app servers
(`gunicorn "sync_server:create_app()"`, each on its own loopback port and in its own process group,
so that `AppServer.kill()` takes its master and workers down at once, as a crash would, and
`Stack.restart` starts it again) and nginx in front of them (Debian's, not daemonised, with a
config generated in a temporary folder). It waits
until every app server answers `/readyz` and nginx answers through them, and on exit, even after a
failure, stops everything and removes the folder. The database is the caller's (a
`ThrowawayPostgres` database, already migrated): the stack never writes to it.

nginx passes requests to the app servers round robin over kept-alive connections; a request whose
app server refuses or drops the connection goes to the next one only when it is idempotent (nginx's
default `proxy_next_upstream error timeout`), so a push or a reservation is never sent twice by the
proxy. `proxy_read_timeout` leaves room for 30-second long-polls. X-Forwarded-For carries the
client's address, which the app reads with PROXY_FIX_X_FOR=1 (the login throttle's key).

    with server_stack(tmp / "instance", database_url=url) as stack:
        requests.get(f"{stack.url}/readyz")
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import sync_server
from refectory.testing.live_server import free_port

START_TIMEOUT_S = 90  # a busy 2-core machine starting 2 x 2 workers that import Flask and SQLAlchemy
STOP_TIMEOUT_S = 15
# Where `sync_server` is imported from: the app servers import the same code as this process
# (a worktree's, not the one a shared virtual environment was installed from).
CODE_ROOT = Path(sync_server.__file__).resolve().parent.parent


class StackError(RuntimeError):
    """A part of the stack did not start; the message names it and ends with its log."""


@dataclass
class AppServer:
    """One gunicorn master and its workers, on `url`."""

    port: int
    log: Path
    process: subprocess.Popen = field(repr=False)
    command: list[str] = field(repr=False)  # to start it again (`Stack.restart`)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once (a crash, not a shutdown)."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """gunicorn's graceful stop (SIGTERM), then SIGKILL to what is left."""
        _stop(self.process)


@dataclass
class Stack:
    url: str  # nginx, in front of every app server
    app_servers: list[AppServer]
    redis_url: str | None
    nginx: subprocess.Popen = field(repr=False)
    redis: subprocess.Popen | None = field(repr=False)
    folder: Path
    environment: dict[str, str] = field(repr=False)  # what the app servers were started with

    def pids(self) -> list[int]:
        """Every process serving requests: nginx, Redis, the app servers' masters and workers
        (the children living now), for CPU accounting from /proc."""
        roots = [self.nginx.pid, *([self.redis.pid] if self.redis else []),
                 *(server.pid for server in self.app_servers if server.running)]
        return [pid for root in roots for pid in (root, *_children(root))]

    def restart(self, server: AppServer) -> None:
        """Start a killed or stopped app server again on its port, as it was, then reload nginx so
        that no connection it kept to the dead process is reused (a push sent down one would come
        back as a 502). Tests that kill an app server leave a shared stack whole this way."""
        if server.running:
            raise StackError(f"app server {server.url} is still running")
        with open(server.log, "ab") as output:
            server.process = _spawn(server.command, self.environment, self.folder, output)
        _wait_ready(server.url, f"app server {server.url}", server.process, server.log)
        old_workers = set(_children(self.nginx.pid))
        _signal_group(self.nginx, signal.SIGHUP)  # new workers, with neither kept connections nor failure counts
        _wait_for(lambda: not old_workers & set(_children(self.nginx.pid)), "nginx's reload", self.nginx,
                  self.folder / "nginx-error.log")


@contextmanager
def server_stack(instance_folder: Path | str, *, database_url: str, app_servers: int = 2, workers: int | None = None,
                 threads: int | None = None, worker_class: str | None = None, redis: bool = True,
                 settings: Mapping[str, str] | None = None, timeout_s: int = 60,
                 kiosk_app_servers: int = 0) -> Iterator[Stack]:
    """The stack, ready to serve at `stack.url`. `settings` are more `REFECTORY_<NAME>` variables
    for the app servers (over the loopback defaults: cookies without Secure since the stack speaks
    plain HTTP, one proxy's X-Forwarded-For, mail written to `instance/mail`); `timeout_s` is
    gunicorn's worker timeout. The app servers run the production unit's gunicorn settings
    (sync_server.web.gunicorn_config); `workers`, `threads` and `worker_class` override them.
    `kiosk_app_servers` of them serve only the kiosk API (`/api/`), so the kiosks' long-polls never
    share a worker with a parent's page; 0: every app server serves everything."""
    instance = Path(instance_folder).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="refectory-stack-"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        redis_process, redis_url = (_start_redis(folder, cleanup) if redis else (None, None))
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(CODE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "REFECTORY_SERVER_INSTANCE": str(instance),
            "REFECTORY_DATABASE_URL": database_url,
            "REFECTORY_SESSION_COOKIE_SECURE": "false",
            "REFECTORY_PROXY_FIX_X_FOR": "1",
            "REFECTORY_MAIL_FOLDER": str(instance / "mail"),
            **({"REFECTORY_RATELIMIT_STORAGE_URI": redis_url} if redis_url else {}),
            **(settings or {}),
        }
        environment.pop("DATABASE_URL", None)  # it would win over REFECTORY_DATABASE_URL
        servers = [_start_app_server(folder, n, environment, workers=workers, threads=threads,
                                     worker_class=worker_class, timeout_s=timeout_s, cleanup=cleanup)
                   for n in range(app_servers)]
        for server in servers:
            _wait_ready(server.url, f"app server {server.url}", server.process, server.log)
        ports = [server.port for server in servers]
        # With `kiosk_app_servers`, the last ones serve the kiosk API and the others everything else.
        split = len(ports) - kiosk_app_servers if 0 < kiosk_app_servers < len(ports) else len(ports)
        nginx, url = _start_nginx(folder, ports[:split], ports[split:] or ports, cleanup)
        yield Stack(url, servers, redis_url, nginx, redis_process, folder, environment)


# -- parts ------------------------------------------------------------------------------------------

def _start_redis(folder: Path, cleanup: ExitStack) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = folder / "redis.log"
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", str(folder), "--logfile", str(log)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    cleanup.callback(_stop, process)

    def pong() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    _wait_for(pong, "redis-server", process, log)
    return process, f"redis://127.0.0.1:{port}"


def _start_app_server(folder: Path, number: int, environment: dict[str, str], *, workers: int | None,
                      threads: int | None, worker_class: str | None, timeout_s: int,
                      cleanup: ExitStack) -> AppServer:
    port = free_port()
    log = folder / f"app-{number}.log"
    overrides = [*(["--workers", str(workers)] if workers else []), *(["--threads", str(threads)] if threads else []),
                 *(["--worker-class", worker_class] if worker_class else [])]
    command = [sys.executable, "-m", "gunicorn", "--config", "python:sync_server.web.gunicorn_config",
               "--bind", f"127.0.0.1:{port}", *overrides, "--timeout", str(timeout_s), "--graceful-timeout", "5",
               "--log-level", "warning", "sync_server:create_app()"]
    with open(log, "wb") as output:
        process = _spawn(command, environment, folder, output)
    server = AppServer(port, log, process, command)
    cleanup.callback(server.stop)
    return server


def _spawn(command: list[str], environment: dict[str, str], folder: Path, output) -> subprocess.Popen:
    """An app server in its own process group (killed with all its workers at once)."""
    return subprocess.Popen(command, env=environment, cwd=folder, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT, start_new_session=True)


NGINX_CONFIG = """\
{user}pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
worker_processes 1;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream refectory {{
{servers}
        keepalive 128;
        keepalive_timeout 60s;  # below gunicorn's keepalive: nginx closes an idle connection first
    }}
    upstream kiosks {{
{kiosk_servers}
        keepalive 128;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        client_max_body_size 3m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host "";
        proxy_set_header X-Forwarded-Prefix "";
        proxy_next_upstream error timeout;
        proxy_connect_timeout 5s;
        proxy_read_timeout 60s;
        proxy_send_timeout 60s;
        location / {{
            proxy_pass http://refectory;
        }}
        location /api/ {{
            proxy_pass http://kiosks;
        }}
    }}
}}
"""


def _start_nginx(folder: Path, ports: list[int], kiosk_ports: list[int],
                 cleanup: ExitStack) -> tuple[subprocess.Popen, str]:
    """nginx in front: the kiosk API to `kiosk_ports`, the rest to `ports`."""
    port = free_port()
    config = folder / "nginx.conf"

    def upstream(ports: list[int]) -> str:
        return "\n".join(f"        server 127.0.0.1:{each} max_fails=1 fail_timeout=5s;" for each in ports)
    # As root, nginx's workers would switch to `nobody`, who cannot enter the private folder.
    config.write_text(NGINX_CONFIG.format(user="user root root;\n" if os.geteuid() == 0 else "", folder=folder,
                                          servers=upstream(ports), kiosk_servers=upstream(kiosk_ports),
                                          port=port))
    log = folder / "nginx-error.log"
    checked = subprocess.run(["nginx", "-t", "-q", "-c", str(config), "-e", str(log)], capture_output=True,
                             text=True, timeout=60)
    if checked.returncode != 0:
        raise StackError(f"nginx refused its config {config}:\n{checked.stderr}{_tail(log)}")
    process = subprocess.Popen(["nginx", "-c", str(config), "-e", str(log), "-g", "daemon off;"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    cleanup.callback(_stop, process)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, "nginx", process, log)
    return process, url


# -- waiting and stopping ---------------------------------------------------------------------------

def _wait_ready(url: str, what: str, process: subprocess.Popen, log: Path) -> None:
    """Until `url`/readyz answers 200 (the app and its database are ready)."""
    host, port = url.removeprefix("http://").split(":")

    def ready() -> bool:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            connection.request("GET", "/readyz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()
    _wait_for(ready, what, process, log)


def _wait_for(check, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        if process.poll() is not None:
            raise StackError(f"{what} exited ({process.returncode}) before it was ready:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise StackError(f"{what} not ready after {START_TIMEOUT_S} s:\n{_tail(log)}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the group, then SIGKILL to whatever is left in it (a gunicorn worker whose master
    died first, say)."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
    _signal_group(process, signal.SIGKILL)
    process.wait(STOP_TIMEOUT_S)


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    """Signal the process group the process leads (started with start_new_session)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def _tail(log: Path, size: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"
