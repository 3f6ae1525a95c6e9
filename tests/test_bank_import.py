"""Bank top-ups from camt files: each credit once, whatever is imported again; unknown references
wait for the manager; the kiosks and the family hear of each credit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from domain.entries import EntryKind
from kiosk.sync_agent import SyncAgent
from refectory.cli import cli
from refectory.testing.camt import camt053, camt054, entry, tx
from sync_server.admin import audit
from sync_server.db import SQL_CHUNK
from sync_server.money import bank_import
from sync_server.money.bank_files import MAX_BANK_FILE_BYTES, read_credits
from sync_server.tables import bank_credits, entries, mail_outbox

from .conftest import MONDAY_NOON
from .live_server import new_kiosk, start_school_server

pytestmark = pytest.mark.on_each_database

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
    assert server.balance("P001") == 140_00 and server.verify_balances() == []


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
    assert server.balance("P003") == 30_00 and server.verify_balances() == []


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
    assert "2 crédits comptabilisés, 0 déjà importé, 2 à attribuer à la main." in first.stdout
    second = runner.invoke(cli, ["server", "import-bank", str(bank_file), "--json"], catch_exceptions=False)
    assert json.loads(second.stdout)["duplicates"] == 4
    with server.write() as conn:
        assert [(e.action, e.subject) for e in audit.recent(conn)] == [("bank.import", "camt054.xml")] * 2
    garbage = tmp_path / "notes.xml"
    garbage.write_bytes(b"<Document><Other/></Document>")
    refused = runner.invoke(cli, ["server", "import-bank", str(garbage)], catch_exceptions=False)
    assert refused.exit_code == 1 and "n'est pas un fichier bancaire camt.053 ou camt.054" in refused.stderr


def run_cli(tmp_path, server, monkeypatch, *args: str):
    monkeypatch.setenv("DATABASE_URL", str(server.engine.url))
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    return CliRunner().invoke(cli, ["server", *args], catch_exceptions=False)


def written(server) -> tuple[int, int, int]:
    with server.write() as conn:
        return tuple(conn.execute(select(func.count()).select_from(table)).scalar_one()
                     for table in (entries, bank_credits, mail_outbox))


SIX_EXAMPLE_QRR = "210000000003139471430009017"  # valid, from SIX's implementation guidelines; not ours


def test_a_valid_qr_reference_we_did_not_issue_waits_for_assignment_and_the_rest_is_imported(
        tmp_path, server, references, monkeypatch):
    bank_file = tmp_path / "camt054.xml"
    bank_file.write_bytes(camt054(
        entry("130.00", [tx("B-1", "100.00", reference=references["P001"], payer="Anna Müller"),
                         tx("B-2", "30.00", reference=SIX_EXAMPLE_QRR, payer="Autre créancier")]), version=8))
    answer = run_cli(tmp_path, server, monkeypatch, "import-bank", str(bank_file), "--json")
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["unmatched"] == ["B-2"] and server.balance("P001") == 100_00
    with server.write() as conn:
        assert [(c.bank_reference, c.reference) for c in bank_import.waiting(conn)] == [("B-2", SIX_EXAMPLE_QRR)]


def test_a_credit_of_an_impossible_amount_refuses_the_whole_file_with_its_reference_and_line(
        tmp_path, server, references, monkeypatch):
    bank_file = tmp_path / "camt054.xml"
    bank_file.write_bytes(camt054(
        entry("100.00", [tx("B-1", "100.00", reference=references["P001"])]),
        entry("92233720368547758.07", [tx("B-2", "92233720368547758.07", note="?")], entry_ref="E-2")
    ).replace(b"<Ntry>", b"\n<Ntry>"))
    answer = run_cli(tmp_path, server, monkeypatch, "import-bank", str(bank_file))
    assert answer.exit_code == 1
    assert "Crédit B-2, ligne 3 : Le montant maximum est de CHF 10'000.00." in answer.stderr, answer.stderr
    assert written(server) == (0, 0, 0)
    balance = run_cli(tmp_path, server, monkeypatch, "balance", "P001")
    assert balance.exit_code == 0 and "CHF 0.00" in balance.stdout


def test_the_canteen_sets_the_largest_bank_credit_in_the_configuration(tmp_path, server, references, monkeypatch):
    bank_file = tmp_path / "camt054.xml"
    bank_file.write_bytes(camt054(entry("12000.00", [tx("B-1", "12000.00", reference=references["P001"])])))
    assert run_cli(tmp_path, server, monkeypatch, "import-bank", str(bank_file)).exit_code == 1
    monkeypatch.setenv("REFECTORY_BANK_CREDIT_MAX_CENTS", "2000000")
    assert run_cli(tmp_path, server, monkeypatch, "import-bank", str(bank_file)).exit_code == 0
    assert server.balance("P001") == 12_000_00


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path, server, monkeypatch):
    bank_file = tmp_path / "huge.xml"
    with bank_file.open("wb") as handle:
        handle.truncate(MAX_BANK_FILE_BYTES + 1024 * 1024)
    answer = run_cli(tmp_path, server, monkeypatch, "import-bank", str(bank_file))
    assert answer.exit_code == 1
    assert "Ce fichier fait 33.0 Mo ; un fichier bancaire fait au plus 32 Mo." in answer.stderr, answer.stderr
    assert written(server) == (0, 0, 0)


@pytest.fixture
def any_server(database_url, tmp_path):
    live = start_school_server(database_url, tmp_path / "instance")
    yield live
    live.stop()


def test_a_file_with_more_credits_than_one_sql_chunk_is_imported_whole_once(any_server):
    with any_server.write() as conn:
        ours = {"P001": bank_import.payment_reference(conn, "P001", qr_iban=True),
                "P002": bank_import.payment_reference(conn, "P002", qr_iban=False)}
    count = 2 * SQL_CHUNK + 201
    kinds = [dict(reference=ours["P001"]), dict(reference=ours["P002"], scheme="SCOR"),
             dict(reference=SIX_EXAMPLE_QRR), dict(note="Repas")]
    data = camt054(*(entry("1.00", [tx(f"B-{n}", "1.00", **kinds[n % 4])], entry_ref=f"E-{n}") for n in range(count)))
    report = importing(any_server, data)
    assert (len(report.credited), len(report.unmatched), report.duplicates) == (601, 600, 0)
    assert any_server.balance("P001") == 301_00 and any_server.balance("P002") == 300_00
    assert written(any_server) == (601, count, 601)
    again = importing(any_server, data)
    assert (again.credited, again.unmatched, again.duplicates) == ([], [], count)
    assert written(any_server) == (601, count, 601) and any_server.verify_balances() == []
