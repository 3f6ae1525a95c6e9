"""The manager's server commands: an id that names nothing is refused, never answered as if it
existed, and an e-mail address that could break a mail header is refused with nothing written;
on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from domain.roster import parse_csv
from domain.text import email_problem
from sync_server.admin import roster_import
from sync_server.db import make_engine, upgrade, writing
from sync_server.mail import outbox
from sync_server.money import bank_import
from sync_server.money.bank_files import BankCredit
from sync_server.tables import mail_outbox, metadata

from .conftest import MONDAY_NOON
from .live_server import SERVER_ROSTER
from .smtp_sink import SmtpSink

# with Unicode's line and paragraph separators, which e-mail headers take as line breaks too
CONTROL_CHARACTERS = [chr(code) for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)]


@pytest.fixture
def school(database_url, tmp_path, monkeypatch):
    """The test school's database (pupils, families F01 and F02), which `refectory server ...` uses."""
    upgrade(database_url)
    engine = make_engine(database_url)
    with writing(engine) as conn:
        roster_import.import_pupils(conn, *parse_csv(SERVER_ROSTER.encode()), MONDAY_NOON)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    yield engine
    engine.dispose()


def every_row(engine) -> dict[str, list]:
    """Every row of every table, to prove that a refused command wrote nothing."""
    with engine.connect() as conn:
        return {table.name: sorted(map(repr, conn.execute(select(table)).all())) for table in metadata.sorted_tables}


def test_the_balance_of_an_unknown_pupil_is_refused_not_shown_as_zero(run, school):
    known = run("server", "balance", "P001", "--json")
    assert known.exit_code == 0 and json.loads(known.stdout)["balance_cents"] == 0
    unknown = run("server", "balance", "P9999")
    assert unknown.exit_code == 1 and unknown.stdout == ""
    assert "Élève inconnu·e « P9999 »" in unknown.stderr
    as_json = run("server", "balance", "P9999", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["ok"] is False


@pytest.mark.parametrize(("command", "unknown"), [
    (("balance", "P9999"), "P9999"), (("family", "add", "F99"), "F99"), (("family", "reset-password", "F99"), "F99"),
    (("kiosk-revoke", "K9"), "K9"), (("bank", "assign", "B-404", "P001"), "B-404"),
    (("bank", "assign", "B-1", "P9999"), "P9999"),
], ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_command_refuses_an_id_that_names_nothing_and_writes_nothing(run, school, command, unknown):
    with writing(school) as conn:  # a credit waiting to be assigned
        bank_import.import_credits(conn, [BankCredit("B-1", 20_00, "CHF", None, None, "M. Favre", "repas")],
                                   MONDAY_NOON, canteen={"name": "Cantine"}, portal_url="https://portal.test/")
    before = every_row(school)
    result = run("server", *command)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Erreur : ") and unknown in result.stderr
    assert every_row(school) == before


def test_a_login_for_a_family_no_roster_brought_is_refused_and_nothing_is_written(run, school):
    before = every_row(school)
    result = run("server", "family", "add", "F99")
    assert result.exit_code == 1 and "Famille inconnue « F99 »" in result.stderr and "Mot de passe" not in result.stdout
    assert every_row(school) == before
    assert run("server", "family", "add", "F01").exit_code == 0


@pytest.mark.parametrize("address", ["famille@example.ch\x00", "a@b.ch\x01", "parent@example.ch\nBcc: x@y.ch"])
def test_a_roster_with_a_parent_address_holding_a_control_character_imports_nothing(run, school, tmp_path, address):
    roster = tmp_path / "pupils.csv"
    quoted = '"' + address + '"'
    roster.write_text(SERVER_ROSTER.replace("parent2@example.ch", quoted).replace("P001,Léa", "P010,Léa"),
                      encoding="utf-8")
    before = every_row(school)
    result = run("server", "import-pupils", str(roster))
    assert result.exit_code == 1
    assert "ligne 3 : parent_email contient un saut de ligne ou un autre caractère de contrôle." in result.stderr
    assert "\x00" not in result.stderr and "\x01" not in result.stderr
    assert every_row(school) == before


@pytest.mark.parametrize("address", ["famille@example.ch\x00", "a@b.ch\x01", "a@b.ch\r\nBcc: x@y.ch"])
def test_family_add_refuses_an_address_holding_a_control_character_and_writes_nothing(run, school, address):
    before = every_row(school)
    result = run("server", "family", "add", "F01", "--email", address, "--json")
    assert result.exit_code == 1
    message = json.loads(result.stdout)["message"]
    assert message == "--email contient un saut de ligne ou un autre caractère de contrôle."
    assert every_row(school) == before


def test_every_control_character_makes_an_address_unacceptable():
    assert email_problem("parent@example.ch", "parent_email") is None
    for character in CONTROL_CHARACTERS:
        for address in (f"parent@example.ch{character}", f"par{character}ent@example.ch"):
            problem = email_problem(address, "parent_email")
            assert problem is not None and "control character" in problem.render(), repr(address)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_a_first_name_holding_a_line_separator_is_refused_since_every_mail_naming_the_child_would_be_lost(
        run, school, separator):
    before = every_row(school)
    result = run("server", "pupil", "edit", "P001", "--first-name", f"Léa{separator}Marie", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"] == {"first_name": "Une ligne d'au plus 200 caractères."}
    assert every_row(school) == before


def test_the_mail_sender_never_writes_a_header_with_a_control_character(school):
    """An address stored before addresses were checked cannot reach a header: that message is given
    up with its reason, and the others still go."""
    with writing(school) as conn:
        outbox.enqueue(conn, "a@b.ch\x01", "Réservation", "x", MONDAY_NOON)
        outbox.enqueue(conn, "parent2@example.ch", "Réservation", "y", MONDAY_NOON)
        outbox.enqueue(conn, "parent3@example.ch", "Léa\x1b[2J", "z", MONDAY_NOON)
    sink = SmtpSink()
    try:
        report = outbox.send_due(school, outbox.SmtpSettings(host="127.0.0.1", port=sink.port), MONDAY_NOON)
        assert (report.sent, report.given_up) == (1, 2)
        assert [m["To"] for m in sink.wait_for(1)] == ["parent2@example.ch"]
    finally:
        sink.stop()
    with school.connect() as conn:
        errors = conn.execute(select(mail_outbox.c.last_error).where(mail_outbox.c.given_up_at.is_not(None))
                              .order_by(mail_outbox.c.id)).scalars().all()
    assert ["To header" in errors[0], "Subject header" in errors[1]] == [True, True]


def test_a_price_for_a_category_nobody_is_in_is_set_and_named_as_new_so_a_typo_shows(run, school):
    known = run("server", "set-price", "primary", "7.50")
    assert known.exit_code == 0 and known.stdout == "price.primary = 7.50\n"
    typo = run("server", "set-price", "primay", "8.00")
    assert typo.exit_code == 0 and typo.stdout.splitlines() == [
        "price.primay = 8.00",
        "Nouvelle catégorie primay : aucun·e élève n'y est encore (catégories jusqu'ici : primary, secondary, staff)."]
    assert json.loads(run("server", "set-price", "primay", "8.50", "--json").stdout)["new_category"] is False
