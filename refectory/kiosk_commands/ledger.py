"""`refectory kiosk ...`: thin click commands over `KioskService` (the same core the UI drives).

Exit codes: 0 success (for `tap`: served), 2 meal refused, 1 error. `--json` prints one object;
an error is `{"ok": false, "error": <code>, "message": ...}`, a failing disk or database too.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import click

from domain.clock import parse_day_within_window, parse_instant, service_date, utc_now
from domain.money import format_chf
from domain.settings import DEFAULTS
from kiosk.service import KioskService
from kiosk.store import DB_NAME, Store
from kiosk.store_faults import database_faults
from kiosk.texts import report_lines, tap_lines, tap_payload
from refectory import cli_support
from refectory.cli_support import _, _emit, json_option, language

EXIT_REFUSED = 2

data_option = click.option(
    "--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    envvar="REFECTORY_KIOSK_DATA", help="Kiosk data folder (holds kiosk.db).",
)
at_option = click.option(
    "--at", "at", default=None, help="Act as if now were this ISO 8601 instant (Zurich time if no offset)."
)
cashier_options = [
    click.option("--cashier", "cashier_id", required=True, help="Cashier id."),
    click.option("--pin", prompt=True, hide_input=True, help="Cashier PIN (asked if omitted)."),
]


def _with_options(options: list) -> Callable:
    def apply(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def reports_errors(command: Callable) -> Callable:
    """refectory's error report (a message, the `--json` object, exit 1), the kiosk database's
    faults included: reading a damaged or unreadable file fails as clearly as writing to it."""

    @functools.wraps(command)
    def with_database_faults(*args, **kwargs):
        with database_faults(Path(kwargs["data_dir"]) / DB_NAME):
            return command(*args, **kwargs)

    return cli_support.reports_errors(with_database_faults)


def _service(data_dir: Path) -> KioskService:
    return KioskService(Store.open(data_dir))


def _now(at: str | None):
    return parse_instant(at) if at else utc_now()


@click.command()
@data_option
@click.argument("uid")
@at_option
@json_option
@reports_errors
def tap(data_dir: Path, uid: str, at: str | None, as_json: bool) -> None:
    """Tap a badge: serve (and debit) a meal or say why not. Exit 0 served, 2 refused."""
    result = _service(data_dir).tap(uid, now=_now(at))
    verdict = result.verdict
    payload = tap_payload(result, _)
    _emit(as_json, payload, tap_lines(result, _))
    if not verdict.served:
        sys.exit(EXIT_REFUSED)


@click.command()
@data_option
@click.option("--uid", default=None, help="Pupil's badge UID.")
@click.option("--pupil", "pupil_id", default=None, help="Pupil id.")
@json_option
@reports_errors
def balance(data_dir: Path, uid: str | None, pupil_id: str | None, as_json: bool) -> None:
    """Show a pupil's balance."""
    if (uid is None) == (pupil_id is None):
        raise click.UsageError(_("Give exactly one of --uid or --pupil."))
    service = _service(data_dir)
    pupil = service.pupil_for(uid=uid, pupil_id=pupil_id)
    cents = service.balance(pupil.pupil_id)
    _emit(as_json, {"ok": True, "pupil_id": pupil.pupil_id, "balance_cents": cents},
          [f"{pupil.first_name} {pupil.last_name} ({pupil.class_name}): {format_chf(cents)}"])


@click.command()
@data_option
@click.option("--date", "day", default=None, help="Day YYYY-MM-DD (default: today).")
@click.option("--counted", default=None, metavar="AMOUNT",
              help="Record the cash counted in the drawer for that day (CHF, e.g. 245.50); a recount replaces it.")
@at_option
@json_option
@reports_errors
def report(data_dir: Path, day: str | None, counted: str | None, at: str | None, as_json: bool) -> None:
    """End-of-day cash report: per cashier, top-ups, cancellations and net cash; with --counted,
    the cash counted in the drawer and its difference from the net cash."""
    service = _service(data_dir)
    now = _now(at)
    when = parse_day_within_window(day) if day else service_date(now)
    report_ = service.cash_report(when) if counted is None else service.count_cash(when, counted, now=now)
    _emit(as_json, {"ok": True, **report_.to_dict()}, report_lines(report_, _, language()))


@click.group()
def settings() -> None:
    """Prices, service hours, thresholds and limits."""


@settings.command("set")
@data_option
@click.argument("key")
@click.argument("value")
@json_option
@reports_errors
def settings_set(data_dir: Path, key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE, e.g. `price.primary 7.50` or `service.start 11:30`."""
    key, canonical = _service(data_dir).set_setting(key, value)
    _emit(as_json, {"ok": True, "key": key, "value": canonical}, [f"{key} = {canonical}"])


@settings.command("show")
@data_option
@json_option
@reports_errors
def settings_show(data_dir: Path, as_json: bool) -> None:
    """Show every setting (stored values over defaults)."""
    with Store.open(data_dir) as store:
        values = {**DEFAULTS, **store.stored_settings()}
    _emit(as_json, {"ok": True, "settings": values}, [f"{k} = {v}" for k, v in sorted(values.items())])
