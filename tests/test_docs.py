"""The docs keep up with the code, in the spirit of Datasette's test_docs.py: every `refectory`
command and each of its options, every canteen setting, every refusal code and every
`REFECTORY_*` variable the commands read is documented. (The server settings' table in
docs/settings.md is checked against sync_server/settings.py by tests/test_server_settings.py.)
Each failure names what is missing and where it belongs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from domain.meals import Refusal
from domain.settings import DEFAULTS, PRICE_PREFIX
from refectory.cli import cli
from refectory.cli_support import LazyGroup
from sync_server.settings import COMMAND_VARIABLES, ENV_PREFIX, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
# Options every command of a group shares, each documented once where that group is introduced.
SHARED_OPTIONS = {"--json": "docs/operator.md", "--data": "docs/operator.md", "--instance": "docs/server.md",
                  "--help": None}
ROOT_COMMAND_DOCS = "docs/operator.md"
# Where a command that lives in a module is documented, for the failure message.
HOME_OF = {"refectory.kiosk_commands.backups": "docs/operations.md", "refectory.server_commands.backups":
           "docs/operations.md", "refectory.kiosk_commands.sync": "docs/server.md",
           "refectory.kiosk_commands.devices": "docs/hardware.md", "refectory.kiosk_commands.screen":
           "docs/kiosk-ui.md", "refectory.server_commands.core": "docs/server.md",
           "refectory.server_commands.bank": "docs/server.md", "refectory.server_commands.portal": "docs/portal.md",
           "refectory.demo": "docs/kiosk-ui.md", "": ROOT_COMMAND_DOCS}
SOURCE_PACKAGES = ("refectory", "kiosk", "kiosk_ui", "hardware", "domain", "sync_server")


@dataclass(frozen=True)
class Section:
    file: str
    heading: str
    text: str


def _sections() -> list[Section]:
    """Every docs page cut at its headings (a `#` line outside a code block)."""
    found = []
    for page in DOCS:
        name, heading, lines, in_code = str(page.relative_to(ROOT)), "(top)", [], False
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                in_code = not in_code
            if line.startswith("#") and not in_code:
                found.append(Section(name, heading, "\n".join(lines)))
                heading, lines = line.lstrip("# "), []
            else:
                lines.append(line)
        found.append(Section(name, heading, "\n".join(lines)))
    return found


SECTIONS = _sections()
ALL_TEXT = "\n".join(s.text + "\n" + s.heading for s in SECTIONS)


@dataclass(frozen=True)
class Command:
    name: str  # "refectory kiosk backup"
    command: click.Command | None
    module: str  # where the lazy group loads it from ("" for the root)
    problem: str | None = None  # why it could not be loaded


def _walk(command: click.Command, name: str, module: str, parent: click.Context | None) -> list[Command]:
    ctx = click.Context(command, info_name=name.rsplit(" ", 1)[-1], parent=parent)
    found = [Command(name, command, module)]
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            sub_module = command.lazy[sub].split(":")[0] if isinstance(command, LazyGroup) and sub in command.lazy \
                else module
            try:
                loaded = command.get_command(ctx, sub)
            except (ImportError, AttributeError) as error:
                found.append(Command(f"{name} {sub}", None, sub_module, f"{type(error).__name__}: {error}"))
                continue
            found += _walk(loaded, f"{name} {sub}", sub_module, ctx)
    return found


COMMANDS = _walk(cli, "refectory", "", None)


def _home(command: Command) -> str:
    return HOME_OF.get(command.module, "docs/operator.md" if " kiosk " in command.name + " " else "docs/server.md")


def test_every_registered_command_can_be_loaded():
    broken = [f"{c.name}: registered in its group's lazy table as {c.module}, which cannot be loaded ({c.problem})"
              for c in COMMANDS if c.problem]
    assert not broken, "\n".join(broken)


def test_every_command_is_named_in_the_docs():
    missing = [f"`{c.name}` appears in no docs page: add it to {_home(c)}"
               for c in COMMANDS if c.name != "refectory" and c.name not in ALL_TEXT]
    assert not missing, "\n".join(missing)


def test_every_option_is_documented_where_its_command_is():
    missing = []
    for c in COMMANDS:
        if c.command is None:
            continue
        where = [s for s in SECTIONS if re.search(re.escape(c.name) + r"(?![\w-])", s.text + s.heading)]
        for option in (o for p in c.command.get_params(click.Context(c.command)) if isinstance(p, click.Option)
                       for o in p.opts if o.startswith("--")):
            if option in SHARED_OPTIONS:
                home = SHARED_OPTIONS[option]
                if home and not re.search(re.escape(option) + r"(?![\w-])", (ROOT / home).read_text("utf-8")):
                    missing.append(f"{option} (shared by every `{c.name.rsplit(' ', 1)[0]}` command) is not "
                                   f"explained in {home}")
            elif not any(re.search(re.escape(option) + r"(?![\w-])", s.text) for s in where):
                places = ", ".join(sorted({f"{s.file} ({s.heading})" for s in where})[:4]) or "none"
                missing.append(f"`{c.name}` {option}: in no docs section that names the command (sections: "
                               f"{places}); document it beside the command in {_home(c)}")
    assert not sorted(set(missing)), "\n".join(sorted(set(missing)))


def _settings_table(page: str, heading: str) -> str:
    return next(s.text for s in SECTIONS if s.file == page and s.heading == heading)


def test_every_canteen_setting_is_in_the_operator_guides_settings_table():
    rows = [line for line in _settings_table("docs/operator.md", "Settings").splitlines() if line.startswith("| `")]
    keys = {key for row in rows for key in re.findall(r"`([a-z_.<>]+)`", row.split("|")[1])}
    missing = [key for key in DEFAULTS
               if key not in keys and not (key.startswith(PRICE_PREFIX) and f"{PRICE_PREFIX}<category>" in keys)]
    assert not missing, (f"canteen settings (domain/settings.py DEFAULTS) missing from the table under "
                         f"'## Settings' in docs/operator.md: {', '.join(missing)}")


def test_every_refusal_reason_is_explained_in_the_operator_guide():
    page = (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
    explained = set(re.findall(r"^\| `([a-z_]+)` \|", page, flags=re.M))
    missing = [str(reason) for reason in Refusal if str(reason) not in explained]
    assert not missing, (f"refusal codes (domain/meals.py Refusal) without a row in the refusal table of "
                         f"docs/operator.md: {', '.join(missing)}")


def _variables_read_by_commands() -> set[str]:
    """`REFECTORY_*` names the commands read: click options' `envvar`, and the names the code spells
    out (os.environ lookups, the server's list of the command's own variables). Server settings'
    variables (`REFECTORY_<SETTING>`) are docs/settings.md's business."""
    names = {p.envvar for c in COMMANDS if c.command for p in c.command.params
             if isinstance(p.envvar, str) and p.envvar.startswith(ENV_PREFIX)}
    names |= set(COMMAND_VARIABLES)
    for package in SOURCE_PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            if "testing" not in source.relative_to(ROOT).parts:
                names |= set(re.findall(r"""["'](REFECTORY_[A-Z][A-Z0-9_]*)["']""", source.read_text("utf-8")))
    return names - {ENV_PREFIX + setting.name for setting in SETTINGS}


def test_every_variable_the_commands_read_is_documented():
    missing = sorted(name for name in _variables_read_by_commands()
                     if not re.search(re.escape(name) + r"(?![A-Z0-9_])", ALL_TEXT))
    assert not missing, (f"environment variables read by the commands and named in no docs page: "
                         f"{', '.join(missing)}; say what each does in docs/operations.md")


def _help(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="refectory")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", [("kiosk", "cashier", "add"), ("kiosk", "topup"), ("kiosk", "reverse"),
                                     ("server", "cashier", "add")])
def test_the_help_does_not_call_the_pin_required_since_it_is_asked_for(command):
    pin_help = re.search(r"--pin TEXT(.*?)\n  --", _help(*command), flags=re.S).group(1)
    assert "required" not in pin_help and "asked" in pin_help


def test_the_help_of_server_run_gives_its_default_address():
    text = " ".join(_help("server", "run").split())
    assert "[default: 8000]" in text and "[default: 127.0.0.1]" in text


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_docs_pages_leads_to_a_page_and_heading_that_exist():
    anchors = {}
    for s in SECTIONS:
        anchors.setdefault(s.file, set()).add(_anchor(s.heading))
    broken = []
    for page in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            name = str(file.relative_to(ROOT)) if file.is_relative_to(ROOT) else str(file)
            if not file.exists() or (anchor and anchor not in anchors.get(name, set())):
                broken.append(f"{page.relative_to(ROOT)}: link to {target} leads nowhere")
    assert not broken, "\n".join(broken)
