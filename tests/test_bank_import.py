"""Bank top-ups from camt files: each credit once, whatever is imported again; unknown references
wait for the manager; the kiosks and the family hear of each credit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from domain.entries import EntryKind
from kiosk.sync_agent import SyncAgent
from refectory.cli import cli
from refectory.testing.camt import camt053, camt054, entry, tx
from sync_server import audit, bank_import
from sync_server.bank_files import read_credits
from sync_server.tables import entries, mail_outbox

from .conftest import MONDAY_NOON
from .live_server import new_kiosk

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}


@pytest.fixture
def references(server):
    """Léa (P001) pays with a QR reference, Noé (P002) with an RF creditor reference."""
    with server.write() as conn:
        return {"P001": bank_import.payment_reference(conn, "P001", qr_iban=True),
                "P002": bank_import.payment_reference(conn, "P002", qr_iban=False)}


def notification(references) -> bytes:
    return camt054(
        entry("150.00", [tx("B-1", "100.00", reference=references["P001"], payer="Anna Müller"),
                         tx("B-2", "50.00", reference=references["P002"], scheme="SCOR", payer="Paul Favre")]),
        entry("20.00", [tx("B-3", "20.00", reference="000000000000000000000099999", payer="Inconnu")], entry_ref="E-2"),
        entry("30.00", [tx("B-4", "30.00", note="Repas Zoé", payer="Famille Rochat")], entry_ref="E-3"),
    )


def importing(server, data: bytes):
    with server.write() as conn:
        return bank_import.import_credits(conn, read_credits(data), MONDAY_NOON, canteen=CANTEEN,
                                          portal_url="https://portail.example.ch/")


def bank_entries(server) -> list[tuple]:
    with server.write() as conn:
        return conn.execute(select(entries.c.account_id, entries.c.amount_cents, entries.c.reference)
                            .where(entries.c.kind == EntryKind.BANK_TOPUP.value).order_by(entries.c.seq)).all()


def test_each_referenced_credit_becomes_a_bank_top_up_and_the_rest_waits(server, references):
    report = importing(server, notification(references))
    assert [(c.bank_reference, pupil) for c, pupil in report.credited] == [("B-1", "P001"), ("B-2", "P002")]
    assert [c.bank_reference for c in report.unmatched] == ["B-3", "B-4"] and report.duplicates == 0
    assert bank_entries(server) == [("P001", 100_00, "B-1"), ("P002", 50_00, "B-2")]
    assert server.balance("P001") == 100_00 and server.balance("P002") == 50_00
    with server.write() as conn:
        assert [c.bank_reference for c in bank_import.waiting(conn)] == ["B-3", "B-4"]


def test_the_same_file_again_or_an_overlapping_statement_credits_nothing_twice(server, references):
    importing(server, notification(references))
    again = importing(server, notification(references))
    assert (again.credited, again.unmatched, again.duplicates) == ([], [], 4)
    statement = camt053(entry("100.00", [tx("B-1", "100.00", reference=references["P001"], version=4)], version=4),
                        entry("40.00", [tx("B-7", "40.00", reference=references["P001"], version=4)], version=4,
                              entry_ref="E-7"))
    overlap = importing(server, statement)
    assert [c.bank_reference for c, _pupil in overlap.credited] == ["B-7"] and overlap.duplicates == 1
    assert server.balance("P001") == 140_00


def test_a_credit_reaches_the_kiosks_and_the_family_gets_an_email(tmp_path, server, references):
    kiosk = new_kiosk(tmp_path, server)
    importing(server, notification(references))
    SyncAgent(kiosk.store).run_round()
    assert kiosk.store.balance("P001") == 100_00
    assert kiosk.tap("04A1B2C3").verdict.served  # Léa eats on the bank credit
    with server.write() as conn:
        mails = conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject).order_by(mail_outbox.c.id)).all()
    assert ("parent3@example.ch", "Virement reçu pour Léa : CHF 100.00") in mails


def test_a_waiting_credit_is_assigned_by_hand_once(server, references):
    importing(server, notification(references))
    with server.write() as conn:
        bank_import.assign(conn, "B-4", "P003", MONDAY_NOON, canteen=CANTEEN, portal_url="https://p/")
    assert server.balance("P003") == 30_00
    with pytest.raises(bank_import.BankImportError, match="already credited"), server.write() as conn:
        bank_import.assign(conn, "B-4", "P003", MONDAY_NOON, canteen=CANTEEN, portal_url="https://p/")
    with pytest.raises(bank_import.BankImportError, match="Unknown pupil"), server.write() as conn:
        bank_import.assign(conn, "B-3", "NOPE", MONDAY_NOON, canteen=CANTEEN, portal_url="https://p/")
    assert server.balance("P003") == 30_00


def test_a_pupils_reference_never_changes(server, references):
    with server.write() as conn:
        assert bank_import.payment_reference(conn, "P001", qr_iban=True) == references["P001"]
        assert bank_import.payment_reference(conn, "P002", qr_iban=False) == references["P002"]


def test_the_import_command_reports_and_a_second_run_adds_nothing(tmp_path, server, references, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(server.engine.url))
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    bank_file = tmp_path / "camt054.xml"
    bank_file.write_bytes(notification(references))
    runner = CliRunner()
    first = runner.invoke(cli, ["server", "import-bank", str(bank_file)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "2 crédit(s) comptabilisé(s), 0 déjà importé(s), 2 à attribuer à la main." in first.stdout
    second = runner.invoke(cli, ["server", "import-bank", str(bank_file), "--json"], catch_exceptions=False)
    assert json.loads(second.stdout)["duplicates"] == 4
    with server.write() as conn:
        assert [(e.action, e.subject) for e in audit.recent(conn)] == [("bank.import", "camt054.xml")] * 2
    garbage = tmp_path / "notes.xml"
    garbage.write_bytes(b"<Document><Other/></Document>")
    refused = runner.invoke(cli, ["server", "import-bank", str(garbage)], catch_exceptions=False)
    assert refused.exit_code == 1 and "n'est pas un fichier bancaire camt.053 ou camt.054" in refused.stderr
