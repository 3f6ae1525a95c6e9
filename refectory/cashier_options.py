"""What `cashier add` asks, on the kiosk and on the server alike: the cashier's id, the name printed
on receipts, the PIN (prompted twice, never echoed, when left out) and the cashier's own badge."""

from __future__ import annotations

from collections.abc import Callable

import click

_OPTIONS = (
    click.option("--id", "cashier_id", required=True, help="Cashier id."),
    click.option("--name", required=True, help="Name printed on receipts."),
    click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
                 help="4 to 8 digits (asked twice, not shown, if left out)."),
    click.option("--badge", default=None,
                 help="UID of the cashier's own badge, which opens cashier mode (none if left out)."),
)


def cashier_add_options(command: Callable) -> Callable:
    """`--id`, `--name`, `--pin` and `--badge`, in that order in `--help`."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command
