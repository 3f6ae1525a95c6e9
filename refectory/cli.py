"""The `refectory` command: one click group, a sub-group per part of the product."""

from __future__ import annotations

import sys

import click

from domain.i18n import LANGUAGES

from . import __version__
from .cli_support import LazyGroup

EXIT_ERROR = 1


class RefectoryGroup(LazyGroup):
    """Usage errors exit 1 (not click's 2), because 2 means "meal refused" for `kiosk tap`."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_ERROR)
        except click.ClickException as error:
            error.show()
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=RefectoryGroup, lazy={"kiosk": "refectory.kiosk_commands:kiosk",
                                        "server": "refectory.server_commands:server", "demo": "refectory.demo:demo"})
@click.version_option(__version__, prog_name="refectory")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, envvar="REFECTORY_LANG",
              help="Language of messages (default: fr).")
def cli(lang: str | None) -> None:
    """Prepaid school refectory: kiosk, sync server and parents' portal."""


def main() -> None:
    cli(prog_name="refectory")
