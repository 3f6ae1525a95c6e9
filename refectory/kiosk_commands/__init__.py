"""`refectory kiosk ...`: thin commands over the kiosk core, the same core the touchscreen drives.

`preparation` sets a kiosk up (database, roster, cashiers), `ledger` works on the local ledger
alone (what a meal service runs), `devices` opens the reader, printer and cash drawer,
`counter` the day's exceptions at the counter (serve without badge, block a lost badge, a
pupil's meals of the day), `sync` talks to the server, `screen` opens the touchscreen, `backups`
copies and restores the ledger. Each is imported only when one of its
commands runs.
"""

from __future__ import annotations

from refectory.cli_support import LazyGroup

_PREPARATION = ("init", "import-pupils", "cashier")
_LEDGER = ("tap", "balance", "report", "settings")
_DEVICES = ("listen", "topup", "reverse", "reprint", "print-report", "print-test")
_COUNTER = ("serve", "block-badge", "meals")
_SYNC = ("enroll", "sync", "sync-status")
_BACKUPS = ("backup", "restore")

kiosk = LazyGroup("kiosk", help="Operate a kiosk's local ledger: pupils, taps, cash, reports.", lazy={
    **{name: f"refectory.kiosk_commands.preparation:{name.replace('-', '_')}" for name in _PREPARATION},
    **{name: f"refectory.kiosk_commands.ledger:{name.replace('-', '_')}" for name in _LEDGER},
    **{name: f"refectory.kiosk_commands.devices:{name.replace('-', '_')}" for name in _DEVICES},
    **{name: f"refectory.kiosk_commands.counter:{name.replace('-', '_')}" for name in _COUNTER},
    **{name: f"refectory.kiosk_commands.sync:{name.replace('-', '_')}" for name in _SYNC},
    **{name: f"refectory.kiosk_commands.backups:{name}" for name in _BACKUPS},
    "run": "refectory.kiosk_commands.screen:run",
})
