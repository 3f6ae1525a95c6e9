"""`refectory server kitchen`: the day's counts to cook, and after service reserved against served,
as the back office's kitchen page shows them (the same service function)."""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import SCHOOL_TZ, parse_day_within_window, service_date
from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin.canteen_settings import current_settings
from sync_server.db import reading
from sync_server.kitchen import counts


@click.command()
@instance_option
@click.option("--day", "day_text", default=None, help="The service day, YYYY-MM-DD (default: today).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the counts as CSV (total, each class, each diet).")
@json_option
@reports_errors
def kitchen(instance: Path | None, day_text: str | None, as_csv: bool, as_json: bool) -> None:
    """Meals to cook on a day: normal and special, by diet and by class; after service, served."""
    if as_csv and as_json:
        raise click.UsageError(_("Choose --json or --csv, not both."))
    app = _app(instance)
    now = app.config["CLOCK"]()
    day = parse_day_within_window(day_text) if day_text else service_date(now)
    with reading(app.extensions["refectory.engine"]) as conn:
        settings = current_settings(conn)
        found = counts.kitchen_day(conn, day, now, settings)
    if as_csv:
        click.echo(counts.csv_text(found, _), nl=False)
        return
    time = found.cutoff.astimezone(SCHOOL_TZ).strftime("%H:%M")
    lines = [_("Kitchen counts for {day}").format(day=day.isoformat()),
             (_("Final count: reservations closed at {time}.") if found.final else
              _("Provisional count: normal meals can still be booked or cancelled until {time}.")).format(time=time),
             _("Normal: {normal}, special: {special}, total: {total}").format(
                 normal=found.total.normal, special=found.total.special, total=found.total.total)]
    lines += [f"  {diet or _(counts.NO_DIET)}: {tally.special}" for diet, tally in found.by_diet.items()]
    lines += [_("Class {name}: normal {normal}, special {special}").format(name=name, normal=t.normal,
                                                                          special=t.special)
              for name, t in found.by_class.items()]
    if counts.service_started(found, now, settings):
        lines.append(_("Served: {served}; reserved, not served: {wasted}; served without reservation: {unreserved}")
                     .format(served=found.total.served, wasted=found.total.wasted,
                             unreserved=found.total.unreserved))
    _emit(as_json, counts.as_json(found), lines)
