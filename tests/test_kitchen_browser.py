"""The kitchen's page and a pupil's meals page in Chromium, at a laptop's and a tablet's size:
axe-core finds nothing, the screenshots go to test-artifacts/backoffice/, and the kitchen page
prints on one A4 page for the test school and for a school of 400 pupils."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert, select

from domain.roster import parse_csv
from sync_server.admin import roster_import
from sync_server.tables import reservations

from .backoffice_browser import SHOTS, back_office_page, check_and_shoot
from .conftest import MONDAY_NOON
from .portal_client import start_school

FRIDAY = "2026-12-04"
FRIDAY_DURING_SERVICE = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # 13:00 in Zurich


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def pdf_pages(page) -> int:
    """How many A4 pages Chromium prints the page on (its print stylesheet applies)."""
    return len(re.findall(rb"/Type\s*/Page[^s]", page.pdf(format="A4")))


def reserve(school, rows: list[tuple[str, str]]) -> None:
    with school.live.write() as conn:
        conn.execute(insert(reservations), [{"pupil_id": pupil_id, "service_date": FRIDAY, "kind": kind,
                                             "updated_at": "2026-11-30T11:00:00.000000+00:00"}
                                            for pupil_id, kind in rows])


def test_the_kitchen_page_reads_well_and_prints_on_one_a4_page(chromium, school):
    reserve(school, [("P001", "normal"), ("P002", "normal"), ("P003", "special")])
    with back_office_page(chromium, school.live, role="kitchen") as (page, _base):
        page.get_by_role("link", name="Cuisine").click()
        page.get_by_label("Jour", exact=True).fill(FRIDAY)
        page.get_by_role("button", name="Afficher").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Comptage cuisine du vendredi 4 décembre 2026")
        expect(page.get_by_role("row", name="5A")).to_contain_text("1")
        assert check_and_shoot(page, "kitchen") == []
        assert pdf_pages(page) == 1


def test_the_kitchen_page_of_a_school_of_400_pupils_prints_on_one_a4_page_after_service(chromium, school):
    classes = [f"{grade}{letter}" for grade in range(3, 11) for letter in "AB"]  # 16 classes
    diets = ["", "", "", "", "Sans gluten", "Sans lactose", "Végétarien", "Halal", "Sans porc", "Sans arachides"]
    lines = ["pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id,parent_email"]
    lines += [f"Q{n:03},Prénom{n},Nom{n},{classes[n % 16]},primary,,{diets[n % 10]},G{n},p{n}@example.ch"
              for n in range(400)]
    with school.live.write() as conn:
        roster_import.import_pupils(conn, *parse_csv("\n".join(lines).encode()), MONDAY_NOON)
    reserve(school, [(f"Q{n:03}", "special" if n % 7 == 0 else "normal") for n in range(400) if n % 9])
    school.clock.now = FRIDAY_DURING_SERVICE  # after the cut-off, during service: the served columns show
    with back_office_page(chromium, school.live, role="kitchen") as (page, base):
        page.goto(f"{base}/kitchen?day={FRIDAY}")
        expect(page.get_by_text("Comptage définitif")).to_be_visible()
        expect(page.get_by_role("heading", name="Réservés et servis")).to_be_visible()
        page.screenshot(path=str(SHOTS / "kitchen-400-pupils-laptop.png"), full_page=True)  # axe: see above
        assert pdf_pages(page) == 1


def test_the_manager_books_a_meal_and_excludes_a_pupil_from_the_pupils_meals_page(chromium, school):
    with back_office_page(chromium, school.live) as (page, base):
        page.goto(f"{base}/pupils/P001/meals?week={FRIDAY}")
        friday = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="vendredi 4 décembre 2026"))
        friday.get_by_role("button", name="Réserver un repas spécial").click()
        expect(page.get_by_role("status")).to_have_text("Réservation enregistrée.")
        expect(friday).to_contain_text("Repas spécial réservé")

        page.get_by_label("Raison, affichée à la borne et à la famille").fill("Compte négatif, décision du comité")
        page.get_by_role("button", name="Exclure").click()
        expect(page.get_by_text("Exclu·e depuis le")).to_contain_text("Compte négatif, décision du comité")
        assert check_and_shoot(page, "pupil-meals") == []
    with school.live.write() as conn:
        assert conn.execute(select(reservations.c.pupil_id, reservations.c.service_date, reservations.c.kind)).all() \
            == [("P001", FRIDAY, "special")]
