"""`refectory server settings show|set`: every setting the kiosks use (prices, service days and
hours, reservations, top-up limits, low-balance threshold), checked and stored by the same
service as the back office's settings page, and sent to the kiosks at their next sync."""

from __future__ import annotations

from pathlib import Path

import click

from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit, canteen_settings
from sync_server.db import reading, writing


@click.group()
def settings() -> None:
    """The canteen's settings, as the kiosks get them."""


@settings.command("show")
@instance_option
@json_option
@reports_errors
def settings_show(instance: Path | None, as_json: bool) -> None:
    """Show every setting (stored values over the defaults) and which kiosks have the latest change."""
    with reading(_app(instance).extensions["refectory.engine"]) as conn:
        values = canteen_settings.shown_settings(conn)
        reach = canteen_settings.kiosks_reached(conn)
    waiting = [kiosk.kiosk_id for kiosk in reach if not kiosk.has_latest]
    _emit(as_json, {"ok": True, "settings": values, "kiosks_up_to_date": [k.kiosk_id for k in reach if k.has_latest],
                    "kiosks_waiting": waiting},
          [f"{key} = {value}" for key, value in values.items()]
          + ([_("Kiosks that have not synced the latest change yet: {kiosks}").format(kiosks=", ".join(waiting))]
             if waiting else []))


@settings.command("set")
@instance_option
@click.argument("key")
@click.argument("value")
@json_option
@reports_errors
def settings_set(instance: Path | None, key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE (e.g. `service.end 13:30`, `price.secondary 8.50`); the kiosks apply it at
    their next sync."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with writing(app.extensions["refectory.engine"]) as conn:
        changed = canteen_settings.change_settings(conn, {key: value}, audit.command_line_actor(), now)
        key = key.strip().lower()
        value = changed.get(key) or canteen_settings.shown_settings(conn)[key]
    _emit(as_json, {"ok": True, "key": key, "value": value, "changed": bool(changed)},
          [f"{key} = {value}", _("The kiosks apply it at their next sync.") if changed
           else _("It already had this value: nothing changed.")])
