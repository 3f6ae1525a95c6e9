"""The back office's overview: today's figures match what happened — meals a kiosk served and
pushed, reservations families made on the portal, a refund asked for, a credit to assign, a kiosk
gone quiet — and each role sees only its part."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.clock import to_text
from kiosk.sync_agent import SyncAgent
from sync_server.admin import canteen_settings
from sync_server.families import balance_alerts
from sync_server.money import bank_import, refunds
from sync_server.money.bank_files import BankCredit
from sync_server.tables import kiosks

from .conftest import MONDAY_NOON
from .live_server import new_kiosk
from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
FRIDAY_EARLY = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 07:00 in Zurich, before every deadline of Monday


def waiting_credit_and_refund_request(conn, now: datetime) -> None:
    """A bank credit nobody's reference matched, and Zoé's (P003) family asking for her balance back."""
    reference = bank_import.payment_reference(conn, "P003", qr_iban=False)
    bank_import.import_credits(conn, [BankCredit("B-8", 40_00, "CHF", reference, date(2026, 11, 30), "Rochat", None),
                                      BankCredit("B-9", 25_00, "CHF", None, date(2026, 11, 30), "Inconnu", "repas")],
                               now, canteen=CANTEEN, portal_url="https://portal.test/")
    refunds.ask(conn, "F01", "P003", "CH93 0076 2011 6238 5295 7", "Anna Rochat", now, canteen=CANTEEN,
                portal_url="https://portal.test/")


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def test_the_overview_counts_meals_reservations_money_and_lagging_kiosks_as_they_are(school, tmp_path):
    school.clock.now = FRIDAY_EARLY
    family = school.logged_in("F01")
    for day, choice in (("2026-11-30", "normal"), ("2026-11-30", "special"), ("2026-12-01", "normal")):
        for pupil in ("P001", "P003") if choice == "normal" else ("P001",):
            if (day, choice, pupil) != ("2026-11-30", "normal", "P001"):  # Léa's Monday is the special one
                assert family.submit(f"/children/{pupil}/agenda", {"day": day, "choice": choice}).status_code \
                    in (200, 302)
    school.clock.now = MONDAY_NOON
    with school.live.write() as conn:
        canteen_settings.set_setting(conn, "price.secondary", "7.50", MONDAY_NOON)
    first, second = new_kiosk(tmp_path, school.live, "K1"), new_kiosk(tmp_path, school.live, "K2")
    for kiosk in (first, second):
        SyncAgent(kiosk.store).run_round()
    cashier = first.login("anne", "1234")
    first.cash_topup(cashier, "P001", 50_00)
    first.cash_topup(cashier, "P003", 50_00)
    second.cash_topup(second.login("anne", "1234"), "P002", 50_00)
    first.tap("04A1B2C3")  # Léa
    zoé = first.tap("0A0B0C0D")
    first.reverse(cashier, zoé.entry.id, "servie par erreur")
    second.tap("04:11:22:33:44:55:66")  # Noé
    for kiosk in (first, second):
        SyncAgent(kiosk.store).run_round()
    with school.live.write() as conn:
        waiting_credit_and_refund_request(conn, MONDAY_NOON)
        balance_alerts.set_threshold(conn, "P002", "50", MONDAY_NOON)  # Noé: CHF 42.50 left, under 50
    second.tap("DEADBEEF")  # Anne has no money: refused, nothing to send
    school.clock.now = MONDAY_NOON + timedelta(minutes=20)
    with school.live.write() as conn:  # K1 reported in a minute ago with a record it had not sent yet
        conn.execute(kiosks.update().where(kiosks.c.kiosk_id == "K1").values(
            last_heartbeat=to_text(MONDAY_NOON + timedelta(minutes=19)), pending=1))

    page = text_of(school.manager().get("/manage/"))
    assert "Servis aujourd'hui 2 Repas servis aujourd'hui par borne Borne Repas K1 1 K2 1" in page
    assert "Réservés pour aujourd'hui 2 1 repas normal, 1 repas spécial" in page
    assert "Réservés pour demain 2 2 repas normaux, 0 repas spécial" in page
    assert "K1 : en retard, 1 enregistrement pas encore envoyé" in page
    assert "K2 : hors ligne, vue pour la dernière fois le 30.11.2026 12:00" in page
    assert "Crédits à attribuer (1)" in page and "Remboursements à approuver (1)" in page
    assert "2 élèves sont sous leur seuil de solde bas." in page  # Noé, and Anne who never had money

    kitchen = text_of(school.staff("kitchen").get("/manage/"))
    assert "Servis aujourd'hui 2" in kitchen
    assert "Argent en attente" not in kitchen and "Bornes" not in kitchen and "Soldes bas" not in kitchen
    accountant = text_of(school.staff("accountant").get("/manage/"))
    assert "Remboursements à approuver (1)" in accountant and "Soldes bas" not in accountant

    listed = text_of(school.manager().get("/manage/low-balances"))
    assert "Anne Berset (S001) Staff CHF 0.00 CHF 20.00 Noé Favre (P002) 9B CHF 42.50 CHF 50.00" in listed
    assert "Léa" not in listed
