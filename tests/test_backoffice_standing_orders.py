"""The families' standing orders in the back office, over HTTP on SQLite and PostgreSQL: the manager
reads every order with days to come, by school, with its child, class, days, last day, the family
that made it, the last day it booked and the last day it left out with the rule's reason (the
family reads the same two on its agenda); the manager cancels one with a reason, the family gets
one e-mail, the journal has it, and the order books nothing more; the command line does the same.
A Chromium pass checks the page with axe-core."""

from __future__ import annotations

import json
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from sync_server.families import standing_orders
from sync_server.tables import audit_log, mail_outbox, pupils

from .backoffice_browser import back_office_page, check_and_shoot
from .portal_client import start_school, text_of
from .test_week_booking import booked, close, standing_order, zurich

PAGE = "/manage/standing-orders"


@pytest.fixture
def school(school_database, tmp_path, monkeypatch):
    """The test school (P002 at the Collège, the others without a school); `refectory server ...`
    reaches the same database. Monday 30 November at noon, Thursday 10 December closed."""
    school = start_school(school_database, tmp_path, PORTAL_URL="https://portal.test/")
    monkeypatch.setenv("DATABASE_URL", school_database.url)
    monkeypatch.setenv("REFECTORY_SERVER_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("REFECTORY_LANG", "fr")
    with school.live.write() as conn:
        conn.execute(update(pupils).where(pupils.c.pupil_id == "P002").values(school="Collège"))
    close(school, date(2026, 12, 10), date(2026, 12, 10), "Fête")
    school.clock.now = zurich(2026, 11, 30, 12, 0)
    yield school
    school.live.stop()


def orders(school) -> None:
    """Léa (F01) on Mondays, Tuesdays and Thursdays until 18 December; Noé (F02) on Fridays until
    the end of January; Zoé's order (F01) ended on Friday 4 December."""
    assert standing_order(school.logged_in("F01"), (0, 1, 3), "2026-12-18").status_code == 302
    assert standing_order(school.logged_in("F02"), (4,), "2027-01-29", pupil_id="P002").status_code == 302
    assert standing_order(school.logged_in("F01"), (2,), "2026-12-04", pupil_id="P003").status_code == 302


def last_mail(school) -> tuple[str, str, str]:
    with school.live.write() as conn:
        recipient, subject, body = conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject,
                                                       mail_outbox.c.body).order_by(mail_outbox.c.id.desc())).first()
    return recipient, subject, body.replace("\xa0", " ")  # French spaces before colons, read as spaces


@pytest.mark.on_each_database
def test_the_manager_reads_each_order_by_school_with_its_last_day_booked_and_left_out(school):
    orders(school)
    school.clock.now = zurich(2026, 12, 5, 9, 0)  # Saturday: Zoé's order has no day to come
    page = text_of(school.manager().get(PAGE))
    assert "Zoé" not in page
    without, college = page.split("Sans école (1 commande)")[1].split("Collège (1 commande)")
    assert "Müller Léa 5A lundis, mardis et jeudis vendredi 18 décembre 2026 F01 parent3@example.ch" in without
    # Booked at once: 1, 3, 7 and 8 December; Monday 30 November past 08:15 and Thursday 10 closed.
    assert "mardi 8 décembre jeudi 10 décembre La cantine est fermée le jeudi 10 décembre (Fête)." in without
    assert "Favre Noé 9B vendredis vendredi 29 janvier 2027 F02" in college
    assert "vendredi 11 décembre —" in college  # booked its two Fridays, left nothing out

    agenda = text_of(school.logged_in("F01").get("/children/P001/agenda?week=2026-12-07"))
    assert "Dernier jour réservé par la commande : mardi 8 décembre." in agenda
    assert ("Dernier jour laissé de côté : jeudi 10 décembre. La cantine est fermée le jeudi 10 décembre (Fête)."
            in agenda)


@pytest.mark.on_each_database
def test_the_manager_cancels_an_order_the_family_is_told_once_and_no_more_days_are_booked(school):
    orders(school)
    manager = school.manager()
    answer = manager.submit(PAGE + "/P001/cancel", {"reason": "Départ à la fin du mois"}, form_page=PAGE)
    assert answer.status_code == 302
    page = text_of(manager.get(answer.headers["Location"]))
    assert "Commande permanente annulée ; la famille est prévenue par e-mail." in page and "Müller Léa" not in page

    recipient, subject, body = last_mail(school)
    assert recipient == "parent3@example.ch" and subject == "Commande permanente de Léa annulée par la cantine"
    assert ("La cantine a annulé la commande permanente de Léa : un repas normal les lundis, mardis et jeudis,"
            " jusqu'au vendredi 18 décembre 2026.") in body
    assert "Motif : Départ à la fin du mois" in body
    with school.live.write() as conn:
        assert conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.subject, audit_log.c.detail)
                            .order_by(audit_log.c.id.desc())).first() == (
            "sandra", "standing_order.cancel", "P001", "normal on 0,1,3 until 2026-12-18; Départ à la fin du mois")

    before = booked(school)
    assert before == {"2026-12-01": "normal", "2026-12-03": "normal", "2026-12-07": "normal", "2026-12-08": "normal"}
    school.clock.now = zurich(2026, 12, 7, 7, 0)
    standing_orders.apply_due(school.live.engine, school.clock.now, portal_url="https://portal.test/", canteen={})
    assert booked(school) == before  # the days it booked stay; no new week
    assert "Créer une commande permanente" in text_of(school.logged_in("F01").get("/children/P001/agenda"))

    manager = school.manager()  # a session lasts 12 hours at most
    again = manager.submit(PAGE + "/P001/cancel", {"reason": ""}, form_page=PAGE)
    assert "Il n'y a pas (ou plus) de commande permanente pour P001." in text_of(manager.get(again.headers["Location"]))


@pytest.mark.on_each_database
def test_an_order_already_ended_or_a_reason_too_long_is_refused_in_french_and_nobody_is_mailed(school):
    orders(school)
    school.clock.now = zurich(2026, 12, 5, 9, 0)  # Zoé's order ended on Friday 4 December
    manager = school.manager()
    with school.live.write() as conn:
        mails = conn.execute(select(mail_outbox.c.id)).all()
    ended = manager.submit(PAGE + "/P003/cancel", {"reason": ""}, form_page=PAGE)
    assert "Il n'y a pas (ou plus) de commande permanente pour P003." in text_of(manager.get(ended.headers["Location"]))
    too_long = manager.submit(PAGE + "/P001/cancel", {"reason": "x" * 301}, form_page=PAGE)
    assert "Indiquez au plus 300 caractères." in text_of(manager.get(too_long.headers["Location"]))
    with school.live.write() as conn:
        assert conn.execute(select(mail_outbox.c.id)).all() == mails
        assert standing_orders.of_child(conn, "P001") is not None


@pytest.mark.on_each_database
def test_the_command_line_lists_and_cancels_like_the_page(school, run):
    orders(school)
    listed = json.loads(run("server", "standing-order", "list", "--school", "Collège", "--json").stdout)
    assert [(row["pupil_id"], row["weekdays"], row["until"], row["family_id"]) for row in listed["orders"]] == [
        ("P002", [4], "2027-01-29", "F02")]
    done = run("server", "standing-order", "cancel", "P002", "--reason", "Demande de la famille")
    assert done.exit_code == 0
    assert done.stdout.strip() == "La commande permanente de P002 est annulée\xa0; la famille est prévenue par e-mail."
    assert last_mail(school)[:2] == ("parent2@example.ch", "Commande permanente de Noé annulée par la cantine")
    refused = run("server", "standing-order", "cancel", "P002", "--json")
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"] == "not_found"
    assert "P002" not in run("server", "standing-order", "list").stdout


def test_the_page_passes_axe_and_cancels_from_the_browser(chromium, school):
    orders(school)
    with back_office_page(chromium, school.live) as (page, _base):
        page.get_by_role("navigation").get_by_role("link", name="Commandes permanentes").click()
        expect(page.get_by_role("heading", name="Commandes permanentes", level=1)).to_be_visible()
        problems = {"list": check_and_shoot(page, "standing-orders")}
        page.get_by_label("Motif, pour la famille (facultatif)").first.fill("Fin de l'inscription")
        page.get_by_role("button", name="Annuler la commande de Léa").click()
        expect(page.get_by_role("status")).to_contain_text("Commande permanente annulée")
        problems["cancelled"] = check_and_shoot(page, "standing-orders-cancelled")
    assert problems == {"list": [], "cancelled": []}
