"""The staff page: cashiers added and changed in the back office reach a real kiosk at its next
sync; bad input is refused beside its field with nothing written; back-office logins get a role,
a password shown once, lose access; the back office always keeps a manager, on the page and on
the command line."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from kiosk.service import AuthError
from kiosk.sync_agent import SyncAgent
from sync_server.tables import changes

from .live_server import new_kiosk
from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def _changes(school) -> int:
    with school.live.write() as conn:
        return conn.execute(select(func.count()).select_from(changes)).scalar_one()


def test_a_cashier_added_then_given_a_new_pin_and_a_badge_works_at_a_kiosk_after_its_sync(school, tmp_path):
    manager = school.manager()
    added = manager.submit("/manage/staff/cashiers", {"cashier_id": "marc", "name": "Marc Udry", "pin": "2468"},
                           form_page="/manage/staff")
    assert added.status_code == 302
    assert "Caissier Marc Udry ajouté" in text_of(manager.get("/manage/staff"))
    kiosk = new_kiosk(tmp_path, school.live)
    SyncAgent(kiosk.store).run_round()
    assert kiosk.login("marc", "2468").cashier_id == "marc"
    manager.submit("/manage/staff/cashiers/marc/pin", {"pin": "13579"}, form_page="/manage/staff")
    manager.submit("/manage/staff/cashiers/marc/badge", {"badge": "04:aa:bb:cc"}, form_page="/manage/staff")
    page = text_of(manager.get("/manage/staff"))
    assert "Marc Udry (marc) Badge : 04AABBCC" in page
    SyncAgent(kiosk.store).run_round()
    with pytest.raises(AuthError):
        kiosk.login("marc", "2468")
    assert kiosk.login_with_badge("04AABBCC").cashier_id == "marc" and kiosk.login("marc", "13579")
    manager.submit("/manage/staff/cashiers/marc/badge", {"badge": "04AABBCC", "clear": "1"}, form_page="/manage/staff")
    assert "Marc Udry (marc) Badge : aucun" in text_of(manager.get("/manage/staff"))
    journal = text_of(manager.get("/manage/journal"))
    assert "Code PIN de caissier renouvelé marc" in journal
    assert "Badge de caissier changé marc badge 04AABBCC" in journal


@pytest.mark.parametrize(("form", "field", "says"), [
    ({"cashier_id": "anne", "name": "Anne Bis", "pin": "1234"}, "add-cashier_id", "Le caissier anne existe déjà."),
    ({"cashier_id": "marc", "name": "Marc", "pin": "12"}, "add-pin", "Un code PIN compte 4 à 8 chiffres."),
    ({"cashier_id": "marc", "name": "Marc", "pin": "123456789"}, "add-pin", "Un code PIN compte 4 à 8 chiffres."),
    ({"cashier_id": "marc", "name": "Marc", "pin": "1234", "badge": "04A1B2C3"}, "add-badge",
     "Le badge 04A1B2C3 appartient à un·e élève"),
    ({"cashier_id": "marc", "name": "", "pin": "1234"}, "add-cashier_id", "Un·e caissier·ère a besoin"),
])
def test_a_bad_cashier_is_refused_beside_its_field_and_nothing_is_written(school, form, field, says):
    manager = school.manager()
    before = _changes(school)
    response = manager.submit("/manage/staff/cashiers", form, form_page="/manage/staff")
    assert response.status_code == 422
    assert f'<span class="field-error" id="{field}-error">' in response.text and says in text_of(response)
    assert _changes(school) == before and "Marc" not in text_of(manager.get("/manage/staff")).split("Accès")[0]


def test_a_badge_already_another_cashiers_is_refused_and_nothing_changes(school):
    manager = school.manager()
    manager.submit("/manage/staff/cashiers", {"cashier_id": "marc", "name": "Marc Udry", "pin": "2468",
                                              "badge": "0102030405"}, form_page="/manage/staff")
    before = _changes(school)
    response = manager.submit("/manage/staff/cashiers/anne/badge", {"badge": "01:02:03:04:05"},
                              form_page="/manage/staff")
    assert response.status_code == 422 and "Le badge 0102030405 appartient déjà à marc." in text_of(response)
    assert 'id="badge-anne-error"' in response.text and _changes(school) == before


def test_a_login_gets_a_role_and_a_password_shown_once_and_loses_access_when_removed(school):
    manager = school.manager()
    added = manager.submit("/manage/staff/logins", {"manager_id": "karim", "name": "Karim Zaid", "role": "kitchen"},
                           form_page="/manage/staff")
    password = text_of(added).split("Accès à la gestion karim, mot de passe ")[1].split(" ")[0]
    assert password not in text_of(manager.get("/manage/staff"))  # shown once
    karim = school.browser()
    assert karim.submit("/manage/login", {"login": "karim", "password": password}).status_code == 302
    assert karim.get("/manage/staff").status_code == 403
    manager.submit("/manage/staff/logins/karim/role", {"role": "accountant"}, form_page="/manage/staff")
    assert karim.get("/manage/journal").status_code == 200  # the accountant's page, same session
    assert "Rôle de gestion changé karim kitchen → accountant" in text_of(manager.get("/manage/journal"))
    manager.submit("/manage/staff/logins/karim/remove", {}, form_page="/manage/staff")
    assert karim.get("/manage/journal").headers["Location"] == "/manage/login"
    assert "Karim Zaid (karim) ne peut plus se connecter." in text_of(manager.get("/manage/staff"))
    assert "Karim" not in text_of(manager.get("/manage/staff"))


def test_a_new_password_ends_the_logins_sessions(school):
    accountant = school.staff("accountant")
    manager = school.manager()
    answer = manager.submit("/manage/staff/logins/accountant/password", {}, form_page="/manage/staff")
    assert "Accès à la gestion accountant, mot de passe " in text_of(answer)
    assert accountant.get("/manage/journal").headers["Location"] == "/manage/login"


def test_a_manager_cannot_remove_or_demote_themself_nor_the_last_manager(school, run, monkeypatch):
    manager = school.manager()
    staff_page = manager.get("/manage/staff").text
    assert "/logins/sandra/remove" not in staff_page and "/logins/sandra/role" not in staff_page
    before = _changes(school)
    for path, data in (("/manage/staff/logins/sandra/remove", {}), ("/manage/staff/logins/sandra/role",
                                                                    {"role": "kitchen"})):
        response = manager.submit(path, data, form_page="/manage/staff")
        assert response.status_code == 422 and "Vous ne pouvez pas retirer ni réduire votre propre accès" in \
            text_of(response)
    assert _changes(school) == before
    monkeypatch.setenv("DATABASE_URL", school.live.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", school.live.app.instance_path)
    refused = run("server", "manager", "role", "sandra", "kitchen", "--json")
    assert refused.exit_code == 1 and "sandra est le dernier gestionnaire" in refused.output
    assert run("server", "manager", "remove", "sandra").exit_code == 1
    made = run("server", "manager", "add", "zoe", "--name", "Zoé Roch", "--json")
    assert made.exit_code == 0
    moved = json.loads(run("server", "manager", "role", "sandra", "accountant", "--json").output)
    assert moved == {"ok": True, "manager_id": "sandra", "role": "accountant", "before": "manager"}
    listed = json.loads(run("server", "manager", "list", "--json").output)["managers"]
    assert {(m["manager_id"], m["role"]) for m in listed} == {("sandra", "accountant"), ("zoe", "manager")}
