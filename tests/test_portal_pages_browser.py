"""The portal's home, history, statements and help in Chromium, on a phone (390×844) and on a
desktop: what a parent sees of the meals, how tall a history row, a date picker and a help topic
are, the help's search with and without scripts, and axe-core on each page. Each page reached is
saved to test-artifacts/portal/."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.meals import ReservationKind
from domain.roster import parse_csv
from sync_server.admin import canteen_settings, menu_import
from sync_server.families import accounts, reservations
from sync_server.sync import ledger

from .browser import axe_problems
from .live_server import Clock, start_school_server
from .portal_client import utc
from .test_portal_browser import MENUS, SHOTS

SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
WEEK_MENUS = MENUS + ("2026-12-01,Plat,Gratin de légumes,\"milk,gluten\",vegetarian\n"
                      "2026-11-27,Plat,Risotto aux champignons,milk,vegetarian\n")
KINDS = [EntryKind.MEAL, EntryKind.CASH_TOPUP, EntryKind.BANK_TOPUP, EntryKind.ONLINE_TOPUP, EntryKind.ADJUSTMENT]


@pytest.fixture
def school(tmp_path):
    """The server at Monday 30 November 2026, 12:00 in Zurich (today's cut-off passed, tomorrow's
    not), family F01 with a login, the week's menus and Léa's last weeks of entries."""
    clock = Clock(utc(2026, 11, 30, 11, 0))
    live = start_school_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "instance", clock=clock)
    live.app.config.update(CANTEEN_NAME="Réfectoire scolaire de Leysin", CANTEEN_PHONE="079 000 00 00",
                           CANTEEN_EMAIL="cantine@example.ch")
    with live.write() as conn:
        letter = accounts.issue_login(conn, "F01", clock.now)
        menu_import.import_menus(conn, *parse_csv(WEEK_MENUS.encode()), clock.now)
        for n in range(30):  # a month of entries, one of each kind in turn, some with a long note
            kind = KINDS[n % len(KINDS)]
            note = "correction du décompte de caisse du mois" if kind is EntryKind.ADJUSTMENT else None
            at = utc(2026, 11, 27, 11, 5) - timedelta(days=n)  # the latest a meal on Friday 27
            ledger.append(conn, LedgerEntry(new_entry_id(), "P001", -7_50 if kind is EntryKind.MEAL else 20_00, kind,
                                            at, "server", reference=f"r{n}",
                                            service_date=at.date() if kind is EntryKind.MEAL else None,
                                            note=note), at)
    yield live, letter, clock
    live.stop()


@pytest.fixture(params=list(SCREENS))
def screen(request):
    return request.param


@pytest.fixture
def page(chromium, screen):
    context = chromium.new_context(locale="fr-CH", viewport=SCREENS[screen], bypass_csp=True)  # axe's script
    yield context.new_page()
    context.close()


def shot(page, name: str, screen: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{screen}.png"), full_page=True)


def log_in(page, school) -> str:
    live, letter, _clock = school
    base = live.url.replace("127.0.0.1", "localhost")
    page.goto(base + "/login")
    page.get_by_label("Identifiant").fill(letter.login)
    page.get_by_label("Mot de passe").fill(letter.password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Vos enfants")).to_be_visible()
    return base


def test_home_tells_the_meals_and_a_missing_reservation_until_its_cutoff(page, school, screen):
    live, _letter, clock = school
    with live.write() as conn:
        canteen_settings.set_setting(conn, "reservation.required", "true", clock.now)
    base = log_in(page, school)
    léa = page.get_by_role("region", name="Léa Müller 5A")
    days = léa.locator(".meal-days > li")
    expect(days.nth(0)).to_contain_text("Aujourd'hui, 30 novembre")
    expect(days.nth(0)).to_contain_text("Émincé de poulet")
    expect(days.nth(0)).to_contain_text("Les réservations de ce jour ont fermé à 08:15.")  # past: no warning
    expect(days.nth(0).get_by_role("note")).to_have_count(0)
    expect(days.nth(1)).to_contain_text("Demain, 1 décembre")
    expect(days.nth(1)).to_contain_text("Gratin de légumes")
    warning = days.nth(1).get_by_role("note")
    expect(warning).to_contain_text("Réservation obligatoire : réservez avant 08:15 le jour même")
    expect(léa.locator(".last-meals li")).to_have_count(3)
    expect(léa.locator(".last-meals li").first).to_contain_text("ven. 27 nov. Risotto aux champignons CHF -7.50")
    assert axe_problems(page) == []
    shot(page, "home-meals", screen)
    warning.get_by_role("link", name="Réserver le repas du mardi 1er décembre").click()
    expect(page).to_have_url(f"{base}/children/P001/agenda?week=2026-12-01")
    with live.write() as conn:
        reservations.change(conn, accounts.family(conn, "F01"), accounts.own_child(conn, "F01", "P001"),
                            date(2026, 12, 1), ReservationKind.NORMAL, clock.now,
                            settings=canteen_settings.current_settings(conn), portal_url=base, canteen={"name": "x"})
    page.goto(base + "/")
    expect(days.nth(1)).to_contain_text("Repas normal réservé")
    expect(léa.get_by_role("note")).to_have_count(0)


def test_a_history_row_is_one_line(page, school, screen):
    base = log_in(page, school)
    page.goto(base + "/children/P001/history")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("ven. 27 nov.")
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('table.history td')).lineHeight)")
    heights = [box["height"] for box in (rows.nth(n).bounding_box() for n in range(25))]
    assert max(heights) < 2 * line, heights  # one line of text and its padding, never two
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing off the side
    after = page.get_by_role("columnheader", name="Solde après")
    if screen == "phone":
        expect(after).to_be_hidden()  # the balance is on top of the page; the row keeps date, label, amount
    else:
        expect(after).to_be_visible()
    assert axe_problems(page) == []
    shot(page, "history", screen)


def test_the_statement_pickers_are_large_and_labelled(page, school, screen):
    base = log_in(page, school)
    page.goto(base + "/statements")
    for field in (page.get_by_label("Premier jour"), page.get_by_label("Dernier jour"), page.get_by_label("Année"),
                  page.locator("#period-child"), page.locator("#tax-child")):
        box = field.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 140, box
    page.get_by_label("Premier jour").fill("2026-11-01")
    page.get_by_label("Dernier jour").fill("2026-11-30")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Télécharger le décompte (PDF)").click()
    assert downloading.value.suggested_filename.endswith("2026-11-01-2026-11-30.pdf")
    assert axe_problems(page) == []
    shot(page, "statements", screen)


def test_help_is_short_topics_with_their_table_and_a_search(page, school, screen):
    live, _letter, _clock = school
    page.goto(live.url.replace("127.0.0.1", "localhost") + "/help")
    topics = page.locator(".help-section")
    count = topics.count()
    assert count >= 12
    heights = {topics.nth(n).get_attribute("id"): topics.nth(n).bounding_box()["height"] for n in range(count)}
    assert max(heights.values()) < 400, heights
    page.get_by_role("navigation", name="Sujets").get_by_role("link", name="Remboursement").click()
    expect(page).to_have_url(page.url.split("#")[0] + "#remboursement")
    assert axe_problems(page) == []
    shot(page, "help", screen)
    page.get_by_label("Chercher dans l'aide").fill("réservation")
    expect(page.get_by_text("Sujets trouvés :")).to_be_visible()
    shown = topics.filter(visible=True)
    expect(shown).not_to_have_count(count)
    for n in range(shown.count()):
        expect(shown.nth(n)).to_contain_text("servation")
    expect(page.get_by_role("heading", name="Documents")).to_be_hidden()
    shot(page, "help-search", screen)
    page.get_by_label("Chercher dans l'aide").fill("")
    expect(topics.filter(visible=True)).to_have_count(count)


def test_the_help_search_without_scripts_asks_the_server(chromium, school):
    live, _letter, _clock = school
    context = chromium.new_context(locale="fr-CH", viewport=SCREENS["phone"], java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live.url.replace("127.0.0.1", "localhost") + "/help")
        every = page.locator(".help-toc li").count()
        expect(page.locator(".help-section")).to_have_count(every)  # every topic shown
        page.get_by_label("Chercher dans l'aide").fill("iban")
        page.get_by_role("button", name="Chercher").click()
        expect(page.locator(".help-section")).to_have_count(1)
        expect(page.get_by_role("heading", name="Remboursement")).to_be_visible()
        page.get_by_role("link", name="Afficher tous les sujets").click()
        expect(page.locator(".help-section")).to_have_count(every)
    finally:
        context.close()
