"""The portal in a real browser: Playwright driving Debian's Chromium against the real server on
loopback, with a kiosk syncing into it and a real SMTP server receiving the confirmations.
Each page reached is saved to test-artifacts/portal/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from domain.entries import LedgerEntry
from domain.roster import parse_csv
from kiosk.sync_agent import SyncAgent
from sync_server.admin import managers, menu_import
from sync_server.families import accounts, documents
from sync_server.mail import outbox
from sync_server.sync import ledger

from .browser import axe_problems
from .conftest import MONDAY_NOON
from .kiosk_push import meal, reversal
from .live_server import Clock, new_kiosk, start_school_server
from .smtp_sink import SmtpSink

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "portal"
MENUS = ("date,course,dish,allergens,labels\n"
         "2026-11-30,Plat,Émincé de poulet,\"milk,celery\",origin: poulet Suisse\n"
         "2026-12-07,Plat,Gratin de légumes,\"milk,gluten\",vegetarian\n")


@pytest.fixture
def school(tmp_path):
    """The server (clock `live.clock`: Monday 30 November 2026, 12:00 in Zurich), two families with logins, menus,
    a document, and the e-mail sender every 0.2 s towards a loopback SMTP server."""
    live = start_school_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "instance", clock=Clock())
    live.app.config.update(CANTEEN_NAME="Réfectoire scolaire de Leysin", CANTEEN_PHONE="079 000 00 00",
                           CANTEEN_EMAIL="cantine@example.ch", PORTAL_URL=live.url.replace("127.0.0.1", "localhost"))
    source = tmp_path / "reglement.pdf"
    source.write_bytes(b"%PDF-1.4 reglement\n")
    with live.write() as conn:
        letters = {f: accounts.issue_login(conn, f, MONDAY_NOON) for f in ("F01", "F02")}
        menu_import.import_menus(conn, *parse_csv(MENUS.encode()), MONDAY_NOON)
        documents.add(conn, tmp_path / "instance" / "documents", source, "Règlement de la cantine", MONDAY_NOON)
    sink = SmtpSink()
    sender = outbox.start_sender(live.engine, outbox.SmtpSettings("127.0.0.1", sink.port, sender="cantine@example.ch"),
                               every_seconds=0.2, clock=live.clock)
    yield live, letters, sink
    sender.shutdown(wait=True)
    sink.stop()
    live.stop()


@pytest.fixture
def page(chromium, school):
    context = chromium.new_context(locale="fr-CH", viewport={"width": 390, "height": 844})  # a phone
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, school, family_id: str = "F01") -> None:
    live, letters, _sink = school
    page.goto(live.url.replace("127.0.0.1", "localhost") + "/login")
    page.get_by_label("Identifiant").fill(letters[family_id].login)
    page.get_by_label("Mot de passe").fill(letters[family_id].password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Vos enfants")).to_be_visible()


def test_a_parent_logs_in_and_sees_the_balances_a_kiosk_pushed(page, school, tmp_path):
    live, _letters, _sink = school
    kiosk = new_kiosk(tmp_path, live)
    SyncAgent(kiosk.store).run_round()
    kiosk.cash_topup(kiosk.login("anne", "1234"), "P001", 50_00)
    kiosk.tap("04A1B2C3")  # Léa eats: CHF 7.50
    SyncAgent(kiosk.store).run_round()
    page.goto(live.url.replace("127.0.0.1", "localhost") + "/login")
    shot(page, "login")
    log_in(page, school)
    léa = page.get_by_role("region", name="Léa Müller 5A")
    expect(léa).to_contain_text("CHF 42.50")
    expect(page.get_by_text("Soldes à la dernière synchronisation des caisses")).to_contain_text("12:00")
    shot(page, "home")
    léa.get_by_role("link", name="Historique").click()
    expect(page.get_by_role("table")).to_contain_text("Recharge en espèces")
    expect(page.get_by_role("table")).to_contain_text("-7.50")
    shot(page, "history")


def test_the_agenda_moves_week_by_week_and_jumps_to_a_date(page, school):
    log_in(page, school)
    page.get_by_role("region", name="Léa Müller 5A").get_by_role("link", name="Réservations").click()
    expect(page.get_by_text("Semaine du 30 novembre 2026")).to_be_visible()
    page.get_by_role("link", name="Semaine suivante →").click()
    expect(page.get_by_text("Semaine du 7 décembre 2026")).to_be_visible()
    page.get_by_role("link", name="← Semaine précédente").click()
    page.get_by_role("link", name="← Semaine précédente").click()
    expect(page.get_by_text("Semaine du 23 novembre 2026")).to_be_visible()
    page.get_by_label("Aller à la date").fill("2027-02-10")
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_text("Semaine du 8 février 2027")).to_be_visible()
    shot(page, "agenda-jump")


def test_reserving_and_cancelling_each_send_an_email_and_reach_the_kiosk(page, school, tmp_path):
    live, _letters, sink = school
    log_in(page, school)
    page.goto(live.url.replace("127.0.0.1", "localhost") + "/children/P001/agenda?week=2026-12-02")
    wednesday = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="mercredi 2 décembre 2026"))
    page.evaluate("window.sameVisit = true")
    wednesday.get_by_role("button", name="Réserver un repas normal").click()
    expect(page.get_by_role("status")).to_have_text("Réservation enregistrée.")
    expect(page.get_by_role("status")).to_be_focused()  # said where the parent clicked
    assert page.evaluate("window.sameVisit === true")  # changed in place: the page was not loaded again
    expect(wednesday).to_contain_text("Repas normal réservé")
    shot(page, "agenda-reserved")
    assert sink.wait_for(1)[0]["Subject"] == "Réservation confirmée : Léa, mercredi 2 décembre 2026"
    kiosk = new_kiosk(tmp_path, live)
    SyncAgent(kiosk.store).run_round()
    booked = kiosk.store.conn.execute("SELECT pupil_id, service_date, kind FROM reservations").fetchall()
    assert booked == [("P001", "2026-12-02", "normal")]  # the kiosk has it after one sync
    wednesday.get_by_role("button", name="Annuler la réservation").click()
    expect(wednesday).to_contain_text("Pas de réservation")
    messages = sink.wait_for(2)
    assert messages[1]["Subject"] == "Réservation annulée : Léa, mercredi 2 décembre 2026"
    assert "Le repas normal de Léa du mercredi 2 décembre 2026 est annulé." in messages[1].get_content()


def test_a_booking_left_open_past_its_deadline_is_refused_and_says_whom_to_call(page, school):
    live, _letters, _sink = school
    live.clock.now = MONDAY_NOON.replace(hour=7, minute=10)  # 08:10 in Zurich: Monday still open
    log_in(page, school)
    page.get_by_role("region", name="Léa Müller 5A").get_by_role("link", name="Réservations").click()
    monday = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="lundi 30 novembre 2026"))
    expect(monday).to_contain_text("Repas normal : jusqu'à lundi 08:15.")
    live.clock.now = MONDAY_NOON.replace(hour=7, minute=16)  # the parent clicks at 08:16
    monday.get_by_role("button", name="Réserver un repas normal").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("jusqu'à 08:15 le jour même ; ce délai est passé.")
    expect(alert).to_contain_text("079 000 00 00")
    expect(monday).to_contain_text("Pas de réservation")
    expect(monday.get_by_role("button")).to_have_count(0)  # the day, sent back, offers no expired change
    shot(page, "agenda-deadline")


def test_the_menus_print_view_and_a_document_download(page, school):
    log_in(page, school)
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Menus").click()
    expect(page.get_by_text("Émincé de poulet")).to_be_visible()
    expect(page.get_by_text("Allergènes : Lait (lactose), Céleri")).to_be_visible()
    shot(page, "menus")
    page.get_by_role("link", name="Version imprimable").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Menus de la semaine du 30 novembre 2026")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
    shot(page, "menus-print")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Retour").click()
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Documents").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Documents")
    shot(page, "documents")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Règlement de la cantine").click()
    download = downloading.value
    assert download.suggested_filename == "reglement.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4 reglement\n"


def test_the_language_switches_to_english_and_the_help_page_follows(page, school):
    log_in(page, school)
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Your children")).to_be_visible()
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Help").click()
    expect(page.get_by_role("heading", name="Help", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile("until 08:15 the same day"))).to_be_visible()
    shot(page, "help-en")
    page.get_by_role("button", name="Français").click()
    expect(page.get_by_role("heading", name="Aide", exact=True)).to_be_visible()


def test_the_login_form_works_from_the_keyboard_alone(page, school):
    live, letters, _sink = school
    page.goto(live.url.replace("127.0.0.1", "localhost") + "/login")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    page.get_by_label("Identifiant").focus()
    page.keyboard.type(letters["F01"].login)
    page.keyboard.press("Tab")
    page.keyboard.type(letters["F01"].password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Vos enfants")).to_be_visible()


def test_the_portal_pages_pass_an_axe_accessibility_check(chromium, school):
    """axe-core (WCAG 2.1 A and AA rules: labels, contrast, landmarks, names of buttons and links)
    on each page a family uses. The page's CSP forbids injected scripts, so this context bypasses it."""
    live, _letters, _sink = school
    context = chromium.new_context(locale="fr-CH", bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        base = live.url.replace("127.0.0.1", "localhost")
        page.goto(base + "/login")
        problems = {"/login": axe_problems(page)}
        log_in(page, school)
        for path in ("/", "/children/P001/history", "/children/P001/agenda", "/menus", "/menus/print", "/documents",
                     "/help", "/password", "/statements", "/children/P001/refund", "/children/P001/alert"):
            page.goto(base + path)
            problems[path] = axe_problems(page)
        assert {path: found for path, found in problems.items() if found} == {}
    finally:
        context.close()


def test_the_back_office_pages_pass_an_axe_accessibility_check(chromium, school):
    live, _letters, _sink = school
    with live.write() as conn:
        password = managers.set_manager(conn, "sandra", "Sandra Keller", MONDAY_NOON)
        held = reversal(meal())  # its meal never arrives: a row on the records set aside
        ledger.ingest(conn, "K1", [LedgerEntry.from_record(held)], [held], MONDAY_NOON)
    context = chromium.new_context(locale="fr-CH", bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        base = live.url.replace("127.0.0.1", "localhost") + "/manage"
        page.goto(base + "/login")
        problems = {"/login": axe_problems(page)}
        page.get_by_label("Identifiant").fill("sandra")
        page.get_by_label("Mot de passe").fill(password)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(base + "/")
        for path in ("/", "/bank", "/bank/waiting", "/payments", "/refunds", "/quarantine", "/journal"):
            page.goto(base + path)
            problems[path] = axe_problems(page)
        assert {path: found for path, found in problems.items() if found} == {}
    finally:
        context.close()
