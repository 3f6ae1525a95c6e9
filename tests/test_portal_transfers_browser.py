"""A transfer between siblings in a real browser, on a phone and on a desktop: Playwright driving
Debian's Chromium against the server on loopback, a kiosk syncing into it, axe-core on every page of
the transfer. Screenshots in test-artifacts/portal/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from kiosk.sync_agent import SyncAgent
from sync_server.families import accounts
from sync_server.sync import ledger

from .browser import axe_problems
from .conftest import MONDAY_NOON
from .live_server import new_kiosk, start_school_server

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "portal"
SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def school(tmp_path):
    """The server (Monday 30 November 2026, 12:00 in Zurich) with family F01's login; Léa has CHF 42.50."""
    live = start_school_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "instance", clock=lambda: MONDAY_NOON)
    with live.write() as conn:
        letter = accounts.issue_login(conn, "F01", MONDAY_NOON)
        ledger.append(conn, LedgerEntry(new_entry_id(), "P001", 42_50, EntryKind.ONLINE_TOPUP, MONDAY_NOON, "server",
                                        reference="pay-1"), MONDAY_NOON)
    yield live, letter
    live.stop()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_a_parent_moves_money_to_a_sister_and_the_kiosk_has_it_after_its_sync(chromium, school, tmp_path, screen):
    live, letter = school
    kiosk = new_kiosk(tmp_path, live)
    SyncAgent(kiosk.store).run_round()
    context = chromium.new_context(locale="fr-CH", bypass_csp=True, viewport=SCREENS[screen])  # axe needs the bypass
    page = context.new_page()
    problems = {}
    try:
        base = live.url.replace("127.0.0.1", "localhost")
        page.goto(base + "/login")
        page.get_by_label("Identifiant").fill(letter.login)
        page.get_by_label("Mot de passe").fill(letter.password)
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("link", name="Transférer entre vos enfants").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Transférer entre vos enfants")
        problems["form"] = axe_problems(page)

        page.get_by_label("Du compte de").select_option(label="Léa (CHF 42.50 transférables)")
        page.get_by_label("Au compte de").select_option(label="Léa")
        page.get_by_label("Montant en CHF").fill("50")
        page.get_by_role("button", name="Continuer").click()
        expect(page.get_by_text("Choisissez deux enfants différents")).to_be_visible()
        expect(page.get_by_label("Au compte de")).to_have_attribute("aria-invalid", "true")
        problems["refused"] = axe_problems(page)
        shot(page, f"transfer-refused-{screen}")

        page.get_by_label("Au compte de").select_option(label="Zoé")
        page.get_by_role("button", name="Continuer").click()
        expect(page.get_by_text("Léa n’a que CHF 42.50 à transférer")).to_be_visible()
        page.get_by_label("Montant en CHF").fill("12,50")
        shot(page, f"transfer-form-{screen}")
        page.get_by_role("button", name="Continuer").click()
        expect(page.get_by_role("heading", name="CHF 12.50 de Léa à Zoé")).to_be_visible()
        problems["confirm"] = axe_problems(page)
        shot(page, f"transfer-confirm-{screen}")

        page.get_by_role("button", name="Confirmer le transfert").click()
        expect(page.get_by_role("status")).to_contain_text("Le montant est mis de côté sur le compte de Léa")
        problems["waiting"] = axe_problems(page)
        shot(page, f"transfer-waiting-{screen}")
        result = page.url
        page.get_by_role("link", name="Retour à vos enfants").click()
        expect(page.get_by_role("region", name="Léa Müller 5A")).to_contain_text(
            "Dont CHF 12.50 mis de côté pour un transfert à un frère ou une sœur.")
        shot(page, f"transfer-home-{screen}")
        page.goto(result)

        SyncAgent(kiosk.store).run_round()  # the kiosk applies the set-aside; its heartbeat books the pair
        assert kiosk.store.balance("P001") == 30_00  # the set-aside there, the pair not pulled yet
        page.reload()
        expect(page.get_by_role("status")).to_contain_text("Transfert effectué : l’argent est sur le compte de Zoé.")
        expect(page.get_by_role("region", name="Zoé Rochat")).to_contain_text("CHF 12.50")
        problems["done"] = axe_problems(page)
        shot(page, f"transfer-done-{screen}")
        SyncAgent(kiosk.store).run_round()
        assert (kiosk.store.balance("P001"), kiosk.store.balance("P003")) == (30_00, 12_50)
        assert kiosk.tap("0A0B0C0D").verdict.served  # Zoé eats on it

        page.get_by_role("link", name="Autre transfert").click()
        expect(page.get_by_role("region", name="Vos derniers transferts")).to_contain_text("Transfert effectué")
        problems["list"] = axe_problems(page)
        shot(page, f"transfer-list-{screen}")
    finally:
        context.close()
    assert {name: found for name, found in problems.items() if found} == {}
