"""What the back office's pages and their command-line twins do alike, on SQLite and PostgreSQL:
a family's e-mail and login letters from the command line (same services, same audit entries,
nothing written on a refusal); removing a back-office login asks first; a kiosk's last sync error
is said in the manager's language when the kiosk sent its code, and in the kiosk's own words
otherwise; a meal category is shown as the canteen's id, not as a French word."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests
from sqlalchemy import select

from kiosk import sync_store
from kiosk.sync_agent import SyncAgent, SyncError
from sync_server.tables import audit_log, families

from .live_server import free_port, new_kiosk
from .portal_client import start_school, text_of
from .test_backoffice_pupils import snapshot

pytestmark = pytest.mark.on_each_database


@pytest.fixture
def school(school_database, tmp_path, monkeypatch):
    """The test school's server, which `refectory server ...` also reaches (same database)."""
    school = start_school(school_database, tmp_path)
    monkeypatch.setenv("DATABASE_URL", school_database.url)
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("REFECTORY_LANG", "fr")
    yield school
    school.live.stop()


def pdf_text(path) -> str:
    done = subprocess.run([shutil.which("pdftotext"), "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


def audit_entries(school) -> list[tuple[str, str, str]]:
    with school.live.write() as conn:
        return [tuple(row) for row in conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.subject).order_by(audit_log.c.id))]


def test_a_family_email_set_from_the_command_line_shows_on_its_page_and_a_bad_one_writes_nothing(school, run):
    before = snapshot(school)
    refused = run("server", "family", "email", "F02", "not an address", "--json")
    assert refused.exit_code == 1
    answer = json.loads(refused.stdout)
    assert answer["ok"] is False and "n'est pas une adresse e-mail" in answer["problems"]["email"]
    assert snapshot(school) == before

    saved = run("server", "family", "email", "F02", "favre@example.ch")
    assert saved.exit_code == 0 and saved.stdout.strip() == "Les e-mails de la famille F02 vont à favre@example.ch."
    assert 'value="favre@example.ch"' in school.manager().get("/manage/families/F02").text
    assert json.loads(run("server", "family", "email", "F02", "", "--json").stdout) == {
        "ok": True, "family_id": "F02", "email": None}
    with school.live.write() as conn:
        assert conn.execute(select(families.c.email).where(families.c.family_id == "F02")).scalar() is None
    actor, action, subject = audit_entries(school)[-1]
    assert actor.startswith("cli") and (action, subject) == ("family.email", "F02")


def test_login_letters_from_the_command_line_are_one_pdf_like_the_pages_and_a_refusal_writes_no_file(
        school, run, tmp_path):
    output = tmp_path / "logins-5A.pdf"
    refused = run("server", "family", "letters", "--class", "5A", "--output", str(output))
    assert refused.exit_code == 1 and "Chaque famille de la classe 5A a déjà un identifiant" in refused.stderr
    assert not output.exists()
    assert run("server", "pupil", "add", "P004", "--first-name", "Tim", "--last-name", "Roux", "--class", "5A",
               "--category", "primary", "--family", "F05", "--new-family").exit_code == 0

    made = json.loads(run("server", "family", "letters", "--class", "5A", "--output", str(output), "--json").stdout)
    assert made == {"ok": True, "output": str(output), "families": ["F05"]}
    letters = pdf_text(output)
    assert "Pour la famille de Tim Roux (5A)" in letters and "Léa" not in letters
    assert not list(tmp_path.glob("*.partial"))

    reset = run("server", "family", "letters", "--family", "F01", "--output", str(tmp_path / "F01.pdf"))
    assert reset.exit_code == 0 and "1 lettre d'identifiant écrite" in reset.stdout
    text = pdf_text(tmp_path / "F01.pdf")
    assert f"Identifiant : {school.letters['F01'].login}" in text and "Léa Müller (5A), Zoé Rochat (5A)" in text
    old_password = school.browser().submit("/login", {"login": school.letters["F01"].login,
                                                      "password": school.letters["F01"].password})
    assert old_password.status_code != 302  # the letter's new password replaced it
    assert [(action, subject) for actor, action, subject in audit_entries(school)[-2:]] == [
        ("family.login", "F05"), ("family.password", "F01")]

    before = snapshot(school)
    assert run("server", "family", "letters", "--output", str(tmp_path / "x.pdf")).exit_code == 1  # a usage error
    unwritable = run("server", "family", "letters", "--family", "F02", "--output",
                     str(tmp_path / "no-such-folder" / "F02.pdf"), "--json")
    assert unwritable.exit_code == 1 and json.loads(unwritable.stdout)["error"] == "cannot_write"
    assert "aucun identifiant n'a été changé" in unwritable.stderr
    assert snapshot(school) == before


def test_removing_a_back_office_login_asks_first_on_a_page_of_its_own(school):
    manager = school.manager()
    manager.submit("/manage/staff/logins", {"manager_id": "karim", "name": "Karim Zaid", "role": "kitchen"},
                   form_page="/manage/staff")
    staff = manager.get("/manage/staff").text
    assert 'action="/manage/staff/logins/karim/remove"' not in staff  # no button that removes at once
    assert 'href="/manage/staff/logins/karim/remove"' in staff
    asked = manager.get("/manage/staff/logins/karim/remove")
    assert "Retirer l'accès de Karim Zaid ?" in text_of(asked)
    assert "Karim Zaid (karim, Cuisine) ne pourra plus se connecter" in text_of(asked)
    assert "Karim Zaid" in text_of(manager.get("/manage/staff"))  # asking changed nothing
    manager.submit("/manage/staff/logins/karim/remove", {}, form_page="/manage/staff/logins/karim/remove")
    assert "Karim Zaid (karim) ne peut plus se connecter." in text_of(manager.get("/manage/staff"))
    own = manager.get("/manage/staff/logins/sandra/remove")
    assert "Vous ne pouvez pas retirer ni réduire votre propre accès" in text_of(own)
    assert 'action="/manage/staff/logins/sandra/remove"' not in own.text
    assert manager.get("/manage/staff/logins/nobody/remove").status_code == 404


def heartbeat(school, kiosk, **error) -> None:
    """A heartbeat as a kiosk of another release sends it (`error`: its last_error fields)."""
    state = sync_store.sync_state(kiosk.store)
    answer = requests.post(f"{state.server_url}/api/v1/kiosks/heartbeat", timeout=30,
                           headers={"Authorization": f"Bearer {state.token}"},
                           json={"cursor": state.cursor, "pending": 0, "clock": "2026-11-30T11:01:00.000000+00:00",
                                 "version": "0.0.9", **error})
    assert answer.status_code == 200, answer.text


def test_a_kiosks_sync_error_is_said_in_french_when_its_code_is_known_and_in_its_own_words_otherwise(
        school, tmp_path, run):
    kiosk = new_kiosk(tmp_path, school.live, "K1")
    SyncAgent(kiosk.store, clock=school.clock).run_round()
    url = sync_store.sync_state(kiosk.store).server_url
    with kiosk.store.transaction() as store:  # nobody listens there
        store.conn.execute("UPDATE sync_state SET server_url = ?", (f"http://127.0.0.1:{free_port()}",))
    with pytest.raises(SyncError):
        SyncAgent(kiosk.store, clock=school.clock).run_round()
    assert sync_store.sync_state(kiosk.store).last_error_code == "unreachable"
    with kiosk.store.transaction() as store:  # the network is back
        store.conn.execute("UPDATE sync_state SET server_url = ?", (url,))
    SyncAgent(kiosk.store, clock=school.clock).run_round()

    manager = school.manager()
    page = text_of(manager.get("/manage/kiosks"))
    assert "Dernière erreur de synchronisation La borne n'a pas pu joindre le serveur (réseau, ou serveur arrêté)." \
        in page and "Server unreachable" not in page
    listed = json.loads(run("server", "kiosks", "--json").stdout)["kiosks"][0]
    assert (listed["last_error_code"], listed["last_error"]) == ("unreachable", "Server unreachable (ConnectionError).")
    assert "(Server unreachable (ConnectionError).)" in run("server", "kiosks").stdout

    heartbeat(school, kiosk, last_error="Disk full.", last_error_at="2026-11-30T11:00:30.000000+00:00")
    assert "Dernière erreur de synchronisation Disk full." in text_of(manager.get("/manage/kiosks"))  # an old kiosk
    heartbeat(school, kiosk, last_error="Printer on fire.", last_error_code="printer_on_fire")
    assert "Dernière erreur de synchronisation Printer on fire." in text_of(manager.get("/manage/kiosks"))


def test_a_meal_category_is_shown_as_the_canteens_id_not_as_a_french_word(school):
    manager = school.manager()
    pupil = manager.get("/manage/pupils/P001").text
    assert "Catégorie de repas <code>primary</code>" in pupil and "catégorie primary" not in text_of(
        manager.get("/manage/pupils/P001"))
    assert "<td><code>primary</code></td>" in manager.get("/manage/pupils?q=5A").text
