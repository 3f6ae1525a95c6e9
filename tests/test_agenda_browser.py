"""The agenda's week grid in a real browser, on a phone and on a desktop: each day's dish, only the
changes still open, a week booked in one action, a standing order set and stopped, each with one
e-mail, and axe-core on the page. Screenshots in test-artifacts/portal/."""

from __future__ import annotations

from playwright.sync_api import expect

from . import test_portal_browser as portal
from .browser import axe_problems

school, page = portal.school, portal.page  # the same fixtures: the school, its mail sink, a phone-sized page
log_in, shot = portal.log_in, portal.shot

DESKTOP = {"width": 1280, "height": 900}


def open_week(page, school, week: str) -> None:
    live, _letters, _sink = school
    page.goto(live.url.replace("127.0.0.1", "localhost") + f"/children/P001/agenda?week={week}")


def day(page, heading: str):
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=heading))


def test_on_a_phone_monday_shows_near_the_top_with_its_dish_and_no_expired_button(page, school):
    log_in(page, school)
    open_week(page, school, "2026-11-30")
    monday = day(page, "lundi 30 novembre 2026")
    expect(monday).to_contain_text("Émincé de poulet")
    expect(monday).to_contain_text("Plus modifiable ici : le délai est passé.")  # it is Monday noon
    expect(monday.get_by_role("button")).to_have_count(0)
    tuesday = day(page, "mardi 1er décembre 2026")
    expect(tuesday).to_contain_text("Repas normal : jusqu'à mardi 08:15.")
    expect(tuesday.get_by_role("button", name="Réserver un repas spécial")).to_have_count(0)  # 3 days ahead: past
    friday = day(page, "vendredi 4 décembre 2026")
    expect(friday).to_contain_text("Repas spécial : jusqu'à mardi 08:15.")
    top = page.get_by_role("heading", name="lundi 30 novembre 2026").bounding_box()["y"]
    assert top < 260, top  # the header and the week's title take less than a third of the screen
    shot(page, "agenda-phone")


def test_a_week_is_booked_in_one_action_and_confirmed_by_one_mail(page, school):
    _live, _letters, sink = school
    log_in(page, school)
    open_week(page, school, "2026-12-07")
    several = page.get_by_role("region", name="Plusieurs jours à la fois")
    several.get_by_label("Mercredi").uncheck()
    several.get_by_role("button", name="Réserver ces jours").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Réservé : lundi 7 décembre, mardi 8 décembre, jeudi 10 décembre, vendredi 11 décembre.")
    expect(page.get_by_role("listitem").filter(has_text="Repas normal réservé")).to_have_count(4)
    expect(day(page, "mercredi 9 décembre 2026")).to_contain_text("Pas de réservation")
    shot(page, "agenda-week-booked")
    (message,) = sink.wait_for(1)
    assert message["Subject"] == "Réservations de Léa : 4 jours réservés"
    assert "- jeudi 10 décembre 2026, repas normal" in message.get_content()
    several = page.get_by_role("region", name="Plusieurs jours à la fois")
    several.get_by_role("button", name="Annuler ces jours").click()
    expect(page.get_by_role("status").first).to_contain_text("Annulé : lundi 7 décembre")
    assert sink.wait_for(2)[1]["Subject"] == "Réservations de Léa : 4 jours annulés"


def test_a_standing_order_is_set_shown_on_the_agenda_and_stopped(page, school):
    _live, _letters, sink = school
    log_in(page, school)
    open_week(page, school, "2026-12-07")
    standing = page.get_by_role("region", name="Commande permanente")
    standing.get_by_label("Lundi").check()
    standing.get_by_label("Jeudi").check()
    standing.get_by_label("Jusqu'au (compris)").fill("2026-12-18")
    standing.get_by_role("button", name="Enregistrer la commande permanente").click()
    expect(page.get_by_role("status").first).to_have_text("Commande permanente enregistrée.")
    standing = page.get_by_role("region", name="Commande permanente")
    expect(standing).to_contain_text("Un repas normal les lundis et jeudis, jusqu'au vendredi 18 décembre 2026.")
    assert sink.wait_for(1)[0]["Subject"] == "Commande permanente de Léa"
    open_week(page, school, "2026-12-07")
    expect(day(page, "lundi 7 décembre 2026")).to_contain_text("Repas normal réservé")
    expect(day(page, "lundi 7 décembre 2026")).to_contain_text("Commande permanente")
    expect(day(page, "jeudi 10 décembre 2026")).to_contain_text("Repas normal réservé")
    shot(page, "agenda-standing-order")
    page.get_by_role("button", name="Arrêter la commande permanente").click()
    expect(page.get_by_role("status").first).to_contain_text("Commande permanente arrêtée.")
    expect(page.get_by_text("Créer une commande permanente")).to_be_visible()
    expect(day(page, "lundi 7 décembre 2026")).to_contain_text("Repas normal réservé")  # its days stay booked


def test_on_a_desktop_the_week_is_five_columns_and_the_agenda_passes_axe_on_both_screens(chromium, school):
    """axe-core (WCAG 2.1 A and AA) on the agenda with a standing order and a week's result shown,
    on a desktop and on a phone; the page's CSP forbids injected scripts, so these contexts bypass it."""
    problems = {}
    for name, viewport in (("desktop", DESKTOP), ("phone", {"width": 390, "height": 844})):
        context = chromium.new_context(locale="fr-CH", bypass_csp=True, viewport=viewport)
        page = context.new_page()  # this test's own pages, one per screen
        try:
            log_in(page, school)
            open_week(page, school, "2026-12-07")
            if name == "desktop":
                standing = page.get_by_role("region", name="Commande permanente")
                standing.get_by_label("Mercredi").check()
                standing.get_by_label("Jusqu'au (compris)").fill("2027-01-29")
                standing.get_by_role("button", name="Enregistrer la commande permanente").click()
                expect(page.get_by_role("status").first).to_have_text("Commande permanente enregistrée.")
                headings = ("lundi 7 décembre 2026", "mercredi 9 décembre 2026", "vendredi 11 décembre 2026")
                tops = {page.get_by_role("heading", name=heading).bounding_box()["y"] for heading in headings}
                assert len(tops) == 1, tops  # one row: a column per day
                shot(page, "agenda-desktop")
            else:
                page.get_by_role("region", name="Plusieurs jours à la fois").get_by_role(
                    "button", name="Réserver ces jours").click()
                expect(page.get_by_role("status").first).to_contain_text("Réservé")
            problems[name] = axe_problems(page)
        finally:
            context.close()
    assert {screen: found for screen, found in problems.items() if found} == {}
