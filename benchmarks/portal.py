"""The portal under load: gunicorn with 2 workers on SQLite, 50 parents at once.

Each simulated parent is logged in (untimed), then repeats home → agenda → reserve (book or
cancel a meal next week, which writes the reservation, its change for the kiosks and a confirmation
e-mail; sent in place as the agenda's script does, the answer is the changed day). The floor is a
hello-world route (`/healthz`) on the same gunicorn, hit by the same 50 clients the same number of
times, in the same run. Floor and portal take turns in ten short blocks, so that both meet the same
machine: on this VM throughput drifts by a third from one minute to the next.
Last line: `p95_ratio=<x>` (the portal's p95 over the floor's; target ≤ 2).

Sync workers measure what a page costs. `--production-settings` runs gunicorn as the server unit
does instead (gthread, 2 workers of 256 threads, for the kiosks' long-polls): under this saturating
load its threads share each worker's GIL, and the tail grows (docs/portal.md has the figures).

Usage: .venv/bin/python benchmarks/portal.py [--parents 50] [--rounds 20] [--blocks 10] [--production-settings]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.clock import service_date, utc_now  # noqa: E402
from domain.roster import parse_csv  # noqa: E402
from refectory.testing.live_server import free_port  # noqa: E402
from sync_server.admin import roster_import  # noqa: E402
from sync_server.db import make_engine, upgrade, writing  # noqa: E402
from sync_server.families import accounts  # noqa: E402

TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def prepare(instance: Path, parents: int) -> list[tuple[str, str, str]]:
    """A school with one child per family; returns (login, password, pupil_id) per parent."""
    url = f"sqlite:///{instance / 'refectory.db'}"
    upgrade(url)
    engine = make_engine(url)
    rows = ["pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id,parent_email"]
    rows += [f"P{n:03d},Enfant,Nom{n},5A,primary,04{n:06X},,F{n:03d},parent{n}@example.ch" for n in range(parents)]
    now = utc_now()
    with writing(engine) as conn:
        roster_import.import_pupils(conn, *parse_csv("\n".join(rows).encode()), now)
        letters = [accounts.issue_login(conn, f"F{n:03d}", now) for n in range(parents)]
    engine.dispose()
    return [(letter.login, letter.password, f"P{n:03d}") for n, letter in enumerate(letters)]


def next_wednesday() -> date:
    today = service_date(utc_now())
    return today + timedelta(days=7 + (2 - today.weekday()) % 7)


def logged_in(base: str, login: str, password: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login")
    http.post(f"{base}/login", data={"csrf_token": TOKEN.search(page.text).group(1), "login": login,
                                     "password": password}, allow_redirects=False).raise_for_status()
    return http


def parent(base: str, http: requests.Session, pupil_id: str, rounds: int, times: list, errors: list) -> None:
    day = next_wednesday().isoformat()
    agenda = f"{base}/children/{pupil_id}/agenda"
    for n in range(rounds):
        for step in ("home", "agenda", "reserve"):
            started = time.perf_counter()
            if step == "home":
                answer = http.get(f"{base}/")
            elif step == "agenda":
                answer = http.get(agenda, params={"week": day})
                token = TOKEN.search(answer.text).group(1)
            else:
                answer = http.post(agenda, data={"csrf_token": token, "day": day,  # in place, as portal.js does
                                                 "choice": "normal" if n % 2 == 0 else "none"},
                                   headers={"X-Requested-With": "fetch"})
            times.append(time.perf_counter() - started)
            if answer.status_code != 200:
                errors.append(f"{step}: {answer.status_code}")


def hello(base: str, requests_each: int, times: list, errors: list) -> None:
    http = requests.Session()
    for _ in range(requests_each):
        started = time.perf_counter()
        answer = http.get(f"{base}/healthz")
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            errors.append(f"healthz: {answer.status_code}")


def crowd(target, args_for, parents: int) -> tuple[list[float], list[str], float]:
    times: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=target, args=(*args_for(n), times, errors)) for n in range(parents)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, errors, time.perf_counter() - started


def cpu_ticks() -> tuple[int, int] | None:
    """(stolen, all) CPU ticks from Linux's /proc/stat: how much of the run the hypervisor took."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return fields[7], sum(fields)


def server_cpu_s(master: int) -> float:
    """CPU seconds used so far by gunicorn's master and its workers (Linux's /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == master or int(fields[1]) == master:  # fields[1]: the parent's pid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def spread(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def wait_until_serving(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("gunicorn did not answer within 60 s")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20, help="home → agenda → reserve cycles per parent")
    parser.add_argument("--blocks", type=int, default=10, help="turns of floor then portal (divides --rounds)")
    parser.add_argument("--production-settings", action="store_true",
                        help="gunicorn with sync_server/web/gunicorn_config.py (gthread) instead of 2 sync workers")
    args = parser.parse_args()
    if args.rounds % args.blocks:
        parser.error("--blocks must divide --rounds")
    work = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    port = free_port()
    try:
        logins = prepare(work, args.parents)
        env = {**os.environ, "REFECTORY_SERVER_INSTANCE": str(work), "REFECTORY_SESSION_COOKIE_SECURE": "false",
               # every simulated parent logs in from 127.0.0.1: the per-address login throttle is lifted
               "REFECTORY_LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",
               "REFECTORY_MAIL_HOST": "127.0.0.1", "REFECTORY_MAIL_PORT": "1"}
        log = (work / "gunicorn.log").open("w")
        workers = (["--config", "python:sync_server.web.gunicorn_config"] if args.production_settings
                   else ["--workers", "2"])
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", *workers, "--bind", f"127.0.0.1:{port}",
                                   "--log-level", "warning", "sync_server:create_app()"], env=env, cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base)
            sessions = [logged_in(base, login, password) for login, password, _pupil in logins]  # untimed
            rounds = args.rounds // args.blocks
            floor, floor_errors, floor_s, portal, portal_errors, portal_s = [], [], 0.0, [], [], 0.0
            ticks_before = cpu_ticks()
            server_before, client_before = server_cpu_s(server.pid), time.process_time()
            for _block in range(args.blocks):
                times, errors, took = crowd(hello, lambda n: (base, rounds * 3), args.parents)
                floor, floor_errors, floor_s = floor + times, floor_errors + errors, floor_s + took
                times, errors, took = crowd(parent, lambda n: (base, sessions[n], logins[n][2], rounds), args.parents)
                portal, portal_errors, portal_s = portal + times, portal_errors + errors, portal_s + took
            server_cpu, client_cpu = server_cpu_s(server.pid) - server_before, time.process_time() - client_before
        finally:
            server.terminate()
            server.wait(10)
            log.close()
        if floor_errors or portal_errors:
            raise SystemExit(f"errors: {(floor_errors + portal_errors)[:5]}")
        floor_p50, floor_p95 = spread(floor)
        portal_p50, portal_p95 = spread(portal)
        setup = "gthread 2 workers × 256 threads" if args.production_settings else "2 sync workers"
        print(f"portal_ms_p50={portal_p50:.1f} p95={portal_p95:.1f} requests_per_s={len(portal) / portal_s:.0f}"
              f" ({args.parents} parents × {args.rounds} × home → agenda → reserve in {args.blocks} blocks;"
              f" gunicorn {setup}, SQLite)")
        print(f"hello_ms_p50={floor_p50:.1f} p95={floor_p95:.1f} requests_per_s={len(floor) / floor_s:.0f}"
              f" (the floor: /healthz, same clients, same number of requests)")
        print(f"cpu_s server={server_cpu:.1f} clients={client_cpu:.1f} (gunicorn's processes and this one's 50"
              f" client threads over the {floor_s + portal_s:.0f} s of both runs, on {os.cpu_count()} cores)")
        ticks_after = cpu_ticks()
        if ticks_before and ticks_after and ticks_after[1] > ticks_before[1]:
            stolen = (ticks_after[0] - ticks_before[0]) / (ticks_after[1] - ticks_before[1])
            print(f"cpu_steal={100 * stolen:.1f}% (of this machine's CPU time taken by its hypervisor during the runs;"
                  " above ~10 % the figures wander)")
        print(f"p95_ratio={portal_p95 / floor_p95:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
