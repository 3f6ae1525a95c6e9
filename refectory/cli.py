"""The `refectory` command: one click group, a sub-group per part of the product."""

from __future__ import annotations

import sys

import click

from kiosk.cli import kiosk

from . import __version__
from .i18n import LANGUAGES

EXIT_ERROR = 1


@click.group()
@click.version_option(__version__, prog_name="refectory")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, envvar="REFECTORY_LANG",
              help="Language of messages (default: fr).")
def cli(lang: str | None) -> None:
    """Prepaid school refectory: kiosk, sync server and parents' portal."""


cli.add_command(kiosk)


def main(args: list[str] | None = None) -> None:
    """Entry point: usage errors exit 1, because 2 means "meal refused" for `kiosk tap`."""
    try:
        code = cli.main(args=args, prog_name="refectory", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)
    sys.exit(code or 0)
