"""`refectory server ...`: set up and run the server, and the manager's first tools.

Production runs the same application factory under gunicorn, on the socket systemd holds
(systemd/server/refectory-server.service, installed by scripts/install-server), after
`check-config` has said the settings and the database are fit for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import click
from sqlalchemy.engine import make_url

from domain.clock import local, to_text
from domain.messages import N_, Message, RefectoryError
from domain.money import format_chf
from domain.roster import import_summary, parse_csv, unreadable
from refectory.cashier_options import cashier_add_options
from refectory.cli_support import _, _emit, json_option, ngettext, reports_errors
from sync_server import create_app, fleet, settings
from sync_server.admin import audit, canteen_settings, cashiers, menu_import, roster_import
from sync_server.db import readiness, reading, upgrade, writing
from sync_server.families import standing_orders
from sync_server.families.letters import mail_details
from sync_server.mail import outbox
from sync_server.money import automatic_charges, datatrans, pain001, qr_bills, statements
from sync_server.sync import ledger
from sync_server.web import protection
from sync_server.web.serving import NoDelayRequestHandler

instance_option = click.option(
    "--instance", "instance", default=None, type=click.Path(file_okay=False, path_type=Path),
    envvar="REFECTORY_SERVER_INSTANCE", help="Instance folder (config.py, SQLite database). Default: ./instance.",
)


def _app(instance: Path | None):
    """The app for one command; its database connections close when the command ends."""
    app = create_app(instance_path=str(instance.resolve()) if instance else None)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(app.extensions["refectory.engine"].dispose)
    return app


def _read_csv(path: Path):
    try:
        return parse_csv(path.read_bytes())
    except OSError as error:
        raise unreadable(error) from None



@click.command()
@instance_option
@json_option
@reports_errors
def init(instance: Path | None, as_json: bool) -> None:
    """Create or upgrade the server database (Alembic migrations)."""
    app = _app(instance)
    upgrade(app.config["DATABASE_URL"])
    _emit(as_json, {"ok": True, "database": app.config["DATABASE_URL"]},
          [_("Server database ready: {url}").format(url=app.config["DATABASE_URL"])])


@click.command()
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, type=int, show_default=True, help="Port to listen on.")
@reports_errors
def run(instance: Path | None, host: str, port: int) -> None:
    """Run the development server (production: gunicorn on the app factory), with the e-mail
    sender and the automatic top-ups every 30 s."""
    app = _app(instance)
    sender = outbox.start_sender(app.extensions["refectory.engine"], outbox.SmtpSettings.from_config(app.config),
                               clock=app.config["CLOCK"])
    automatic_charges.start_runner(app.extensions["refectory.engine"], app.config, sender, clock=app.config["CLOCK"])
    standing_orders.start_runner(app.extensions["refectory.engine"], app.config, sender, clock=app.config["CLOCK"])
    try:
        app.run(host=host, port=port, request_handler=NoDelayRequestHandler)
    finally:
        sender.shutdown(wait=False)


@click.command("check-config")
@instance_option
@json_option
def check_config(instance: Path | None, as_json: bool) -> None:
    """Check the settings and the database as the server would start with them, and say what a
    production server lacks; exit code 1 when something must be fixed before it starts."""
    try:
        app = _app(instance)
    except settings.SettingsError as error:
        findings = [settings.Finding(str(error.message.params.get("name", "")), error.message)]
        where, database = str(instance.resolve()) if instance else os.path.abspath("instance"), ""
    else:
        findings = _startup_findings(app)
        where = app.instance_path
        database = make_url(app.config["DATABASE_URL"]).render_as_string(hide_password=True)
    findings.sort(key=lambda found: not found.blocking)  # errors first
    errors = [found for found in findings if found.blocking]
    as_dicts = [{"level": "error" if found.blocking else "warning", "setting": found.setting,
                 "message": found.message.render(_)} for found in findings]
    lines = [_("Server configuration in {instance} (database {database}):").format(instance=where,
                                                                                    database=database or "?")]
    level_words = {"error": _("error"), "warning": _("warning")}
    lines += [f"{level_words[found['level']]}: {found['setting']}: {found['message']}" for found in as_dicts]
    warnings = len(findings) - len(errors)
    if errors:
        lines.append(ngettext("{count} error", "{count} errors", len(errors)).format(count=len(errors)) + ", "
                     + ngettext("{count} warning", "{count} warnings", warnings).format(count=warnings)
                     + ": " + _("fix the errors before starting the server."))
    else:
        lines.append(ngettext("Ready to start, with {count} warning.", "Ready to start, with {count} warnings.",
                              warnings).format(count=warnings))
    _emit(as_json, {"ok": not errors, "instance": where, "database": database, "problems": as_dicts}, lines)
    if errors:
        raise SystemExit(1)


def _startup_findings(app) -> list[settings.Finding]:
    """What the settings, the features they turn on and the database lack for production."""
    config = app.config
    findings = [settings.Finding(name, Message(N_("It is not a server setting and is ignored (a misspelt name?).")),
                                 blocking=False) for name in settings.unknown_variables(os.environ)]
    if not os.access(app.instance_path, os.W_OK):
        findings.append(settings.Finding("REFECTORY_SERVER_INSTANCE", Message(
            N_("The instance folder {folder} is not writable by this user."), {"folder": app.instance_path})))
    findings += settings.production_findings(config)
    if not protection.storage_answers():  # a warning: a server starts (ExecStartPre) and throttles meanwhile
        findings.append(settings.Finding("RATELIMIT_STORAGE_URI", Message(N_(
            "The login throttle's store does not answer ({store}): until it does, each server process counts "
            "login attempts on its own."), {"store": _without_password(config["RATELIMIT_STORAGE_URI"])}),
            blocking=False))
    if config["QRBILL_IBAN"]:
        findings += _lacks(qr_bills.Creditor.from_config, config, "QRBILL_IBAN")
    else:
        findings.append(settings.Finding("QRBILL_IBAN", Message(N_(
            "No QR-bill: parents cannot top up by bank transfer. Set QRBILL_IBAN and the canteen's address.")),
            blocking=False))
    if any(config[f"DATATRANS_{key}"] for key in ("MERCHANT_ID", "PASSWORD", "HMAC_KEY")):
        findings += _lacks(datatrans.Account.from_config, config, "DATATRANS_MERCHANT_ID")
    # Without the refunds' account, refunds are still approved; only their payment file waits.
    findings += _lacks(pain001.Debtor.from_config, config, "REFUND_DEBTOR_IBAN", blocking=False)
    state = readiness(app.extensions["refectory.engine"])
    if state.problem == "database_unreachable":
        findings.append(settings.Finding("DATABASE_URL", Message(N_("The database does not answer: {reason}"),
                                                                 {"reason": state.detail})))
    elif state.problem == "migrations_behind":
        findings.append(settings.Finding("DATABASE_URL", Message(
            N_("The database is at revision {current}, this version needs {head}: run `refectory server init`."),
            {"current": ", ".join(state.current) or _("none"), "head": ", ".join(state.head)})))
    return findings


def _without_password(uri: str) -> str:
    parts = urlsplit(uri)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _lacks(check, config, setting: str, *, blocking: bool = True) -> list[settings.Finding]:
    """What a feature's own check of its settings (`from_config`) refuses, as a finding."""
    try:
        check(config)
    except RefectoryError as error:
        return [settings.Finding(setting, error.message, blocking)]
    return []


@click.command("import-pupils")
@instance_option
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--deactivate-missing", is_flag=True, help="Active pupils the file leaves out leave the refectory.")
@click.option("--preview", is_flag=True, help="Say what the file would change, line by line; write nothing.")
@json_option
@reports_errors
def import_pupils(instance: Path | None, csv_file: Path, deactivate_missing: bool, preview: bool,
                  as_json: bool) -> None:
    """Import pupils, badges and parents' e-mails; nothing is imported if any row is bad."""
    header, rows = _read_csv(csv_file)
    app = _app(instance)
    now = app.config["CLOCK"]()
    with (reading if preview else writing)(app.extensions["refectory.engine"]) as conn:
        plan = roster_import.plan_import(conn, header, rows, deactivate_missing=deactivate_missing)
        if not preview:
            summary = roster_import.apply_plan(conn, plan, now)
            audit.record(conn, audit.command_line_actor(), "pupils.import", csv_file.name, now,
                         f"{summary.created} added, {summary.updated} updated, {summary.badges} badges,"
                         f" {summary.deactivated} deactivated")
    if preview:
        kinds = {"added": _("added"), "changed": _("changed"), "unchanged": _("unchanged"),
                 "deactivated": _("deactivated")}
        _emit(as_json, {"ok": True, "preview": True, "fingerprint": plan.fingerprint,
                        "new_schools": list(plan.new_schools), "lines": [
            {"line": line.line, "pupil_id": line.pupil_id, "name": line.name, "change": line.kind,
             "fields": [{"column": column, "before": before, "after": after}
                        for column, before, after in line.changes]} for line in plan.lines]},
            [f"{_('line {line}').format(line=line.line) if line.line else '-'}: {line.pupil_id} {line.name}:"
             f" {kinds[line.kind]}" + (" (" + ", ".join(f"{column}: {before or '-'} → {after or '-'}"
                                                          for column, before, after in line.changes) + ")"
                                        if line.changes and line.kind != "added" else "")
             for line in plan.lines if line.kind != "unchanged"]
            + ([ngettext("New school, which no pupil or kiosk has yet: {schools}. Check the spelling: only kiosks"
                         " given this school will serve these pupils.", "New schools, which no pupil or kiosk has"
                         " yet: {schools}. Check the spelling: only kiosks given these schools will serve these"
                         " pupils.", len(plan.new_schools)).format(schools=", ".join(plan.new_schools))]
               if plan.new_schools else [])
            + [_("Nothing was written (preview).")])
        return
    _emit(as_json, {"ok": True, "created": summary.created, "updated": summary.updated, "badges": summary.badges,
                    "deactivated": summary.deactivated},
          [import_summary(ngettext, summary.created, summary.updated, summary.badges)]
          + ([ngettext("{count} pupil deactivated.", "{count} pupils deactivated.", summary.deactivated)
              .format(count=summary.deactivated)] if deactivate_missing else []))


@click.command("import-menus")
@instance_option
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@reports_errors
def import_menus(instance: Path | None, csv_file: Path, as_json: bool) -> None:
    """Import menus (date,course,dish,allergens,labels); each day in the file replaces that day."""
    try:
        menu_import.check_size(csv_file.stat().st_size)  # before the file is read whole
        header, rows = menu_import.read_menu_file(csv_file.read_bytes())
    except OSError as error:
        raise unreadable(error) from None
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        days = menu_import.import_menus(conn, header, rows, now)
        audit.record(conn, audit.command_line_actor(), "menus.import", csv_file.name, now, f"{days} days")
    _emit(as_json, {"ok": True, "days": days},
          [ngettext("Menus of {count} day imported.", "Menus of {count} days imported.", days).format(count=days)])


@click.command("set-price")
@instance_option
@click.argument("category")
@click.argument("amount")
@json_option
@reports_errors
def set_price(instance: Path | None, category: str, amount: str, as_json: bool) -> None:
    """Set the meal price of a category (a new category is added)."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    category = category.strip().lower()
    key = f"price.{category}"
    with writing(app.extensions["refectory.engine"]) as conn:
        known = canteen_settings.categories(conn)
        canteen_settings.change_settings(conn, {key: amount}, audit.command_line_actor(), now)
        value = canteen_settings.shown_settings(conn)[key]
    new = category not in known  # a mistyped category would otherwise pass for a price that is used
    _emit(as_json, {"ok": True, "key": key, "value": value, "new_category": new},
          [f"{key} = {value}", *([_("New category {category}: no pupil is in it yet (categories so far: {known}).")
                                  .format(category=category, known=", ".join(sorted(known)) or "—")] if new else [])])


@click.group()
def cashier() -> None:
    """Cashiers (they reach every kiosk at its next sync)."""


@cashier.command("add")
@instance_option
@cashier_add_options
@json_option
@reports_errors
def cashier_add(instance: Path | None, cashier_id: str, name: str, pin: str, badge: str | None, as_json: bool) -> None:
    """Add (or update) a cashier; the PIN is stored as an argon2 hash."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        cashiers.add_cashier(conn, cashier_id, name, pin, now, badge=badge)
        audit.record(conn, audit.command_line_actor(), "cashier.add", cashier_id, now, f"{name}, badge {badge or '-'}")
    _emit(as_json, {"ok": True, "cashier_id": cashier_id},
          [_("Cashier {cashier_id} added.").format(cashier_id=cashier_id)])


@cashier.command("list")
@instance_option
@json_option
@reports_errors
def cashier_list(instance: Path | None, as_json: bool) -> None:
    """List the cashiers and their badges."""
    app = _app(instance)
    with reading(app.extensions["refectory.engine"]) as conn:
        found = cashiers.listed(conn)
    _emit(as_json, {"ok": True, "cashiers": [{"cashier_id": c.cashier_id, "name": c.name, "badge": c.badge_uid}
                                             for c in found]},
          [f"{c.cashier_id}\t{c.name}\t{c.badge_uid or '-'}" for c in found])


@cashier.command("pin")
@instance_option
@click.argument("cashier_id")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
              help="4 to 8 digits (asked twice, not shown, if left out).")
@json_option
@reports_errors
def cashier_pin(instance: Path | None, cashier_id: str, pin: str, as_json: bool) -> None:
    """A new PIN for CASHIER_ID (at each kiosk from its next sync)."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        cashiers.set_pin(conn, cashier_id, pin, now)
        audit.record(conn, audit.command_line_actor(), "cashier.pin", cashier_id, now)
    _emit(as_json, {"ok": True, "cashier_id": cashier_id},
          [_("New PIN for {cashier_id}: it works at each kiosk from its next sync.").format(cashier_id=cashier_id)])


@cashier.command("badge")
@instance_option
@click.argument("cashier_id")
@click.argument("uid", required=False)
@click.option("--clear", is_flag=True, help="Take the cashier's badge away.")
@json_option
@reports_errors
def cashier_badge(instance: Path | None, cashier_id: str, uid: str | None, clear: bool, as_json: bool) -> None:
    """Give CASHIER_ID their own badge UID, or take it away with --clear."""
    if bool(uid) == clear:
        raise click.UsageError(_("Give a badge UID or --clear, not both."))
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        stored = cashiers.set_badge(conn, cashier_id, None if clear else uid, now)
        audit.record(conn, audit.command_line_actor(), "cashier.badge", cashier_id, now, f"badge {stored or '-'}")
    _emit(as_json, {"ok": True, "cashier_id": cashier_id, "badge": stored},
          [_("Badge {uid} is now {cashier_id}'s.").format(uid=stored, cashier_id=cashier_id) if stored
           else _("{cashier_id} has no badge any more.").format(cashier_id=cashier_id)])


@click.command("kiosk-code")
@instance_option
@click.argument("kiosk_id")
@click.option("--school", default="", help="The school whose pupils the kiosk serves (a city of several);"
              " none: every school's. A kiosk keeps its school once it has synced.")
@click.option("--new-school", is_flag=True, help="The school is a new one (no pupil or kiosk has it yet).")
@json_option
@reports_errors
def kiosk_code(instance: Path | None, kiosk_id: str, school: str, new_school: bool, as_json: bool) -> None:
    """Print a one-time code (valid 24 h) for `refectory kiosk enroll` on kiosk KIOSK_ID."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        code = fleet.issue_code(conn, kiosk_id, audit.command_line_actor(), now, school, new_school=new_school)
    _emit(as_json, {"ok": True, "kiosk_id": kiosk_id, "school": school.strip() or None, "code": code},
          [_("Enrollment code for kiosk {kiosk_id} (valid 24 h, once): {code}").format(kiosk_id=kiosk_id, code=code)])


@click.command("kiosk-revoke")
@instance_option
@click.argument("kiosk_id")
@json_option
@reports_errors
def kiosk_revoke(instance: Path | None, kiosk_id: str, as_json: bool) -> None:
    """Revoke kiosk KIOSK_ID (stolen, broken for good): it can no longer sync, and refunds stop
    waiting for it. What it made and never sent is lost to the server."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        revoked = fleet.revoke(conn, kiosk_id, audit.command_line_actor(), now, **mail_details(app.config))
    if not revoked.new:
        _emit(as_json, {"ok": True, "kiosk_id": kiosk_id, "already_revoked_at": to_text(revoked.at)},
              [_("Kiosk {kiosk_id} was already revoked on {when}; nothing changed.").format(
                  kiosk_id=kiosk_id, when=local(revoked.at).strftime("%d.%m.%Y %H:%M"))])
        return
    released, settled = revoked.released, revoked.settled
    _emit(as_json, {"ok": True, "kiosk_id": kiosk_id, "refunds_released": [r.request_id for r in released],
                    "transfers_settled": [t.transfer_id for t in settled]},
          [_("Kiosk {kiosk_id} revoked: enroll it again with a new code to use it.").format(kiosk_id=kiosk_id),
           *([_("Refunds booked now that it is no longer waited for: {count}.").format(count=len(released))]
             if released else []),
           *([_("Transfers between siblings settled now that it is no longer waited for: {count}.").format(
               count=len(settled))] if settled else [])])


@click.command()
@instance_option
@click.argument("pupil_id")
@json_option
@reports_errors
def balance(instance: Path | None, pupil_id: str, as_json: bool) -> None:
    """A pupil's balance as the server knows it (the sum of the entries it has)."""
    with reading(_engine(instance)) as conn:
        statements.account_holder(conn, pupil_id)  # a mistyped id is refused, never answered with a zero
        cents = ledger.balance(conn, pupil_id)
    _emit(as_json, {"ok": True, "pupil_id": pupil_id, "balance_cents": cents},
          [_("Balance of {pupil_id}: {balance}").format(pupil_id=pupil_id, balance=format_chf(cents))])


def _engine(instance: Path | None):
    return _app(instance).extensions["refectory.engine"]
