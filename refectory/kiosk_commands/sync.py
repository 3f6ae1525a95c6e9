"""`refectory kiosk enroll|sync|sync-status`: connect a kiosk to its server and sync by hand."""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import local
from kiosk.sync_agent import SyncAgent
from kiosk.sync_store import sync_state
from refectory.cli_support import _, _emit, json_option, ngettext
from refectory.kiosk_commands.ledger import _service, data_option, reports_errors


@click.command()
@data_option
@click.option("--server", "server_url", required=True, help="Server address, e.g. https://refectory.example.ch")
@click.option("--code", required=True, help="One-time code from `refectory server kiosk-code`.")
@json_option
@reports_errors
def enroll(data_dir: Path, server_url: str, code: str, as_json: bool) -> None:
    """Enroll this kiosk with the server (the token is kept in the kiosk database)."""
    store = _service(data_dir).store
    SyncAgent(store).enroll(server_url, code)
    _emit(as_json, {"ok": True, "kiosk_id": store.kiosk_id, "server": server_url},
          [_("Kiosk {kiosk_id} enrolled with {server}.").format(kiosk_id=store.kiosk_id, server=server_url)])


@click.command()
@data_option
@json_option
@reports_errors
def sync(data_dir: Path, as_json: bool) -> None:
    """Run one sync round now: push what this kiosk made, pull what changed, report."""
    report = SyncAgent(_service(data_dir).store).run_round()
    rejected = len(report.rejected)
    lines = [_("{sent}: {new}, {already}, {rejected}.").format(
                 sent=ngettext("{count} record sent", "{count} records sent", report.pushed).format(
                     count=report.pushed),
                 new=ngettext("{count} new", "{count} new", report.accepted).format(count=report.accepted),
                 already=ngettext("{count} already there", "{count} already there", report.duplicates).format(
                     count=report.duplicates),
                 rejected=ngettext("{count} rejected", "{count} rejected", rejected).format(count=rejected)),
             _("{changes}, {entries}.").format(
                 changes=ngettext("{count} change received", "{count} changes received", report.pulled).format(
                     count=report.pulled),
                 entries=ngettext("{count} new ledger entry", "{count} new ledger entries",
                                  report.entries_added).format(count=report.entries_added))]
    lines += [_("  rejected {id}: {reason}").format(**rejected) for rejected in report.rejected]
    if report.server_restored:
        lines.append(_("The server was restored from a backup: this kiosk sent all its records again and"
                       " pulled every change again."))
    if report.clock_warning:
        lines.append(_("Warning: this kiosk's clock is {seconds} s off the server's; check the time.").format(
            seconds=report.clock_skew_seconds))
    _emit(as_json, {"ok": True, **report.to_dict()}, lines)


@click.command("sync-status")
@data_option
@json_option
@reports_errors
def sync_status(data_dir: Path, as_json: bool) -> None:
    """Show when this kiosk last synced and what waits to be sent."""
    store = _service(data_dir).store
    state = sync_state(store)
    pending = store.pending_push()
    last = f"{local(state.last_sync_at):%d.%m.%Y %H:%M}" if state.last_sync_at else _("never")
    lines = [_("Server: {server}").format(server=state.server_url or _("not enrolled")),
             _("Last successful sync: {when}; {pending}.").format(
                 when=last, pending=ngettext("{count} record waiting", "{count} records waiting", pending).format(
                     count=pending))]
    if state.last_error:
        lines.append(_("Last attempt failed: {error}").format(error=state.last_error))
    _emit(as_json, {"ok": True, "server": state.server_url, "enrolled": bool(state.token),
                    "last_sync_at": state.last_sync_at and state.last_sync_at.isoformat(),
                    "pending": pending, "last_error": state.last_error}, lines)

