"""Pupils, families and badges in the back office, over HTTP on SQLite and PostgreSQL: a manager
finds a pupil, edits, moves, lets a child leave, assigns, blocks and replaces badges, and imports
the roster after its preview. Every bad input is refused with its message beside the field, and
nothing is written; the audit log records what is done; the CLI twins do the same."""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
from sqlalchemy import select

from domain.sync import ChangeType
from sync_server.tables import audit_log, badge_history, badges, changes, families, pupils
from tests.live_server import SERVER_ROSTER

from .portal_client import start_school, text_of
from .test_portal_statements import pdf_text

pytestmark = pytest.mark.on_each_database


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def snapshot(school) -> dict[str, list[str]]:
    """Every row a refused change must leave as it was, the kiosks' change feed and the audit log included."""
    with school.live.write() as conn:
        return {table.name: sorted(map(repr, conn.execute(select(table)).all()))
                for table in (pupils, families, badges, badge_history, changes, audit_log)}


def field_error(response, field_id: str) -> str:
    """The message shown beside the field `field_id`."""
    found = re.search(rf'<span class="field-error" id="{re.escape(field_id)}-error">([^<]*)</span>', response.text)
    assert found, f"no message beside {field_id}: {text_of(response)}"
    return found.group(1).replace("&#39;", "'")


def audit_actions(school) -> list[tuple[str, str]]:
    with school.live.write() as conn:
        return conn.execute(select(audit_log.c.action, audit_log.c.subject).order_by(audit_log.c.id)).all()


EDIT = {"first_name": "Léa", "last_name": "Müller", "class_name": "5A", "category": "primary", "diet": "",
        "active": "yes"}


def test_a_manager_finds_a_pupil_by_name_without_accents_by_class_and_by_badge(school):
    manager = school.manager()
    assert "Zoé" in text_of(manager.get("/manage/pupils?q=zoe")) and "Noé" not in text_of(
        manager.get("/manage/pupils?q=zoe"))
    in_5a = text_of(manager.get("/manage/pupils?q=5a"))
    assert "2 élèves trouvés" in in_5a and "Léa" in in_5a and "Zoé" in in_5a
    by_badge = text_of(manager.get("/manage/pupils?q=04:11:22:33:44:55:66"))
    assert "1 élève trouvé" in by_badge and "Favre" in by_badge
    assert school.staff("kitchen").get("/manage/pupils").status_code == 403


def test_an_edit_is_saved_published_to_the_kiosks_and_audited(school):
    manager = school.manager()
    response = manager.submit("/manage/pupils/P001/edit", {**EDIT, "diet": "Sans lactose", "class_name": "5A"},
                              form_page="/manage/pupils/P001")
    assert response.status_code == 302
    page = text_of(manager.get("/manage/pupils/P001"))
    assert "régime : Sans lactose" in page
    with school.live.write() as conn:
        last = conn.execute(select(changes.c.type, changes.c.record).order_by(changes.c.seq.desc())).first()
    assert last.type == ChangeType.PUPIL and json.loads(last.record)["diet"] == "Sans lactose"
    assert audit_actions(school)[-1] == ("pupil.edit", "P001")


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"first_name": "  "}, "edit-first_name", "Remplissez ce champ."),
    ({"class_name": "5Z"}, "edit-class_name", "'5Z' n'est pas une des classes de l'école"),
    ({"category": "gold"}, "edit-category", "Catégorie inconnue « gold »"),
])
def test_a_bad_edit_shows_its_message_beside_the_field_and_writes_nothing(school, form, field, message):
    manager = school.manager()
    before = snapshot(school)
    response = manager.submit("/manage/pupils/P001/edit", {**EDIT, **form}, form_page="/manage/pupils/P001")
    assert response.status_code == 422
    assert message in field_error(response, field)
    assert snapshot(school) == before


def test_a_new_class_is_accepted_once_the_manager_says_it_is_new(school):
    manager = school.manager()
    response = manager.submit("/manage/pupils/P001/edit", {**EDIT, "class_name": "6A", "new_class": "yes"},
                              form_page="/manage/pupils/P001")
    assert response.status_code == 302
    assert "Classe 6A" in text_of(manager.get("/manage/pupils/P001"))


def test_a_pupil_is_added_and_bad_input_is_refused_beside_each_field(school):
    manager = school.manager()
    before = snapshot(school)
    refused = manager.submit("/manage/pupils/new", {"pupil_id": "P001", "first_name": "", "last_name": "Rochat",
                                                    "class_name": "5A", "category": "primary",
                                                    "family_id": "F99"})
    assert refused.status_code == 422
    assert "existe déjà" in field_error(refused, "pupil_id")
    assert field_error(refused, "first_name") == "Remplissez ce champ."
    assert "Il n'y a pas de famille 'F99'" in field_error(refused, "family_id")
    assert snapshot(school) == before
    added = manager.submit("/manage/pupils/new", {"pupil_id": "P004", "first_name": "Tim", "last_name": "Rochat",
                                                  "class_name": "5A", "category": "primary", "family_id": "F01"})
    assert added.status_code == 302 and added.headers["Location"] == "/manage/pupils/P004"
    assert "Tim Rochat" in text_of(manager.get("/manage/families/F01"))
    assert audit_actions(school)[-1] == ("pupil.add", "P004")


def test_moving_to_a_family_that_does_not_exist_is_refused_then_a_move_takes_the_child_along(school):
    manager = school.manager()
    before = snapshot(school)
    refused = manager.submit("/manage/pupils/P003/move", {"family_id": "F77"}, form_page="/manage/pupils/P003")
    assert refused.status_code == 422
    assert "Il n'y a pas de famille 'F77'" in field_error(refused, "move-family")
    assert snapshot(school) == before
    moved = manager.submit("/manage/pupils/P003/move", {"family_id": "F02"}, form_page="/manage/pupils/P003")
    assert moved.status_code == 302
    assert "Zoé Rochat" in text_of(manager.get("/manage/families/F02"))
    assert "Zoé" not in text_of(school.logged_in("F01").get("/"))  # the old family's portal no longer shows her


def test_a_child_leaving_school_is_inactive_and_the_page_points_to_the_refund_flow(school):
    manager = school.manager()
    response = manager.submit("/manage/pupils/P002/leave", {}, form_page="/manage/pupils/P002")
    assert response.status_code == 302
    page = manager.get("/manage/pupils/P002")
    assert "a quitté le réfectoire" in text_of(page) and 'href="/manage/refunds"' in page.text
    again = manager.submit("/manage/pupils/P002/leave", {}, form_page="/manage/pupils/P002")
    assert again.status_code == 404 or again.status_code == 422


def test_badges_assigned_lost_and_replaced_keep_their_history_and_a_duplicate_is_refused(school):
    manager = school.manager()
    before = snapshot(school)
    duplicate = manager.submit("/manage/pupils/P001/badges", {"uid": "0A:0B:0C:0D"}, form_page="/manage/pupils/P001")
    assert duplicate.status_code == 422
    assert "appartient déjà à l'élève P003" in field_error(duplicate, "assign-uid")
    no_reason = manager.submit("/manage/pupils/P001/badges/04A1B2C3/lost", {"reason": " "},
                               form_page="/manage/pupils/P001")
    assert no_reason.status_code == 422 and field_error(no_reason, "lost-04A1B2C3-reason")
    assert snapshot(school) == before

    lost = manager.submit("/manage/pupils/P001/badges/04A1B2C3/lost", {"reason": "Perdu à la piscine"},
                          form_page="/manage/pupils/P001")
    assert lost.status_code == 302
    replaced = manager.submit("/manage/pupils/P001/badges/04A1B2C3/replace", {"new_uid": "04A1B2C4"},
                              form_page="/manage/pupils/P001")
    assert replaced.status_code == 302
    page = text_of(manager.get("/manage/pupils/P001"))
    assert "04A1B2C4 — actif" in page and "04A1B2C3 — perdu" in page and "Perdu à la piscine" in page
    reuse = manager.submit("/manage/pupils/P002/badges", {"uid": "04A1B2C3"}, form_page="/manage/pupils/P002")
    assert "appartient déjà à l'élève P001" in field_error(reuse, "assign-uid")
    assert [action for action, _ in audit_actions(school)][-2:] == ["badge.lost", "badge.replace"]


def test_login_letters_for_a_class_go_to_families_without_a_login_and_a_reset_ends_the_old_password(school,
                                                                                                     tmp_path):
    manager = school.manager()
    every_has_one = manager.submit("/manage/pupils/letters", {"class_name": "5A"}, form_page="/manage/pupils")
    assert every_has_one.status_code == 302
    assert "Chaque famille de la classe 5A a déjà un identifiant" in text_of(manager.get("/manage/pupils"))
    manager.submit("/manage/pupils/new", {"pupil_id": "P004", "first_name": "Tim", "last_name": "Roux",
                                          "class_name": "5A", "category": "primary", "family_id": "F05",
                                          "new_family": "yes"})
    letters = pdf_text(manager.submit("/manage/pupils/letters", {"class_name": "5A"}, form_page="/manage/pupils"),
                       tmp_path)
    assert "Pour la famille de Tim Roux (5A)" in letters and "Léa" not in letters
    reset = pdf_text(manager.submit("/manage/families/F01/letter", {}, form_page="/manage/families/F01"), tmp_path)
    assert f"Identifiant : {school.letters['F01'].login}" in reset and "Léa Müller (5A), Zoé Rochat (5A)" in reset
    refused = school.browser().submit("/login", {"login": school.letters["F01"].login,
                                                 "password": school.letters["F01"].password})
    assert refused.status_code != 302  # the letter's new password replaced the old one
    assert [action for action, _ in audit_actions(school)][-2:] == ["family.login", "family.password"]


def test_a_family_email_is_changed_and_a_bad_address_is_refused_beside_the_field(school):
    manager = school.manager()
    before = snapshot(school)
    refused = manager.submit("/manage/families/F02/email", {"email": "not an address"},
                             form_page="/manage/families/F02")
    assert refused.status_code == 422 and "n'est pas une adresse e-mail" in field_error(refused, "email")
    assert snapshot(school) == before
    assert manager.submit("/manage/families/F02/email", {"email": "favre@example.ch"},
                          form_page="/manage/families/F02").status_code == 302
    assert 'value="favre@example.ch"' in manager.get("/manage/families/F02").text


def roster(*lines: str) -> bytes:
    return (SERVER_ROSTER + "".join(line + "\n" for line in lines)).encode()


def preview(manager, data: bytes, **form):
    return manager.post("/manage/pupils/import", {"csrf_token": manager.token("/manage/pupils/import"),
                                                  "roster": (BytesIO(data), "eleves.csv"), **form})


def confirm_form(response) -> dict:
    return {name: value.replace("&#43;", "+") for name, value in re.findall(
        r'<input type="hidden" name="(\w+)" value="([^"]*)">', response.text)}


def test_the_roster_preview_writes_nothing_and_the_confirmation_writes_what_it_showed(school):
    manager = school.manager()
    changed = SERVER_ROSTER.replace("P002,Noé,Favre,9B", "P002,Noé,Favre,10B").encode() + (
        b"P005,Mia,Ramos,5A,primary,,,F01,parent1@example.ch\n")
    before = snapshot(school)
    shown = preview(manager, changed, deactivate_missing="yes")
    says = text_of(shown)
    assert shown.status_code == 200 and "Rien n'est encore écrit" in says
    assert "1 élève ajouté" in says and "1 modifié" in says
    assert "class : 9B → 10B" in says and "Mia Ramos" in says
    assert snapshot(school) == before
    done = manager.post("/manage/pupils/import/confirm", confirm_form(shown))
    assert done.status_code == 302
    with school.live.write() as conn:
        assert conn.execute(select(pupils.c.class_name).where(pupils.c.pupil_id == "P002")).scalar() == "10B"
        assert conn.execute(select(pupils.c.first_name).where(pupils.c.pupil_id == "P005")).scalar() == "Mia"


def test_a_confirmation_whose_file_or_pupils_changed_since_the_preview_writes_nothing(school):
    manager = school.manager()
    shown = preview(manager, roster("P005,Mia,Ramos,5A,primary,,,F01,parent1@example.ch"))
    form = confirm_form(shown)
    manager.submit("/manage/pupils/P001/edit", {**EDIT, "diet": "Végétarien"}, form_page="/manage/pupils/P001")
    before = snapshot(school)
    stale = manager.post("/manage/pupils/import/confirm", form)
    assert stale.status_code == 409 and "ont changé depuis l'aperçu" in text_of(stale)
    assert snapshot(school) == before


@pytest.fixture
def cli(school, school_database, run, tmp_path, monkeypatch):
    """`refectory server ...` on the school's database."""
    monkeypatch.setenv("DATABASE_URL", school_database.url)
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "cli-instance"))
    return run


def test_a_bad_roster_shows_the_same_numbered_errors_as_the_command_line_and_writes_nothing(school, cli, tmp_path):
    manager = school.manager()
    bad = roster("P006,,Ramos,5A,primary,,,F01,parent1@example.ch", "P007,Io,Sun,5A,gold,04A1B2C3,,F01,x")
    before = snapshot(school)
    shown = preview(manager, bad)
    assert shown.status_code == 422
    page = text_of(shown)
    path = tmp_path / "bad.csv"
    path.write_bytes(bad)
    said = cli("server", "import-pupils", str(path), "--preview")
    assert said.exit_code == 1
    numbered = said.stderr.splitlines()[1:]  # each "line N: message"
    assert len(numbered) == 4
    for line in numbered:
        assert line.strip() in page
    assert "ligne 6 : first_name est vide." in page
    assert snapshot(school) == before


def test_the_command_line_twins_do_what_the_pages_do_and_answer_in_json(school, cli):
    added = cli("server", "pupil", "add", "P010", "--first-name", "Ana", "--last-name", "Roth", "--class", "5A",
                "--category", "primary", "--family", "F02", "--json")
    assert added.exit_code == 0 and json.loads(added.stdout)["pupil"]["family_id"] == "F02"
    refused = cli("server", "pupil", "edit", "P010", "--class", "5Z", "--json")
    assert refused.exit_code == 1 and "class_name" in json.loads(refused.stdout)["problems"]
    assert cli("server", "pupil", "edit", "P010", "--diet", "Sans porc").exit_code == 0
    assert cli("server", "pupil", "move", "P010", "F01", "--json").exit_code == 0
    no_family = cli("server", "pupil", "move", "P010", "F99")
    assert no_family.exit_code == 1 and "Il n'y a pas de famille 'F99'" in no_family.stderr
    assert cli("server", "badge", "assign", "P010", "11:22:33:44").exit_code == 0
    duplicate = cli("server", "badge", "assign", "P001", "11223344", "--json")
    assert json.loads(duplicate.stdout)["problems"]["uid"].startswith("Le badge 11223344 appartient déjà")
    assert cli("server", "badge", "lost", "11223344", "--reason", "Perdu en course d'école").exit_code == 0
    assert json.loads(cli("server", "badge", "replace", "11223344", "55667788", "--json").stdout)["uid"] == "55667788"
    assert cli("server", "pupil", "deactivate", "P010").exit_code == 0
    with school.live.write() as conn:
        row = conn.execute(select(pupils).where(pupils.c.pupil_id == "P010")).one()
        assert (row.family_id, row.diet, row.active) == ("F01", "Sans porc", False)
    assert [action for action, subject in audit_actions(school) if subject in ("P010", "11223344")] == [
        "pupil.add", "pupil.edit", "pupil.move", "badge.assign", "badge.lost", "badge.replace", "pupil.deactivate"]
