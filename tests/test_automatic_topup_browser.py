"""The top-up page and the automatic top-up in a real browser, on a phone-sized and a desktop-sized
Chromium (Playwright driving Debian's Chromium), in French: Twint and card come first, the
QR-bill's hint fits the screen in hand; a parent registers Twint by paying on the Datatrans
stand-in's page, sees the setting and turns it off. axe-core checks each page; screenshots in
test-artifacts/portal/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sync_server.money import automatic_topups

from .browser import axe_problems
from .test_payment_browser import paying_school
from .test_portal_browser import shot
from .test_portal_topups import CREDITOR

SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def school(tmp_path):
    yield from paying_school(tmp_path, language="fr", terms_title="Conditions du paiement en ligne", **CREDITOR)


def open_page(chromium, screen: str, base: str, letter):
    context = chromium.new_context(locale="fr-CH", viewport=SCREENS[screen], bypass_csp=True)
    page = context.new_page()
    page.goto(base + "/login")
    page.get_by_label("Identifiant").fill(letter.login)
    page.get_by_label("Mot de passe").fill(letter.password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Vos enfants")).to_be_visible()
    return context, page


@pytest.mark.parametrize("screen", SCREENS)
def test_the_top_up_page_leads_with_twint_and_card_and_fits_the_qr_bill_hint_to_the_screen(chromium, school, screen):
    _live, base, letter, _standin = school
    context, page = open_page(chromium, screen, base, letter)
    try:
        page.get_by_role("region", name="Léa Müller 5A").get_by_role("link", name="Recharger").click()
        expect(page.get_by_role("heading", level=2)).to_have_text(
            ["Twint ou carte", "Recharge automatique", "Par e-banking (QR-facture)"])
        methods = page.get_by_role("group", name="Moyen de paiement").get_by_role("radio")
        assert [methods.nth(i).get_attribute("value") for i in range(methods.count())] == ["TWI", "VIS", "ECA", "PFC"]
        phone_hint = page.get_by_text("Sur ce téléphone", exact=False)
        desktop_hint = page.get_by_text("scannez son code avec votre application bancaire", exact=False)
        if screen == "phone":
            expect(phone_hint).to_be_visible()
            expect(desktop_hint).to_be_hidden()
        else:
            expect(desktop_hint).to_be_visible()
            expect(phone_hint).to_be_hidden()
        shot(page, f"topup-{screen}")
        assert axe_problems(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_a_parent_registers_twint_for_automatic_top_up_and_turns_it_off(chromium, school, screen):
    live, base, letter, standin = school
    context, page = open_page(chromium, screen, base, letter)
    try:
        page.goto(base + "/children/P001/topup")
        page.get_by_role("link", name="Mettre en place la recharge automatique").click()
        expect(page.get_by_role("heading", name="Recharge automatique pour Léa")).to_be_visible()
        problems = {"form": axe_problems(page)}
        page.get_by_role("button", name="Payer et enregistrer").click()
        expect(page.get_by_text("Indiquez le solde en dessous duquel nous rechargeons.")).to_be_visible()
        problems["form refused"] = axe_problems(page)
        shot(page, f"automatic-form-refused-{screen}")
        page.get_by_label("Quand le solde descend sous (CHF)").fill("10")
        page.get_by_label("Recharger de (CHF)").fill("50")
        page.get_by_role("radio", name="Twint").check()
        page.get_by_label("J’accepte les conditions", exact=False).check()
        shot(page, f"automatic-form-{screen}")
        page.get_by_role("button", name="Payer et enregistrer").click()
        expect(page.get_by_role("heading", name="Datatrans payment page (local stand-in)")).to_be_visible()
        page.get_by_role("button", name="Pay").click()
        expect(page.get_by_text("La recharge automatique est active", exact=False)).to_be_visible()
        problems["paid"] = axe_problems(page)
        page.get_by_role("link", name="Voir ou désactiver").click()
        expect(page.get_by_role("heading", name="La recharge automatique est active")).to_be_visible()
        expect(page.get_by_text("Twint", exact=True)).to_be_visible()
        problems["on"] = axe_problems(page)
        shot(page, f"automatic-on-{screen}")
        page.get_by_role("button", name="Désactiver la recharge automatique").click()
        expect(page.get_by_role("status")).to_contain_text("La recharge automatique de Léa est désactivée")
        problems["off"] = axe_problems(page)
        shot(page, f"automatic-off-{screen}")
        assert {where: found for where, found in problems.items() if found} == {}
    finally:
        context.close()
    with live.write() as conn:
        assert automatic_topups.setting_of(conn, "P001") is None
    assert standin.last().body["option"] == {"createAlias": True}
