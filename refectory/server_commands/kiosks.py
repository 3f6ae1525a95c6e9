"""`refectory server kiosks`: each kiosk's health, as the back office's kiosks page shows it
(`sync_server.fleet.overview`)."""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import local
from domain.money import format_chf
from refectory.cli_support import _, _emit, json_option, reports_errors
from refectory.server_commands.core import _app, instance_option
from sync_server import fleet
from sync_server.db import reading


@click.command()
@instance_option
@json_option
@reports_errors
def kiosks(instance: Path | None, as_json: bool) -> None:
    """Each kiosk: last heartbeat, records waiting, clock skew, version, last sync error, how long
    offline, and the refunds and transfers between siblings it holds back."""
    app = _app(instance)
    now = app.config["CLOCK"]()
    with reading(app.extensions["refectory.engine"]) as conn:
        found = fleet.overview(conn, now)
    _emit(as_json, {"ok": True, "kiosks": [kiosk.to_dict() for kiosk in found]},
          [line for kiosk in found for line in _lines(kiosk)] or [_("No kiosk yet: see refectory server kiosk-code.")])


def _when(moment) -> str:
    return local(moment).strftime("%d.%m.%Y %H:%M") if moment else _("never")


def _lines(kiosk: fleet.KioskHealth) -> list[str]:
    states = {"revoked": _("revoked"), "waiting": _("waiting for enrollment"), "never_synced": _("never synced"),
              "offline": _("offline"), "online": _("online")}
    lines = [_("{kiosk_id}: {state}; last heartbeat {when}; records waiting {pending}; clock skew {skew} s;"
               " version {version}").format(
        kiosk_id=kiosk.kiosk_id, state=states[kiosk.state], when=_when(kiosk.last_heartbeat),
        pending="?" if kiosk.pending is None else kiosk.pending,
        skew="?" if kiosk.clock_skew_seconds is None else kiosk.clock_skew_seconds, version=kiosk.version or "?")]
    if kiosk.school:
        lines.append("  " + _("serves school {school}").format(school=kiosk.school))
    if kiosk.offline_for is not None:
        lines.append("  " + _("offline for {minutes} min").format(minutes=int(kiosk.offline_for.total_seconds() // 60)))
    if kiosk.last_error:
        said = kiosk.error_said(_)  # the kiosk's own text after it, for whoever looks into it
        error = said if said == kiosk.last_error else f"{said} ({kiosk.last_error})"
        lines.append("  " + _("last sync error ({when}): {error}").format(when=_when(kiosk.last_error_at), error=error))
    for request in kiosk.holding_back:
        lines.append("  " + _("holds back refund no. {number} ({pupil_id})").format(number=request.request_id,
                                                                                  pupil_id=request.pupil_id))
    for transfer in kiosk.holding_transfers:
        lines.append("  " + _("holds back a transfer of {amount} from {source} to {destination}").format(
            amount=format_chf(transfer.amount_cents), source=transfer.from_pupil, destination=transfer.to_pupil))
    return lines
