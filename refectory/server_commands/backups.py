"""`refectory server backup` and `refectory server restore`: thin commands over `sync_server.backups`.

The backup runs beside a serving server (the daily timer's `refectory-server-backup.service`); a
restore wants the server stopped, and says so when the database already holds data.
"""

from __future__ import annotations

from pathlib import Path

import click

from refectory.cli_support import _, _emit, json_option, ngettext, reports_errors, rotation_options
from refectory.server_commands.core import _app, instance_option
from sync_server.admin import audit
from sync_server.backups import archive


@click.command()
@instance_option
@click.option("--to", "to_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Backup folder. Default: backups/server beside the instance folder"
                   " (/var/lib/refectory/backups/server for /var/lib/refectory/server).")
@rotation_options
@json_option
@reports_errors
def backup(instance: Path | None, to_dir: Path | None, keep_daily: int, keep_weekly: int, as_json: bool) -> None:
    """Write one archive (the database, checked, and the instance files) while the server keeps
    serving, then delete the backups the rotation no longer keeps."""
    app = _app(instance)
    folder = Path(app.instance_path)
    report = archive.back_up(app.config["DATABASE_URL"], folder, to_dir or archive.default_backup_dir(folder),
                             app.config["CLOCK"](), keep_daily=keep_daily, keep_weekly=keep_weekly)
    _emit(as_json, {"ok": True, **report.to_dict()}, [
        _("Backup written: {file} ({size} bytes, {entries} entries, {seconds:.2f} s).").format(
            file=report.path, size=report.size_bytes, entries=report.entries, seconds=report.seconds),
        ngettext("{count} old backup deleted.", "{count} old backups deleted.", len(report.deleted)).format(
            count=len(report.deleted)),
    ])


@click.command()
@instance_option
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data (SQLite: kept, renamed;"
                                            " PostgreSQL: emptied).")
@json_option
@reports_errors
def restore(instance: Path | None, backup_file: Path, force: bool, as_json: bool) -> None:
    """Restore a server backup (database and instance files) after checking it; migrations run after."""
    app = _app(instance)
    app.extensions["refectory.engine"].dispose()  # the restore replaces what it would be connected to
    report = archive.restore(backup_file, app.config["DATABASE_URL"], Path(app.instance_path), app.config["CLOCK"](),
                             force=force, actor=audit.command_line_actor())
    lines = [_("Server restored from the backup of {taken_at}: {entries} entries.").format(
        taken_at=report.taken_at, entries=report.entries),
             _("New ledger generation {generation}: at their next sync, the kiosks send again everything"
               " they had sent, and pull everything again.").format(generation=report.generation)]
    lines += [_("Kept aside: {file}").format(file=file) for file in report.replaced]
    _emit(as_json, {"ok": True, **report.to_dict()}, lines)
