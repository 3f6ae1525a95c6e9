"""Low-balance alerts: the family's threshold per child, one e-mail when a kiosk's push takes the
balance below it, and not again until it has gone back above."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kiosk.sync_agent import SyncAgent
from sync_server.families import balance_alerts
from sync_server.mail import outbox
from sync_server.tables import mail_outbox

from .conftest import MONDAY_NOON
from .kiosk_push import cash_topup, enroll, meal, push, reversal
from .live_server import new_kiosk
from .portal_client import start_school, text_of
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.on_each_database

# P001, family F01 (parent3@example.ch: the roster gives the family its last row's address), primary meals at CHF 7.50
LEA = "04A1B2C3"


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    yield school
    school.live.stop()


@pytest.fixture
def kiosk(tmp_path, school):
    kiosk = new_kiosk(tmp_path, school.live, "K1")
    SyncAgent(kiosk.store).run_round()
    return kiosk


def alerts(school) -> list[tuple[str, str]]:
    with school.live.write() as conn:
        return conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject)
                            .where(mail_outbox.c.subject.like("Solde bas%")).order_by(mail_outbox.c.id)).all()


class Day:
    """Léa's meals, one a day from Monday, each pushed by a sync round as the kiosk would."""

    def __init__(self, kiosk) -> None:
        self.kiosk, self.days = kiosk, 0

    def meal(self) -> int:
        assert self.kiosk.tap(LEA, now=MONDAY_NOON + timedelta(days=self.days)).verdict.served
        self.days += 1
        SyncAgent(self.kiosk.store).run_round()
        return self.kiosk.store.balance("P001")

    def top_up(self, cents: int) -> int:
        self.kiosk.cash_topup(self.kiosk.login("anne", "1234"), "P001", cents)
        SyncAgent(self.kiosk.store).run_round()
        return self.kiosk.store.balance("P001")


def test_one_mail_when_a_sync_brings_the_balance_below_the_threshold_and_again_only_after_it_went_back_above(
        school, kiosk):
    lea = Day(kiosk)
    assert lea.top_up(30_00) == 30_00
    assert lea.meal() == 22_50 and alerts(school) == []  # still at or above the canteen's CHF 20.00
    assert lea.meal() == 15_00
    assert alerts(school) == [("parent3@example.ch", "Solde bas pour Léa : CHF 15.00")]
    assert lea.meal() == 7_50 and len(alerts(school)) == 1  # already below: not told again
    assert lea.top_up(12_50) == 20_00 and len(alerts(school)) == 1  # back at the threshold, not below
    assert lea.meal() == 12_50
    assert alerts(school)[1:] == [("parent3@example.ch", "Solde bas pour Léa : CHF 12.50")]

    sink = SmtpSink()
    try:
        settings = outbox.SmtpSettings(host="127.0.0.1", port=sink.port, sender="cantine@example.ch")
        assert outbox.send_due(school.live.engine, settings, school.clock.now).sent == 2
        first, _second = sink.wait_for(2)
    finally:
        sink.stop()
    assert first["To"] == "parent3@example.ch"
    body = first.get_body(("plain",)).get_content()
    assert "Le solde du compte de Léa est de CHF 15.00, sous votre seuil d'alerte de CHF 20.00." in body
    assert "/children/P001/topup" in body and "/children/P001/alert" in body


def test_the_family_sets_its_own_threshold_or_switches_the_alert_off(school, kiosk):
    browser = school.logged_in("F01")
    assert "Alerte de solde bas" in text_of(browser.get("/"))
    saved = browser.submit("/children/P001/alert", {"threshold": "10,00"})
    assert saved.status_code == 302
    assert "Alerte de solde bas pour Léa enregistrée." in text_of(browser.get("/"))
    page = text_of(browser.get("/children/P001/alert"))
    assert "Actuellement : un e-mail sous CHF 10.00." in page

    lea = Day(kiosk)
    lea.top_up(30_00)
    assert lea.meal() == 22_50 and lea.meal() == 15_00 and alerts(school) == []  # above her family's CHF 10.00
    assert lea.meal() == 7_50
    assert alerts(school) == [("parent3@example.ch", "Solde bas pour Léa : CHF 7.50")]

    assert browser.submit("/children/P001/alert", {"threshold": "0"}).status_code == 302
    assert "Actuellement : pas d'e-mail de solde bas." in text_of(browser.get("/children/P001/alert"))
    lea.top_up(12_50)
    assert lea.meal() == 12_50 and lea.meal() == 5_00 and len(alerts(school)) == 1

    assert browser.submit("/children/P001/alert", {"threshold": ""}).status_code == 302  # the canteen's again
    with school.live.write() as conn:
        assert balance_alerts.own_threshold(conn, "P001") is None
    assert "Actuellement : un e-mail sous CHF 20.00." in text_of(browser.get("/children/P001/alert"))


def test_the_home_page_warns_against_each_childs_own_threshold(school, kiosk):
    browser = school.logged_in("F01")
    Day(kiosk).top_up(15_00)  # Léa: under the canteen's CHF 20.00; Zoé has nothing
    home = text_of(browser.get("/"))
    assert home.count("Le solde est bas") == 2
    browser.submit("/children/P001/alert", {"threshold": "10"})
    assert text_of(browser.get("/")).count("Le solde est bas") == 1


@pytest.mark.parametrize(("typed", "says"), [
    ("abc", "n'est pas un montant"),
    ("-5", "Le montant doit être positif"),
    ("20.555", "plus de deux décimales"),
    ("20000", "Le montant maximum est de CHF 10'000.00."),
    ("x" * 25, "« xxxxxxxxxxxxxxxxxxxx… » n'est pas un montant"),
])
def test_a_bad_threshold_is_refused_in_words_and_nothing_changes(school, typed, says):
    browser = school.logged_in("F01")
    browser.submit("/children/P001/alert", {"threshold": "12"})
    refused = browser.submit("/children/P001/alert", {"threshold": typed})
    assert refused.status_code == 422 and says in text_of(refused)
    with school.live.write() as conn:
        assert balance_alerts.own_threshold(conn, "P001") == 12_00


def test_another_familys_child_is_404_and_a_form_without_its_token_is_400(school):
    browser = school.logged_in("F02")
    assert browser.get("/children/P001/alert").status_code == 404
    foreign = browser.submit("/children/P001/alert", {"threshold": "5"}, form_page="/children/P002/alert")
    assert foreign.status_code == 404
    assert browser.post("/children/P002/alert", {"threshold": "5"}).status_code == 400
    assert school.browser().get("/children/P002/alert").status_code == 302  # to the login page
    with school.live.write() as conn:
        assert balance_alerts.own_threshold(conn, "P001") is None
        assert balance_alerts.own_threshold(conn, "P002") is None


def test_a_reversal_held_for_its_top_up_counts_for_the_alert_only_once_it_is_booked(school):
    api = enroll(school.live)
    push(api, cash_topup(25_00))
    late = cash_topup(20_00)
    push(api, reversal(late))  # held: the top-up it cancels has not arrived, so no money moved
    assert api.balance("P001") == 25_00 and alerts(school) == []
    push(api, late, meal(-7_50))  # the top-up arrives and books the reversal: 25.00 - 7.50
    assert api.balance("P001") == 17_50
    assert alerts(school) == [("parent3@example.ch", "Solde bas pour Léa : CHF 17.50")]
    push(api, reversal(cash_topup(20_00)))  # held again: the balance has not moved, nobody is told
    assert api.balance("P001") == 17_50 and len(alerts(school)) == 1
