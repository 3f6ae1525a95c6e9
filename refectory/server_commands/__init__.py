"""`refectory server ...`: run the sync server and manage its data.

`core` sets the server up and manages kiosks, pupils and prices; `bank` imports bank files and
assigns their credits; `portal` manages families' logins, documents, the calendar, mail and
managers; `people` adds and edits pupils and their badges; `canteen` shows and changes the
settings the kiosks use; `cash` reconciles the drawers' counts; `kiosks` shows the kiosks' health;
`kitchen` counts the meals to cook; `meals` books meals for families, excludes pupils and
cancels standing orders; `backups` copies and restores the database. Each is imported only when
one of its commands runs.
"""

from __future__ import annotations

from refectory.cli_support import LazyGroup

_CORE = ("init", "run", "check-config", "import-pupils", "import-menus", "set-price", "cashier", "kiosk-code",
         "kiosk-revoke", "balance")
_BANK = ("import-bank", "bank")
_PORTAL = ("family", "document", "calendar", "send-mail", "manager")
_BACKUPS = ("backup", "restore")
_CANTEEN = ("settings",)
_PEOPLE = ("pupil", "badge")
_CASH = ("cash",)
_KIOSKS = ("kiosks",)
_KITCHEN = ("kitchen",)
_MEALS = ("meal", "exclusion", "standing-order")

server = LazyGroup("server", help="Run the sync server and manage its data.", lazy={
    **{name: f"refectory.server_commands.core:{name.replace('-', '_')}" for name in _CORE},
    **{name: f"refectory.server_commands.bank:{name.replace('-', '_')}" for name in _BANK},
    **{name: f"refectory.server_commands.portal:{name.replace('-', '_')}" for name in _PORTAL},
    **{name: f"refectory.server_commands.backups:{name}" for name in _BACKUPS},
    **{name: f"refectory.server_commands.canteen:{name}" for name in _CANTEEN},
    **{name: f"refectory.server_commands.people:{name}" for name in _PEOPLE},
    **{name: f"refectory.server_commands.cash:{name}" for name in _CASH},
    **{name: f"refectory.server_commands.kiosks:{name}" for name in _KIOSKS},
    **{name: f"refectory.server_commands.kitchen:{name}" for name in _KITCHEN},
    **{name: f"refectory.server_commands.meals:{name.replace('-', '_')}" for name in _MEALS},
})
