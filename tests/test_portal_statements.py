"""Statements from the portal: "Décompte par dates" and "Décompte fiscal" as PDF, for one child or
all, checked against the ledger through the PDF's text (pdftotext)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from domain.clock import service_date
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from sync_server.sync import ledger

from .portal_client import start_school, text_of, utc

pytestmark = pytest.mark.on_each_database


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    with school.live.write() as conn:
        for pupil_id, cents, kind, at in [
            ("P001", 50_00, EntryKind.BANK_TOPUP, utc(2025, 12, 20, 9, 0)),
            ("P001", -7_00, EntryKind.MEAL, utc(2025, 12, 31, 23, 30)),  # 1 January 2026, 00:30 in Zurich
            ("P001", 40_00, EntryKind.CASH_TOPUP, utc(2026, 3, 2, 10, 0)),
            ("P001", -7_00, EntryKind.MEAL, utc(2026, 3, 3, 11, 0)),
            ("P003", 20_00, EntryKind.ONLINE_TOPUP, utc(2026, 3, 2, 10, 0)),
        ]:
            ledger.append(conn, LedgerEntry(new_entry_id(), pupil_id, cents, kind, at, "server", reference="t",
                                            service_date=service_date(at) if kind is EntryKind.MEAL else None), at)
    yield school
    school.live.stop()


def pdf_text(response, tmp_path) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf", response.status_code
    (tmp_path / "statement.pdf").write_bytes(response.data)
    done = subprocess.run([shutil.which("pdftotext"), "-layout", str(tmp_path / "statement.pdf"), "-"],
                          capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


def test_the_statements_page_offers_both_statements_for_each_child(school):
    page = text_of(school.logged_in("F01").get("/statements"))
    assert "Décompte par dates" in page and "Décompte fiscal" in page
    assert "Tous mes enfants" in page and "Léa Müller" in page
    assert "Décomptes" in text_of(school.logged_in("F01").get("/"))


def test_a_statement_by_dates_opens_and_closes_with_the_ledgers_balances(school, tmp_path):
    response = school.logged_in("F01").get("/statements/period?child=P001&first=2026-01-01&last=2026-03-31")
    assert "decompte-2026-01-01-2026-03-31.pdf" in response.headers["Content-Disposition"]
    text = pdf_text(response, tmp_path)
    assert "Léa" in text and "01.01.2026" in text and "31.03.2026" in text
    assert "50.00" in text  # the balance before 1 January (Zurich): the December top-up only
    assert "76.00" in text  # at the end: 50 - 7 + 40 - 7
    assert "Zoé" not in text


def test_a_tax_statement_gives_the_years_figures_for_every_child(school, tmp_path):
    text = pdf_text(school.logged_in("F01").get("/statements/tax?child=all&year=2026"), tmp_path)
    assert "2026" in text and "Léa" in text and "Zoé" in text
    assert "Repas payés" in text and "14.00" in text  # both meals fall in 2026 on the Zurich calendar
    assert "40.00" in text and "20.00" in text  # Léa's and Zoé's top-ups of the year


def test_another_familys_child_and_bad_dates_get_no_statement(school):
    browser = school.logged_in("F02")
    assert browser.get("/statements/period?child=P001&first=2026-01-01&last=2026-03-31").status_code == 404
    assert browser.get("/statements/tax?child=P001&year=2026").status_code == 404
    own = school.logged_in("F01")
    backwards = own.get("/statements/period?child=all&first=2026-03-31&last=2026-01-01")
    assert backwards.status_code == 400
    assert "ne peut pas finir (jeudi 1er janvier 2026) avant de commencer (mardi 31 mars 2026)" in text_of(backwards)
    assert own.get("/statements/period?child=all&first=soon&last=2026-01-01").status_code == 400
    future = own.get("/statements/tax?child=all&year=2999")
    assert future.status_code == 400 and "Choisissez une année entre 2000 et 2026." in text_of(future)
