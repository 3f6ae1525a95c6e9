"""`refectory server meal book|cancel`, `refectory server exclusion set|lift` and `refectory server
standing-order list|cancel`: the back office's pupil meals and standing orders pages from the
command line (the same service functions, the same audit entries)."""

from __future__ import annotations

from pathlib import Path

import click

from domain.agenda import day_in_words
from domain.clock import parse_day, service_date
from domain.meals import ReservationKind
from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import reading, writing
from sync_server.families import exclusions, reservations, standing_orders
from sync_server.families.letters import mail_details


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
                                             settings=current_settings(conn), **mail_details(app.config))
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
          [line.format(name=done.child.first_name, day=day_in_words(day).render(_))])


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


@click.group("standing-order")
def standing_order() -> None:
    """The families' standing orders: list those with days to come, or cancel one (the family gets the e-mail)."""


@standing_order.command("list")
@instance_option
@click.option("--school", default=None, help="Only this school's orders.")
@json_option
@reports_errors
def standing_order_list(instance: Path | None, school: str | None, as_json: bool) -> None:
    """Every standing order whose last day is today or later, by school, class and name."""
    app = _app(instance)
    today = service_date(app.config["CLOCK"]())
    with reading(app.extensions["refectory.engine"]) as conn:
        listed = [one for one in standing_orders.active(conn, today) if school is None or one.school == school]
    rows = [{"pupil_id": one.order.pupil_id, "name": f"{one.first_name} {one.last_name}", "class": one.class_name,
             "school": one.school, "weekdays": sorted(one.order.weekdays), "kind": str(one.order.kind),
             "until": one.order.last_day.isoformat(), "family_id": one.order.family_id,
             "last_booked": one.order.last_booked.isoformat() if one.order.last_booked else None,
             "last_skipped": one.order.last_skip[0].isoformat() if one.order.last_skip else None,
             "last_skip_reason": one.order.last_skip[1].render(_) if one.order.last_skip else None}
            for one in listed]
    _emit(as_json, {"ok": True, "orders": rows}, [
        "\t".join([row["pupil_id"], row["name"], row["school"] or "-", row["class"] or "-",
                   one.order.weekdays_words.render(_), row["kind"], row["until"], row["family_id"] or "-"])
        for row, one in zip(rows, listed, strict=True)] or [_("No standing order has days to come.")])


@standing_order.command("cancel")
@instance_option
@click.argument("pupil_id")
@click.option("--reason", default="", help="Told to the family in the e-mail.")
@json_option
@reports_errors
def standing_order_cancel(instance: Path | None, pupil_id: str, reason: str, as_json: bool) -> None:
    """Cancel PUPIL_ID's standing order: no more days are booked; those it booked stay."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        standing_orders.cancel_for_family(conn, pupil_id, now, actor=audit.command_line_actor(), reason=reason,
                                          **mail_details(app.config))
    _emit(as_json, {"ok": True, "pupil_id": pupil_id},
          [_("The standing order of {pupil_id} is cancelled; the family is told by e-mail.").format(pupil_id=pupil_id)])
