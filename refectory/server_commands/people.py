"""`refectory server pupil add|edit|deactivate|move` and `refectory server badge assign|lost|replace`:
the back office's pupil and badge pages, for scripts. Both call the same services
(`sync_server.admin.pupils`, `sync_server.admin.pupil_badges`) and write the same audit entries."""

from __future__ import annotations

from pathlib import Path

import click

from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit, pupil_badges, pupils
from sync_server.db import writing


def _run(instance: Path | None, action: str, subject: str, act, detail=lambda done: ""):
    """`act(conn, now)` in one transaction with its audit entry; returns what it returned."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        done = act(conn, now)
        audit.record(conn, audit.command_line_actor(), action, subject, now, detail(done))
    return done


def _pupil_lines(record: dict, said: str) -> list[str]:
    return [said.format(name=f"{record['first_name']} {record['last_name']}", pupil_id=record["pupil_id"]),
            _("Class {class_name}, category {category}, family {family}.").format(
                class_name=record["class_name"], category=record["category"], family=record["family_id"] or "-"),
            _("The kiosks learn it at their next sync.")]


@click.group()
def pupil() -> None:
    """Pupils, one at a time (the roster import does many)."""


def detail_options(command):
    for option in reversed((
        click.option("--first-name", help="First name."),
        click.option("--last-name", help="Last name."),
        click.option("--class", "class_name", help="Class, one of the school's (those its active pupils are in)."),
        click.option("--category", help="Meal category, one that has a price (e.g. primary)."),
        click.option("--diet", help="Diet shown on the special-meal banner; empty for none."),
        click.option("--new-class", is_flag=True, help="The class is a new one (no active pupil is in it yet)."),
        click.option("--school", help="The pupil's school, in a city of several; empty: every school's kiosks."),
        click.option("--new-school", is_flag=True, help="The school is a new one (no pupil or kiosk has it yet)."),
    )):
        command = option(command)
    return command


@pupil.command("add")
@instance_option
@click.argument("pupil_id")
@detail_options
@click.option("--family", "family_id", default=None, help="The family's id (a family of the school's).")
@click.option("--new-family", is_flag=True, help="The family is a new one: create it.")
@json_option
@reports_errors
def pupil_add(instance: Path | None, pupil_id: str, first_name: str | None, last_name: str | None,
              class_name: str | None, category: str | None, diet: str | None, new_class: bool,
              school: str | None, new_school: bool, family_id: str | None, new_family: bool,
              as_json: bool) -> None:
    """Add PUPIL_ID (the school's id) to the refectory."""
    details = pupils.Details(first_name or "", last_name or "", class_name or "", category or "", diet or "",
                             school=school or "")
    record = _run(instance, "pupil.add", pupil_id,
                  lambda conn, now: pupils.add_pupil(conn, pupil_id, details, family_id, now, new_class=new_class,
                                                     new_school=new_school, new_family=new_family),
                  lambda record: f"{record['first_name']} {record['last_name']}, {record['class_name']}")
    _emit(as_json, {"ok": True, "pupil": record}, _pupil_lines(record, _("{name} ({pupil_id}) added.")))


@pupil.command("edit")
@instance_option
@click.argument("pupil_id")
@detail_options
@click.option("--active/--inactive", default=None, help="Enrolled at the refectory, or not (kept as it is).")
@json_option
@reports_errors
def pupil_edit(instance: Path | None, pupil_id: str, first_name: str | None, last_name: str | None,
               class_name: str | None, category: str | None, diet: str | None, new_class: bool,
               school: str | None, new_school: bool, active: bool | None, as_json: bool) -> None:
    """Change PUPIL_ID's name, class, category, diet, school or enrolment; what is not given stays.
    Another school moves the pupil: its kiosks get the whole account, the old one's refuse the pupil."""

    def act(conn, now):
        found = pupils.existing(conn, pupil_id)
        given = {"first_name": first_name, "last_name": last_name, "class_name": class_name,
                 "category": category, "diet": diet, "active": active, "school": school}
        details = pupils.Details(**{key: value if value is not None else getattr(found.details, key)
                                    for key, value in given.items()})
        return pupils.edit_pupil(conn, pupil_id, details, now, new_class=new_class, new_school=new_school)

    record = _run(instance, "pupil.edit", pupil_id, act,
                  lambda record: f"{record['first_name']} {record['last_name']}, {record['class_name']},"
                                 f" {record['category']}, active={record['active']}")
    _emit(as_json, {"ok": True, "pupil": record}, _pupil_lines(record, _("{name} ({pupil_id}) saved.")))


@pupil.command("deactivate")
@instance_option
@click.argument("pupil_id")
@json_option
@reports_errors
def pupil_deactivate(instance: Path | None, pupil_id: str, as_json: bool) -> None:
    """PUPIL_ID leaves the refectory: refused at the kiosks from their next sync. The balance stays,
    for the family to ask for its refund on the portal."""
    record = _run(instance, "pupil.deactivate", pupil_id, lambda conn, now: pupils.deactivate(conn, pupil_id, now))
    _emit(as_json, {"ok": True, "pupil": record},
          _pupil_lines(record, _("{name} ({pupil_id}) has left the refectory.")))


@pupil.command("move")
@instance_option
@click.argument("pupil_id")
@click.argument("family_id")
@click.option("--new-family", is_flag=True, help="FAMILY_ID is a new family: create it.")
@json_option
@reports_errors
def pupil_move(instance: Path | None, pupil_id: str, family_id: str, new_family: bool, as_json: bool) -> None:
    """Move PUPIL_ID to the family FAMILY_ID, with its balance, history and badges."""
    record = _run(instance, "pupil.move", pupil_id,
                  lambda conn, now: pupils.move(conn, pupil_id, family_id, now, new_family=new_family),
                  lambda record: f"to {record['family_id']}")
    _emit(as_json, {"ok": True, "pupil": record},
          _pupil_lines(record, _("{name} ({pupil_id}) moved to another family.")))


@click.group()
def badge() -> None:
    """Pupils' badges; the kiosks learn each change at their next sync."""


@badge.command("assign")
@instance_option
@click.argument("pupil_id")
@click.argument("uid")
@json_option
@reports_errors
def badge_assign(instance: Path | None, pupil_id: str, uid: str, as_json: bool) -> None:
    """Give PUPIL_ID the badge UID (any reader's format); the pupil's active badge is replaced."""
    stored = _run(instance, "badge.assign", pupil_id,
                  lambda conn, now: pupil_badges.assign(conn, pupil_id, uid, now), lambda stored: stored)
    _emit(as_json, {"ok": True, "pupil_id": pupil_id, "uid": stored},
          [_("Badge {uid} assigned to {pupil_id}.").format(uid=stored, pupil_id=pupil_id)])


@badge.command("lost")
@instance_option
@click.argument("uid")
@click.option("--reason", required=True, help="Why, in a line (kept in the badge's history).")
@json_option
@reports_errors
def badge_lost(instance: Path | None, uid: str, reason: str, as_json: bool) -> None:
    """Mark the badge UID lost: refused at every kiosk from its next sync, for good."""
    lost = _run(instance, "badge.lost", uid, lambda conn, now: pupil_badges.mark_lost(conn, uid, reason, now),
                lambda lost: f"{lost.uid} of {lost.pupil_id}: {reason}")
    _emit(as_json, {"ok": True, "uid": lost.uid, "pupil_id": lost.pupil_id, "status": str(lost.status)},
          [_("Badge {uid} of {pupil_id} is marked lost: the kiosks refuse it from their next sync.").format(
              uid=lost.uid, pupil_id=lost.pupil_id)])


@badge.command("replace")
@instance_option
@click.argument("old_uid")
@click.argument("new_uid")
@click.option("--reason", default="", help="Why, in a line (kept in the badge's history).")
@json_option
@reports_errors
def badge_replace(instance: Path | None, old_uid: str, new_uid: str, reason: str, as_json: bool) -> None:
    """Give the owner of OLD_UID the new badge NEW_UID; OLD_UID is blocked for good."""
    new = _run(instance, "badge.replace", old_uid,
               lambda conn, now: pupil_badges.replace(conn, old_uid, new_uid, now, reason),
               lambda new: f"by {new.uid} for {new.pupil_id}" + (f": {reason}" if reason else ""))
    _emit(as_json, {"ok": True, "uid": new.uid, "pupil_id": new.pupil_id},
          [_("Badge {uid} now replaces the old one for {pupil_id}.").format(uid=new.uid, pupil_id=new.pupil_id)])
