"""`refectory server family|document|calendar|send-mail|manager`: what the manager does for the
portal until the back office has pages for it, and who may use the back office."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from domain.clock import parse_day, service_date
from domain.messages import N_, RefectoryError
from durable.files import publish
from refectory.cli_support import _, _emit, json_option, ngettext, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit, managers, pupils
from sync_server.db import reading, writing
from sync_server.families import accounts, documents, login_letters, reservations, standing_orders
from sync_server.families.letters import login_letter
from sync_server.mail import outbox
from sync_server.money import automatic_charges

log = logging.getLogger(__name__)


@click.group()
def family() -> None:
    """Family logins for the portal."""


def _letter(instance: Path | None, issue, action: str, as_json: bool) -> None:
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        letter = issue(conn, now)
        audit.record(conn, audit.command_line_actor(), action, letter.family_id, now, f"login {letter.login}")
    _emit(as_json, {"ok": True, "family_id": letter.family_id, "login": letter.login, "password": letter.password,
                    "email": letter.email, "letter": login_letter(letter, app.config, _)},
          [login_letter(letter, app.config, _)])


@family.command("add")
@instance_option
@click.argument("family_id")
@click.option("--email", default=None, help="Address for the confirmation e-mails (default: from the roster).")
@json_option
@reports_errors
def family_add(instance: Path | None, family_id: str, email: str | None, as_json: bool) -> None:
    """Give FAMILY_ID a portal login and print the letter with its first password."""
    _letter(instance, lambda conn, now: accounts.issue_login(conn, family_id, now, email=email), "family.login",
            as_json)


@family.command("reset-password")
@instance_option
@click.argument("family_id")
@json_option
@reports_errors
def family_reset(instance: Path | None, family_id: str, as_json: bool) -> None:
    """A new password for FAMILY_ID (its sessions end); print the letter."""
    _letter(instance, lambda conn, now: accounts.reset_password(conn, family_id, now), "family.password", as_json)


@family.command("email")
@instance_option
@click.argument("family_id")
@click.argument("address")
@json_option
@reports_errors
def family_email(instance: Path | None, family_id: str, address: str, as_json: bool) -> None:
    """Send FAMILY_ID's e-mails to ADDRESS ("" for none): the family page's e-mail field."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        saved = pupils.set_family_email(conn, family_id, address)
        audit.record(conn, audit.command_line_actor(), "family.email", family_id, now, saved or "none")
    _emit(as_json, {"ok": True, "family_id": family_id, "email": saved},
          [_("Family {family_id}'s e-mails go to {email}.").format(family_id=family_id, email=saved) if saved
           else _("Family {family_id} gets no e-mail.").format(family_id=family_id)])


class LetterFileError(RefectoryError):
    code = "cannot_write"


@family.command("letters")
@instance_option
@click.option("--class", "class_name", default=None,
              help="Every family of this class that has no login yet gets its first login, a page each.")
@click.option("--family", "family_id", default=None,
              help="This family's letter: its first login, or a new password (its sessions end).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF to write (replaced if it exists).")
@json_option
@reports_errors
def family_letters(instance: Path | None, class_name: str | None, family_id: str | None, output: Path,
                   as_json: bool) -> None:
    """Login letters as one PDF to print, for a class (--class) or one family (--family): the back
    office's letter buttons. The logins are kept only if the PDF is written."""
    if (class_name is None) == (family_id is None):
        raise click.UsageError(_("Give either --class or --family."))
    app = _app(instance)
    now = app.config["CLOCK"]()
    actor = audit.command_line_actor()
    partial = output.with_name(output.name + ".partial")
    with writing(app.extensions["refectory.engine"]) as conn:
        letters = (login_letters.class_letters(conn, class_name, now, actor) if class_name is not None
                   else [login_letters.family_letter(conn, family_id, now, actor)])
        try:  # written before the commit: a PDF that cannot be written leaves every password as it was
            partial.write_bytes(login_letters.letters_pdf(letters, app.config, _))
            publish(partial, output)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise LetterFileError(N_("Cannot write {file} ({problem}): no login was changed."), file=output,
                                  problem=error.strerror or error) from None
    families = [letter.family_id for letter, _found in letters]
    _emit(as_json, {"ok": True, "output": str(output), "families": families},
          [ngettext("{count} login letter written to {file}: {families}.",
                    "{count} login letters written to {file}: {families}.", len(families)).format(
              count=len(families), file=output, families=", ".join(families))])


@click.group()
def document() -> None:
    """Documents published on the portal."""


@document.command("add")
@instance_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="Title shown to families.")
@json_option
@reports_errors
def document_add(instance: Path | None, file: Path, title: str, as_json: bool) -> None:
    """Publish FILE (PDF, office document, text or picture) on the portal."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        added = documents.add(conn, Path(app.instance_path) / "documents", file, title, now)
        audit.record(conn, audit.command_line_actor(), "document.add", f"document {added.document_id}", now, title)
    _emit(as_json, {"ok": True, "document_id": added.document_id, "title": added.title},
          [_("Document {number} published: {title}").format(number=added.document_id, title=added.title)])


@document.command("withdraw")
@instance_option
@click.argument("number", type=int)
@json_option
@reports_errors
def document_withdraw(instance: Path | None, number: int, as_json: bool) -> None:
    """Take document NUMBER off the portal and delete its file."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        withdrawn = documents.withdraw(conn, number, kept=documents.terms_number(app.config))
        audit.record(conn, audit.command_line_actor(), "document.withdraw", f"document {number}", now,
                     withdrawn.title)
    documents.remove_file(Path(app.instance_path) / "documents", withdrawn)
    _emit(as_json, {"ok": True, "document_id": number, "title": withdrawn.title},
          [_("Document {number} withdrawn: {title}").format(number=number, title=withdrawn.title)])


@click.group()
def calendar() -> None:
    """Days without meal service (holidays, closures), shown on the agenda."""


@calendar.command("close")
@instance_option
@click.argument("first")
@click.argument("last", required=False)
@click.option("--reason", required=True, help="Shown to families, e.g. 'Vacances de Noël'.")
@json_option
@reports_errors
def calendar_close(instance: Path | None, first: str, last: str | None, reason: str, as_json: bool) -> None:
    """Close FIRST (to LAST, inclusive), dates YYYY-MM-DD."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    start = parse_day(first)
    end = parse_day(last) if last else start
    with writing(app.extensions["refectory.engine"]) as conn:
        count = reservations.close_days(conn, start, end, reason, today=service_date(now))
        audit.record(conn, audit.command_line_actor(), "calendar.close", f"{start}..{end}", now, reason)
    _emit(as_json, {"ok": True, "days": count},
          [ngettext("{count} day closed.", "{count} days closed.", count).format(count=count)])


@calendar.command("reopen")
@instance_option
@click.argument("first")
@click.argument("last", required=False)
@json_option
@reports_errors
def calendar_reopen(instance: Path | None, first: str, last: str | None, as_json: bool) -> None:
    """Serve meals again from FIRST (to LAST)."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    start = parse_day(first)
    end = parse_day(last) if last else start
    with writing(app.extensions["refectory.engine"]) as conn:
        count = reservations.reopen_days(conn, start, end, today=service_date(now))
        audit.record(conn, audit.command_line_actor(), "calendar.reopen", f"{start}..{end}", now)
    _emit(as_json, {"ok": True, "days": count},
          [ngettext("{count} day reopened.", "{count} days reopened.", count).format(count=count)])


@click.command("send-mail")
@instance_option
@json_option
@reports_errors
def send_mail(instance: Path | None, as_json: bool) -> None:
    """Book the standing orders' coming week and charge the automatic top-ups that are due, then send
    the e-mails that are due (a timer runs this when the server runs under gunicorn)."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    engine = app.extensions["refectory.engine"]
    try:  # each job's mails go out in this same run; a failure here must not hold the mail back
        standing_orders.apply_due_with(engine, app.config, now)
    except Exception:
        log.exception("standing orders not booked; tried again at the next run")
    try:
        automatic_charges.charge_due_with(engine, app.config, now)
    except Exception:
        log.exception("automatic top-ups not charged; tried again at the next run")
    report = outbox.send_due(app.extensions["refectory.engine"], outbox.SmtpSettings.from_config(app.config), now)
    lines = [_("{sent}, {failed}.").format(
        sent=ngettext("{count} e-mail sent", "{count} e-mails sent", report.sent).format(count=report.sent),
        failed=ngettext("{count} to retry", "{count} to retry", report.failed).format(count=report.failed))]
    if report.last_error:
        lines.append(_("Last error: {error}").format(error=report.last_error))
    _emit(as_json, {"ok": report.failed == 0, "sent": report.sent, "failed": report.failed,
                    "error": report.last_error}, lines)
    if report.failed:
        raise SystemExit(1)



@click.group()
def manager() -> None:
    """Who may log in to the back office (/manage)."""


@manager.command("add")
@instance_option
@click.argument("manager_id")
@click.option("--name", required=True, help="The manager's name, shown in the back office.")
@click.option("--role", type=click.Choice(managers.ROLES), default=managers.MANAGER, show_default=True,
              help="manager: everything; kitchen: menus and kitchen counts; accountant: money pages, read-only.")
@json_option
@reports_errors
def manager_add(instance: Path | None, manager_id: str, name: str, role: str, as_json: bool) -> None:
    """Let MANAGER_ID log in to the back office, or give them a new password (and role); print it."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        password = managers.set_manager(conn, manager_id, name, now, role)
        audit.record(conn, audit.command_line_actor(), "manager.set", manager_id, now, f"{name} ({role})")
    _emit(as_json, {"ok": True, "manager_id": manager_id, "role": role, "password": password},
          [_("Back office login: {login}, password: {password}").format(login=manager_id, password=password)])


def _manager_change(instance: Path | None, action: str, manager_id: str, change, detail=lambda result: ""):
    """`change(conn, now)` and its audit entry (`detail(result)`) in one transaction; returns its result."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        result = change(conn, now)
        audit.record(conn, audit.command_line_actor(), action, manager_id, now, detail(result))
    return result


@manager.command("list")
@instance_option
@json_option
@reports_errors
def manager_list(instance: Path | None, as_json: bool) -> None:
    """List the back-office logins and their roles."""
    app = _app(instance)
    with reading(app.extensions["refectory.engine"]) as conn:
        found = managers.logins(conn)
    _emit(as_json, {"ok": True, "managers": [{"manager_id": m.manager_id, "name": m.name, "role": m.role}
                                             for m in found]},
          [f"{m.manager_id}\t{m.role}\t{m.name}" for m in found])


@manager.command("role")
@instance_option
@click.argument("manager_id")
@click.argument("role", type=click.Choice(managers.ROLES))
@json_option
@reports_errors
def manager_role(instance: Path | None, manager_id: str, role: str, as_json: bool) -> None:
    """Give MANAGER_ID another ROLE (the last manager stays a manager)."""
    before = _manager_change(instance, "manager.role", manager_id,
                             lambda conn, now: managers.change_role(conn, manager_id, role, None),
                             lambda before: f"{before.role} → {role}")
    names = managers.ROLE_NAMES
    _emit(as_json, {"ok": True, "manager_id": manager_id, "role": role, "before": before.role},
          [_("{login} was {before}, is now {after}.").format(login=manager_id, before=_(names[before.role]),
                                                            after=_(names[role]))])


@manager.command("reset-password")
@instance_option
@click.argument("manager_id")
@json_option
@reports_errors
def manager_reset_password(instance: Path | None, manager_id: str, as_json: bool) -> None:
    """A new password for MANAGER_ID (their sessions end); print it."""
    password = _manager_change(instance, "manager.password", manager_id,
                               lambda conn, now: managers.reset_password(conn, manager_id, now))
    _emit(as_json, {"ok": True, "manager_id": manager_id, "password": password},
          [_("Back office login: {login}, password: {password}").format(login=manager_id, password=password)])


@manager.command("remove")
@instance_option
@click.argument("manager_id")
@json_option
@reports_errors
def manager_remove(instance: Path | None, manager_id: str, as_json: bool) -> None:
    """Take MANAGER_ID's back-office access away (the last manager stays)."""
    removed = _manager_change(instance, "manager.remove", manager_id,
                              lambda conn, now: managers.remove(conn, manager_id, None),
                              lambda removed: f"{removed.name} ({removed.role})")
    _emit(as_json, {"ok": True, "manager_id": manager_id},
          [_("{name} ({login}) can no longer log in.").format(name=removed.name, login=manager_id)])
