"""The documents page, a menu file's upload and a login's removal in Chromium, at a laptop and a
tablet size: each main path done as a manager (or the kitchen) would, checked by axe-core and
saved to test-artifacts/backoffice/."""

from __future__ import annotations

from io import BytesIO

import pytest
from playwright.sync_api import expect
from reportlab.pdfgen.canvas import Canvas

from sync_server.admin import managers

from .backoffice_browser import back_office_page, check_and_shoot
from .conftest import MONDAY_NOON
from .live_server import Clock, start_school_server


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server for the module, its clock at Monday 30 November 2026, 12:00."""
    folder = tmp_path_factory.mktemp("documents-browser")
    live = start_school_server(f"sqlite:///{folder / 'server.db'}", folder / "instance", clock=Clock(MONDAY_NOON))
    live.app.config.update(CANTEEN_NAME="Réfectoire scolaire de Leysin")
    yield live
    live.stop()


def a_pdf(folder, title: str):
    path = folder / "reglement.pdf"
    out = BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, title)
    canvas.save()
    path.write_bytes(out.getvalue())
    return path


def test_the_manager_publishes_a_pdf_for_the_families_then_withdraws_it(chromium, live, tmp_path):
    title = "Règlement du réfectoire"
    with back_office_page(chromium, live) as (page, _base):
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Documents").click()
        page.get_by_role("button", name="Publier").click()
        expect(page.get_by_text("Choisissez le fichier à publier.")).to_be_visible()
        page.get_by_label("Titre affiché aux familles").fill(title)
        page.get_by_label("Fichier (PDF, document bureautique, texte ou image)").set_input_files(a_pdf(tmp_path, title))
        page.get_by_role("button", name="Publier").click()
        expect(page.get_by_role("status")).to_contain_text(f"publié : {title}")
        expect(page.get_by_role("region", name="Publiés")).to_contain_text(title)
        assert check_and_shoot(page, "documents") == []
        page.get_by_role("button", name=f"Retirer {title}").click()
        expect(page.get_by_role("status")).to_contain_text(f"retiré : {title}")
        expect(page.get_by_role("region", name="Publiés")).not_to_contain_text(title)
        assert check_and_shoot(page, "documents-withdrawn") == []


def test_the_kitchen_uploads_a_menu_file_sees_its_wrong_line_then_the_weeks_menus(chromium, live, tmp_path):
    dish = "Gratin de légumes"
    wrong = tmp_path / "menus-wrong.csv"
    wrong.write_text("date,course,dish,allergens,labels\n2026-12-02,Plat,Soupe,soja,\n", encoding="utf-8")
    right = tmp_path / "menus.csv"
    right.write_text(f"date,course,dish,allergens,labels\n2026-12-02,Plat,{dish},\"milk,gluten\",vegetarian\n"
                     "2026-12-02,Dessert,Pomme,,\n", encoding="utf-8")
    with back_office_page(chromium, live, role=managers.KITCHEN) as (page, _base):
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Menus").click()
        upload = page.get_by_label("Fichier des menus (CSV : date,course,dish,allergens,labels)")
        upload.set_input_files(wrong)
        page.get_by_role("button", name="Importer", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("ligne 2")
        expect(page.get_by_role("alert")).to_contain_text("soja")
        assert check_and_shoot(page, "menus-import-refused") == []
        page.get_by_label("Fichier des menus (CSV : date,course,dish,allergens,labels)").set_input_files(right)
        page.get_by_role("button", name="Importer", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Menus de 1 jour importés")
        expect(page.get_by_role("region", name="mercredi 2 décembre", exact=False)).to_contain_text(dish)
        assert check_and_shoot(page, "menus-imported") == []


def test_removing_a_login_asks_on_a_page_of_its_own_before_it_goes(chromium, live):
    login = "karim"
    with live.write() as conn:
        managers.set_manager(conn, login, "Karim Zaid", live.clock(), managers.KITCHEN)
    with back_office_page(chromium, live) as (page, _base):
        page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Personnel").click()
        page.get_by_role("link", name="Retirer l'accès de Karim Zaid…").click()
        expect(page.get_by_role("heading", name="Retirer l'accès de Karim Zaid ?")).to_be_visible()
        assert check_and_shoot(page, "staff-remove") == []
        page.get_by_role("button", name="Retirer l'accès de Karim Zaid").click()
        expect(page.get_by_role("status")).to_contain_text(f"Karim Zaid ({login}) ne peut plus se connecter.")
        assert check_and_shoot(page, "staff-removed") == []
