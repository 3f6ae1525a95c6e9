"""`refectory kiosk run`: the touchscreen, with the reader and printer kiosk.toml names."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk_ui.run import has_display, run_kiosk
from refectory.cli_support import _, reports_errors
from refectory.kiosk_commands.devices import reader_from_config


@click.command("run")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The kiosk's data folder (kiosk.db, kiosk.toml).")
@click.option("--windowed", is_flag=True, help="A window instead of the full screen (development, demo).")
@click.option("--size", default=None, help="Window size WIDTHxHEIGHT, e.g. 800x480 (default 1280x800).")
@click.option("--demo", is_flag=True, help="Show the demo's badge panel and the last virtual receipt.")
@reports_errors
def run(data_dir: Path, windowed: bool, size: str | None, demo: bool) -> None:
    """Run the touchscreen kiosk (reader, printer and server as kiosk.toml says)."""
    if not has_display():
        raise click.ClickException(_("No display (DISPLAY is not set): the kiosk screen cannot open. "
                                     "Use 'refectory kiosk listen' to serve without a screen."))
    dimensions = None
    if size:
        width, _x, height = size.lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise click.BadParameter(_("'{size}': use WIDTHxHEIGHT, e.g. 800x480").format(size=size),
                                     param_hint="--size")
        dimensions = (int(width), int(height))
    run_kiosk(data_dir, lambda: reader_from_config(data_dir), windowed=windowed or demo, size=dimensions,
              demo=demo)
