"""`refectory kiosk tap` from process start to its answer, against the interpreter starting alone.

Builds a kiosk data folder through the command itself (`kiosk init`, `import-pupils` of a small
roster, a cashier and a cash top-up for each pupil), then runs `refectory kiosk tap --data DIR UID`
as a fresh process N times, each on a pupil and school day not yet served (`--at`), so that every
run decides and commits a meal. The floor is `python -c pass` (the same interpreter and venv, so
the same site start-up), run between the taps so that both meet the same machine. Bytecode is
cached as an installed wheel has it, in a folder of the run's own (`PYTHONPYCACHEPREFIX`), and so
is the compiled message catalogue (`XDG_CACHE_HOME`); one untimed run of each warms them.
Also prints what the tap imports (from `-X importtime`): how many modules, the heaviest, and
whether any part of the server or of the hardware is among them (none may be).
Last line: `tap_start_p50_s=<x> floor_p50_s=<y>`.

Usage: .venv/bin/python benchmarks/cli_start.py [--runs 40] [--pupils 4] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_DAY = date(2026, 11, 30)  # a Monday; taps at noon, Zurich time
TOP_UP = "500"  # CHF, the largest top-up: 71 meals at CHF 7.00
MEALS_PER_PUPIL = 71
FORBIDDEN = ("sync_server", "flask", "sqlalchemy", "kivy", "escpos")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def command() -> list[str]:
    """`refectory` as a user runs it: the venv's console script, else `python -m refectory`."""
    script = Path(sys.executable).with_name("refectory")
    return [str(script)] if script.exists() else [sys.executable, "-m", "refectory"]


def child_environment(work: Path) -> dict[str, str]:
    """This checkout's code, with bytecode and catalogue cached in the run's own folder."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONPYCACHEPREFIX": str(work / "pycache"),
           "XDG_CACHE_HOME": str(work / "cache"), "REFECTORY_LANG": "fr"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def uid_of(n: int) -> str:
    return f"04B0{n:04X}"


def school_days():
    day = FIRST_DAY
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def build(data: Path, pupils: int, env: dict[str, str]) -> None:
    roster = data.parent / "roster.csv"
    roster.write_text("pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n" + "".join(
        f"P{n:03d},Prénom,Nom{n},5A,primary,{uid_of(n)},,F{n:03d}\n" for n in range(pupils)), encoding="utf-8")
    refectory = [*command(), "kiosk"]
    steps = [["init", "--data", str(data), "--kiosk-id", "BENCH"],
             ["import-pupils", "--data", str(data), str(roster)],
             ["cashier", "add", "--data", str(data), "--id", "anne", "--name", "Anne", "--pin", "1234"]]
    steps += [["topup", "--data", str(data), "--cashier", "anne", "--pin", "1234", "--pupil", f"P{n:03d}",
               "--amount", TOP_UP, "--at", f"{FIRST_DAY}T09:00"] for n in range(pupils)]
    for step in steps:
        subprocess.run([*refectory, *step], env=env, check=True, capture_output=True, timeout=120)


def taps(data: Path, runs: int, pupils: int) -> list[list[str]]:
    """One argument list per run: every pupil once per school day, so each tap is served."""
    days = school_days()
    plan = []
    while len(plan) < runs:
        day = next(days)
        plan += [["kiosk", "tap", "--data", str(data), uid_of(n), "--at", f"{day}T12:00"] for n in range(pupils)]
    return plan[:runs]


def timed(argv: list[str], env: dict[str, str], served: bool) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if served and done.returncode != 0:  # a refused or failed tap would time another path
        raise SystemExit(f"tap not served (exit {done.returncode}): {done.stdout}{done.stderr}")
    return elapsed


def imports(argv: list[str], env: dict[str, str]) -> list[tuple[int, int, str]]:
    """(cumulative µs, depth, module) for every module a `refectory` run imports, from `-X importtime`."""
    script = command()
    python_args = script[1:] if script[0] == sys.executable else script
    done = subprocess.run([sys.executable, "-X", "importtime", *python_args, *argv], env=env, capture_output=True,
                          text=True, timeout=120)
    found = []
    for line in done.stderr.splitlines():
        matched = IMPORT_LINE.match(line)
        if matched:
            found.append((int(matched[2]), len(matched[3]) // 2, matched[4]))
    return found


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--pupils", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: the temporary folder)")
    args = parser.parse_args()
    if args.runs > args.pupils * MEALS_PER_PUPIL:
        parser.error(f"--runs is at most {MEALS_PER_PUPIL} per pupil: add --pupils")

    work = Path(tempfile.mkdtemp(prefix="bench-cli-", dir=args.dir))
    try:
        env = child_environment(work)
        data = work / "kiosk"
        build(data, args.pupils, env)
        plan = taps(data, args.runs + 2, args.pupils)
        script = command()
        floor_argv = [sys.executable, "-c", "pass"]
        loaded = imports(plan.pop(), env)
        timed([*script, *plan.pop()], env, served=True)  # warm-up: bytecode and catalogue caches
        timed(floor_argv, env, served=False)
        tap_s, floor_s = [], []
        for argv in plan:
            tap_s.append(timed([*script, *argv], env, served=True))
            floor_s.append(timed(floor_argv, env, served=False))

        names = [name for _, _, name in loaded]
        server = sorted({name for name in names if name.split(".")[0] in FORBIDDEN})
        heaviest = sorted(((us, name) for us, depth, name in loaded if depth == 0), reverse=True)[:6]
        tap50, tap90 = percentile(tap_s, 0.5), percentile(tap_s, 0.9)
        floor50, floor90 = percentile(floor_s, 0.5), percentile(floor_s, 0.9)
        print(f"taps={len(tap_s)} pupils={args.pupils} (fresh process each, every tap served and committed)")
        print(f"tap_s_p50={tap50:.3f} tap_s_p90={tap90:.3f} tap_s_mean={statistics.mean(tap_s):.3f}")
        print(f"floor_s_p50={floor50:.3f} floor_s_p90={floor90:.3f} (python -c pass, same venv)")
        print(f"tap_over_floor_p50={tap50 / floor50:.1f} ours_s_p50={tap50 - floor50:.3f}")
        print(f"tap_modules={len(names)} server_modules={','.join(server) or 'none'}")
        print("heaviest_imports_ms " + " ".join(f"{name}={us / 1000:.1f}" for us, name in heaviest))
        print(f"tap_start_p50_s={tap50:.3f} floor_p50_s={floor50:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
