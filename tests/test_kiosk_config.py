"""kiosk.toml: defaults that run a demo kiosk, and a precise refusal for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config


def config_with(tmp_path: Path, text: str):
    (tmp_path / "kiosk.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


def test_without_a_file_the_kiosk_uses_the_virtual_reader_and_printer_in_its_folder(tmp_path):
    config = load_config(tmp_path)
    assert config.reader.kind == "virtual"
    assert config.reader.socket == tmp_path / "virtual-reader.sock"
    assert config.printer.connection == f"virtual:{tmp_path / 'receipts'}"
    assert config.printer.paper == "80mm" and config.printer.cash_drawer is True
    assert config.sync.long_poll is True  # a credit paid online reaches the counter within seconds


def test_kiosk_init_writes_a_commented_default_file_that_loads_as_the_defaults(run, tmp_path):
    result = run("kiosk", "init", "--data", str(tmp_path / "k"), "--kiosk-id", "K9")
    assert result.exit_code == 0
    text = (tmp_path / "k" / "kiosk.toml").read_text(encoding="utf-8")
    assert "# usb:VID:PID | network:HOST:PORT" in text
    written = load_config(tmp_path / "k")
    (tmp_path / "k" / "kiosk.toml").unlink()
    assert load_config(tmp_path / "k") == written


def test_canteen_details_and_devices_come_from_the_file(tmp_path):
    config = config_with(tmp_path, """
[canteen]
name = "Restaurant scolaire des Pâquis"
address = ["Rue de Berne 50", "1201 Genève"]
phone = "022 000 00 00"
[reader]
kind = "wedge"
device = "/dev/input/by-id/usb-reader-event-kbd"
format = "decimal-reversed"
[printer]
connection = "network:192.168.1.50:9100"
paper = "58mm"
cash_drawer = false
""")
    assert config.canteen.address == ("Rue de Berne 50", "1201 Genève")
    assert (config.reader.kind, config.reader.format) == ("wedge", "decimal-reversed")
    assert config.printer.connection == "network:192.168.1.50:9100"
    assert (config.printer.paper, config.printer.cash_drawer) == ("58mm", False)


@pytest.mark.parametrize(("text", "says"), [
    ("[reader]\nkind = 'nfc'\n", "reader.kind = 'nfc' is not one of pcsc, wedge, virtual."),
    ("[reader]\nkind = 'wedge'\n", "reader.device is required for a keyboard-wedge reader."),
    ("[reader]\nformat = 'octal'\n", "reader.format = 'octal' is not one of hex, decimal, decimal-reversed."),
    ("[printer]\npaper = '76mm'\n", "printer.paper = '76mm' is not one of 58mm, 80mm."),
    ("[printer]\ncash_drawer = 'yes'\n", "printer.cash_drawer must be true or false."),
    ("[printer]\nspeed = 3\n", "unknown key printer.speed."),
    ("[sync]\nlong_poll = 1\n", "sync.long_poll must be true or false."),
    ("[canteen]\naddress = 'Rue 1'\n", "canteen.address must be a list of texts."),
    ("[scanner]\nkind = 'x'\n", "unknown section [scanner]."),
    ("[reader\n", "not valid TOML"),
])
def test_a_bad_value_is_refused_naming_the_key(tmp_path, text, says):
    with pytest.raises(ConfigError) as refused:
        config_with(tmp_path, text)
    assert says in str(refused.value)
    assert str(tmp_path / "kiosk.toml") in str(refused.value)


def test_listen_with_a_bad_configuration_stops_with_a_french_message(run, kiosk_dir):
    (kiosk_dir / "kiosk.toml").write_text("[reader]\nkind = 'nfc'\n", encoding="utf-8")
    result = run("kiosk", "listen", "--data", str(kiosk_dir))
    assert result.exit_code == 1
    assert "n'est pas l'une des valeurs" in result.stderr


def test_the_screen_section_sets_language_verdict_time_lock_and_sound(tmp_path):
    (tmp_path / "kiosk.toml").write_text('[screen]\nlanguage = "en"\nverdict_seconds = 3\nlock_after_seconds = 60\n'
                                         'sound = true\n', encoding="utf-8")
    screen = load_config(tmp_path).screen
    assert (screen.language, screen.verdict_seconds, screen.lock_after_seconds, screen.sound) == ("en", 3, 60, True)


@pytest.mark.parametrize(("line", "says"), [
    ("verdict_seconds = 0", "screen.verdict_seconds must be between 1 and 60"),
    ("lock_after_seconds = 5", "screen.lock_after_seconds must be between 15 and 3600"),
    ('language = "de"', "screen.language = 'de' is not one of fr, en"),
    ('sound = "yes"', "screen.sound must be true or false"),
])
def test_a_bad_screen_setting_is_named(tmp_path, line, says):
    (tmp_path / "kiosk.toml").write_text(f"[screen]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert says in error.value.render()
