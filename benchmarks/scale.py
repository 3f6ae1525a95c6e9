"""A city on one machine: 400 kiosks syncing and 2,000 parents in the 07:45-08:15 rush, on
PostgreSQL, through nginx in front of gunicorn app servers, measured with Locust.

1. A throwaway PostgreSQL cluster; the data set (benchmarks/scale_data.py: 20,000 pupils in 10,000
   families, 2,000 parent logins, 400 kiosks, 2,000,000 entries) bulk-loaded once into a template
   database, checked, and copied for the run (CREATE DATABASE ... TEMPLATE).
2. The stack (refectory/testing/server_stack.py): Redis, `--app-servers` gunicorns of `--workers`
   workers of `--worker-class`, nginx; a few API calls check that the server works on the data.
3. Locust, headless in its own process (benchmarks/locustfile.py): the kiosks alone for
   `--warmup-s`, then the rush (`--parents` arriving over `--rush-s`, faster toward the end), then
   capacity steps at rising arrival rates until the portal's p95 in a step passes 200 ms.

The rush is compressed in time (30 minutes into `--rush-s`): parents arrive `1800 / rush-s` times
faster than in a real rush; kiosks sync every `--round-s` as they do in production and push lunch's
taps (150 in 2 hours each, `--taps-per-round` per round). Printed: the portal's p50/p95/p99 and the
sync round's (push + pull + heartbeat) p50/p99/max in the rush, requests per second, errors, the
credit's way from webhook to kiosk, the CPU share of the server (app servers, PostgreSQL, nginx,
Redis) and of Locust, each step's portal p95 and the capacity (parents per minute at the last step
under the limit). Last lines: `sync_round_p99_ms=<x>`, then `rush_portal_p95_ms=<x>`.

Usage: .venv/bin/python benchmarks/scale.py [--quick] [--worker-class gthread --threads 8] ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scale_data  # noqa: E402

from domain.clock import service_date, utc_now  # noqa: E402
from kiosk.sync_agent import LONG_POLL_WAIT  # noqa: E402
from kiosk.sync_scheduler import LONG_POLL_SPACING  # noqa: E402
from refectory.testing.pg_cluster import ThrowawayPostgres  # noqa: E402
from refectory.testing.server_stack import server_stack  # noqa: E402
from sync_server.db import make_engine  # noqa: E402
from sync_server.web import gunicorn_config  # noqa: E402

RUSH_WINDOW_S = 30  # the rush's portal latency and the machine's load, window by window
P95_LIMIT_MS = 200
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
# One worker per app server: starting a worker (importing the app) is most of a quick run's CPU.
QUICK = {"pupils": 1_000, "families": 500, "logins": 100, "kiosks": 10, "schools": 5, "entries": 10_000,
         "parents": 40, "warmup_s": 1, "rush_s": 5, "drain_s": 0.5, "step_s": 2, "step_rates": [600], "round_s": 4,
         "taps_per_round": 1, "webhook_s": 1, "pause_s": [0.2, 0.5], "workers": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: " + ", ".join(
        f"{name}={value}" for name, value in QUICK.items()))
    parser.add_argument("--pupils", type=int, default=20_000)
    parser.add_argument("--families", type=int, default=10_000)
    parser.add_argument("--logins", type=int, default=2_000)
    parser.add_argument("--kiosks", type=int, default=400)
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--schools", type=int, default=100, help="the kiosks and pupils shared among them")
    parser.add_argument("--parents", type=int, default=2_000, help="arriving in the rush")
    parser.add_argument("--warmup-s", type=float, default=30, help="kiosks alone before the rush")
    parser.add_argument("--rush-s", type=float, default=300, help="the 30 minutes of the rush, compressed")
    parser.add_argument("--drain-s", type=float, default=20, help="without arrivals, before each step")
    parser.add_argument("--step-s", type=float, default=45)
    parser.add_argument("--step-rates", type=lambda text: [int(x) for x in text.split(",")],
                        default=[100, 200, 400, 800, 1_200, 1_600, 2_400], help="parents per minute, in turn")
    parser.add_argument("--round-s", type=float, default=60, help="a kiosk's sync interval")
    parser.add_argument("--taps-per-round", type=float, default=None,
                        help="default: 150 taps in 2 hours at the round's interval")
    parser.add_argument("--webhook-s", type=float, default=3)
    parser.add_argument("--pause-s", type=lambda text: [float(x) for x in text.split(",")], default=[2, 5],
                        help="a parent's pause between clicks, from,to")
    parser.add_argument("--app-servers", type=int, default=2)
    parser.add_argument("--kiosk-app-servers", type=int, default=0,
                        help="of the app servers, how many serve only the kiosk API (0: all serve everything)")
    # By default the production unit's gunicorn settings (sync_server/web/gunicorn_config.py).
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--worker-class", default=None)
    args = parser.parse_args()
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    taps = args.taps_per_round if args.taps_per_round is not None else 150 / 7200 * args.round_s
    size = scale_data.Size(args.pupils, args.families, args.logins, args.kiosks, args.entries, args.schools)

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work, ThrowawayPostgres() as pg:
        work = Path(work)
        started = time.monotonic()
        pg.create_database("city_template")
        city = scale_data.build(pg.url("city_template"), size, utc_now())
        scale_data.check(pg.url("city_template"))
        print(f"data_build_s={time.monotonic() - started:.0f} ({size.pupils} pupils, {size.families} families, "
              f"{size.logins} logins, {size.kiosks} kiosks, {size.entries} entries; COPY into a template database)")
        url = pg.create_database("city", template="city_template")
        settings = {"REFECTORY_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",  # every parent is 127.0.0.1
                    "REFECTORY_DATATRANS_MERCHANT_ID": city.merchant_id, "REFECTORY_DATATRANS_PASSWORD": "bench",
                    "REFECTORY_DATATRANS_HMAC_KEY": city.hmac_key}
        with server_stack(work / "instance", database_url=url, app_servers=args.app_servers, workers=args.workers,
                          threads=args.threads, worker_class=args.worker_class, settings=settings,
                          kiosk_app_servers=args.kiosk_app_servers) as stack:
            sanity_check(stack.url, city)
            plan = {"parents": args.parents, "warmup_s": args.warmup_s, "rush_s": args.rush_s,
                    "drain_s": args.drain_s, "step_s": args.step_s,
                    "step_rates": args.step_rates, "round_s": args.round_s, "taps_per_round": taps,
                    "webhook_s": args.webhook_s, "pause_s": args.pause_s, "reservations": 2,
                    "p95_limit_ms": P95_LIMIT_MS, "days": next_week(),
                    "long_poll_s": LONG_POLL_WAIT, "long_poll_spacing_s": LONG_POLL_SPACING}  # as a kiosk does
            server_pids = stack.pids() + postgres_pids(pg)
            cpu_before, machine_before, wall_before = cpu_seconds(server_pids), machine_ticks(), time.monotonic()
            with LockWatch(url) as watch:
                locust_cpu, output = run_locust(work, stack.url, city, plan)
            wall = time.monotonic() - wall_before
            server_cpu = cpu_seconds(stack.pids() + postgres_pids(pg)) - cpu_before
            machine = [after - before for before, after in zip(machine_before, machine_ticks(), strict=True)]
        report(output, args, taps, wall, server_cpu, locust_cpu, machine[0] / machine[1], watch)


def next_week() -> list[str]:
    today = service_date(utc_now())
    monday = today + timedelta(days=7 - today.weekday())
    return [(monday + timedelta(days=n)).isoformat() for n in range(5)]


def sanity_check(base: str, city: scale_data.City) -> None:
    """A kiosk pulls and beats, a parent logs in and sees a child's balance: the data set is one the
    server works on."""
    _kiosk_id, token, _pupils = city.kiosks[0]
    headers = {"Authorization": f"Bearer {token}"}
    page = requests.get(f"{base}/api/v1/sync/pull", params={"since": city.cursor - 5}, headers=headers, timeout=30)
    assert page.status_code == 200 and len(page.json()["changes"]) == 5, page.text[:300]
    beat = requests.post(f"{base}/api/v1/kiosks/heartbeat", headers=headers, timeout=30, json={
        "cursor": str(city.cursor), "pending": 0, "version": "bench", "clock": utc_now().isoformat()})
    assert beat.status_code == 200, beat.text[:300]
    http = requests.Session()
    login, _pupil = city.logins[0]
    form = http.get(f"{base}/login", timeout=30)
    answer = http.post(f"{base}/login", data={"csrf_token": TOKEN.search(form.text).group(1), "login": login,
                                              "password": city.password}, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 303), answer.text[:300]
    home = http.get(f"{base}/", timeout=30)
    assert home.status_code == 200 and "CHF" in home.text, home.text[:300]


def run_locust(work: Path, host: str, city: scale_data.City, plan: dict) -> tuple[float, Path]:
    """Locust headless in its own process; returns its CPU seconds and the folder of its output."""
    (work / "city.json").write_text(city.dump())
    (work / "plan.json").write_text(json.dumps(plan))
    env = {**os.environ, "SCALE_CITY": str(work / "city.json"), "SCALE_PLAN": str(work / "plan.json"),
           "SCALE_SAMPLES": str(work / "samples.jsonl"), "SCALE_PHASES": str(work / "phases.json")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(work / "locust.log", "wb") as log:
        result = subprocess.run([sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locustfile.py")),
                                 "--headless", "--host", host, "--csv", str(work / "locust"), "--only-summary",
                                 "--loglevel", "WARNING", "--stop-timeout", "5", "--exit-code-on-error", "0"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0 or not (work / "samples.jsonl").exists():
        raise SystemExit(f"locust failed ({result.returncode}):\n{(work / 'locust.log').read_text()[-4000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), work


def postgres_pids(pg: ThrowawayPostgres) -> list[int]:
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *(int(child) for child in children)]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of the processes living now (from /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine, from /proc/stat: what else ran beside the benchmark."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)  # all but idle and iowait


class LockWatch:
    """Samples PostgreSQL's backends twice a second in a thread of its own: how often an advisory lock
    is held (a kiosk's push, the feed's changes of records by key) and how many writers wait for one."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.samples: list[tuple[int, int, int]] = []  # (held, waiting, active)
        self.machine: list[tuple[float, tuple[int, int]]] = []  # (monotonic time, machine_ticks())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        query = text("SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted), "
                     "count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'), "
                     "count(*) FILTER (WHERE state = 'active') - 1 "
                     "FROM pg_stat_activity WHERE datname = current_database()")
        with self.engine.connect() as conn:
            while not self.stop.wait(0.5):
                self.samples.append(tuple(conn.execute(query).one()))
                self.machine.append((time.monotonic(), machine_ticks()))
                conn.rollback()

    def __enter__(self) -> LockWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.engine.dispose()

    def machine_share(self, start: float, end: float) -> float:
        """The machine's busy share of its CPU between two monotonic times, from the samples."""
        inside = [ticks for at, ticks in self.machine if start <= at <= end]
        if len(inside) < 2:
            return float("nan")
        return (inside[-1][0] - inside[0][0]) / max(1, inside[-1][1] - inside[0][1])

    def summary(self) -> str:
        count = len(self.samples) or 1
        held = sum(1 for held, _waiting, _active in self.samples if held) / count
        waiting = sum(waiting for _held, waiting, _active in self.samples) / count
        active = sum(active for _held, _waiting, active in self.samples) / count
        return (f"advisory_lock_held={100 * held:.0f}% of samples, writers_waiting_mean={waiting:.2f}, "
                f"active_backends_mean={active:.2f}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def report(output: Path, args, taps: float, wall: float, server_cpu: float, locust_cpu: float, machine: float,
           watch: LockWatch) -> None:
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    ran = json.loads((output / "phases.json").read_text())
    phases = ran["phases"]
    rush = next(phase for phase in phases if phase[0] == "rush")
    in_rush = [sample for sample in samples if rush[2] <= sample[0] < rush[3]]
    portal = [ms for _t, name, ms, _failed in in_rush if name.startswith("portal ")]
    rounds = [ms for _t, name, ms, _failed in in_rush if name == "sync round"]
    credits = [ms / 1000 for _t, name, ms, _failed in samples if name == "credit to kiosk"]
    http = [sample for sample in in_rush if sample[1] not in ("sync round", "credit to kiosk")]
    errors = [sample for sample in samples if sample[3]]
    cores = os.cpu_count() or 1
    compression = 1800 / args.rush_s
    print(f"load: {args.kiosks} kiosks every {args.round_s:.0f} s ({taps:.2f} taps per round), {args.parents} parents "
          f"over {args.rush_s:.0f} s ({compression:.1f}x a 30-minute rush: peak "
          f"{2 * args.parents * 60 / args.rush_s:.0f} parents/min), a webhook every {args.webhook_s:.0f} s; "
          f"{args.app_servers} app servers"
          f"{f' ({args.kiosk_app_servers} for the kiosk API only)' if args.kiosk_app_servers else ''}"
          f" x {args.workers or gunicorn_config.workers} "
          f"{args.worker_class or gunicorn_config.worker_class} workers"
          f" x {args.threads or gunicorn_config.threads} threads, nginx, PostgreSQL, Redis; "
          f"long-poll {'on' if ran['long_poll'] else 'off (not offered by the server)'}")
    print(f"rush_portal_ms p50={percentile(portal, 0.5):.0f} p95={percentile(portal, 0.95):.0f} "
          f"p99={percentile(portal, 0.99):.0f} ({len(portal)} requests)")
    print(f"rush_sync_round_ms p50={percentile(rounds, 0.5):.0f} p99={percentile(rounds, 0.99):.0f} "
          f"max={max(rounds, default=float('nan')):.0f} ({len(rounds)} rounds)")
    kinds = Counter((name, failure) for _t, name, _ms, failure in errors)
    by_phase = Counter(next((phase[0] for phase in phases if phase[2] <= t < phase[3]), "outside rush and steps")
                       for t, _name, _ms, _failure in errors)
    print(f"rush_requests_per_s={len(http) / (rush[3] - rush[2]):.0f} run_errors={len(errors)}"
          + (f" ({', '.join(f'{phase}: {count}' for phase, count in by_phase.items())})" if errors else "")
          + "".join(f"\n  error x{count}: {name}: {failure}" for (name, failure), count in kinds.most_common(8)))
    print(f"credit_to_kiosk_s p50={percentile(credits, 0.5):.1f} p99={percentile(credits, 0.99):.1f} "
          f"({len(credits)} webhooks)")
    requests_all = sum(1 for sample in samples if sample[1] not in ("sync round", "credit to kiosk"))
    print(f"server_cpu_ms_per_request={1000 * server_cpu / requests_all:.1f} (over the {requests_all} requests of the"
          " run: the server's CPU time divided by them, which others on the machine change little)")
    print(f"server_cpu_share={100 * server_cpu / wall / cores:.0f}% "
          f"locust_cpu_share={100 * locust_cpu / wall / cores:.0f}%"
          f" others_cpu_share={max(0.0, 100 * machine - 100 * (server_cpu + locust_cpu) / wall / cores):.0f}%"
          f" (of {cores} cores over {wall:.0f} s; server: app servers, PostgreSQL, nginx, Redis; others: the rest"
          " of the machine)")
    print(f"postgresql: {watch.summary()} (over the whole run)")
    by_page: dict[str, list[float]] = {}
    for _t, name, ms, _failed in in_rush:
        if name.startswith("portal "):
            by_page.setdefault(name, []).append(ms)
    print("rush by page: " + ", ".join(f"{name[7:]} p50={percentile(times, 0.5):.0f} p95={percentile(times, 0.95):.0f}"
                                       f" ({len(times)})" for name, times in sorted(by_page.items())))
    for start in range(int(rush[2]), int(rush[3]), RUSH_WINDOW_S):
        window = [ms for t, name, ms, _failed in in_rush if start <= t < start + RUSH_WINDOW_S
                  and name.startswith("portal ")]
        busy = watch.machine_share(ran["started"] + start, ran["started"] + start + RUSH_WINDOW_S)
        print(f"rush window {start - rush[2]:.0f}-{start - rush[2] + RUSH_WINDOW_S:.0f} s: portal "
              f"{len(window) / RUSH_WINDOW_S:.0f}/s p95={percentile(window, 0.95):.0f} ms, "
              f"machine busy {100 * busy:.0f}%")
    capacity, passed = 0, False
    for name, per_minute, start, end in phases:
        if name == "rush":
            continue
        step = [ms for t, sample_name, ms, _failed in samples if start <= t < end and sample_name.startswith("portal ")]
        p95 = percentile(step, 0.95)
        print(f"step parents_per_min={per_minute:.0f} portal_p95_ms={p95:.0f} ({len(step)} requests)")
        if p95 <= P95_LIMIT_MS and not passed:
            capacity = per_minute
        passed = passed or p95 > P95_LIMIT_MS
    print(f"capacity_parents_per_min={capacity:.0f} (the last arrival rate with the portal's p95 <= {P95_LIMIT_MS} ms"
          f"{'' if passed else '; no step passed it'})")
    print(f"credit_to_kiosk_s_p99={percentile(credits, 0.99):.1f}")
    print(f"sync_round_p99_ms={percentile(rounds, 0.99):.0f}")
    print(f"rush_portal_p95_ms={percentile(portal, 0.95):.0f}")


if __name__ == "__main__":
    main()
