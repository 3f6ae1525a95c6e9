"""`refectory server cash`: the day's cash per kiosk and cashier against the drawers' counts,
the same report as the back office's cash page (`sync_server.money.cash_counts`)."""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import local, parse_day_within_window, service_date
from domain.money import format_chf
from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.db import reading
from sync_server.money import cash_counts


@click.command()
@instance_option
@click.option("--day", "day", default=None, metavar="YYYY-MM-DD", help="The day (default: today).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the accountant's CSV instead.")
@json_option
@reports_errors
def cash(instance: Path | None, day: str | None, as_csv: bool, as_json: bool) -> None:
    """Per kiosk and cashier: cash top-ups, cancellations, the expected cash, the cash counted in
    the drawer and the difference (flagged)."""
    if as_csv and as_json:
        raise click.UsageError(_("Give at most one of --json or --csv."))
    app = _app(instance)
    when = parse_day_within_window(day) if day else service_date(app.config["CLOCK"]())
    with reading(app.extensions["refectory.engine"]) as conn:
        report = cash_counts.day_report(conn, when)
    if as_csv:
        click.echo(cash_counts.to_csv(report), nl=False)
        return
    _emit(as_json, {"ok": True, **report.to_dict()}, _lines(report))


def _lines(report: cash_counts.DayCash) -> list[str]:
    lines = [_("Cash on {day}").format(day=report.day.strftime("%d.%m.%Y"))]
    if not report.kiosks:
        lines.append(_("No cash taken and no count at any kiosk."))
    for kiosk in report.kiosks:
        lines.append(_("Kiosk {kiosk_id}: expected {expected}").format(kiosk_id=kiosk.kiosk_id,
                                                                       expected=format_chf(kiosk.net_cents)))
        for row in kiosk.cashiers:
            lines.append("  " + _("{name} ({cashier_id}): top-ups {count}, {topups}; cancelled {reversals},"
                                  " {cancelled}").format(
                name=row.name, cashier_id=row.cashier_id, count=row.topup_count, topups=format_chf(row.topup_cents),
                reversals=row.reversal_count, cancelled=format_chf(row.reversal_cents)))
        if kiosk.count is None:
            lines.append("  " + _("Counted: not yet (flagged)"))
        else:
            counted = _("Counted {counted} at {time}, difference {difference}").format(
                counted=format_chf(kiosk.count.counted_cents), time=local(kiosk.count.counted_at).strftime("%H:%M"),
                difference=format_chf(kiosk.difference_cents))
            lines.append("  " + counted + (" " + _("(flagged)") if kiosk.difference_cents else ""))
    return lines
