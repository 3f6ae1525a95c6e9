"""`refectory kiosk init`, `import-pupils` and `cashier`: what prepares a kiosk before its first
service, apart from the commands run at every meal (so those never load the roster importer)."""

from __future__ import annotations

from pathlib import Path

import click

from domain.clock import utc_now
from domain.roster import import_summary
from kiosk.config import write_default_config
from kiosk.roster_import import import_roster
from kiosk.store import Store, check_kiosk_id
from refectory.cashier_options import cashier_add_options
from refectory.cli_support import _, _emit, json_option, ngettext
from refectory.kiosk_commands.ledger import _service, data_option, reports_errors


@click.command()
@data_option
@click.option("--kiosk-id", required=True, help="This kiosk's id, unique in the canteen (e.g. K1).")
@json_option
@reports_errors
def init(data_dir: Path, kiosk_id: str, as_json: bool) -> None:
    """Create (or open) the kiosk database in DIR."""
    check_kiosk_id(kiosk_id)  # a refused id leaves no database behind
    with Store.open(data_dir, create=True) as store:
        store.initialize(kiosk_id)
        write_default_config(data_dir)
        _emit(as_json, {"ok": True, "kiosk_id": kiosk_id, "database": str(store.path)},
              [_("Kiosk {kiosk_id} ready in {path}.").format(kiosk_id=kiosk_id, path=store.path)])


@click.command("import-pupils")
@data_option
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@reports_errors
def import_pupils(data_dir: Path, csv_file: Path, as_json: bool) -> None:
    """Import pupils and badges from a UTF-8 CSV; nothing is imported if any row is bad."""
    with Store.open(data_dir) as store:
        summary = import_roster(store, csv_file, utc_now())
    _emit(as_json, {"ok": True, "created": summary.created, "updated": summary.updated, "badges": summary.badges},
          [import_summary(ngettext, summary.created, summary.updated, summary.badges)])


@click.group()
def cashier() -> None:
    """Manage the cashiers who may take cash on this kiosk."""


@cashier.command("add")
@data_option
@cashier_add_options
@json_option
@reports_errors
def cashier_add(data_dir: Path, cashier_id: str, name: str, pin: str, badge: str | None, as_json: bool) -> None:
    """Add a cashier, or change an existing cashier's name and PIN."""
    _service(data_dir).add_cashier(cashier_id, name, pin, badge=badge)
    _emit(as_json, {"ok": True, "cashier_id": cashier_id},
          [_("Cashier {cashier_id} saved.").format(cashier_id=cashier_id)])
