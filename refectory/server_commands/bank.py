"""`refectory server import-bank|bank ...`: bank top-ups from the bank's camt files, until the
back office has pages for them."""

from __future__ import annotations

from pathlib import Path

import click

from domain.money import format_chf
from domain.roster import unreadable
from refectory.cli_support import _, _emit, json_option, ngettext, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit
from sync_server.db import reading, writing
from sync_server.families.letters import mail_details
from sync_server.money import bank_import
from sync_server.money.bank_files import MAX_BANK_FILE_BYTES, BankCredit, read_credits, too_large


def _describe(credit: BankCredit) -> str:
    amount = (format_chf(credit.amount_cents) if credit.currency == "CHF"
              else f"{credit.currency} {format_chf(credit.amount_cents, currency=False)}")
    return " · ".join(part for part in (credit.bank_reference, amount,
                                        credit.reference or credit.note or "—", credit.payer) if part)


@click.command("import-bank")
@instance_option
@click.argument("bank_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@reports_errors
def import_bank(instance: Path | None, bank_file: Path, as_json: bool) -> None:
    """Credit the top-ups of a camt.054 or camt.053 file; a file imported again adds nothing."""
    app = _app(instance)
    try:
        with bank_file.open("rb") as handle:
            data = handle.read(MAX_BANK_FILE_BYTES + 1)  # a larger file is refused unread
    except OSError as error:
        raise unreadable(error) from None
    if len(data) > MAX_BANK_FILE_BYTES:
        raise too_large(bank_file.stat().st_size)
    credits = read_credits(data, maximum_cents=app.config["BANK_CREDIT_MAX_CENTS"])
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        report = bank_import.import_credits(conn, credits, now, **mail_details(app.config))
        audit.record(conn, audit.command_line_actor(), "bank.import", bank_file.name, now,
                     f"{len(report.credited)} credited, {report.duplicates} already there,"
                     f" {len(report.unmatched)} to assign")
    lines = [report.summary(ngettext)]
    lines += ["  " + _("to assign: {credit}").format(credit=_describe(c)) for c in report.unmatched]
    _emit(as_json, {"ok": True, "credited": [{"bank_reference": c.bank_reference, "pupil_id": p,
                                              "amount_cents": c.amount_cents} for c, p in report.credited],
                    "duplicates": report.duplicates, "unmatched": [c.bank_reference for c in report.unmatched]}, lines)


@click.group()
def bank() -> None:
    """Bank credits that no payment reference matched."""


@bank.command("waiting")
@instance_option
@json_option
@reports_errors
def bank_waiting(instance: Path | None, as_json: bool) -> None:
    """List the credits waiting to be assigned to a pupil."""
    with reading(_app(instance).extensions["refectory.engine"]) as conn:
        waiting = bank_import.waiting(conn)
    _emit(as_json, {"ok": True, "waiting": [{"bank_reference": c.bank_reference, "amount_cents": c.amount_cents,
                                             "currency": c.currency, "reference": c.reference, "payer": c.payer,
                                             "note": c.note} for c in waiting]},
          [_describe(c) for c in waiting] or [_("No credit is waiting.")])


@bank.command("assign")
@instance_option
@click.argument("bank_reference")
@click.argument("pupil_id")
@json_option
@reports_errors
def bank_assign(instance: Path | None, bank_reference: str, pupil_id: str, as_json: bool) -> None:
    """Credit the waiting bank credit BANK_REFERENCE to PUPIL_ID."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        credit = bank_import.assign(conn, bank_reference, pupil_id, now, **mail_details(app.config),
                                    maximum_cents=app.config["BANK_CREDIT_MAX_CENTS"])
        audit.record(conn, audit.command_line_actor(), "bank.assign", bank_reference, now,
                     f"{format_chf(credit.amount_cents)} to {pupil_id}")
    _emit(as_json, {"ok": True, "bank_reference": bank_reference, "pupil_id": pupil_id},
          [_("{amount} credited to {pupil_id}.").format(amount=format_chf(credit.amount_cents), pupil_id=pupil_id)])
