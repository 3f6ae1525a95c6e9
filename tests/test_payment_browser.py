"""Online payment in a real browser: Playwright driving Debian's Chromium from the portal to the
Datatrans stand-in's payment page and back, with a kiosk that then syncs the credit. The family
reads the portal in English (the msgids). Screenshots in test-artifacts/portal/; axe-core checks
the new pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from domain.entries import EntryKind
from kiosk.sync_agent import SyncAgent
from refectory.payment_standin import PaymentStandIn
from sync_server.families import accounts, documents
from sync_server.tables import entries

from .browser import axe_problems
from .conftest import MONDAY_NOON
from .live_server import new_kiosk, start_school_server
from .test_portal_browser import shot


@pytest.fixture
def school(tmp_path):
    yield from paying_school(tmp_path, language="en")


def paying_school(tmp_path, *, language: str, terms_title: str = "Online payment terms", **config):
    """The server on loopback with the stand-in as its Datatrans account and published terms;
    family F01's login letter, in `language`. Yields (live, base URL, letter, stand-in)."""
    standin = PaymentStandIn().start()
    live = start_school_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "instance", clock=lambda: MONDAY_NOON)
    base = live.url.replace("127.0.0.1", "localhost")  # a secure context for the portal's Secure cookie
    terms = tmp_path / "conditions.pdf"
    terms.write_bytes(b"%PDF-1.4 conditions\n")
    with live.write() as conn:
        letter = accounts.issue_login(conn, "F01", MONDAY_NOON)
        accounts.set_language(conn, "F01", language)
        document = documents.add(conn, tmp_path / "instance" / "documents", terms, terms_title, MONDAY_NOON)
    live.app.config.update(CANTEEN_NAME="Réfectoire scolaire de Leysin", PORTAL_URL=base + "/",
                           PAYMENT_TERMS_DOCUMENT=document.document_id, **config, **standin.config())
    yield live, base, letter, standin
    live.stop()
    standin.stop()


def open_portal(chromium, **options):
    return chromium.new_context(locale="fr-CH", viewport={"width": 390, "height": 844}, **options)


def log_in(page, base: str, letter) -> None:
    page.goto(base + "/login")
    page.get_by_label("Identifiant").fill(letter.login)
    page.get_by_label("Mot de passe").fill(letter.password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Your children")).to_be_visible()


def fill_the_form(page, amount: str = "40") -> None:
    page.get_by_label("Amount in CHF").fill(amount)
    page.get_by_role("radio", name="Twint").check()
    page.get_by_label("I accept the terms of online payment").check()
    page.get_by_role("button", name="Go to the payment page").click()


def online_credits(live) -> list[tuple]:
    with live.write() as conn:
        return conn.execute(select(entries.c.account_id, entries.c.amount_cents)
                            .where(entries.c.kind == EntryKind.ONLINE_TOPUP.value)).all()


def test_a_parent_pays_online_and_the_kiosk_has_the_credit_at_its_next_sync(chromium, school, tmp_path):
    live, base, letter, _standin = school
    kiosk = new_kiosk(tmp_path, live)
    SyncAgent(kiosk.store).run_round()
    context = open_portal(chromium)
    page = context.new_page()
    try:
        log_in(page, base, letter)
        page.get_by_role("region", name="Léa Müller 5A").get_by_role("link", name="Top up").click()
        expect(page.get_by_role("heading", name="Twint or card")).to_be_visible()  # the top-up page leads with it
        shot(page, "payment-form")
        fill_the_form(page)
        expect(page.get_by_role("heading", name="Datatrans payment page (local stand-in)")).to_be_visible()
        expect(page.get_by_text("Amount CHF 40.00")).to_be_visible()
        shot(page, "payment-provider")
        page.get_by_role("button", name="Pay").click()
        expect(page.get_by_role("status")).to_have_text("Thank you: CHF 40.00 is credited to the account of Léa.")
        expect(page.get_by_text("Balance CHF 40.00")).to_be_visible()
        shot(page, "payment-paid")
    finally:
        context.close()
    assert online_credits(live) == [("P001", 40_00)]
    SyncAgent(kiosk.store).run_round()
    assert kiosk.store.balance("P001") == 40_00


@pytest.mark.parametrize("action, says", [
    ("Decline", "The payment was declined; nothing was charged. You can try again with another card or method."),
    ("Cancel", "The payment was cancelled; nothing was charged."),
])
def test_a_declined_or_cancelled_payment_brings_the_parent_back_with_nothing_credited(chromium, school, action,
                                                                                       says):
    live, base, letter, _standin = school
    context = open_portal(chromium)
    page = context.new_page()
    try:
        log_in(page, base, letter)
        page.goto(base + "/children/P001/pay")
        fill_the_form(page)
        page.get_by_role("button", name=action).click()
        expect(page.get_by_role("alert")).to_have_text(says)
        shot(page, f"payment-{action.lower()}")
        page.get_by_role("link", name="Pay again").click()
        expect(page.get_by_role("heading", name="Pay online for Léa")).to_be_visible()
    finally:
        context.close()
    assert online_credits(live) == []


def test_a_form_without_the_terms_is_answered_in_words_and_nothing_is_opened(chromium, school):
    _live, base, letter, standin = school
    context = open_portal(chromium)
    page = context.new_page()
    try:
        log_in(page, base, letter)
        page.goto(base + "/children/P001/pay")
        page.get_by_label("Amount in CHF").fill("4")
        page.get_by_role("button", name="Go to the payment page").click()
        expect(page.get_by_text("The minimum amount is CHF 5.00.")).to_be_visible()
        expect(page.get_by_text("Accept the terms of online payment to go on.")).to_be_visible()
        expect(page.get_by_text("Choose how you pay: Visa, Mastercard, PostFinance Card or Twint.")).to_be_visible()
        shot(page, "payment-form-refused")
    finally:
        context.close()
    assert standin.transactions == {}


def test_the_payment_pages_pass_an_axe_accessibility_check(chromium, school):
    """The form (empty and refused), the outcome of a paid and of a declined payment."""
    _live, base, letter, _standin = school
    context = open_portal(chromium, bypass_csp=True)
    page = context.new_page()
    try:
        log_in(page, base, letter)
        problems = {}
        page.goto(base + "/children/P001/topup")
        problems["topup"] = axe_problems(page)
        page.goto(base + "/children/P001/pay")
        problems["form"] = axe_problems(page)
        page.get_by_role("button", name="Go to the payment page").click()
        expect(page.get_by_text("Enter the amount to pay.")).to_be_visible()
        problems["form refused"] = axe_problems(page)
        for action in ("Pay", "Decline"):
            page.goto(base + "/children/P001/pay")
            fill_the_form(page)
            page.get_by_role("button", name=action).click()
            expect(page.get_by_role("heading", name="Online payment for Léa")).to_be_visible()
            problems[action] = axe_problems(page)
        assert {where: found for where, found in problems.items() if found} == {}
    finally:
        context.close()
