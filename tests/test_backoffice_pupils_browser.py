"""The pupils' pages in Chromium at a laptop and a tablet size, each checked by axe-core and saved
to test-artifacts/backoffice/: a manager finds a pupil, opens the page, edits the diet (a typo in
the class is shown beside the field first), marks a badge lost, then opens the family and the
roster preview."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .backoffice_browser import back_office_page, check_and_shoot
from .live_server import SERVER_ROSTER, Clock, start_school_server


@pytest.fixture
def live(tmp_path):
    live = start_school_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "instance", clock=Clock(),
                               CANTEEN_NAME="Réfectoire scolaire de Leysin")
    yield live
    live.stop()


def test_a_manager_finds_a_pupil_edits_the_diet_and_marks_a_badge_lost(chromium, live, tmp_path):
    with back_office_page(chromium, live) as (page, base):
        problems = {}
        page.get_by_role("navigation").get_by_role("link", name="Élèves").click()
        page.get_by_label("Chercher un élève par nom, classe ou badge").fill("zoe")
        page.get_by_role("button", name="Chercher").click()
        expect(page.get_by_role("heading", name="1 élève trouvé")).to_be_visible()
        problems["search"] = check_and_shoot(page, "pupils-search")

        page.get_by_role("link", name="Rochat Zoé").click()
        expect(page.get_by_role("heading", name="Zoé Rochat (P003)")).to_be_visible()
        problems["pupil"] = check_and_shoot(page, "pupil")

        edit = page.get_by_role("region", name="Modifier")
        edit.get_by_label("Classe", exact=True).fill("5a")
        edit.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_text("'5a' n'est pas une des classes de l'école")).to_be_visible()
        problems["pupil-refused"] = check_and_shoot(page, "pupil-refused")
        edit = page.get_by_role("region", name="Modifier")
        edit.get_by_label("Classe", exact=True).fill("5A")
        edit.get_by_label("Régime (repas spécial) ; vide s'il n'y en a pas").fill("Sans arachides")
        edit.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_role("status")).to_contain_text("Enregistré")
        expect(page.get_by_text("régime : Sans arachides")).to_be_visible()

        badges = page.get_by_role("region", name="Badges")
        badges.get_by_label("Motif (où, quand)").fill("Perdu à la piscine")
        badges.get_by_role("button", name="Déclarer perdu").click()
        expect(page.get_by_role("status")).to_contain_text("Le badge 0A0B0C0D est déclaré perdu")
        expect(page.get_by_role("region", name="Historique des badges")).to_contain_text("Perdu à la piscine")
        problems["badge-lost"] = check_and_shoot(page, "pupil-badge-lost")

        page.get_by_role("link", name="famille F01").click()
        expect(page.get_by_role("heading", name="Famille F01")).to_be_visible()
        problems["family"] = check_and_shoot(page, "family")

        roster = tmp_path / "eleves.csv"
        roster.write_text(SERVER_ROSTER.replace("P002,Noé,Favre,9B", "P002,Noé,Favre,10B"), encoding="utf-8")
        page.goto(base + "/pupils/import")
        page.get_by_label("Fichier des élèves (CSV, UTF-8)").set_input_files(str(roster))
        page.get_by_role("button", name="Aperçu").click()
        expect(page.get_by_role("table")).to_contain_text("class : 9B → 10B")
        expect(page.get_by_role("table")).to_contain_text("diet : Sans arachides → —")  # the file says no diet
        problems["roster-preview"] = check_and_shoot(page, "roster-preview")
        page.get_by_role("button", name="Confirmer l'import").click()
        expect(page.get_by_role("status")).to_contain_text("2 modifiés")
        assert {name: found for name, found in problems.items() if found} == {}
