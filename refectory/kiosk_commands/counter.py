"""`refectory kiosk serve|block-badge|meals`: the counter's daily exceptions, the twins of the
screen's (the same `CashierDesk` calls). A meal of today is cancelled with `reverse`, given the
id `meals` lists.

Exit codes as `tap`: 0 done (for `serve`: served), 2 meal refused, 1 error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from domain.agenda import day_in_words
from domain.clock import local, parse_day_within_window, service_date
from domain.money import format_chf
from kiosk import counter_exceptions
from kiosk.cashier_desk import CashierDesk
from kiosk.config import load_config
from kiosk.texts import tap_lines, tap_payload
from refectory.cli_support import _, _emit, json_option
from refectory.kiosk_commands.ledger import (
    EXIT_REFUSED,
    _now,
    _service,
    _with_options,
    at_option,
    cashier_options,
    data_option,
    reports_errors,
)

reason_option = click.option("--reason", required=True, help="Why (recorded with the operation, one line).")


def _desk(data_dir: Path, cashier_id: str, pin: str) -> CashierDesk:
    """A desk opened by the cashier's PIN; these operations print nothing."""
    desk = CashierDesk(_service(data_dir), None, load_config(data_dir).canteen, _)
    desk.unlock(cashier_id, pin)
    return desk


@click.command()
@data_option
@_with_options(cashier_options)
@click.option("--pupil", "pupil_id", required=True, help="Pupil id (the pupil forgot the badge).")
@reason_option
@at_option
@json_option
@reports_errors
def serve(data_dir: Path, cashier_id: str, pin: str, pupil_id: str, reason: str, at: str | None,
          as_json: bool) -> None:
    """Serve a pupil who forgot the badge, by the rules of a tap. Exit 0 served, 2 refused."""
    result = _desk(data_dir, cashier_id, pin).serve_without_badge(pupil_id, reason, pin=pin, now=_now(at))
    payload = {**tap_payload(result, _), "uid": None, "without_badge": True, "cashier_id": cashier_id}
    _emit(as_json, payload, tap_lines(result, _))
    if not result.verdict.served:
        sys.exit(EXIT_REFUSED)


@click.command("block-badge")
@data_option
@_with_options(cashier_options)
@click.option("--uid", required=True, help="UID of the pupil's lost badge.")
@reason_option
@at_option
@json_option
@reports_errors
def block_badge(data_dir: Path, cashier_id: str, pin: str, uid: str, reason: str, at: str | None,
                as_json: bool) -> None:
    """Block a pupil's lost badge: refused here at once, at every kiosk once synced."""
    block = _desk(data_dir, cashier_id, pin).block_badge(uid, reason, now=_now(at))
    _emit(as_json, {"ok": True, "block_id": block.id, "uid": block.uid, "pupil_id": block.pupil_id,
                    "reason": block.reason},
          [_("Badge {uid} of {pupil_id} is blocked: refused here now, at the other kiosks after the next sync.")
           .format(uid=block.uid, pupil_id=block.pupil_id)])


@click.command()
@data_option
@click.option("--pupil", "pupil_id", required=True, help="Pupil id.")
@click.option("--date", "day", default=None, help="Day YYYY-MM-DD (default: today).")
@at_option
@json_option
@reports_errors
def meals(data_dir: Path, pupil_id: str, day: str | None, at: str | None, as_json: bool) -> None:
    """A pupil's meals of a day served at this kiosk and not cancelled, with the ids `reverse` takes."""
    service = _service(data_dir)
    pupil = service.pupil_for(pupil_id=pupil_id)
    when = parse_day_within_window(day) if day else service_date(_now(at))
    found = counter_exceptions.meals_today(service.store, pupil.pupil_id, when)
    rows = [{"entry_id": e.id, "served_at": local(e.occurred_at).strftime("%H:%M"), "price_cents": -e.amount_cents,
             "without_badge": counter_exceptions.served_without_badge(e), "note": e.note} for e in found]
    lines = [f"{row['served_at']}  {format_chf(row['price_cents'])}  {row['entry_id']}"
             + (f"  ({_('without badge')}: {row['note']})" if row["without_badge"] else "") for row in rows]
    _emit(as_json, {"ok": True, "pupil_id": pupil.pupil_id, "day": when.isoformat(), "meals": rows},
          lines or [_("No meal of {name} on {day} at this kiosk.").format(
              name=f"{pupil.first_name} {pupil.last_name}", day=day_in_words(when).render(_))])
