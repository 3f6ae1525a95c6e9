"""The benchmarks still run and print their figures (small sizes; figures are not asserted)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_tap_benchmark_runs_and_ends_with_its_overhead_over_the_raw_sql_tap(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "kiosk_tap.py"), "--entries", "5000", "--pupils", "100",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("overhead_ratio_p99=") and float(lines[-1].split("=")[1]) > 0
    assert any(line.startswith("floor_tap_p50_ms=") for line in lines)
    assert any(line.startswith("ratio_p99=") for line in lines)  # the bare-commit figures are still printed
    assert any(line.startswith("peak_rss_mb=") for line in lines)
    assert list(tmp_path.iterdir()) == []  # the benchmark cleans up after itself


def test_the_badge_path_benchmark_runs_through_pcscd_and_ends_with_our_overhead():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "badge_path.py"), "--taps", "3"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "taps=3 reader=pcsc (pcscd + vpcd, virtual card)"
    assert lines[-1].startswith("overhead_ms_p50=") and float(lines[-1].split("=")[1]) > 0


def test_the_portal_benchmark_runs_under_gunicorn_and_ends_with_its_ratio():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "portal.py"), "--parents", "3", "--rounds", "2", "--blocks", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("portal_ms_p50=") and lines[1].startswith("hello_ms_p50=")
    assert lines[-1].startswith("p95_ratio=") and float(lines[-1].split("=")[1]) > 0


def test_the_money_benchmark_runs_and_ends_with_the_statement_time():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "money.py"), "--credits", "200", "--children", "20", "--runs", "3"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("bank_import_credits_per_s=") and lines[1].startswith("statement_ms_p95=")
    assert lines[2].startswith("tax_statements_s=")
    assert lines[-1].startswith("statement_ms_p50=") and float(lines[-1].split("=")[1]) > 0


@pytest.mark.parametrize("database, sizes", [
    pytest.param("sqlite", ["--entries", "1000", "--week", "600", "--bootstrap-entries", "2000", "--pupils", "100"],
                 id="sqlite"),
    pytest.param("postgresql", ["--entries", "500", "--week", "100", "--bootstrap-entries", "200", "--pupils", "20"],
                 id="postgresql"),
])
def test_the_sync_benchmark_runs_over_loopback_and_ends_with_its_ingest_ratio(database, sizes):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sync.py"), "--database", database, *sizes],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("push_ingest_entries_per_s=") and lines[2].startswith("week_offline_sync_s=")
    assert lines[-1].startswith("ingest_ratio=") and float(lines[-1].split("=")[1]) > 0


def test_the_cli_start_benchmark_runs_taps_as_fresh_processes_that_load_nothing_of_the_server(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cli_start.py"), "--runs", "3", "--pupils", "2",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    tap, floor = lines[-1].split(" ")
    assert tap.startswith("tap_start_p50_s=") and float(tap.split("=")[1]) > 0
    assert floor.startswith("floor_p50_s=") and float(floor.split("=")[1]) > 0
    modules = next(line for line in lines if line.startswith("tap_modules="))
    assert int(modules.split()[0].split("=")[1]) > 0 and modules.split()[1] == "server_modules=none"
    assert list(tmp_path.iterdir()) == []  # the benchmark cleans up after itself


def test_the_balances_benchmark_runs_on_both_databases_and_ends_with_the_overviews_ratio():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "balances.py"), "--pupils", "50", "--entries", "1000",
         "--runs", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.strip().splitlines()
    for kind in ("sqlite", "postgresql"):
        assert any(line.startswith(f"{kind}_overview_ms_p50=") for line in lines)
        assert any(line.startswith(f"{kind}_push_ms_p50=") for line in lines)
        assert any(line.startswith(f"{kind}_push_trigger_ms_p50=") for line in lines)
    assert lines[-1].startswith("overview_ratio=") and float(lines[-1].split("=")[1]) > 0


def test_the_kiosk_screen_benchmark_draws_verdicts_and_ends_with_its_p99():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kiosk_ui.py"), "--taps", "20"],
                            capture_output=True, text=True, timeout=300, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("cold_start_s=") and any(line.startswith("rss_kiosk_over_floor_mb=") for line in lines)
    assert lines[-1].startswith("tap_to_screen_p99_ms=") and float(lines[-1].split("=")[1]) > 0


def test_the_city_scale_benchmark_runs_locust_through_nginx_and_ends_with_the_rushs_portal_p95():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("data_build_s=")
    assert any(line.startswith("rush_requests_per_s=") and line.endswith(" run_errors=0") for line in lines), lines
    assert any(line.startswith("capacity_parents_per_min=") for line in lines)
    assert lines[-3].startswith("credit_to_kiosk_s_p99=") and float(lines[-3].split("=")[1]) > 0
    assert lines[-2].startswith("sync_round_p99_ms=") and float(lines[-2].split("=")[1]) > 0
    assert lines[-1].startswith("rush_portal_p95_ms=") and float(lines[-1].split("=")[1]) > 0
