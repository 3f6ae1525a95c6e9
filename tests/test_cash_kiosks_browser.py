"""The cash and kiosks pages in Chromium at a laptop's and a tablet's size, checked by axe-core and
saved to test-artifacts/backoffice/: a day whose count is short, then a code made on the kiosks
page and a kiosk revoked after its confirmation page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from domain.clock import service_date
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server.admin import managers
from sync_server.admin.roster_import import publish_pupil

from .backoffice_browser import back_office_page, check_and_shoot
from .conftest import MONDAY_NOON
from .live_server import Clock, new_kiosk, start_school_server


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """One server for the module: K1 took cash and counted short; K2 went quiet an hour ago."""
    folder = tmp_path_factory.mktemp("cash-kiosks")
    clock = Clock()
    live = start_school_server(f"sqlite:///{folder / 'server.db'}", folder / "instance", clock=clock)
    k1, *others = (new_kiosk(folder, live, kiosk_id) for kiosk_id in ("K1", "K2"))
    for kiosk in (k1, *others):
        SyncAgent(kiosk.store, clock=clock).run_round()
    anne = k1.login("anne", "1234")
    k1.cash_topup(anne, "P001", 50_00)
    k1.cash_topup(anne, "P003", 20_00)
    k1.count_cash(service_date(clock()), "65", counted_by="anne")
    clock.now = MONDAY_NOON + timedelta(hours=1)
    SyncAgent(k1.store, clock=clock).run_round()
    yield live
    live.stop()


def test_an_accountant_sees_the_days_cash_with_the_difference_flagged(chromium, school):
    with back_office_page(chromium, school, role=managers.ACCOUNTANT) as (page, _base):
        page.get_by_role("link", name="Caisse", exact=True).click()
        page.get_by_label("Jour").fill("2026-11-30")
        page.get_by_role("button", name="Afficher").click()
        expect(page.get_by_text("Écart : CHF -5.00 (manquant).")).to_be_visible()
        expect(page.get_by_role("link", name="Télécharger en CSV (pour la comptabilité)")).to_be_visible()
        expect(page.get_by_role("link", name="Bornes", exact=True)).to_have_count(0)  # not the accountant's
        assert check_and_shoot(page, "cash") == []


def test_a_manager_makes_a_code_and_revokes_a_quiet_kiosk_after_confirming(chromium, school):
    kiosk_id = "K2"
    with back_office_page(chromium, school) as (page, _base):
        page.get_by_role("link", name="Bornes", exact=True).click()
        expect(page.get_by_role("heading", name=f"{kiosk_id} — hors ligne depuis 1 h 0 min")).to_be_visible()
        page.get_by_label("Identifiant de la borne").fill(f"N{kiosk_id}")
        page.get_by_role("button", name="Créer un code d'enrôlement").click()
        expect(page.get_by_text(f"Code d'enrôlement pour la borne N{kiosk_id} :")).to_be_visible()
        assert check_and_shoot(page, "kiosks") == []
        page.get_by_role("link", name=f"Révoquer la borne {kiosk_id}…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Révoquer la borne {kiosk_id} ?")
        assert check_and_shoot(page, "kiosks-revoke") == []
        page.get_by_role("button", name=f"Révoquer la borne {kiosk_id}").click()
        expect(page.get_by_text(f"Borne {kiosk_id} révoquée")).to_be_visible()
        expect(page.get_by_role("heading", name=f"{kiosk_id} — révoquée")).to_be_visible()


def test_a_city_manager_enrolls_a_kiosk_for_a_school_and_sees_each_kiosks_and_pupils_school(
        chromium, school, tmp_path):
    with school.write() as conn:
        publish_pupil(conn, "P001", school.clock(), school="Nord")
        publish_pupil(conn, "P002", school.clock(), school="Sud")
    with back_office_page(chromium, school, size="tablet") as (page, base):
        page.get_by_role("link", name="Bornes", exact=True).click()
        page.get_by_label("Identifiant de la borne").fill("NORD-1")
        page.get_by_label("École (facultatif)").fill("Nord")
        page.get_by_role("button", name="Créer un code d'enrôlement").click()
        expect(page.get_by_text("Code d'enrôlement pour la borne NORD-1 :")).to_be_visible()
        code = page.locator("strong", has_text="-").first.inner_text()
        store = Store.open(tmp_path / "NORD-1", create=True)
        store.initialize("NORD-1")
        agent = SyncAgent(store, clock=school.clock)
        agent.enroll(school.url, code)
        agent.run_round()
        assert store.pupil("P001").active and store.pupil("P003").active  # Zoé is every school's
        assert store.pupil("P002").active is False  # Noé is Sud's: known here only as not served
        page.goto(f"{base}/kiosks")
        expect(page.get_by_role("heading", name="NORD-1 — en ligne")).to_be_visible()
        expect(page.locator("dd", has_text="Nord")).to_have_count(1)
        assert check_and_shoot(page, "kiosks-schools") == []
        page.goto(f"{base}/pupils/P001")
        expect(page.get_by_text("École Nord")).to_be_visible()
        assert check_and_shoot(page, "pupil-school") == []
