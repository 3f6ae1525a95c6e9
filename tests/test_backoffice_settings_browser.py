"""The settings, closed days and menus pages in Chromium, at a laptop and a tablet size: each main
path done as a manager would, checked by axe-core and saved to test-artifacts/backoffice/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from domain.roster import parse_csv
from sync_server.admin import menu_import

from .backoffice_browser import back_office_page, check_and_shoot
from .conftest import MONDAY_NOON
from .live_server import Clock, start_school_server

MENUS = ("date,course,dish,allergens,labels\n"
         "2026-11-30,Plat,Émincé de poulet,\"milk,celery\",origin: poulet Suisse\n"
         "2026-12-01,Plat,Gratin de légumes,\"milk,gluten\",vegetarian\n")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server for the module (its clock at Monday 30 November 2026, 12:00), with a week of menus."""
    folder = tmp_path_factory.mktemp("settings-browser")
    live = start_school_server(f"sqlite:///{folder / 'server.db'}", folder / "instance", clock=Clock(MONDAY_NOON))
    live.app.config.update(CANTEEN_NAME="Réfectoire scolaire de Leysin")
    with live.write() as conn:
        menu_import.import_menus(conn, *parse_csv(MENUS.encode()), MONDAY_NOON)
    yield live
    live.stop()


def test_the_manager_changes_a_price_sees_a_refusal_beside_its_field_and_closes_a_holiday(chromium, live):
    with back_office_page(chromium, live) as (page, _base):
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Réglages").click()
        expect(page.get_by_role("heading", name="Réglages", exact=True)).to_be_visible()
        page.get_by_label("Fin du service").fill("10:00")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_text("service.start doit précéder service.end.")).to_be_visible()
        expect(page.get_by_label("Fin du service")).to_have_attribute("aria-invalid", "true")
        assert check_and_shoot(page, "settings-refused") == []
        page.get_by_label("Fin du service").fill("13:30")
        page.get_by_label("primary").fill("7.80")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_role("status")).to_contain_text("à leur prochaine synchronisation")
        assert check_and_shoot(page, "settings") == []

        page.get_by_role("link", name="Jours fermés (calendrier)").click()
        close = page.locator("form", has=page.get_by_role("heading", name="Fermer des jours"))
        close.get_by_label("Premier jour").fill("2026-12-21")
        close.get_by_label("Dernier jour (vide pour un seul jour)").fill("2027-01-01")
        close.get_by_label("Motif, affiché aux familles").fill("Vacances de Noël")
        close.get_by_role("button", name="Fermer").click()
        expect(page.get_by_role("status")).to_have_text("12 jours fermés.")
        expect(page.get_by_role("table", name="décembre")).to_contain_text("fermé : Vacances de Noël")
        assert check_and_shoot(page, "calendar") == []


def test_a_kitchen_login_changes_a_days_menu_and_an_unknown_allergen_is_shown_on_its_line(chromium, live):
    with back_office_page(chromium, live, role="kitchen") as (page, _base):
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Menus").click()
        expect(page.get_by_text("Gratin de légumes")).to_be_visible()
        assert check_and_shoot(page, "menus") == []
        page.get_by_role("link", name="Modifier le menu du 1 décembre").click()
        page.get_by_label("Allergènes, ligne 2").fill("soja")
        page.get_by_label("Type de plat, ligne 2").fill("Dessert")
        page.get_by_label("Plat, ligne 2", exact=True).fill("Salade de fruits")
        page.get_by_role("button", name="Enregistrer le menu").click()
        expect(page.get_by_text("ligne 2 : Allergène inconnu « soja »", exact=False)).to_be_visible()
        assert check_and_shoot(page, "menu-day-refused") == []
        page.get_by_label("Allergènes, ligne 2").fill("soy")
        page.get_by_role("button", name="Enregistrer le menu").click()
        expect(page.get_by_role("status")).to_contain_text("Menu du 01.12.2026 enregistré")
        expect(page.get_by_text("Salade de fruits")).to_be_visible()
