"""`refectory kiosk backup` and `refectory kiosk restore`: thin commands over `kiosk.backups`.

The backup runs beside a serving kiosk (the daily timer's `refectory-kiosk-backup.service`); a
restore wants the kiosk stopped, and says so when a database is already there.
"""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import utc_now
from kiosk.backups import back_up, default_backup_dir
from kiosk.backups import restore as restore_backup
from kiosk.config import config_path
from refectory.cli_support import _, _emit, json_option, ngettext, rotation_options
from refectory.kiosk_commands.ledger import data_option, reports_errors


@click.command()
@data_option
@click.option("--to", "to_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Backup folder. Default: backups/kiosk beside the data folder"
                   " (/var/lib/refectory/backups/kiosk for /var/lib/refectory/kiosk).")
@rotation_options
@json_option
@reports_errors
def backup(data_dir: Path, to_dir: Path | None, keep_daily: int, keep_weekly: int, as_json: bool) -> None:
    """Copy the kiosk database (checked) and kiosk.toml while the kiosk keeps serving, then delete
    the backups the rotation no longer keeps."""
    config_file = config_path(data_dir)
    report = back_up(data_dir, to_dir or default_backup_dir(data_dir), utc_now(), config_file=config_file,
                     keep_daily=keep_daily, keep_weekly=keep_weekly)
    lines = [
        _("Backup written: {file} ({size} bytes, {entries} entries, {seconds:.2f} s).").format(
            file=report.path, size=report.size_bytes, entries=report.entries, seconds=report.seconds),
        *([_("Configuration copied: {file}").format(file=report.config_path)] if report.config_path else []),
        ngettext("{count} old backup deleted.", "{count} old backups deleted.", len(report.deleted)).format(
            count=len(report.deleted)),
    ]
    _emit(as_json, {"ok": True, **report.to_dict()}, lines)


@click.command()
@data_option
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a kiosk database that is already there (it is kept, renamed).")
@json_option
@reports_errors
def restore(data_dir: Path, backup_file: Path, force: bool, as_json: bool) -> None:
    """Restore a kiosk backup into the data folder, after checking it; migrations run after."""
    report = restore_backup(backup_file, data_dir, utc_now(), force=force)
    lines = [_("Kiosk {kiosk_id} restored: {entries} entries.").format(kiosk_id=report.kiosk_id,
                                                                     entries=report.entries)]
    if report.replaced:
        lines.append(_("The database it replaced is kept as {file}.").format(file=report.replaced))
    _emit(as_json, {"ok": True, **report.to_dict()}, lines)
