"""The cash and kiosks pages in Chromium at a laptop's and a tablet's size, checked by axe-core and
saved to test-artifacts/backoffice/: a day whose count is short, then a code made on the kiosks
page and a kiosk revoked after its confirmation page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.clock import service_date
from kiosk.sync_agent import SyncAgent
from sync_server.admin import managers

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
        assert page.get_by_text("Écart : CHF -5.00 (manquant).").is_visible()
        assert page.get_by_role("link", name="Télécharger en CSV (pour la comptabilité)").is_visible()
        assert page.get_by_role("link", name="Bornes", exact=True).count() == 0  # not the accountant's
        assert check_and_shoot(page, "cash") == []


def test_a_manager_makes_a_code_and_revokes_a_quiet_kiosk_after_confirming(chromium, school):
    kiosk_id = "K2"
    with back_office_page(chromium, school) as (page, _base):
        page.get_by_role("link", name="Bornes", exact=True).click()
        assert page.get_by_role("heading", name=f"{kiosk_id} — hors ligne depuis 1 h 0 min").is_visible()
        page.get_by_label("Identifiant de la borne").fill(f"N{kiosk_id}")
        page.get_by_role("button", name="Créer un code d'enrôlement").click()
        assert page.get_by_text(f"Code d'enrôlement pour la borne N{kiosk_id} :").is_visible()
        assert check_and_shoot(page, "kiosks") == []
        page.get_by_role("link", name=f"Révoquer la borne {kiosk_id}…").click()
        assert check_and_shoot(page, "kiosks-revoke") == []
        page.get_by_role("button", name=f"Révoquer la borne {kiosk_id}").click()
        assert page.get_by_text(f"Borne {kiosk_id} révoquée").is_visible()
        assert page.get_by_role("heading", name=f"{kiosk_id} — révoquée").is_visible()
