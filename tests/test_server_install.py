"""Installing the sync server: `scripts/install-server --root` (run twice), its units as systemd
checks them, `refectory server check-config`, and the units' gunicorn command on a socket systemd
would pass, behind the nginx sample with TLS."""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import socket
import ssl
import stat
import subprocess
import sys
import time
from contextlib import ExitStack, closing
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sync_server.admin import audit
from sync_server.db import make_engine, reading

from .live_server import free_port
from .systemd_units import exposure, verify

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd" / "server"
SERVICES = ("refectory-server.service", "refectory-mail.service", "refectory-server-backup.service")
# Settings a production server starts with: every check-config rule satisfied.
PRODUCTION = {"REFECTORY_PORTAL_URL": "https://cantine.example.ch/", "REFECTORY_PROXY_FIX_X_FOR": "1",
              "REFECTORY_MAIL_HOST": "smtp.example.ch", "REFECTORY_MAIL_SECURITY": "starttls",
              "REFECTORY_MAIL_SENDER": "Cantine <cantine@example.ch>", "REFECTORY_CANTEEN_NAME": "Cantine de Vernier",
              "REFECTORY_CANTEEN_EMAIL": "cantine@example.ch", "REFECTORY_QRBILL_IBAN": "CH44 3199 9123 0008 8901 2",
              "REFECTORY_QRBILL_NAME": "Cantine de Vernier", "REFECTORY_QRBILL_PCODE": "1214",
              "REFECTORY_QRBILL_CITY": "Vernier", "REFECTORY_REFUND_DEBTOR_IBAN": "CH93 0076 2011 6238 5295 7",
              "REFECTORY_REFUND_DEBTOR_NAME": "Cantine de Vernier"}


def _ids(root: Path) -> tuple[int, int]:
    user = next(line for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("refectory:"))
    group = next(line for line in (root / "etc/group").read_text().splitlines() if line.startswith("refectory:"))
    return int(user.split(":")[2]), int(group.split(":")[2])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`scripts/install-server --root` run twice, the settings edited in between."""
    root = tmp_path_factory.mktemp("server-root")
    command = [str(ROOT / "scripts/install-server"), "--root", str(root), "--with-nginx", "--with-postgresql"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with (root / "etc/refectory/server.env").open("a") as settings:
        settings.write("REFECTORY_CANTEEN_NAME=Cantine de Vernier\n")
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return root


def test_install_server_root_writes_each_file_with_its_owner_and_mode_and_keeps_the_settings(installed):
    user, group = _ids(installed)
    expected = {"etc/refectory": (0o750, 0, group), "etc/refectory/server.env": (0o640, 0, group),
                "var/lib/refectory": (0o750, user, group), "var/lib/refectory/server": (0o750, user, group),
                "var/lib/refectory/backups/server": (0o750, user, group),
                "etc/nginx/sites-available/refectory.conf": (0o644, 0, 0),
                **{f"etc/systemd/system/{unit.name}": (0o644, 0, 0) for unit in UNITS.iterdir()}}
    for path, (mode, owner, owning_group) in expected.items():
        found = (installed / path).stat()
        assert (stat.S_IMODE(found.st_mode), found.st_uid, found.st_gid) == (mode, owner, owning_group), path
    [account] = [line for line in (installed / "etc/passwd").read_text().splitlines() if line.startswith("refectory:")]
    assert account.endswith(":/var/lib/refectory:/usr/sbin/nologin")
    env = (installed / "etc/refectory/server.env").read_text()
    assert env.endswith("REFECTORY_CANTEEN_NAME=Cantine de Vernier\n")  # the second run kept the edit
    assert "#REFECTORY_MAIL_PASSWORD=" in env and "#REFECTORY_DATATRANS_HMAC_KEY=" in env
    for wanted in ("sockets.target.wants/refectory-server.socket", "timers.target.wants/refectory-mail.timer",
                   "timers.target.wants/refectory-server-backup.timer"):
        assert (installed / "etc/systemd/system" / wanted).is_symlink(), wanted
    dropin = (installed / "etc/systemd/system/refectory-server.service.d/postgresql.conf").read_text()
    assert "After=postgresql.service" in dropin
    help_text = subprocess.run([str(ROOT / "scripts/install-server"), "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--root DIR" in help_text.stdout


def test_the_units_pass_systemd_verify_and_the_server_is_locked_down(installed, tmp_path):
    # The units as installed, their commands taken from this checkout's venv instead of the one
    # --wheel makes (/opt/refectory/venv), so that verify finds them.
    venv = f"{Path(sys.executable).parent}/"
    units = []
    for installed_unit in sorted((installed / "etc/systemd/system").glob("refectory-*")):
        if installed_unit.is_file():
            units.append(tmp_path / installed_unit.name)
            units[-1].write_text(installed_unit.read_text().replace("/opt/refectory/venv/bin/", venv))
    assert {unit.name for unit in units} == {unit.name for unit in UNITS.iterdir()}
    done = verify(units)
    assert done.returncode == 0, done.stderr
    levels = {name: exposure(UNITS / name) for name in SERVICES}
    print("systemd-analyze security exposure:", levels)
    assert all(level <= 3.0 for level in levels.values()), levels


@pytest.fixture
def clean_environment(monkeypatch):
    for name in [n for n in os.environ if n.startswith("REFECTORY_") or n == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    return monkeypatch


def test_check_config_stops_a_start_with_development_settings_and_no_database(run, clean_environment, tmp_path):
    done = run("server", "check-config", "--instance", str(tmp_path / "instance"))
    assert done.exit_code == 1
    for line in ("erreur: PORTAL_URL:", "erreur: MAIL_SENDER:", "erreur: DATABASE_URL:",
                 "avertissement: PROXY_FIX_X_FOR:", "avertissement: QRBILL_IBAN:", "refectory server init"):
        assert line in done.output, line
    assert not (tmp_path / "instance/refectory.db").exists()


def test_check_config_passes_production_settings_and_lists_what_is_off(run, clean_environment,
                                                                         migrated_database_url, tmp_path):
    for name, value in {**PRODUCTION, "REFECTORY_DATABASE_URL": migrated_database_url}.items():
        clean_environment.setenv(name, value)
    done = run("server", "check-config", "--instance", str(tmp_path / "instance"), "--json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    assert answer["ok"] is True and "error" not in {found["level"] for found in answer["problems"]}

    clean_environment.setenv("REFECTORY_DATATRANS_MERCHANT_ID", "1100012345")
    clean_environment.setenv("REFECTORY_SESSION_COOKIE_SECURE", "false")
    clean_environment.setenv("REFECTORY_SECRET_KEY", "short")
    clean_environment.setenv("REFECTORY_MAIL_PROT", "587")
    clean_environment.setenv("REFECTORY_RATELIMIT_STORAGE_URI", f"redis://:hunter2pw@127.0.0.1:{free_port()}/0")
    done = run("server", "check-config", "--instance", str(tmp_path / "instance"))
    assert done.exit_code == 1
    assert "hunter2pw" not in done.output
    for line in ("erreur: DATATRANS_MERCHANT_ID:", "erreur: SESSION_COOKIE_SECURE:", "erreur: SECRET_KEY:",
                 "avertissement: REFECTORY_MAIL_PROT:", "avertissement: DATATRANS_API_URL:", "3 erreurs",
                 "avertissement: RATELIMIT_STORAGE_URI:"):
        assert line in done.output, line


def test_check_config_names_a_wrong_value(run, clean_environment, tmp_path):
    clean_environment.setenv("REFECTORY_MAIL_PORT", "smtp")
    done = run("server", "check-config", "--instance", str(tmp_path / "instance"), "--json")
    assert done.exit_code == 1
    [problem] = json.loads(done.output)["problems"]
    assert (problem["level"], problem["setting"]) == ("error", "MAIL_PORT")
    assert "REFECTORY_MAIL_PORT" in problem["message"]


# -- gunicorn on systemd's socket, behind nginx ---------------------------------------------------

def _wait(check, what: str, process: subprocess.Popen, log: Path, deadline_s: float = 60):
    deadline = time.monotonic() + deadline_s
    while (found := check()) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what}:\n{log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    return found


def _connect(port: int, context: ssl.SSLContext | None, source: str = "127.0.0.1"):
    if context is None:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=30, source_address=(source, 0), context=context)


def _nginx_config(folder: Path, app_port: int, http_port: int, https_port: int) -> Path:
    """The sample, on loopback high ports with a certificate made here, under a main config."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    site = (ROOT / "systemd/nginx/refectory.conf").read_text()
    for old, new in (("    listen [::]:80;\n", ""), ("    listen [::]:443 ssl http2;\n", ""),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("/etc/letsencrypt/live/cantine.example.ch/fullchain.pem", str(folder / "cert.pem")),
                     ("/etc/letsencrypt/live/cantine.example.ch/privkey.pem", str(folder / "key.pem")),
                     ("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")):
        assert old in site, old
        site = site.replace(old, new)
    (folder / "refectory.conf").write_text(site)
    temp = "".join(f"{kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                       "scgi"))
    main = folder / "nginx.conf"
    main.write_text(("user root root;\n" if os.geteuid() == 0 else "") +
                    f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nevents {{}}\n"
                    f"http {{\naccess_log off;\n{temp}include {folder / 'refectory.conf'};\n}}\n")
    return main


def test_gunicorn_on_systemds_socket_behind_nginx_sees_the_clients_address_and_https(school_database, tmp_path):
    unit = (UNITS / "refectory-server.service").read_text()
    start = shlex.split(re.search(r"^ExecStart=(.*)$", unit, re.MULTILINE).group(1))
    assert start[0] == "/opt/refectory/venv/bin/gunicorn"
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(0.05)
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(tmp_path / "notify"),
                   "REFECTORY_SERVER_INSTANCE": str(tmp_path / "instance"), **PRODUCTION,
                   "REFECTORY_DATABASE_URL": school_database.url, "REFECTORY_MAIL_FOLDER": str(tmp_path / "mail")}
    log = tmp_path / "gunicorn.log"
    activate = ["systemd-socket-activate", "-l", f"127.0.0.1:{app_port}",
                *(f"-E{name}={value}" for name, value in environment.items()),
                sys.executable, "-m", "gunicorn", *start[1:]]
    nginx_config = _nginx_config(tmp_path, app_port, http_port, https_port)
    checked = subprocess.run(["nginx", "-t", "-q", "-c", str(nginx_config), "-e", str(tmp_path / "error.log")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr + (tmp_path / "error.log").read_text()
    with ExitStack() as stack, open(log, "wb") as output, \
            subprocess.Popen(activate, stdout=output, stderr=subprocess.STDOUT, cwd=tmp_path) as gunicorn, \
            subprocess.Popen(["nginx", "-c", str(nginx_config), "-e", str(tmp_path / "error.log"), "-g",
                              "daemon off;"], stderr=subprocess.DEVNULL) as nginx:
        try:
            def ready():
                try:
                    return notify.recv(4096)
                except TimeoutError:
                    return None

            def listening():  # systemd-socket-activate starts gunicorn at the first connection
                try:
                    socket.create_connection(("127.0.0.1", app_port), timeout=1).close()
                    return True
                except OSError:
                    return None
            _wait(listening, "systemd-socket-activate never listened", gunicorn, log)
            assert b"READY=1" in _wait(ready, "gunicorn never said READY=1", gunicorn, log)
            tls = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))

            def answer(connection, method: str, path: str, body: str | None = None, headers: dict | None = None):
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                return response, response.read().decode()

            def served():
                try:
                    with closing(_connect(https_port, tls)) as connection:
                        return answer(connection, "GET", "/readyz")
                except OSError:
                    return None
            response, body = _wait(served, "nginx never answered", nginx, tmp_path / "error.log")
            assert (response.status, json.loads(body)) == (200, {"status": "ready"})

            with closing(_connect(http_port, None)) as connection:
                response, _ = answer(connection, "GET", "/login?x=1")
            assert (response.status, response.getheader("Location")) == (301, "https://127.0.0.1/login?x=1")

            # Manager sandra logs in to the back office from 127.0.0.2, through nginx.
            browser = stack.enter_context(closing(_connect(https_port, tls, source="127.0.0.2")))
            response, page = answer(browser, "GET", "/manage/login")
            cookie = response.getheader("Set-Cookie").split(";")[0]
            token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page).group(1)
            form = urlencode({"csrf_token": token, "login": "sandra", "password": school_database.manager_password})
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
            # A form sent from a plain-HTTP page is refused: the app knows the request came over HTTPS.
            response, _ = answer(browser, "POST", "/manage/login", form,
                                 {**headers, "Referer": f"http://127.0.0.1:{https_port}/manage/login"})
            assert response.status == 400
            response, _ = answer(browser, "POST", "/manage/login", form,
                                 {**headers, "Referer": f"https://127.0.0.1:{https_port}/manage/login"})
            assert response.status == 302
        finally:
            nginx.terminate()
            gunicorn.terminate()
            nginx.wait(30)
            gunicorn.wait(30)
            notify.close()
    engine = make_engine(school_database.url)
    with reading(engine) as conn:
        logins = [entry for entry in audit.recent(conn) if entry.action == "manager.login"]
    engine.dispose()
    assert [entry.detail for entry in logins] == ["from 127.0.0.2"]
