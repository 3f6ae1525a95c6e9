"""What every `refectory` command shares: the chosen language, output as lines or one JSON
object, and domain errors turned into a translated message with exit code 1."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable

import click

from domain.backups import KEEP_DAILY, KEEP_WEEKLY
from domain.i18n import chosen_language, gettext_for, ngettext_for
from domain.messages import RefectoryError


class LazyGroup(click.Group):
    """A command group whose commands are imported when one is run or listed, so a command loads
    only its own part of the product (`kiosk tap` never imports the server)."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy  # command name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy:
            return super().get_command(ctx, name)
        module, attribute = self.lazy[name].split(":")
        return getattr(importlib.import_module(module), attribute)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _(text: str) -> str:
    """Translate a CLI string into the language chosen on the command line or in REFECTORY_LANG."""
    return gettext_for(_language())(text)


def ngettext(singular: str, plural: str, count: int) -> str:
    """`_` for a message with a count; the result still takes `.format(count=...)`."""
    return ngettext_for(_language())(singular, plural, count)


def _language() -> str | None:
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().params.get("lang") if ctx else None


def language() -> str:
    """The language chosen on the command line (`--lang`), else REFECTORY_LANG's, else French."""
    return _language() or chosen_language()


def _emit(as_json: bool, payload: dict, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, sort_keys=True))
    else:
        for line in lines:
            click.echo(line)


def reports_errors(command: Callable) -> Callable:
    """Turn a domain error into a translated message on stderr (and JSON) with exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RefectoryError as error:
            message = error.render(_)
            details = [
                "  " + (_("line {line}: {message}").format(line=e.line, message=e.message.render(_)) if e.line
                        else e.message.render(_))
                for e in getattr(error, "errors", [])
            ]
            if kwargs.get("as_json"):
                payload = {"ok": False, "error": error.code, "message": message}
                if details:  # a problem of the whole file has no line
                    payload["errors"] = [{"line": e.line or None, "message": e.message.render(_)} for e in error.errors]
                if hasattr(error, "problems"):  # a form's problems, by field
                    payload["problems"] = {field: problem.render(_) for field, problem in error.problems.items()}
                click.echo(json.dumps(payload, ensure_ascii=False, sort_keys=True))
            click.echo(_("Error: {message}").format(message=message), err=True)
            for line in details:
                click.echo(line, err=True)
            sys.exit(1)

    return wrapper


def rotation_options(command: Callable) -> Callable:
    """`--keep-daily` and `--keep-weekly`: the backup rotation, the same for the kiosk and the server."""
    command = click.option("--keep-weekly", default=KEEP_WEEKLY, show_default=True, type=click.IntRange(min=0),
                           help="Keep the newest backup of this many most recent ISO weeks that have one.")(command)
    return click.option("--keep-daily", default=KEEP_DAILY, show_default=True, type=click.IntRange(min=0),
                        help="Keep the newest backup of this many most recent days that have one.")(command)
