"""`cashier add` asks the same questions on the kiosk and on the server: one set of options, one
PIN prompt (twice, never echoed) and the cashier's own badge."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from refectory.cli import cli


@pytest.fixture
def cashier_add_commands(kiosk_dir, tmp_path, monkeypatch):
    """`cashier add` on a kiosk and on a fresh server (SQLite in its instance folder)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    instance = tmp_path / "instance"
    assert CliRunner().invoke(cli, ["server", "init", "--instance", str(instance)]).exit_code == 0
    return {"kiosk": ["kiosk", "cashier", "add", "--data", str(kiosk_dir)],
            "server": ["server", "cashier", "add", "--instance", str(instance)]}


@pytest.mark.parametrize("where", ["kiosk", "server"])
def test_a_pin_left_out_is_asked_twice_unseen_and_asked_again_when_the_two_differ(cashier_add_commands, where):
    result = CliRunner().invoke(cli, [*cashier_add_commands[where], "--id", "zoe", "--name", "Zoé",
                                      "--badge", "04:DE:AD:00", "--json"],
                                input="1234\n4321\n5678\n5678\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert result.output.count("Repeat for confirmation") == 2
    assert not any(pin in result.output for pin in ("1234", "4321", "5678"))
    assert json.loads(result.output.splitlines()[-1]) == {"ok": True, "cashier_id": "zoe"}


def test_the_kiosk_and_the_server_ask_the_same_cashier_questions():
    context = click.Context(cli)
    commands = [cli.get_command(context, where).get_command(context, "cashier").get_command(context, "add")
                for where in ("kiosk", "server")]
    asked = [{param.name: param.to_info_dict() for param in command.params
              if param.name in ("cashier_id", "name", "pin", "badge")} for command in commands]
    assert asked[0] == asked[1]
    assert set(asked[0]) == {"cashier_id", "name", "pin", "badge"}
    pins = [command.params[[param.name for param in command.params].index("pin")] for command in commands]
    assert all(pin.prompt and pin.confirmation_prompt and pin.hide_input for pin in pins)


@pytest.mark.parametrize("where", ["kiosk", "server"])
@pytest.mark.parametrize("name, pin, says", [
    ("Bob", "١٢٣٤", "invalid_pin"),  # Arabic-Indic digits: no keypad types them
    ("Eve\x1b@\x1bp", "1234", "invalid_cashier"),  # ESC/POS commands, printed on every receipt of hers
    ("E" * 61, "1234", "invalid_cashier"),
])
def test_a_cashier_who_could_not_type_the_pin_or_print_the_name_is_refused(cashier_add_commands, where, name, pin,
                                                                           says):
    result = CliRunner().invoke(cli, [*cashier_add_commands[where], "--id", "bob", "--name", name, "--pin", pin,
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 1 and json.loads(result.stdout.splitlines()[0])["error"] == says, result.output
