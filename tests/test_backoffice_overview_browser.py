"""The overview (as a manager and as the kitchen) and the staff page in Chromium at a laptop's and
a tablet's size, each checked by axe-core and saved to test-artifacts/backoffice/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kiosk.sync_agent import SyncAgent
from sync_server.admin import managers

from .backoffice_browser import back_office_page, check_and_shoot
from .live_server import Clock, new_kiosk, start_school_server
from .test_backoffice_overview import waiting_credit_and_refund_request


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server for the module: a kiosk served Léa and synced, a credit and a refund wait."""
    folder = tmp_path_factory.mktemp("overview-browser")
    live = start_school_server(f"sqlite:///{folder / 'server.db'}", folder / "instance", clock=Clock())
    kiosk = new_kiosk(folder, live)
    SyncAgent(kiosk.store).run_round()
    kiosk.cash_topup(kiosk.login("anne", "1234"), "P001", 50_00)
    kiosk.tap("04A1B2C3")
    SyncAgent(kiosk.store).run_round()
    with live.write() as conn:
        waiting_credit_and_refund_request(conn, live.clock())
    yield live
    live.stop()


def test_the_overview_shows_a_manager_everything_and_the_kitchen_its_meals(chromium, live):
    with back_office_page(chromium, live) as (page, _base):
        expect(page.get_by_role("heading", name="Servis aujourd'hui")).to_be_visible()
        expect(page.get_by_role("link", name="Remboursements à approuver (1)")).to_be_visible()
        expect(page.get_by_role("heading", name="Soldes bas")).to_be_visible()
        assert check_and_shoot(page, "overview-manager") == []
    with back_office_page(chromium, live, role=managers.KITCHEN) as (page, _base):
        expect(page.get_by_role("heading", name="Réservés pour aujourd'hui")).to_be_visible()
        expect(page.get_by_role("heading", name="Argent en attente")).to_have_count(0)
        assert check_and_shoot(page, "overview-kitchen") == []


def test_the_manager_adds_a_cashier_and_a_login_on_the_staff_page(chromium, live):
    with back_office_page(chromium, live) as (page, base):
        page.goto(base + "/staff")
        adding = page.locator("form", has=page.get_by_role("heading", name="Ajouter un caissier"))
        adding.get_by_label("Identifiant").fill("marc")
        adding.get_by_label("Nom imprimé sur les quittances").fill("Marc Udry")
        adding.get_by_label("Code PIN (4 à 8 chiffres)").fill("12")
        adding.get_by_role("button", name="Ajouter le caissier").click()
        expect(page.get_by_text("Un code PIN compte 4 à 8 chiffres.")).to_be_visible()
        assert check_and_shoot(page, "staff-refused") == []
        adding.get_by_label("Code PIN (4 à 8 chiffres)").fill("2468")
        adding.get_by_role("button", name="Ajouter le caissier").click()
        expect(page.get_by_text("Caissier Marc Udry ajouté")).to_be_visible()
        login = page.locator("form", has=page.get_by_role("heading", name="Ajouter un accès"))
        login.get_by_label("Identifiant").fill("karim")
        login.get_by_label("Nom").fill("Karim Zaid")
        login.get_by_label("Rôle").select_option("kitchen")
        login.get_by_role("button", name="Ajouter l'accès").click()
        expect(page.get_by_role("status")).to_contain_text("Accès à la gestion karim, mot de passe")
        assert check_and_shoot(page, "staff") == []
