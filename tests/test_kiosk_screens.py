"""The touchscreen, driven like a person would: virtual badge taps, fingers on buttons, typed text.

Real Kivy rendering offscreen, the real kiosk core and database, receipts through python-escpos to
a TCP capture printer. Each screen reached is saved to test-artifacts/screens/.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from hardware.escpos_decode import decode
from hardware.printer import open_printer
from hardware.readers import VirtualReader
from kiosk.config import load_config
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk_ui.app import KioskUI
from kiosk_ui.widgets import MessageLine

from .conftest import MONDAY_NOON


def credit(kiosk_dir, pupil_id: str, cents: int) -> None:
    with Store.open(kiosk_dir) as store:
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        service.cash_topup(service.login("anne", "1234"), pupil_id, cents)


@pytest.fixture
def screen(kiosk_dir, printer):
    """The kiosk UI in a 1280×800 window, French, at Monday noon, with a virtual reader."""
    with kh.kiosk_on_screen(kiosk_dir, lock_after=60) as ui:
        kh.pump(lambda: ui.status is not None)
        yield ui


def receipts(printer, count: int) -> list:
    """The print jobs after the status checks: drawer kicks and receipts, in order."""
    def jobs():
        return [d for d in map(decode, printer.jobs) if d.drawer_kicks or d.texts]

    kh.pump(lambda: sum(1 for d in jobs() if d.texts) >= count)
    return jobs()


def tap(ui, uid: str) -> None:
    before = ui.last_tap
    ui.reader.inject(uid)
    kh.pump(lambda: ui.last_tap is not before and ui.screen == "verdict")


def on(ui, name: str) -> None:
    kh.pump(lambda: ui.screen == name)


def test_the_idle_screen_asks_for_a_badge_and_shows_the_status(screen):
    texts = kh.texts(screen.root)
    assert "Présentez votre badge" in texts
    assert any(t.startswith("lundi 30 novembre 2026") for t in texts)
    assert "Lecteur : prêt" in " ".join(texts) or any("Lecteur" in t for t in texts)
    kh.screenshot("idle")


def test_a_served_tap_turns_the_screen_green_with_the_name_and_balance(screen, kiosk_dir):
    credit(kiosk_dir, "P001", 20_00)
    tap(screen, "04A1B2C3")
    texts = kh.texts(screen.root)
    assert texts[:3] == ["Léa", "Bon appétit !", "Solde CHF 13.00"]
    red, green, blue = kh.colour_at(kh.screenshot("verdict-served"), 0.99, 0.5)
    assert green > 180 and red < 140 and blue < 140  # light green, in the right margin


def test_a_refused_tap_turns_the_screen_red_with_the_reason_and_what_to_do(screen, kiosk_dir):
    credit(kiosk_dir, "P001", 5_00)
    tap(screen, "04A1B2C3")
    assert kh.texts(screen.root) == ["Léa", "Pas assez d'argent : va à la caisse.", "Solde CHF 5.00 · repas CHF 7.00"]
    red, green, blue = kh.colour_at(kh.screenshot("verdict-refused"), 0.99, 0.5)
    assert red > 120 and green < 40 and blue < 40  # dark red


def test_a_special_meal_is_announced_in_a_banner_with_the_diet(screen, kiosk_dir):
    credit(kiosk_dir, "P002", 50_00)
    with Store.open(kiosk_dir) as store, store.transaction():
        from domain.meals import ReservationKind

        store.set_reservation("P002", MONDAY_NOON.date(), ReservationKind.SPECIAL, MONDAY_NOON)
    tap(screen, "04112233445566")
    texts = kh.texts(screen.root)
    assert texts[:2] == ["Noé", "Bon appétit !"]
    assert "Repas spécial : Sans gluten" in texts
    kh.screenshot("verdict-special-meal")


def test_the_verdict_returns_to_idle_by_itself_and_a_tap_meanwhile_is_served(screen, kiosk_dir):
    credit(kiosk_dir, "P001", 20_00)
    credit(kiosk_dir, "P003", 20_00)
    screen.verdict_seconds = 0.5
    tap(screen, "04A1B2C3")
    tap(screen, "0A0B0C0D")  # during Léa's verdict: Zoé is served, not lost
    assert kh.texts(screen.root)[:2] == ["Zoé", "Bon appétit !"]
    on(screen, "idle")
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 13_00 and store.balance("P003") == 13_00


def unlock(ui, pin: str = "1234") -> None:
    kh.press(kh.button(ui.root, "Caisse"))
    on(ui, "unlock")
    kh.press(kh.button(ui.root, "Anne Roch"))
    on(ui, "pin")
    type_pin(ui, pin)


def type_pin(ui, pin: str) -> None:
    for digit in pin:
        kh.press(kh.button(ui.root, digit))


def pin_refused(ui) -> None:
    """Wait until the PIN just submitted was refused (the PIN pad says why)."""
    kh.pump(lambda: ui.problem is not None)


def test_a_wrong_pin_is_refused_then_the_right_one_opens_cashier_mode(screen):
    unlock(screen, "9999")
    kh.press(kh.button(screen.root, "Déverrouiller"))
    kh.pump(lambda: screen.problem is not None)
    assert "Caissier·ère ou code PIN incorrect." in kh.texts(screen.root)
    kh.screenshot("cashier-wrong-pin")
    for digit in "1234":
        kh.press(kh.button(screen.root, digit))
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    assert kh.button(screen.root, "Recharge en espèces")
    kh.screenshot("cashier-menu")


def test_a_cashier_badge_brings_up_that_cashiers_pin_pad_and_only_the_pin_opens_cashier_mode(screen, kiosk_dir):
    with Store.open(kiosk_dir) as store:
        KioskService(store).add_cashier("marc", "Marc Python", "5678", badge="04DEAD00")
    screen.refresh_status()  # the kiosk rereads its cashier badges with the status
    kh.pump(lambda: "04DEAD00" in screen.cashier_badges)
    screen.reader.inject("04DEAD00")
    on(screen, "pin")
    texts = kh.texts(screen.root)
    assert "Code PIN de Marc Python" in texts and "Saisissez votre code PIN pour ouvrir le mode caisse." in texts
    assert screen.desk.session is None
    kh.screenshot("cashier-badge-pin")
    type_pin(screen, "1234")  # Anne's PIN does not open Marc's badge
    kh.press(kh.button(screen.root, "Déverrouiller"))
    pin_refused(screen)
    assert screen.screen == "pin" and screen.desk.session is None
    type_pin(screen, "5678")
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    assert "Caisse : Marc Python" in kh.texts(screen.root)
    with Store.open(kiosk_dir) as store:
        assert store.cash_entries_on(MONDAY_NOON.date()) == [] and store.entries("P001") == []


def test_back_from_cashier_mode_locks_it_and_the_cashier_button_asks_the_pin_again(screen):
    unlock(screen)
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Retour"))
    on(screen, "idle")
    assert screen.desk.session is None
    kh.screenshot("idle-after-back")
    kh.press(kh.button(screen.root, "Caisse"))
    on(screen, "unlock")
    assert "Annuler la dernière opération" not in [b.text for b in kh.widgets(screen.root, kh.Button)]
    kh.press(kh.button(screen.root, "Anne Roch"))
    on(screen, "pin")  # the PIN pad, not the cashier menu


def test_five_wrong_pins_pause_the_pin_pad(screen):
    for _attempt in range(5):
        unlock(screen, "9999")
        kh.press(kh.button(screen.root, "Déverrouiller"))
        pin_refused(screen)
        screen.close_cashier()
    kh.press(kh.button(screen.root, "Caisse"))
    on(screen, "unlock")
    kh.press(kh.button(screen.root, "Anne Roch"))
    kh.pump(lambda: screen.problem is not None)
    assert screen.screen == "unlock" and screen.desk.session is None  # not even the PIN pad
    assert any(t.startswith("Trop de codes PIN erronés : réessayez dans") for t in kh.texts(screen.root))
    kh.screenshot("cashier-pin-paused")


def open_topup_for_lea(ui) -> None:
    unlock(ui)
    kh.press(kh.button(ui.root, "Déverrouiller"))
    on(ui, "cashier")
    kh.press(kh.button(ui.root, "Recharge en espèces"))
    on(ui, "find")
    kh.type_text("lea mu")
    kh.pump(lambda: any(w.text.startswith("Léa Müller") for w in kh.widgets(ui.root, kh.Button)))
    kh.screenshot("cashier-find")
    kh.press(kh.button(ui.root, "Léa Müller — 5A"))
    on(ui, "amount")


def confirm_with_pin(ui, pin: str = "1234") -> None:
    """The PIN the desk asks for before the drawer opens, typed and confirmed."""
    on(ui, "pin")
    type_pin(ui, pin)
    kh.press(kh.button(ui.root, "Confirmer"))


def test_amounts_off_the_cash_step_or_over_the_limit_are_refused_before_confirmation(screen):
    open_topup_for_lea(screen)
    for typed, says in (("12.33", "0.05"), ("900", "CHF 500.00")):
        screen.typed = typed
        kh.press(kh.button(screen.root, "Continuer"))
        kh.pump(lambda says=says: says in (screen.problem or ""))  # not the previous amount's message
        assert screen.screen == "amount"
    kh.screenshot("cashier-amount-refused")


def test_confirming_a_top_up_writes_the_ledger_and_prints_the_receipt(screen, kiosk_dir, printer):
    open_topup_for_lea(screen)
    kh.press(kh.button(screen.root, "20"))
    on(screen, "confirm")
    texts = kh.texts(screen.root)
    assert "Espèces reçues : CHF 20.00" in texts and "Nouveau solde : CHF 20.00" in texts
    kh.screenshot("cashier-confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    confirm_with_pin(screen)
    on(screen, "done")
    assert "Reçu imprimé." in kh.texts(screen.root)
    kh.screenshot("cashier-done")
    printed = receipts(printer, 1)
    assert printed[0].drawer_kicks and "Reçu de recharge" in printed[1].texts
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 20_00


def test_with_the_printer_down_the_top_up_stays_and_the_receipt_can_be_reprinted(screen, kiosk_dir, printer):
    printer.close()
    open_topup_for_lea(screen)
    kh.press(kh.button(screen.root, "50"))
    on(screen, "confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    confirm_with_pin(screen)
    on(screen, "done")
    assert any(t.startswith("Reçu NON imprimé") for t in kh.texts(screen.root))
    kh.screenshot("cashier-printer-down")
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 50_00
    printer.reopen()
    kh.press(kh.button(screen.root, "Réimprimer"))
    kh.pump(lambda: "Reçu imprimé." in kh.texts(screen.root))
    assert "Duplicata" in receipts(printer, 1)[-1].texts


def test_cashier_mode_locks_itself_after_a_quiet_spell_and_takes_the_keyboard_away(screen):
    unlock(screen)
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Recharge en espèces"))
    on(screen, "find")
    kh.pump(lambda: kh.docked_keyboard() is not None)
    screen.desk.lock_after = 0.3
    on(screen, "idle")  # nobody touched anything
    assert screen.desk.session is None
    assert kh.docked_keyboard() is None  # nothing left to type into, nothing covered
    kh.press(kh.button(screen.root, "Caisse"))
    on(screen, "unlock")  # the PIN is asked again


def test_in_cashier_mode_the_badge_step_picks_the_pupil_instead_of_serving_a_meal(screen, kiosk_dir):
    unlock(screen)
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Recharge en espèces"))
    on(screen, "find")
    kh.pump(lambda: kh.docked_keyboard() is not None)  # the name field has the focus
    kh.press(kh.button(screen.root, "Lire le badge de l'élève"))
    screen.reader.inject("0A0B0C0D")
    on(screen, "amount")
    assert kh.texts(screen.root)[0] == "Zoé Rochat (5A)"
    assert kh.docked_keyboard() is None  # the amount's keypad is not covered
    with Store.open(kiosk_dir) as store:
        assert store.entries("P003") == []  # no meal was served


def test_a_top_up_asks_the_pin_again_before_the_drawer_opens_and_back_keeps_the_amount(screen, kiosk_dir, printer):
    open_topup_for_lea(screen)
    kh.press(kh.button(screen.root, "20"))
    on(screen, "confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    on(screen, "pin")
    texts = kh.texts(screen.root)
    assert "Code PIN de Anne Roch" in texts
    assert "Saisissez votre code PIN pour encaisser CHF 20.00 et ouvrir le tiroir." in texts
    kh.screenshot("cashier-pin-before-topup")
    kh.press(kh.button(screen.root, "Retour"))
    on(screen, "confirm")
    assert "Espèces reçues : CHF 20.00" in kh.texts(screen.root)
    kh.press(kh.button(screen.root, "Confirmer"))
    confirm_with_pin(screen, "4321")
    pin_refused(screen)
    assert screen.screen == "pin" and "Code PIN erroné : rien n'a été fait." in kh.texts(screen.root)
    type_pin(screen, "1234")
    kh.press(kh.button(screen.root, "Confirmer"))
    on(screen, "done")
    printed = receipts(printer, 1)
    assert [bool(d.drawer_kicks) for d in printed] == [True, False]  # the drawer opened once, after the PIN
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 20_00


def test_wrong_pins_at_the_drawer_lock_cashier_mode(screen, kiosk_dir):
    open_topup_for_lea(screen)
    kh.press(kh.button(screen.root, "10"))
    on(screen, "confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    for _attempt in range(5):
        confirm_with_pin(screen, "0000")
        pin_refused(screen)
    on(screen, "unlock")
    assert screen.desk.session is None
    assert any(t.startswith("Trop de codes PIN erronés : le mode caisse est verrouillé") for t in kh.texts(screen.root))
    kh.screenshot("cashier-locked-after-wrong-pins")
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 0


def test_cancelling_the_last_top_up_asks_a_reason_then_the_pin_then_hands_the_cash_back(screen, kiosk_dir, printer):
    open_topup_for_lea(screen)
    kh.press(kh.button(screen.root, "20"))
    on(screen, "confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    confirm_with_pin(screen)
    on(screen, "done")
    kh.press(kh.button(screen.root, "Terminé"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Annuler la dernière opération"))
    on(screen, "cancel")
    assert "Recharge de CHF 20.00 pour Léa Müller, à 12:00" in kh.texts(screen.root)
    kh.press(kh.button(screen.root, "Annuler et rendre l'argent"))  # no reason yet: refused before the PIN
    kh.pump(lambda: screen.problem is not None)
    assert screen.screen == "cancel"
    kh.type_text("mauvais montant")
    kh.screenshot("cashier-cancel")
    kh.press(kh.button(screen.root, "Annuler et rendre l'argent"))
    on(screen, "pin")
    assert ("Saisissez votre code PIN pour annuler CHF 20.00 et rendre l'argent du tiroir."
            in kh.texts(screen.root))
    kh.screenshot("cashier-pin-before-cash-back")
    kh.press(kh.button(screen.root, "Retour"))
    on(screen, "cancel")
    assert [w.text for w in kh.widgets(screen.root, kh.TextInput)] == ["mauvais montant"]
    kh.press(kh.button(screen.root, "Annuler et rendre l'argent"))
    confirm_with_pin(screen, "9999")
    pin_refused(screen)
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 20_00
    type_pin(screen, "1234")
    kh.press(kh.button(screen.root, "Confirmer"))
    on(screen, "done")
    assert "Opération annulée" in kh.texts(screen.root)
    printed = receipts(printer, 2)
    assert [bool(d.drawer_kicks) for d in printed] == [True, False, True, False]
    assert "Annulation" in " ".join(printed[3].texts)
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 0


@pytest.mark.small_panel_too
def test_the_on_screen_keyboard_covers_neither_the_cash_back_button_nor_the_pin_pad(screen, kiosk_dir):
    credit(kiosk_dir, "P001", 20_00)
    unlock(screen)
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Annuler la dernière opération"))
    on(screen, "cancel")
    kh.pump(lambda: kh.docked_keyboard() is not None)  # the reason field has the focus
    kh.type_text("erreur de saisie")
    assert kh.under_keyboard(screen.holder) == []
    kh.screenshot("cashier-cancel-with-keyboard")
    kh.keyboard_enter()  # Enter on the keyboard sends the cancellation like the button
    on(screen, "pin")
    assert kh.docked_keyboard() is None  # the keyboard went with the reason field
    kh.screenshot("cashier-pin-after-keyboard")
    type_pin(screen, "1234")
    kh.press(kh.button(screen.root, "Confirmer"))
    on(screen, "done")
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 0


def test_the_end_of_day_report_shows_on_screen_and_prints(screen, kiosk_dir, printer):
    credit(kiosk_dir, "P001", 30_00)
    unlock(screen)
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Rapport du jour"))
    on(screen, "report")
    texts = kh.texts(screen.root)
    assert "  Anne Roch (anne)" in texts and "    recharges (1) : CHF 30.00" in texts
    kh.screenshot("cashier-report")
    kh.press(kh.button(screen.root, "Imprimer le rapport"))
    assert any("CHF 30.00" in line for line in receipts(printer, 1)[-1].texts)
    printer.close()
    kh.press(kh.button(screen.root, "Imprimer le rapport"))
    kh.pump(lambda: screen.problem is not None)
    assert screen.problem.startswith("Rapport NON imprimé") and "réseau" in screen.problem  # in words
    assert "network:" not in screen.problem


def type_on_keypad(ui, text: str) -> None:
    for key in text:
        kh.press(kh.button(ui.root, key))


@pytest.mark.small_panel_too
def test_the_count_typed_on_the_day_report_shows_its_difference_and_a_bad_one_writes_nothing(screen, kiosk_dir):
    credit(kiosk_dir, "P001", 30_00)
    unlock(screen)
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Rapport du jour"))
    on(screen, "report")
    assert "Compté dans le tiroir : pas encore" in kh.texts(screen.root)

    type_on_keypad(screen, "100000.05")
    kh.press(kh.button(screen.root, "Enregistrer le comptage"))
    kh.pump(lambda: screen.problem is not None)
    assert "Le montant maximum est de CHF 100'000.00" in screen.problem.replace("\u2019", "'")
    with Store.open(kiosk_dir) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM cash_counts").fetchone()[0] == 0

    while screen.typed:
        kh.press(kh.button(screen.root, "<"))
    type_on_keypad(screen, "27.5")
    assert "CHF 27.5" in kh.texts(screen.root)
    kh.screenshot("cashier-report-count-typed")
    kh.press(kh.button(screen.root, "Enregistrer le comptage"))
    kh.pump(lambda: screen.report.count is not None)
    counted = "Compté dans le tiroir : CHF 27.50, il manque CHF 2.50"
    # on the message line, which a small panel never scrolls away (the report's own line may be below)
    assert [w.text for w in kh.widgets(screen.root, MessageLine)] == [counted]
    kh.screenshot("cashier-report-counted")
    with Store.open(kiosk_dir) as store:
        assert store.conn.execute("SELECT counted_cents, counted_by FROM cash_counts").fetchall() == [(27_50, "anne")]
        assert store.pending_push() == 2  # the top-up and the count wait for the server


def test_the_screen_switches_to_english_and_back(screen):
    kh.press(kh.button(screen.root, "English"))
    assert "Present your badge" in kh.texts(screen.root)
    kh.screenshot("idle-english")
    kh.press(kh.button(screen.root, "Français"))
    assert "Présentez votre badge" in kh.texts(screen.root)


def test_the_cashier_after_a_pupil_who_switched_to_english_works_in_the_kiosks_language(screen):
    kh.press(kh.button(screen.root, "English"))  # a pupil switched, then walked away without a badge
    kh.press(kh.button(screen.root, "Cashier"))
    on(screen, "unlock")
    assert screen.language == "fr" and "Caisse : qui êtes-vous ?" in kh.texts(screen.root)


def test_the_demo_panel_taps_a_badge_through_the_virtual_reader(screen, kiosk_dir):
    from kiosk_ui.demo_panel import DemoPanel

    credit(kiosk_dir, "P003", 20_00)
    with Store.open(kiosk_dir) as store:
        screen.root.add_widget(DemoPanel(screen, store.active_badges(), None))
    kh.pump()
    kh.press(kh.button(screen.root, "Zoé Rochat"))
    kh.pump(lambda: screen.screen == "verdict")
    assert kh.texts(screen.root)[:2] == ["Zoé", "Bon appétit !"]
    kh.screenshot("demo-panel")


def test_the_status_bar_says_online_once_the_kiosk_has_synced_and_offline_when_the_server_is_gone(tmp_path):
    from tests.live_server import new_kiosk, start_school_server

    server = start_school_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "instance")
    kiosk = new_kiosk(tmp_path, server)
    data = tmp_path / "K1"
    kiosk.store.close()
    config = load_config(data)
    ui = KioskUI(data, config, reader=VirtualReader(), printer=open_printer("none"), clock=lambda: MONDAY_NOON,
                 language="fr")
    kh.show(ui.root)
    ui.start()
    try:
        kh.pump(lambda: ui.status is not None and ui.status.sync.startswith("En ligne"), timeout=60)
        assert ui.status.sync.endswith("· 0 à envoyer")
        kh.screenshot("idle-online")
        server.stop()
        ui.scheduler.trigger()
        kh.pump(lambda: ui.status.sync.startswith("Hors ligne"), timeout=60)
    finally:
        ui.stop()
        kh.hide(ui.root)


def test_with_sound_on_the_kiosk_makes_a_short_bright_tone_and_a_longer_low_one(kiosk_dir, printer):
    import wave

    with (kiosk_dir / "kiosk.toml").open("a", encoding="utf-8") as toml:
        toml.write("[screen]\nsound = true\n")
    ui = KioskUI(kiosk_dir, load_config(kiosk_dir), reader=VirtualReader(), printer=open_printer("none"),
                 clock=lambda: MONDAY_NOON, sync=False)
    try:
        durations = {}
        for name in ("served", "refused"):
            with wave.open(str(kiosk_dir / "sounds" / f"{name}.wav")) as tone:
                durations[name] = tone.getnframes() / tone.getframerate()
        assert durations == {"served": pytest.approx(0.24, abs=0.01), "refused": pytest.approx(0.35, abs=0.01)}
    finally:
        ui.stop()


def test_an_unexpected_failure_of_an_operation_is_shown_and_the_kiosk_goes_on(screen, kiosk_dir):
    open_topup_for_lea(screen)
    kh.press(kh.button(screen.root, "20"))
    on(screen, "confirm")

    def broken_disk(*_args, **_kwargs):
        raise OSError("disk I/O error")

    screen.desk.top_up = broken_disk
    kh.press(kh.button(screen.root, "Confirmer"))
    kh.pump(lambda: screen.problem is not None)
    assert screen.screen == "confirm"
    assert screen.problem.startswith("Erreur inattendue (OSError) : vérifiez le rapport du jour")
    screen.close_cashier()
    credit(kiosk_dir, "P003", 20_00)
    tap(screen, "0A0B0C0D")  # the counter still serves
    assert kh.texts(screen.root)[:2] == ["Zoé", "Bon appétit !"]


def let_run(seconds: float) -> None:
    """The UI's clock runs for `seconds`, whatever happens."""
    deadline = time.monotonic() + seconds
    kh.pump(lambda: time.monotonic() > deadline)


def slow_pin_check(ui, monkeypatch, seconds: float = 0.4) -> threading.Event:
    """The desk's PIN check, slowed as a busy kiosk's argon2 and commit can be: a second tap lands
    while the first is checked. The event is set once a check has begun."""
    check, begun = ui.desk._verify, threading.Event()

    def slowly(*args, **kwargs):
        begun.set()
        time.sleep(seconds)
        return check(*args, **kwargs)

    monkeypatch.setattr(ui.desk, "_verify", slowly)
    return begun


def pin_typed_for_a_top_up(ui, monkeypatch) -> threading.Event:
    """A CHF 20 top-up for Léa at its PIN pad, the PIN typed, its check slowed (`slow_pin_check`)."""
    open_topup_for_lea(ui)
    kh.press(kh.button(ui.root, "20"))
    on(ui, "confirm")
    kh.press(kh.button(ui.root, "Confirmer"))
    on(ui, "pin")
    begun = slow_pin_check(ui, monkeypatch)
    type_pin(ui, "1234")
    return begun


def test_a_second_tap_on_confirm_while_the_pin_is_checked_credits_once_and_shows_the_top_up(
        screen, kiosk_dir, monkeypatch):
    pin_typed_for_a_top_up(screen, monkeypatch)
    confirm = kh.button(screen.root, "Confirmer")
    kh.press(confirm)
    kh.press(confirm)  # the cashier thought the first tap was lost
    on(screen, "done")
    let_run(1.0)  # whatever the second tap would have done, it has done now
    assert screen.screen == "done" and "Reçu imprimé." in kh.texts(screen.root)
    with Store.open(kiosk_dir) as store:
        assert store.balance("P001") == 20_00


@pytest.mark.parametrize("locked", ["while the PIN is checked", "before the desk starts"])
def test_a_top_up_confirmed_then_locked_at_once_leaves_the_counter_locked(screen, kiosk_dir, monkeypatch, locked):
    begun = pin_typed_for_a_top_up(screen, monkeypatch)
    if locked == "before the desk starts":  # a busy desk thread: the lock comes first, the top-up is refused
        session_of = screen.desk._cashier
        monkeypatch.setattr(screen.desk, "_cashier", lambda: (time.sleep(1.0), session_of())[1])
    kh.press(kh.button(screen.root, "Confirmer"))
    if locked == "while the PIN is checked":
        kh.pump(begun.is_set)
    kh.press(kh.button(screen.root, "Verrouiller"))
    on(screen, "idle")
    let_run(2.0)  # the top-up's answer arrives meanwhile
    assert screen.screen == "idle" and screen.desk.session is None
    with Store.open(kiosk_dir) as store:  # done, and in the day's report; or not done at all
        assert store.balance("P001") == (20_00 if locked == "while the PIN is checked" else 0)


@pytest.mark.parametrize("left_at", ["unlock", "pin"])
def test_a_cashier_screen_left_before_the_pin_goes_back_to_the_counter(screen, left_at):
    screen.desk.lock_after = 0.5
    kh.press(kh.button(screen.root, "Caisse"))
    on(screen, "unlock")
    if left_at == "pin":
        kh.press(kh.button(screen.root, "Anne Roch"))
        on(screen, "pin")
    on(screen, "idle")  # nobody came back: the pupils' screen again
    tap(screen, "04A1B2C3")  # and a badge is served as ever
