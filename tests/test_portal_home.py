"""The portal's reading pages over HTTP: the home page's meals (today, the next service day, a
missing reservation before its cut-off, the last meals), the help's search without scripts, and the
French typography and days in words of what the pages say."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.meals import ReservationKind
from domain.roster import parse_csv
from sync_server.admin import canteen_settings, menu_import
from sync_server.families import accounts, reservations
from sync_server.sync import ledger

from .portal_client import start_school, text_of, utc

pytestmark = pytest.mark.on_each_database

MENUS = ("date,course,dish,allergens,labels\n"
         "2026-11-25,Plat,Lasagnes,\"gluten,milk\",\n"
         "2026-11-26,Plat,Poisson pané,fish,\n"
         "2026-11-27,Plat,Risotto aux champignons,milk,vegetarian\n"
         "2026-11-30,Plat,Émincé de poulet,\"milk,celery\",origin: poulet Suisse\n"
         "2026-12-01,Plat,Gratin de légumes,\"milk,gluten\",vegetarian\n"
         "2026-12-07,Plat,Rösti,,\n")


@pytest.fixture
def school(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    with school.live.write() as conn:
        menu_import.import_menus(conn, *parse_csv(MENUS.encode()), school.clock.now)
    yield school
    school.live.stop()


def zurich(*args):
    """A Zurich wall-clock time in winter (UTC+1) as a UTC instant."""
    moment = utc(*args)
    return moment.replace(hour=moment.hour - 1)


def entry(school, kind: EntryKind, cents: int, at, reference: str | None = None) -> LedgerEntry:
    made = LedgerEntry(new_entry_id(), "P001", cents, kind, at, "K1", reference=reference or "r",
                       service_date=at.date() if kind is EntryKind.MEAL else None,
                       note="erreur de caisse" if kind is EntryKind.REVERSAL else None)
    with school.live.write() as conn:
        ledger.append(conn, made, at)
    return made


def require_reservations(school) -> None:
    with school.live.write() as conn:
        canteen_settings.set_setting(conn, "reservation.required", "true", school.clock.now)


def book(school, day: date, kind=ReservationKind.NORMAL) -> None:
    with school.live.write() as conn:
        family = accounts.family(conn, "F01")
        child = accounts.own_child(conn, "F01", "P001")
        reservations.change(conn, family, child, day, kind, school.clock.now,
                            settings=canteen_settings.current_settings(conn), portal_url="https://portal.test",
                            canteen={"name": "Cantine"})


def leas_card(school) -> str:
    page = school.logged_in("F01").get("/").text
    card = re.search(r'<section class="card child"[^>]*>(.*?)</section>', page, re.S).group(1)
    assert "Léa" in card
    return card


def visible(html: str) -> str:
    """The page's text as shown, its no-break spaces kept (`text_of` turns them into spaces)."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def test_home_shows_today_and_tomorrow_with_the_reservation_and_the_dish(school):
    school.clock.now = zurich(2026, 11, 20, 7, 0)  # a special meal is booked days ahead
    book(school, date(2026, 12, 1), ReservationKind.SPECIAL)
    school.clock.now = zurich(2026, 11, 30, 7, 0)  # Monday, before the cut-off
    card = visible(leas_card(school))
    assert "Aujourd'hui , 30 novembre Pas de réservation Émincé de poulet" in card
    assert "Demain , 1 décembre Repas spécial réservé Gratin de légumes" in card
    assert "Réservation obligatoire" not in card  # the canteen serves without one (the default)


def test_a_missing_required_reservation_is_told_before_the_cutoff_and_not_after(school):
    require_reservations(school)
    school.clock.now = zurich(2026, 11, 30, 8, 14)
    card = visible(leas_card(school))
    assert card.count("Réservation obligatoire\u00a0: réservez avant 08:15 le jour même") == 2  # today and tomorrow
    assert "Réserver le repas du lundi 30 novembre" in card and "Réserver le repas du mardi 1er décembre" in card
    school.clock.now = zurich(2026, 11, 30, 8, 16)
    card = visible(leas_card(school))
    assert card.count("Réservation obligatoire") == 1  # tomorrow only
    assert "Les réservations de ce jour ont fermé à 08:15." in card
    book(school, date(2026, 12, 1))
    card = visible(leas_card(school))
    assert "Réservation obligatoire" not in card and "Repas normal réservé" in card


def test_a_reservation_served_already_today_is_no_longer_asked_for(school):
    require_reservations(school)
    school.clock.now = zurich(2026, 11, 30, 7, 0)
    entry(school, EntryKind.MEAL, -7_50, zurich(2026, 11, 30, 7, 0))  # an early breakfast service
    card = visible(leas_card(school))
    assert "Aujourd'hui , 30 novembre Repas servi à 07:00" in card
    assert card.count("Réservation obligatoire") == 1


def test_on_friday_the_next_service_day_is_monday(school):
    school.clock.now = zurich(2026, 12, 4, 12, 0)
    card = visible(leas_card(school))
    assert "Aujourd'hui , 4 décembre" in card and "Lundi , 7 décembre Pas de réservation Rösti" in card
    assert "Demain" not in card


def test_the_last_three_meals_with_their_dish_leave_a_cancelled_one_out(school):
    entry(school, EntryKind.CASH_TOPUP, 50_00, zurich(2026, 11, 24, 9, 0))
    for day in (25, 26, 27):
        entry(school, EntryKind.MEAL, -7_50, zurich(2026, 11, day, 12, 5))
    mistaken = entry(school, EntryKind.MEAL, -7_50, zurich(2026, 11, 30, 11, 50))
    entry(school, EntryKind.REVERSAL, 7_50, zurich(2026, 11, 30, 11, 55), reference=mistaken.id)
    card = leas_card(school)
    last = visible(card[card.index("Derniers repas"):card.index('<ul class="actions">')])
    assert last == ("Derniers repas ven. 27 nov. Risotto aux champignons CHF -7.50 jeu. 26 nov. Poisson pané CHF -7.50"
                    " mer. 25 nov. Lasagnes CHF -7.50")
    assert "Aucun repas pour l'instant." in visible(school.logged_in("F01").get("/").text)  # Zoé has none


def test_the_help_search_works_without_scripts(school):
    browser = school.browser()
    every = browser.get("/help").text
    anchors = re.findall(r'<section class="help-section card" id="([a-z-]+)"', every)
    assert len(anchors) >= 12 and all(f'href="#{anchor}"' in every for anchor in anchors)  # the topics link each
    found = browser.get("/help?q=rembourse+iban").text
    assert re.findall(r'<section class="help-section card" id="([a-z-]+)"', found) == ["remboursement"]
    assert f"Sujets trouvés : 1 sur {len(anchors)}." in text_of(browser.last)
    assert "Afficher tous les sujets" in text_of(browser.last)
    nothing = text_of(browser.get("/help?q=licorne"))
    assert "Aucun sujet ne contient ces mots." in nothing and "help-section" not in browser.last.text


@pytest.mark.parametrize("path", ["/", "/children/P001/history", "/statements", "/help", "/menus", "/documents",
                                  "/children/P001/refund", "/children/P001/alert", "/password"])
def test_french_pages_never_let_a_line_start_with_a_colon_or_show_an_iso_date(school, path):
    entry(school, EntryKind.MEAL, -7_50, zurich(2026, 11, 27, 12, 5))
    text = visible(school.logged_in("F01").get(path).text)
    assert not re.search(r" [:;!?»]|« ", text), text  # each has a no-break space
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)


def test_english_pages_keep_english_spacing(school):
    browser = school.logged_in("F01")
    browser.submit("/language", {"language": "en", "next": "/menus"}, form_page="/")
    menus = text_of(browser.get("/menus?week=2026-11-30"))
    assert "Origin: poulet Suisse" in menus and "Allergens: Milk" in menus


def test_refusals_name_their_days_in_words(school):
    with school.live.write() as conn:
        reservations.close_days(conn, date(2026, 12, 8), date(2026, 12, 8), "Immaculée Conception",
                                today=date(2026, 11, 30))
    browser = school.logged_in("F01")
    refused = browser.submit("/children/P001/agenda", {"day": "2026-12-08", "choice": "normal"},
                             form_page="/children/P001/agenda")
    assert refused.status_code == 409
    assert "La cantine est fermée le mardi 8 décembre (Immaculée Conception)." in text_of(refused)
    far = text_of(browser.get("/menus?week=1999-12-31"))
    assert "Choisissez une date entre le lundi 3 janvier 2000 et le vendredi 25 décembre 2099." in far
    backwards = text_of(browser.get("/statements/period?first=2026-02-01&last=2026-01-31"))
    assert ("Un décompte ne peut pas finir (samedi 31 janvier 2026) avant de commencer (dimanche 1er février"
            " 2026).") in backwards

    # The same refusals in English, through the same words: the domain's, weekday first, then day and month.
    browser.submit("/language", {"language": "en", "next": "/menus"}, form_page="/")
    refused = browser.submit("/children/P001/agenda", {"day": "2026-12-08", "choice": "normal"},
                             form_page="/children/P001/agenda")
    assert "The canteen is closed on Tuesday 8 December (Immaculée Conception)." in text_of(refused)
    backwards = text_of(browser.get("/statements/period?first=2026-02-01&last=2026-01-31"))
    assert "A statement cannot end (Saturday 31 January 2026) before it starts (Sunday 1 February 2026)." in backwards
    booked = browser.submit("/children/P001/agenda/week", {
        "week": "2026-12-07", "weekdays": ["0", "1"], "kind": "normal", "action": "book"},
        form_page="/children/P001/agenda?week=2026-12-07")
    week = text_of(browser.get(booked.headers["Location"]))
    assert "Booked: Monday 7 December." in week
    assert ("Not changed: Tuesday 8 December (The canteen is closed on Tuesday 8 December (Immaculée Conception).)"
            in week)
