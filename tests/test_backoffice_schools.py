"""A city's schools in the back office, over HTTP on SQLite and PostgreSQL: the manager gives a
pupil a school (a school no one has yet only once confirmed), moves a pupil to another school and
reads what the kiosks do about it, gives a kiosk's enrollment code a school (page and CLI) and is
told a kiosk keeps the school it synced for, and imports a roster with or without a school column.
A one-school install shows no school anywhere."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from domain.meals import ReservationKind
from domain.sync import ChangeType
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server.admin.canteen_settings import current_settings
from sync_server.families import exclusions, reservations
from sync_server.tables import audit_log, changes, kiosks, pupils
from tests.live_server import SERVER_ROSTER

from .portal_client import start_school, text_of
from .test_backoffice_pupils import EDIT, confirm_form, field_error, preview, snapshot

pytestmark = pytest.mark.on_each_database

LEA_BADGE, NOE_BADGE = "04A1B2C3", "04112233445566"
MONDAY = date(2026, 11, 30)
NEW_PUPIL = {"pupil_id": "P004", "first_name": "Tim", "last_name": "Rochat", "class_name": "5A",
             "category": "primary", "family_id": "F01"}


@pytest.fixture
def school(school_database, tmp_path, monkeypatch):
    """The test school's server, which `refectory server ...` also reaches (same database)."""
    school = start_school(school_database, tmp_path)
    monkeypatch.setenv("DATABASE_URL", school_database.url)
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "cli-instance"))
    yield school
    school.live.stop()


def school_of(school, pupil_id: str) -> str | None:
    with school.live.write() as conn:
        return conn.execute(select(pupils.c.school).where(pupils.c.pupil_id == pupil_id)).scalar()


def flashed(manager, page: str) -> str:
    return text_of(manager.get(page))


def serves(kiosk: KioskService, badge: str) -> bool:
    """The kiosk knows the badge's pupil as one of its own (not unknown, not gone to another school)."""
    facts = kiosk.store.counter_facts(badge, MONDAY)
    return facts is not None and facts.pupil.active


def enrolled_kiosk(tmp_path, school, manager, kiosk_id: str, form: dict) -> KioskService:
    """A kiosk enrolled with the code the kiosks page made for it, synced once."""
    made = manager.submit("/manage/kiosks/code", {"kiosk_id": kiosk_id, **form}, form_page="/manage/kiosks")
    assert made.status_code == 200, text_of(made)
    code = text_of(made).split(f"Code d'enrôlement pour la borne {kiosk_id} : ")[1].split()[0]
    store = Store.open(tmp_path / kiosk_id, create=True)
    store.initialize(kiosk_id)
    agent = SyncAgent(store, clock=school.clock)
    agent.enroll(school.live.url, code)
    agent.run_round()
    return KioskService(store, clock=school.clock)


def test_a_school_no_one_has_yet_needs_confirming_and_a_one_school_install_shows_none(school):
    manager = school.manager()
    assert "École" not in text_of(manager.get("/manage/pupils?q=5a"))
    assert "Toutes les écoles" not in text_of(manager.get("/manage/pupils/P001"))
    before = snapshot(school)
    refused = manager.submit("/manage/pupils/new", {**NEW_PUPIL, "school": " Nord "})
    assert refused.status_code == 422
    assert field_error(refused, "school") == ("Aucun élève ni aucune borne n'a encore d'école : confirmez que"
                                              " 'Nord' est une nouvelle école.")
    assert snapshot(school) == before

    added = manager.submit("/manage/pupils/new", {**NEW_PUPIL, "school": " Nord ", "new_school": "yes"})
    assert added.status_code == 302
    assert "École Nord · Classe 5A" in flashed(manager, "/manage/pupils/P004")
    listed = text_of(manager.get("/manage/pupils?q=5a"))
    assert "Nom École Classe" in listed and "Rochat Tim Nord 5A" in listed and "Müller Léa — 5A" in listed
    assert "Toutes les écoles · Classe 5A" in text_of(manager.get("/manage/pupils/P001"))
    with school.live.write() as conn:
        published = conn.execute(select(changes.c.school).where(changes.c.type == ChangeType.PUPIL,
                                                                changes.c.key == "P004")).scalars().all()
    assert published == ["Nord"]  # only the kiosks of Nord (and of every school) learn Tim

    for typed, message in (("Nrod", "'Nrod' n'est pas une des écoles (Nord). Vérifiez l'orthographe"),
                           ("N" * 41, "Le nom d'une école tient sur une ligne d'au plus 40 caractères.")):
        before = snapshot(school)
        typo = manager.submit("/manage/pupils/P001/edit", {**EDIT, "school": typed}, form_page="/manage/pupils/P001")
        assert typo.status_code == 422 and message in field_error(typo, "edit-school")
        assert snapshot(school) == before


def test_a_pupil_moved_to_another_school_is_refused_at_the_old_ones_kiosks_and_arrives_whole_at_the_new(
        school, tmp_path):
    manager = school.manager()
    for pupil_id, name in (("P001", "Nord"), ("P002", "Sud")):
        form = {**EDIT, "first_name": "Léa" if pupil_id == "P001" else "Noé",
                "last_name": "Müller" if pupil_id == "P001" else "Favre",
                "class_name": "5A" if pupil_id == "P001" else "9B",
                "category": "primary" if pupil_id == "P001" else "secondary", "school": name, "new_school": "yes"}
        assert manager.submit(f"/manage/pupils/{pupil_id}/edit", form,
                              form_page=f"/manage/pupils/{pupil_id}").status_code == 302
    nord = enrolled_kiosk(tmp_path, school, manager, "KN", {"school": "Nord"})
    sud = enrolled_kiosk(tmp_path, school, manager, "KS", {"school": "Sud"})
    assert serves(nord, LEA_BADGE) and not serves(nord, NOE_BADGE) and not serves(sud, LEA_BADGE)

    moved = manager.submit("/manage/pupils/P001/edit", {**EDIT, "school": "Sud"}, form_page="/manage/pupils/P001")
    assert moved.status_code == 302
    assert ("Enregistré : l'enfant change d'école. Les bornes de l'école Nord refusent l'enfant dès leur prochaine"
            " synchronisation. Celles de l'école Sud reçoivent tout le compte (badges, réservations, solde).") in (
        flashed(manager, "/manage/pupils/P001"))
    for kiosk in (nord, sud):
        SyncAgent(kiosk.store, clock=school.clock).run_round()
    assert not serves(nord, LEA_BADGE) and serves(sud, LEA_BADGE)
    with school.live.write() as conn:
        detail = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "pupil.edit")
                              .order_by(audit_log.c.id.desc())).scalar()
    assert detail.endswith("school=Sud")


def test_a_pupil_back_at_a_school_is_held_and_booked_there_as_the_server_says_not_as_when_she_left(
        school, tmp_path):
    manager = school.manager()

    def to_school(name: str, new: bool = False) -> None:
        form = {**EDIT, "school": name, **({"new_school": "yes"} if new else {})}
        assert manager.submit("/manage/pupils/P001/edit", form, form_page="/manage/pupils/P001").status_code == 302

    to_school("Nord", new=True)
    nord = enrolled_kiosk(tmp_path, school, manager, "KN", {"school": "Nord"})
    wednesday = date(2026, 12, 2)
    with school.live.write() as conn:
        exclusions.exclude(conn, "P001", "Repas impayés", school.clock())
        reservations.change_for_pupil(conn, "P001", wednesday, ReservationKind.NORMAL, school.clock(), override=None,
                                      settings=current_settings(conn), portal_url="https://portal.test/",
                                      canteen={"name": "Réfectoire"})
    SyncAgent(nord.store, clock=school.clock).run_round()
    assert nord.store.hold("P001") is not None and booked(nord, wednesday)

    to_school("Sud", new=True)  # while she is at Sud, the exclusion is lifted and the meal cancelled
    with school.live.write() as conn:
        exclusions.lift(conn, "P001", school.clock())
        reservations.change_for_pupil(conn, "P001", wednesday, None, school.clock(), override=None,
                                      settings=current_settings(conn), portal_url="https://portal.test/",
                                      canteen={"name": "Réfectoire"})
    SyncAgent(nord.store, clock=school.clock).run_round()
    to_school("Nord")
    SyncAgent(nord.store, clock=school.clock).run_round()
    assert serves(nord, LEA_BADGE)
    assert nord.store.hold("P001") is None and not booked(nord, wednesday)


def booked(kiosk: KioskService, day: date) -> bool:
    return kiosk.store.conn.execute("SELECT 1 FROM reservations WHERE pupil_id = 'P001' AND service_date = ?",
                                    (day.isoformat(),)).fetchone() is not None


def test_an_enrollment_code_gives_a_kiosk_its_school_which_it_keeps_once_synced(school, tmp_path, run):
    manager = school.manager()
    unknown = manager.submit("/manage/kiosks/code", {"kiosk_id": "K3", "school": "Nord"}, form_page="/manage/kiosks")
    assert unknown.status_code == 422 and "confirmez que 'Nord' est une nouvelle école" in text_of(unknown)
    with school.live.write() as conn:
        assert conn.execute(select(kiosks.c.kiosk_id).where(kiosks.c.kiosk_id == "K3")).first() is None
    enrolled_kiosk(tmp_path, school, manager, "K3", {"school": "Nord", "new_school": "y"})
    page = text_of(manager.get("/manage/kiosks"))
    assert "K3 — jamais synchronisée" not in page and "École Nord" in page
    again = manager.get("/manage/kiosks?kiosk_id=K3")  # a new code for K3: its school is already filled in
    assert re.search(r'id="kiosk_id" name="kiosk_id" value="K3"', again.text)
    assert re.search(r'id="school" name="school" value="Nord"', again.text)

    elsewhere = manager.submit("/manage/kiosks/code", {"kiosk_id": "K3", "school": "Sud", "new_school": "y"},
                               form_page="/manage/kiosks")
    said = ("La borne K3 s'est synchronisée pour l'école Nord : une borne garde son école. Enrôlez la machine"
            " comme nouvelle borne pour la déplacer.")
    assert elsewhere.status_code == 422
    assert said in re.search(r'<span class="field-error" id="school-error">([^<]*)</span>',
                             elsewhere.text).group(1).replace("&#39;", "'")

    refused = run("server", "kiosk-code", "K3", "--school", "Sud", "--new-school")
    assert refused.exit_code == 1 and said in refused.stderr
    typo = run("server", "kiosk-code", "K4", "--school", "Nrod", "--json")
    assert typo.exit_code == 1 and "'Nrod' n'est pas une des écoles (Nord)" in json.loads(typo.stdout)["problems"][
        "school"]
    made = run("server", "kiosk-code", "K4", "--school", "Nord", "--json")
    assert made.exit_code == 0 and json.loads(made.stdout)["school"] == "Nord"
    listed = json.loads(run("server", "kiosks", "--json").stdout)["kiosks"]
    assert {kiosk["kiosk_id"]: kiosk["school"] for kiosk in listed} == {"K3": "Nord", "K4": "Nord"}
    assert run("server", "pupil", "edit", "P002", "--school", "Nord").exit_code == 0
    assert run("server", "pupil", "edit", "P002", "--diet", "").exit_code == 0  # an edit keeps the school
    assert school_of(school, "P002") == "Nord"


def roster_with_schools(schools: dict[str, str]) -> bytes:
    """The test school's roster with a school column: `schools` by pupil id, the others empty."""
    lines = SERVER_ROSTER.strip().splitlines()
    return ("\n".join([lines[0] + ",school"] + [f"{line},{schools.get(line.split(',')[0], '')}"
                                                for line in lines[1:]]) + "\n").encode()


def test_a_roster_with_a_school_column_moves_pupils_and_one_without_leaves_their_schools(school):
    manager = school.manager()
    shown = preview(manager, roster_with_schools({"P001": "Nord", "P002": "Sud"}))
    says = text_of(shown)
    assert shown.status_code == 200 and "2 modifiés" in says
    assert "school : — → Nord" in says and "school : — → Sud" in says
    assert "Nouvelles écoles, qu'aucun élève ni aucune borne n'a encore : Nord, Sud." in says
    assert manager.post("/manage/pupils/import/confirm", confirm_form(shown)).status_code == 302
    assert (school_of(school, "P001"), school_of(school, "P002"), school_of(school, "P003")) == ("Nord", "Sud", None)

    moved = preview(manager, roster_with_schools({"P001": "Sud", "P002": "Sud"}))
    assert "school : Nord → Sud" in text_of(moved) and "Nouvelle" not in text_of(moved)
    assert manager.post("/manage/pupils/import/confirm", confirm_form(moved)).status_code == 302
    assert school_of(school, "P001") == "Sud"

    without = preview(manager, SERVER_ROSTER.replace("P002,Noé,Favre,9B", "P002,Noé,Favre,10B").encode())
    assert "school" not in text_of(without)
    assert manager.post("/manage/pupils/import/confirm", confirm_form(without)).status_code == 302
    assert (school_of(school, "P001"), school_of(school, "P002")) == ("Sud", "Sud")

    before = snapshot(school)
    misspelt = preview(manager, roster_with_schools({}).replace(b",school\n", b",School\n", 1))
    assert misspelt.status_code == 422 and "La colonne 'School' doit s'écrire 'school'." in text_of(misspelt)
    too_long = preview(manager, roster_with_schools({"P003": "x" * 41}))
    assert too_long.status_code == 422
    assert "ligne 4 : Le nom d'une école tient sur une ligne d'au plus 40 caractères." in text_of(too_long)
    assert snapshot(school) == before

