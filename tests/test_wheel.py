"""The wheel is what ships: built from this tree and installed outside it, it must hold every module
and every file the code opens at run time (templates, static files, migrations, catalogues).

The install is a real, non-editable one into a fresh venv. To stay fast and offline, that venv sees
the project venv's third-party packages through a path line in a `.pth` file: Python adds such a
folder to sys.path without running the `.pth` files inside it, so the source tree's editable finder
never loads (the test checks where every package was imported from)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from refectory.testing.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("refectory", "domain", "durable", "kiosk", "kiosk_ui", "hardware", "sync_server")
NOT_SHIPPED = ("tests", "benchmarks", "scripts")
SCRATCH = shutil.ignore_patterns(".*", "__pycache__", "*.pyc", "node_modules", "build", "*.egg-info")
AT = "2026-11-30T12:05"  # Zurich wall-clock time, a Monday, during the service
ROSTER = ("pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n"
          "P001,Léa,Müller,5A,primary,04A1B2C3,,F01\n")
DEADLINE_S = 60  # generous: the machine is often loaded


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the tree, so the build's scratch (build/, *.egg-info) never lands in the
    working tree others use; without build isolation, with the setuptools of the project venv."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in (*PACKAGES, *NOT_SHIPPED):
        shutil.copytree(ROOT / name, source / name, ignore=SCRATCH)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "--disable-pip-version-check", "-w", str(dist), str(source)], cwd=source)
    (built,) = dist.glob("refectory-*.whl")
    return built


def run(command: list[str], *, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=DEADLINE_S * 2,
                            check=False)
    assert result.returncode == 0, f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def outside_env() -> dict[str, str]:
    """The environment without anything that could reach the source tree or pick the database."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "REFECTORY_", "PIP_")) and key not in ("VIRTUAL_ENV", "DATABASE_URL")}
    return {**env, "PYTHONNOUSERSITE": "1"}


def test_the_wheel_holds_every_module_template_static_file_migration_and_catalogue(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("sync_server/portal/__init__.py", "sync_server/backoffice/__init__.py",
                     "refectory/testing/live_server.py", "sync_server/migrations/env.py",
                     "sync_server/migrations/script.py.mako",
                     "sync_server/migrations/versions/0001_initial_server_schema.py",
                     "sync_server/templates/portal/login.html", "sync_server/templates/backoffice/login.html",
                     "sync_server/mail/templates/family_mail.txt",
                     "sync_server/static/portal.css", "sync_server/static/portal.js",
                     "domain/locale/fr/LC_MESSAGES/messages.po", "kiosk_ui/keyboards/fr_CH_qwertz.json"):
        assert expected in names, f"{expected} is missing from {wheel.name}"
    in_tree = {path.relative_to(ROOT).as_posix() for package in PACKAGES for path in (ROOT / package).rglob("*")
               if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
               and not path.name.startswith(".")}
    assert sorted(in_tree - names) == [], "files of the packages that the wheel leaves out"
    assert [name for name in names if name.startswith(tuple(f"{folder}/" for folder in NOT_SHIPPED))] == []


def test_the_wheel_installed_outside_the_source_tree_serves_the_portal_and_a_kiosk_serves_a_meal(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python, env = venv / "bin" / "python", {**outside_env(), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    # Installed before the dependencies become visible, so pip sees no other refectory at all.
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         "--disable-pip-version-check", str(wheel)], cwd=tmp_path, env=env)
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp_path, env=env).stdout.strip())
    dependencies = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "project_venv_dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))

    where = json.loads(run([str(python), "-c", (
        "import importlib, json, sys\n"
        "names = ['refectory', 'refectory.testing', 'domain', 'durable', 'kiosk', 'kiosk_ui', 'hardware',\n"
        "         'sync_server', 'sync_server.portal', 'sync_server.backoffice', 'sync_server.migrations']\n"
        "files = {name: importlib.import_module(name).__file__ for name in names}\n"
        "print(json.dumps({'files': files, 'path': sys.path, 'modules': sorted(sys.modules)}))")],
        cwd=tmp_path, env=env).stdout)
    for name, file in where["files"].items():
        assert Path(file).is_relative_to(site), f"{name} imported from {file}, not from the installed wheel"
    assert not any(entry and Path(entry).resolve() == ROOT for entry in where["path"])
    assert not [module for module in where["modules"] if "__editable__" in module]

    school = tmp_path / "school"
    school.mkdir()
    refectory = str(venv / "bin" / "refectory")
    instance, port = school / "instance", free_port()
    run([refectory, "server", "init", "--instance", str(instance)], cwd=school, env=env)
    log = (tmp_path / "server.log").open("w")
    with log, subprocess.Popen([refectory, "server", "run", "--instance", str(instance), "--port", str(port)],
                               cwd=school, env=env, stdout=log, stderr=subprocess.STDOUT) as server:
        try:
            # The kiosk's turn while the server starts.
            kiosk = str(school / "kiosk")
            (school / "pupils.csv").write_text(ROSTER, encoding="utf-8")
            run([refectory, "kiosk", "init", "--data", kiosk, "--kiosk-id", "K1"], cwd=school, env=env)
            run([refectory, "kiosk", "import-pupils", "--data", kiosk, "pupils.csv"], cwd=school, env=env)
            run([refectory, "kiosk", "cashier", "add", "--data", kiosk, "--id", "anne", "--name", "Anne Roch",
                 "--pin", "1234"], cwd=school, env=env)
            run([refectory, "kiosk", "topup", "--data", kiosk, "--cashier", "anne", "--pin", "1234", "--pupil",
                 "P001", "--amount", "20", "--at", AT], cwd=school, env=env)
            tap = json.loads(run([refectory, "kiosk", "tap", "--data", kiosk, "04A1B2C3", "--at", AT, "--json"],
                                 cwd=school, env=env).stdout)
            assert tap["served"] is True
            assert (tap["message"], tap["balance_line"]) == ("Bon appétit !", "Solde CHF 13.00")  # shipped French

            base = f"http://127.0.0.1:{port}"
            wait_until_served(f"{base}/healthz", server, tmp_path / "server.log")
            status, login = get(f"{base}/login")
            assert status == 200 and "Espace client" in login and "Se connecter" in login  # a template, translated
            assert get(f"{base}/static/portal/portal.css")[0] == 200
            assert get(f"{base}/manage/login")[0] == 200
            status, document = get(f"{base}/api/v1/openapi.json")
            assert status == 200 and json.loads(document)["openapi"].startswith("3.1")
        finally:
            server.terminate()
            server.wait(DEADLINE_S)


def get(url: str) -> tuple[int, str]:
    """A GET that ignores any proxy of the environment (the server is on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=DEADLINE_S) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until_served(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        assert server.poll() is None, f"the server stopped:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"the server did not answer within {DEADLINE_S} s:\n{log.read_text()}"
        time.sleep(0.05)
