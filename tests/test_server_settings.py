"""The server's settings: whatever their source (environment, instance/config.py, defaults), each
is checked and typed when the server starts, and a wrong one stops the start with its name."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from domain.roster import parse_csv
from sync_server import create_app
from sync_server.admin import roster_import
from sync_server.db import upgrade, writing
from sync_server.families import accounts
from sync_server.settings import SETTINGS, SettingsError

from .conftest import MONDAY_NOON
from .live_server import SERVER_ROSTER, free_port
from .portal_client import Browser, text_of

ROOT = Path(__file__).resolve().parent.parent
# The canteen's account as the docs allow it in the environment: numbers among them.
ENVIRONMENT = {"REFECTORY_QRBILL_IBAN": "CH44 3199 9123 0008 8901 2", "REFECTORY_QRBILL_NAME": "Cantine de Vernier",
               "REFECTORY_QRBILL_STREET": "Rue du Village", "REFECTORY_QRBILL_HOUSE_NUM": "1",
               "REFECTORY_QRBILL_PCODE": "1214", "REFECTORY_QRBILL_CITY": "Vernier",
               "REFECTORY_MAIL_PORT": "587", "REFECTORY_SESSION_COOKIE_SECURE": "false",
               "REFECTORY_PERMANENT_SESSION_LIFETIME": "900", "REFECTORY_DATATRANS_PASSWORD": "1e5",
               "REFECTORY_CANTEEN_PHONE": "0219876543"}


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """A clean slate: no setting in the environment but the database (already migrated)."""
    for name in [n for n in os.environ if n.startswith("REFECTORY_")]:
        monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'server.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    return monkeypatch


def started(tmp_path):
    app = create_app(instance_path=str(tmp_path / "instance"))
    app.config["CLOCK"] = lambda: MONDAY_NOON
    return app


def test_settings_from_the_environment_take_their_type_and_the_top_up_page_works(environment, tmp_path):
    for name, value in ENVIRONMENT.items():
        environment.setenv(name, value)
    app = started(tmp_path)
    try:
        assert (app.config["QRBILL_PCODE"], app.config["QRBILL_HOUSE_NUM"]) == ("1214", "1")
        assert (app.config["MAIL_PORT"], app.config["SESSION_COOKIE_SECURE"]) == (587, False)
        assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=15)
        assert (app.config["DATATRANS_PASSWORD"], app.config["CANTEEN_PHONE"]) == ("1e5", "0219876543")
        with writing(app.extensions["refectory.engine"]) as conn:
            roster_import.import_pupils(conn, *parse_csv(SERVER_ROSTER.encode()), MONDAY_NOON)
            letter = accounts.issue_login(conn, "F01", MONDAY_NOON)
        browser = Browser(app.test_client())
        assert browser.submit("/login", {"login": letter.login, "password": letter.password}).status_code == 302
        page = browser.get("/children/P001/topup")
        assert page.status_code == 200
        assert "Cantine de Vernier, Rue du Village 1, 1214 Vernier" in text_of(page)
        bill = browser.submit("/children/P001/qr-bill", {"amount": "20"}, form_page="/children/P001/topup")
        assert bill.status_code == 200 and bill.mimetype == "application/pdf"
    finally:
        app.extensions["refectory.engine"].dispose()


def test_numbers_written_in_the_instance_config_file_are_taken_as_the_settings_type(environment, tmp_path):
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "config.py").write_text(
        "QRBILL_PCODE = 1214\nMAIL_PORT = '2525'\nPERMANENT_SESSION_LIFETIME = 600\nSERVER_NAME = 'portal.test'\n")
    environment.setenv("REFECTORY_MAIL_PORT", "465")  # the environment wins over the file
    app = started(tmp_path)
    app.extensions["refectory.engine"].dispose()
    assert (app.config["QRBILL_PCODE"], app.config["MAIL_PORT"]) == ("1214", 465)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=10)
    assert app.config["SERVER_NAME"] == "portal.test"  # Flask's own settings pass as they are


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("REFECTORY_QRBILL_IBAN", "not-an-iban", "a Swiss or Liechtenstein IBAN"),
    ("REFECTORY_QRBILL_IBAN", "DE89370400440532013000", "a Swiss or Liechtenstein IBAN"),
    ("REFECTORY_MAIL_PORT", "-25", "a whole number from 1 to 65535"),
    ("REFECTORY_MAIL_PORT", "²", "a whole number from 1 to 65535"),
    ("REFECTORY_MAIL_PORT", "[25]", "a whole number from 1 to 65535"),
    ("REFECTORY_BANK_CREDIT_MAX_CENTS", "-5", "a whole number from 1 to 100000000000"),
    ("REFECTORY_BANK_CREDIT_MAX_CENTS", "100.00", "a whole number from 1 to 100000000000"),
    ("REFECTORY_MAIL_SECURITY", "secure", "one of none, starttls, ssl"),
    ("REFECTORY_SESSION_COOKIE_SECURE", "maybe", "true or false"),
    ("REFECTORY_PORTAL_URL", "portal.example.ch", "an address starting with http:// or https://"),
    ("REFECTORY_CANTEEN_EMAIL", "cantine@example.ch\x01", "an e-mail address"),
    ("REFECTORY_CANTEEN_NAME", "Cantine\nBcc: x@y.ch", "without control characters"),
    ("REFECTORY_QRBILL_CITY", "x" * 36, "at most 35 characters"),
    ("REFECTORY_LOGIN_LIMIT_PER_ADDRESS", "lots", "a limit such as '10 per 15 minutes'"),
    ("REFECTORY_DATATRANS_HMAC_KEY", "not hex", "the key in hexadecimal"),
    ("REFECTORY_PAYMENT_TERMS_DOCUMENT", "terms.pdf", "the number of a published document"),
    ("REFECTORY_REFUND_PAIN001_VERSION", "10", "one of 09, 03"),
    ("DATABASE_URL", "server-db", "a database URL"),
    ("REFECTORY_DB_POOL_SIZE", "-3", "a whole number from 1 to 100"),
    ("REFECTORY_DB_MAX_OVERFLOW", "-1", "a whole number from 0 to 100"),
    ("REFECTORY_DB_POOL_TIMEOUT", "0.5", "a number of seconds from 1 to 60"),
])
def test_a_wrong_setting_in_the_environment_stops_the_start_with_its_name(environment, tmp_path, variable, value,
                                                                          expected):
    environment.setenv(variable, value)
    with pytest.raises(SettingsError) as stopped:
        create_app(instance_path=str(tmp_path / "instance"))
    name = variable.removeprefix("REFECTORY_")
    said = str(stopped.value)
    assert said.startswith(f"The setting {name} (from the environment variable {variable}) must be ")
    assert expected in said and value not in said  # the value is never repeated: it may be a password


@pytest.mark.parametrize(("line", "name"), [
    ("QRBILL_PCODE = [1214]", "QRBILL_PCODE"), ("MAIL_PORT = 25.0", "MAIL_PORT"),
    ("SESSION_COOKIE_SECURE = 'sometimes'", "SESSION_COOKIE_SECURE"), ("SESSION_MAX_HOURS = True", "SESSION_MAX_HOURS"),
    ("PERMANENT_SESSION_LIFETIME = 'long'", "PERMANENT_SESSION_LIFETIME"), ("CANTEEN_NAME = None", "CANTEEN_NAME"),
])
def test_a_value_of_an_unknown_type_in_the_config_file_stops_the_start_with_its_name(environment, tmp_path, line,
                                                                                      name):
    config = tmp_path / "instance" / "config.py"
    config.parent.mkdir()
    config.write_text(line + "\n")
    with pytest.raises(SettingsError, match=f"The setting {name} \\(from {re.escape(str(config))}\\) must be"):
        create_app(instance_path=str(tmp_path / "instance"))


def test_a_wrong_setting_stops_the_server_command_with_its_name_in_french(environment, tmp_path):
    environment.setenv("REFECTORY_MAIL_PORT", "-1")
    port = str(free_port())
    # A server that started anyway would serve until killed: the deadline makes that a failure.
    result = subprocess.run([sys.executable, "-m", "refectory", "server", "run", "--instance", str(tmp_path / "i"),
                             "--port", port], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert ("Le réglage MAIL_PORT (venant de la variable d'environnement REFECTORY_MAIL_PORT) doit être un nombre "
            "entier de 1 à 65535.") in result.stderr


def test_a_wrong_setting_given_by_a_test_configuration_is_refused_too(tmp_path):
    with pytest.raises(SettingsError, match="MAIL_SECURITY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}", "MAIL_SECURITY": "tls"},
                   instance_path=str(tmp_path / "instance"))


def test_a_misspelt_setting_in_the_environment_is_named_in_the_log(environment, tmp_path, caplog):
    environment.setenv("REFECTORY_QRBIL_IBAN", "CH4431999123000889012")
    environment.setenv("REFECTORY_LANG", "fr")  # the command's own: no warning
    with caplog.at_level(logging.WARNING):
        started(tmp_path).extensions["refectory.engine"].dispose()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["REFECTORY_QRBIL_IBAN is not a server setting and is ignored (docs/settings.md lists them)"]


def test_the_settings_page_of_the_docs_lists_exactly_the_declared_settings():
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    documented = {name for row in re.findall(r"^\| (`[A-Z_0-9]+`(?:, `[A-Z_0-9]+`)*) \|", page, flags=re.M)
                  for name in re.findall(r"`([A-Z_0-9]+)`", row)}
    assert documented == {setting.name for setting in SETTINGS}
