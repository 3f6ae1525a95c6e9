"""`refectory server meal book|cancel` and `refectory server exclusion set|lift`: the back office's
pupil meals page from the command line (the same service functions, the same audit entries)."""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import parse_day
from domain.meals import ReservationKind
from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import writing
from sync_server.families import exclusions, reservations
from sync_server.families.letters import canteen


@click.group()
def meal() -> None:
    """Book or cancel a pupil's meal for a family that phoned or wrote (the family gets the e-mail)."""


def _change(instance: Path | None, pupil_id: str, day_text: str, kind: ReservationKind | None,
            override: str | None, as_json: bool) -> None:
    app = _app(instance)
    now = app.config["CLOCK"]()
    day = parse_day(day_text)
    with writing(app.extensions["refectory.engine"]) as conn:
        done = reservations.change_for_pupil(conn, pupil_id, day, kind, now, override=override,
                                             settings=current_settings(conn), portal_url=app.config["PORTAL_URL"],
                                             canteen=canteen(app.config))
        if done.before != done.after:
            action, subject, detail = reservations.audit_entry(done, override)
            audit.record(conn, audit.command_line_actor(), action, subject, now, detail)
    if done.before == done.after:
        line = _("Nothing to change: {name} already has that on {day}.")
    else:
        line = _("Reservation cancelled for {name} on {day}.") if kind is None else \
            _("Reservation recorded for {name} on {day}.")
    _emit(as_json, {"ok": True, "pupil_id": pupil_id, "day": day.isoformat(),
                    "before": str(done.before) if done.before else None,
                    "after": str(done.after) if done.after else None, "changed": done.before != done.after},
          [line.format(name=done.child.first_name, day=day.isoformat())])


_override = click.option("--override", default=None, metavar="REASON",
                         help="Go past the families' deadline; the reason is recorded in the journal.")


@meal.command("book")
@instance_option
@click.argument("pupil_id")
@click.option("--day", "day_text", required=True, help="The service day, YYYY-MM-DD.")
@click.option("--special", is_flag=True, help="A special meal (default: a normal meal).")
@_override
@json_option
@reports_errors
def meal_book(instance: Path | None, pupil_id: str, day_text: str, special: bool, override: str | None,
              as_json: bool) -> None:
    """Book a meal for PUPIL_ID on --day."""
    _change(instance, pupil_id, day_text, ReservationKind.SPECIAL if special else ReservationKind.NORMAL, override,
            as_json)


@meal.command("cancel")
@instance_option
@click.argument("pupil_id")
@click.option("--day", "day_text", required=True, help="The service day, YYYY-MM-DD.")
@_override
@json_option
@reports_errors
def meal_cancel(instance: Path | None, pupil_id: str, day_text: str, override: str | None, as_json: bool) -> None:
    """Cancel PUPIL_ID's meal on --day."""
    _change(instance, pupil_id, day_text, None, override, as_json)


@click.group()
def exclusion() -> None:
    """Exclude a pupil from the canteen (refused at every kiosk, with the reason), or lift it."""


@exclusion.command("set")
@instance_option
@click.argument("pupil_id")
@click.option("--reason", required=True, help="Shown at the kiosk's refusal and on the family's portal.")
@json_option
@reports_errors
def exclusion_set(instance: Path | None, pupil_id: str, reason: str, as_json: bool) -> None:
    """Exclude PUPIL_ID: the kiosks refuse the pupil's meals from their next sync."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        done = exclusions.exclude(conn, pupil_id, reason, now)
        audit.record(conn, audit.command_line_actor(), "exclusion.set", pupil_id, now, done.reason)
    _emit(as_json, {"ok": True, "pupil_id": pupil_id, "reason": done.reason},
          [_("{pupil_id} is excluded: the kiosks refuse the pupil's meals from their next sync.").format(
              pupil_id=pupil_id)])


@exclusion.command("lift")
@instance_option
@click.argument("pupil_id")
@json_option
@reports_errors
def exclusion_lift(instance: Path | None, pupil_id: str, as_json: bool) -> None:
    """Lift PUPIL_ID's exclusion: the kiosks serve the pupil again from their next sync."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        done = exclusions.lift(conn, pupil_id, now)
        audit.record(conn, audit.command_line_actor(), "exclusion.lift", pupil_id, now, done.reason)
    _emit(as_json, {"ok": True, "pupil_id": pupil_id},
          [_("{pupil_id}'s exclusion is lifted.").format(pupil_id=pupil_id)])
