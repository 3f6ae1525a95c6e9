"""The kitchen's counts, the manager's bookings by phone and exclusions, on SQLite and PostgreSQL:
the count is the families' portal reservations, by diet and by class; after a kiosk pushes its
meals, reserved against served; a booking past the deadline needs the manager's reason, recorded;
an excluded pupil is refused at a real kiosk with the reason, which the family reads, until lifted."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from domain.i18n import gettext_for
from domain.meals import Refusal
from kiosk.sync_agent import SyncAgent
from refectory.server_commands import core as server_commands_core
from sync_server import create_app
from sync_server.families.reservations import close_days
from sync_server.tables import audit_log, families, mail_outbox, pupils, reservations

from .conftest import MONDAY_NOON
from .live_server import new_kiosk
from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

FRIDAY = "2026-12-04"
TUESDAY = MONDAY_NOON + timedelta(days=1)  # 12:00 in Zurich, during service
LEA, NOE, ZOE = "04A1B2C3", "04:11:22:33:44:55:66", "0A0B0C0D"
fr = gettext_for("fr")


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


def book(browser, pupil_id: str, day: str, choice: str):
    page = f"/children/{pupil_id}/agenda"
    answer = browser.submit(page, {"day": day, "choice": choice}, form_page=f"{page}?week={day}")
    assert answer.status_code == 302, answer.text


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def use_the_school_from_the_command_line(school, tmp_path, monkeypatch) -> None:
    """`refectory server ...` on the test's database and clock (the commands build their app with
    `create_app`, on the system clock otherwise)."""
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "cli-instance"))
    config = {name: school.live.app.config[name] for name in ("DATABASE_URL", "CLOCK")}
    monkeypatch.setattr(server_commands_core, "create_app", lambda **given: create_app(config, **given))


def pdf(response, tmp_path) -> tuple[int, str]:
    """The PDF's number of pages and its text."""
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "kitchen.pdf"
    path.write_bytes(response.data)
    info = subprocess.run([shutil.which("pdfinfo"), str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    text = subprocess.run([shutil.which("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return pages, text


def test_the_kitchen_count_is_the_reservations_families_made_on_the_portal_by_diet_and_class(school, tmp_path):
    first, second = school.logged_in("F01"), school.logged_in("F02")
    book(first, "P001", FRIDAY, "normal")
    book(first, "P003", FRIDAY, "special")
    book(second, "P002", FRIDAY, "normal")  # Noé has a diet: a special meal at the counter too
    kitchen = school.staff("kitchen")

    page = text_of(kitchen.get(f"/manage/kitchen?day={FRIDAY}"))
    assert "Normal 1 Spécial 2 Total 3" in page
    assert "Sans gluten 1" in page and "Repas spécial, pas de régime enregistré 1" in page
    assert "Comptage provisoire" in page

    rows = {(row["section"], row["name"]): row for row in csv_rows(kitchen.get(f"/manage/kitchen.csv?day={FRIDAY}"))}
    assert (rows["total", FRIDAY]["normal"], rows["total", FRIDAY]["special"]) == ("1", "2")
    assert (rows["class", "5A"]["normal"], rows["class", "5A"]["special"]) == ("1", "1")
    assert (rows["class", "9B"]["normal"], rows["class", "9B"]["special"]) == ("0", "1")
    assert rows["diet", "Sans gluten"]["special"] == "1"
    assert rows["diet", "Repas spécial, pas de régime enregistré"]["special"] == "1"

    pages, text = pdf(kitchen.get(f"/manage/kitchen.pdf?day={FRIDAY}"), tmp_path)
    assert pages == 1 and "Comptage cuisine du 04.12.2026" in text and "Sans gluten" in text

    # A cancellation on the portal before the cut-off leaves the count.
    book(first, "P001", FRIDAY, "none")
    rows = {(row["section"], row["name"]): row for row in csv_rows(kitchen.get(f"/manage/kitchen.csv?day={FRIDAY}"))}
    assert (rows["total", FRIDAY]["normal"], rows["total", FRIDAY]["special"]) == ("0", "2")


def test_after_service_the_kitchen_sees_what_was_wasted_and_who_ate_without_reservation(school, tmp_path, run,
                                                                                       monkeypatch):
    tuesday = TUESDAY.date().isoformat()
    family = school.logged_in("F01")
    book(family, "P001", tuesday, "normal")
    book(family, "P003", tuesday, "normal")
    kiosk = new_kiosk(tmp_path, school.live)
    SyncAgent(kiosk.store).run_round()
    cashier = kiosk.login("anne", "1234")
    for pupil_id in ("P001", "P002"):
        kiosk.cash_topup(cashier, pupil_id, 20_00, now=MONDAY_NOON)
    SyncAgent(kiosk.store).run_round()
    school.clock.now = TUESDAY
    assert kiosk.tap(LEA).verdict.served and kiosk.tap(NOE).verdict.served  # Zoé does not come
    SyncAgent(kiosk.store).run_round()

    page = text_of(school.staff("kitchen").get(f"/manage/kitchen?day={tuesday}"))
    assert "Comptage définitif" in page
    assert "Servis 2 Réservés, non servis 1 Servis sans réservation 1" in page
    wasted = page[page.index("Réservés, non servis Zoé"):]
    assert wasted.startswith("Réservés, non servis Zoé Rochat (5A) Servis sans réservation Noé Favre (9B)")

    use_the_school_from_the_command_line(school, tmp_path, monkeypatch)
    found = json.loads(run("server", "kitchen", "--day", tuesday, "--json").stdout)
    assert found["total"] == {"normal": 2, "special": 0, "total": 2, "served": 2, "reserved_not_served": 1,
                              "served_without_reservation": 1}
    assert [p["pupil_id"] for p in found["reserved_not_served"]] == ["P003"]
    assert [p["pupil_id"] for p in found["served_without_reservation"]] == ["P002"]
    as_csv = list(csv.DictReader(io.StringIO(run("server", "kitchen", "--day", tuesday, "--csv").stdout)))
    assert [(row["section"], row["name"], row["served"]) for row in as_csv] == [
        ("total", tuesday, "2"), ("class", "5A", "1"), ("class", "9B", "1"), ("diet", "Sans gluten", "1")]


def test_a_kitchen_login_reads_the_counts_and_nothing_of_money_or_pupils(school):
    kitchen = school.staff("kitchen")
    for path in ("/manage/kitchen", "/manage/kitchen.csv", "/manage/kitchen.pdf"):
        assert kitchen.get(path).status_code == 200, path
    menu = kitchen.get("/manage/kitchen").text
    assert 'href="/manage/kitchen"' in menu and "/manage/refunds" not in menu
    for path in ("/manage/refunds", "/manage/payments", "/manage/journal", "/manage/pupils/P001/meals"):
        assert kitchen.get(path).status_code == 403, path
    token = kitchen.token("/manage/kitchen")
    assert kitchen.post("/manage/pupils/P001/exclusion", {"csrf_token": token, "reason": "x"}).status_code == 403
    assert school.staff("accountant").get("/manage/kitchen").status_code == 403


def test_a_managers_booking_past_the_deadline_needs_a_reason_which_the_journal_keeps(school, tmp_path, run,
                                                                                     monkeypatch):
    manager = school.manager()
    page = "/manage/pupils/P001/meals"
    today = MONDAY_NOON.date().isoformat()  # 12:00: the 08:15 cut-off has passed
    refused = manager.submit(page, {"day": today, "choice": "normal", "override": ""})
    assert refused.status_code == 302
    shown = text_of(manager.get(refused.headers["Location"]))
    assert "ce délai est passé. Pour dépasser le délai, donnez-en la raison dans le champ à côté du bouton." in shown
    with school.live.write() as conn:
        assert conn.execute(select(reservations)).all() == []
        assert conn.execute(select(mail_outbox)).all() == []

    reason = "Maman a téléphoné à 9 h, oubli"
    accepted = manager.submit(page, {"day": today, "choice": "normal", "override": reason})
    assert "Réservation enregistrée." in text_of(manager.get(accepted.headers["Location"]))
    with school.live.write() as conn:
        assert conn.execute(select(reservations.c.pupil_id, reservations.c.kind)).all() == [("P001", "normal")]
        [(action, subject, detail)] = conn.execute(select(audit_log.c.action, audit_log.c.subject, audit_log.c.detail)
                                                   .where(audit_log.c.action.like("reservation.%"))).all()
        [(recipient, subject_line)] = conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject)).all()
        family_email = conn.execute(select(families.c.email).where(families.c.family_id == "F01")).scalar()
    assert (action, subject) == ("reservation.book", f"P001/{today}") and reason in detail
    assert recipient == family_email and subject_line.startswith("Réservation confirmée : Léa")
    assert "Normal 1 Spécial 0 Total 1" in text_of(school.staff("kitchen").get(f"/manage/kitchen?day={today}"))

    # The command line's twin: the same refusal without a reason, the same record with one.
    use_the_school_from_the_command_line(school, tmp_path, monkeypatch)
    refused = run("server", "meal", "book", "P003", "--day", today, "--special")
    assert refused.exit_code == 1 and "délai" in refused.stderr
    booked = run("server", "meal", "book", "P003", "--day", today, "--special", "--override", "Appel du père",
                 "--json")
    assert json.loads(booked.stdout) == {"ok": True, "pupil_id": "P003", "day": today, "before": None,
                                         "after": "special", "changed": True}
    with school.live.write() as conn:
        details = [row.detail for row in conn.execute(select(audit_log.c.detail).where(
            audit_log.c.action == "reservation.book").order_by(audit_log.c.id))]
    assert details[-1] == "- -> special; past the deadline: Appel du père"
    # A script tells a closed day and a day without service apart from a passed deadline by the code.
    monday = MONDAY_NOON.date()
    with school.live.write() as conn:
        close_days(conn, monday + timedelta(days=1), monday + timedelta(days=1), "Course d'école", today=monday)
    for day, code in ((monday + timedelta(days=1), "day_closed"), (monday + timedelta(days=5), "no_service"),
                      (monday, "deadline_passed")):
        refused = run("server", "meal", "book", "P003", "--day", day.isoformat(), "--json")
        assert refused.exit_code == 1 and json.loads(refused.stdout)["error"] == code
    # A reason goes past a deadline, not back in time; a day of year 1 is refused, not a traceback.
    for day, says in ((monday - timedelta(days=7), "Le lundi 23 novembre est passé"),
                      (date(1, 1, 3), "Choisissez un jour de 2000 à 2099.")):
        refused = run("server", "meal", "book", "P003", "--day", day.isoformat(), "--override", "Oubli")
        assert refused.exit_code == 1 and says in refused.stderr, refused.stderr
    said = run("server", "meal", "book", "P003", "--day", today, "--special", "--override", "Encore")
    assert said.exit_code == 0 and "Rien à changer : Zoé a déjà cela le lundi 30 novembre." in said.stdout


def test_the_meals_page_of_a_pupil_who_has_left_says_why_it_cannot_be_used(school):
    with school.live.write() as conn:
        conn.execute(update(pupils).where(pupils.c.pupil_id == "P003").values(active=False))
    page = school.manager().get("/manage/pupils/P003/meals")
    assert page.status_code == 409 and "Zoé n'est pas inscrit·e au réfectoire." in text_of(page)


def test_an_excluded_pupil_is_refused_at_a_kiosk_with_the_reason_and_the_family_reads_it_until_lifted(
        school, tmp_path, run, monkeypatch):
    kiosk = new_kiosk(tmp_path, school.live)
    SyncAgent(kiosk.store).run_round()
    kiosk.cash_topup(kiosk.login("anne", "1234"), "P001", 50_00)
    manager = school.manager()
    reason = "Compte négatif depuis 3 semaines, décision du comité du 27.11"
    done = manager.submit("/manage/pupils/P001/exclusion", {"reason": reason}, form_page="/manage/pupils/P001/meals")
    assert done.status_code == 302
    SyncAgent(kiosk.store).run_round()

    refused = kiosk.tap(LEA).verdict
    assert refused.reason is Refusal.ACCOUNT_ON_HOLD
    assert refused.message.render(fr) == "Compte bloqué : va voir le responsable."
    assert [hint.render(fr) for hint in refused.hints()] == [f"Motif : {reason}"]
    home = text_of(school.logged_in("F01").get("/"))
    assert f"Exclu·e de la cantine depuis le lundi 30 novembre 2026 : {reason}." in home
    assert reason not in text_of(school.logged_in("F02").get("/"))

    # Lifted from the command line, as from the page: served again after the next sync.
    use_the_school_from_the_command_line(school, tmp_path, monkeypatch)
    lifted = run("server", "exclusion", "lift", "P001", "--json")
    assert lifted.exit_code == 0 and json.loads(lifted.stdout) == {"ok": True, "pupil_id": "P001"}
    SyncAgent(kiosk.store).run_round()
    assert kiosk.tap(LEA).verdict.served
    assert reason not in text_of(school.logged_in("F01").get("/"))
    with school.live.write() as conn:
        actions = [row.action for row in conn.execute(select(audit_log.c.action).where(
            audit_log.c.action.like("exclusion.%")).order_by(audit_log.c.id))]
    assert actions == ["exclusion.set", "exclusion.lift"]
