"""The counter's daily exceptions: serve a pupil who forgot the badge, block a lost badge, cancel a
meal of today. Each through the real app's screens (offscreen Kivy, a virtual reader), through the
desk the screens and the CLI share, and the block through a real server to a second kiosk. What
is refused writes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from domain.corrections import ReversalError
from domain.i18n import gettext_for
from domain.meals import Pupil, Refusal
from hardware.printer import open_printer
from kiosk import counter_exceptions
from kiosk.cashier_desk import CashierDesk, PinRequiredError
from kiosk.config import load_config
from kiosk.counter_exceptions import ExceptionRefusedError
from kiosk.service import KioskService, UnknownRecordError
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent

from .conftest import MONDAY_NOON
from .live_server import new_kiosk
from .portal_client import start_school, text_of

LEA, ZOE = "04A1B2C3", "0A0B0C0D"
SIZE = "{}x{}".format(*kh.WINDOW_SIZE)
french = gettext_for("fr")


def credit(store: Store, pupil_id: str, cents: int) -> None:
    service = KioskService(store, clock=lambda: MONDAY_NOON)
    service.cash_topup(service.login("anne", "1234"), pupil_id, cents)


def ledger_size(store: Store) -> tuple[int, int, int]:
    """Entries, badge blocks and blocked badges: what a refused exception must leave as it was."""
    conn = store.conn
    return (conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM badge_blocks").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM badges WHERE status <> 'active'").fetchone()[0])


@pytest.fixture
def desk(store):
    opened = CashierDesk(KioskService(store, clock=lambda: MONDAY_NOON), None, load_config(store.path.parent).canteen,
                         french)
    opened.unlock("anne", "1234")
    return opened


# -- the screens -------------------------------------------------------------------------------

def on(ui, name: str) -> None:
    kh.pump(lambda: ui.screen == name)


def press(ui, text: str) -> None:
    kh.press(kh.button(ui.root, text))


def pin(ui, button: str) -> None:
    on(ui, "pin")
    for digit in "1234":
        press(ui, digit)
    press(ui, button)


def cashier_menu(ui) -> None:
    """Anne unlocks cashier mode: its menu."""
    press(ui, "Caisse")
    on(ui, "unlock")
    press(ui, "Anne Roch")
    pin(ui, "Déverrouiller")
    on(ui, "cashier")


def snap(ui, name: str) -> None:
    """The screen's picture, once checked: every text inside the window and inside its button,
    every button at least 9 mm on both sides."""
    from kivy.metrics import mm

    kh.pump()
    width, height = kh.Window.size
    for widget in kh.widgets(ui.holder):
        if not widget.get_parent_window() or widget.width <= 1 or not getattr(widget, "text", "").strip():
            continue
        x, y = widget.to_window(*widget.pos)
        assert x >= -1 and y >= -1 and x + widget.width <= width + 1 and y + widget.height <= height + 1, (
            f"{name}: {widget.text!r} at {(x, y, widget.width, widget.height)} outside {width}×{height}")
        if isinstance(widget, kh.Button):
            assert min(widget.size) >= mm(9) - 1, f"{name}: button {widget.text!r} is {widget.size}"
            assert widget.texture_size[0] <= widget.width, f"{name}: {widget.text!r} overflows its button"
    kh.screenshot(f"{name}-{SIZE}")


def find(ui, name: str, result: str, picture: str | None = None) -> None:
    on(ui, "exception_find")
    kh.type_text(name)
    kh.pump(lambda: any(b.text == result for b in kh.widgets(ui.root, kh.Button)))
    if picture:
        snap(ui, picture)
    press(ui, result)
    on(ui, "exception")


@pytest.mark.small_panel_too
def test_the_three_exceptions_from_the_screen_each_with_its_reason_and_the_tap_refused_after_the_block(kiosk_dir):
    """Served without badge (then refused for the same rules as a tap), that meal cancelled with
    the balance back, the badge blocked and refused at the next tap; no reason, nothing written.
    Run at 800×480 as well by the next test (one window size per process)."""
    with Store.open(kiosk_dir) as store:
        credit(store, "P001", 20_00)
    with kh.kiosk_on_screen(kiosk_dir, printer=open_printer("none"), sync=False) as ui:
        cashier_menu(ui)
        snap(ui, "exceptions-menu")

        press(ui, "Servir sans badge")
        find(ui, "Léa", "Léa Müller — 5A", "exception-find")
        press(ui, "Servir le repas")  # no reason yet
        kh.pump(lambda: ui.problem is not None)
        assert ui.problem == "Indiquez un motif : il est enregistré avec l'opération."
        snap(ui, "exception-no-reason")
        press(ui, "Badge oublié")
        kh.press(kh.widgets(ui.root, kh.TextInput)[0])  # the reason's field: the keyboard docks
        assert "Servir le repas" not in kh.under_keyboard(ui.root)
        snap(ui, "exception-serve-keyboard")
        press(ui, "Servir le repas")
        on(ui, "pin")
        assert "Saisissez votre code PIN pour servir Léa Müller sans badge (CHF 7.00)." in kh.texts(ui.root)
        pin(ui, "Servir")
        on(ui, "exception_done")
        texts = kh.texts(ui.root)
        assert texts[0] == "Repas servi sans badge"
        assert texts[texts.index("Léa Müller · Bon appétit !") + 1] == "Solde CHF 13.00"
        snap(ui, "exception-served")

        press(ui, "Servir sans badge")  # again: the same rules as a tap
        find(ui, "Léa", "Léa Müller — 5A")
        press(ui, "Badge abîmé")
        press(ui, "Servir le repas")
        on(ui, "exception_done")
        texts = kh.texts(ui.root)
        assert texts[0] == "Repas refusé" and "Léa Müller · Tu as déjà mangé aujourd'hui à 12:00." in texts
        snap(ui, "exception-refused")

        press(ui, "Terminé")
        on(ui, "cashier")
        press(ui, "Annuler un repas")
        find(ui, "Léa", "Léa Müller — 5A")
        assert ui.exception.choice is not None  # her one meal of today, chosen already
        press(ui, "Servi par erreur")
        snap(ui, "exception-cancel-meal")
        press(ui, "Annuler le repas")
        pin(ui, "Confirmer")
        on(ui, "exception_done")
        texts = kh.texts(ui.root)
        said = texts.index("Le repas de 12:00 de Léa Müller est annulé : CHF 7.00 recrédité.")
        assert texts[said + 1] == "Nouveau solde : CHF 20.00"
        snap(ui, "exception-meal-cancelled")

        press(ui, "Terminé")
        on(ui, "cashier")
        press(ui, "Bloquer un badge perdu")
        find(ui, "Léa", "Léa Müller — 5A")
        press(ui, LEA)
        press(ui, "Badge perdu")
        snap(ui, "exception-block")
        press(ui, "Bloquer le badge")
        on(ui, "exception_done")
        assert "Le badge 04A1B2C3 de Léa Müller est refusé à cette borne dès maintenant." in kh.texts(ui.root)
        snap(ui, "exception-blocked")

        ui.close_cashier()
        before = ui.last_tap
        ui.reader.inject(LEA)
        kh.pump(lambda: ui.last_tap is not before and ui.screen == "verdict")
        assert ui.last_tap.result.verdict.reason is Refusal.BADGE_DISABLED
    with Store.open(kiosk_dir) as store:
        meal, reversal = [e for e in store.entries("P001") if e.kind != "cash_topup"]
        assert (meal.operator, meal.reference, meal.note) == ("anne", None, "Badge oublié")
        assert counter_exceptions.served_without_badge(meal)
        assert (reversal.reference, reversal.note) == (meal.id, "Servi par erreur")
        assert store.balance("P001") == 20_00
        assert store.conn.execute("SELECT uid, reason, blocked_by FROM badge_blocks").fetchall() == [
            (LEA, "Badge perdu", "anne")]


# -- the desk's functions, the screens' and the CLI's ------------------------------------------

def test_serving_without_badge_follows_the_tap_rules_and_asks_the_pin_only_for_a_meal_to_debit(store, desk, caplog):
    before = ledger_size(store)
    refused = desk.serve_without_badge("P003", "Badge oublié")  # Zoé has no money: no PIN, nothing written
    assert refused.verdict.reason is Refusal.INSUFFICIENT_BALANCE and refused.entry is None
    evening = MONDAY_NOON + timedelta(hours=8)
    credit(store, "P003", 20_00)
    assert desk.serve_without_badge("P003", "Badge oublié", now=evening).verdict.reason is \
        Refusal.OUTSIDE_SERVICE_HOURS
    with pytest.raises(PinRequiredError):
        desk.serve_without_badge("P003", "Badge oublié")
    before = ledger_size(store)
    for pupil, reason, error in (("P003", " ", ExceptionRefusedError), ("P999", "Badge oublié", UnknownRecordError),
                                 ("P003", "deux\nlignes", ExceptionRefusedError)):
        with pytest.raises(error):
            desk.serve_without_badge(pupil, reason, pin="1234")
    assert ledger_size(store) == before
    with caplog.at_level("INFO", logger="kiosk"):
        served = desk.serve_without_badge("P003", "Badge oublié", pin="1234")
    assert served.verdict.served and served.entry.operator == "anne"
    assert "meal served without badge to P003 by cashier anne: Badge oublié" in caplog.messages  # the journal
    KioskService(store, clock=lambda: MONDAY_NOON).tap(ZOE)  # her own badge afterwards: already served
    assert KioskService(store, clock=lambda: MONDAY_NOON).tap(ZOE).verdict.reason is Refusal.ALREADY_SERVED


def test_a_meal_of_yesterday_cannot_be_cancelled_and_today_s_list_leaves_cancelled_meals_out(store, desk, caplog):
    credit(store, "P001", 20_00)
    meal = KioskService(store, clock=lambda: MONDAY_NOON).tap(LEA).entry
    assert desk.meals_today("P001") == [meal]
    tomorrow = MONDAY_NOON + timedelta(days=1)
    assert desk.meals_today("P001", now=tomorrow) == []
    before = ledger_size(store)
    with pytest.raises(ReversalError, match="same day"):
        desk.reverse(meal.id, "Servi par erreur", pin="1234", now=tomorrow)
    with pytest.raises(ReversalError, match="Give a reason"):
        desk.reverse(meal.id, "", pin="1234")
    assert ledger_size(store) == before
    with caplog.at_level("INFO", logger="kiosk"):
        desk.reverse(meal.id, "Servi par erreur", pin="1234")
    assert desk.meals_today("P001") == [] and store.balance("P001") == 20_00
    assert f"meal {meal.id} of P001 cancelled by cashier anne: Servi par erreur" in caplog.messages


def test_blocking_a_badge_refuses_it_at_once_and_bad_blocks_write_nothing(store, desk, caplog):
    before = ledger_size(store)
    for uid, reason, error in (("0BADBAD0", "Badge perdu", UnknownRecordError), (LEA, "", ExceptionRefusedError)):
        with pytest.raises(error):
            desk.block_badge(uid, reason)
    assert ledger_size(store) == before
    assert desk.badges_of("P001") == [(LEA, "active")]
    with caplog.at_level("INFO", logger="kiosk"):
        desk.block_badge(LEA, "Perdu à la récréation")
    assert f"badge {LEA} of P001 blocked as lost by cashier anne: Perdu à la récréation" in caplog.messages
    assert KioskService(store, clock=lambda: MONDAY_NOON).tap(LEA).verdict.reason is Refusal.BADGE_DISABLED
    with pytest.raises(ExceptionRefusedError, match="already blocked"):
        desk.block_badge(LEA, "Perdu")
    assert store.pending_push() == 1


def test_the_cli_twins_serve_list_cancel_and_block(kiosk_dir, run):
    with Store.open(kiosk_dir) as store:
        credit(store, "P001", 20_00)
    at = ["--at", "2026-11-30T12:00"]
    cashier = ["--data", str(kiosk_dir), "--cashier", "anne", "--pin", "1234"]
    served = run("kiosk", "serve", *cashier, "--pupil", "P001", "--reason", "Badge oublié", *at, "--json")
    assert served.exit_code == 0 and json.loads(served.stdout)["without_badge"]
    again = run("kiosk", "serve", *cashier, "--pupil", "P001", "--reason", "Badge oublié", *at)
    assert again.exit_code == 2 and again.stdout.startswith("✘ Léa · Tu as déjà mangé aujourd'hui à 12:00.")
    listed = json.loads(run("kiosk", "meals", "--data", str(kiosk_dir), "--pupil", "P001", *at, "--json").stdout)
    meal = listed["meals"][0]
    assert (meal["price_cents"], meal["without_badge"], meal["note"]) == (700, True, "Badge oublié")
    assert run("kiosk", "reverse", *cashier, "--entry", meal["entry_id"], "--reason", "Servi par erreur",
               *at).exit_code == 0
    assert run("kiosk", "block-badge", *cashier, "--uid", LEA, "--reason", "", *at).exit_code == 1
    blocked = run("kiosk", "block-badge", *cashier, "--uid", LEA, "--reason", "Perdu", *at)
    assert blocked.exit_code == 0
    assert run("kiosk", "tap", "--data", str(kiosk_dir), LEA, *at).exit_code == 2


# -- through the server ------------------------------------------------------------------------

@pytest.mark.on_each_database
def test_a_badge_blocked_at_one_kiosk_is_refused_at_a_second_after_sync_and_the_manager_sees_why(
        school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    try:
        first, second = new_kiosk(tmp_path, school.live, "K1"), new_kiosk(tmp_path, school.live, "K2")
        for kiosk in (first, second):
            SyncAgent(kiosk.store).run_round()
        first.cash_topup(first.login("anne", "1234"), "P001", 20_00)
        desk = CashierDesk(first, None, load_config(tmp_path / "K1").canteen, french)
        desk.unlock("anne", "1234")
        meal = desk.serve_without_badge("P001", "Badge oublié", pin="1234").entry
        desk.reverse(meal.id, "Servi par erreur", pin="1234")
        desk.block_badge(LEA, "Perdu dans le bus")
        assert first.tap(LEA).verdict.reason is Refusal.BADGE_DISABLED  # at once, before any sync
        assert second.tap(LEA).verdict.reason is not Refusal.BADGE_DISABLED  # K2 has not heard of it yet

        SyncAgent(first.store).run_round()
        assert first.store.pending_push() == 0
        SyncAgent(second.store).run_round()
        assert second.tap(LEA).verdict.reason is Refusal.BADGE_DISABLED
        SyncAgent(first.store).run_round()  # its own block coming back changes nothing
        assert first.tap(LEA).verdict.reason is Refusal.BADGE_DISABLED

        journal = text_of(school.manager().get("/manage/journal"))
        assert "K1/anne Badge déclaré perdu P001 04A1B2C3: Perdu dans le bus" in journal
        assert "K1/anne Repas servi sans badge à une borne P001 CHF 7.50: Badge oublié" in journal
        assert "K1/anne Opération annulée à une borne P001 CHF 7.50: Servi par erreur" in journal
    finally:
        school.live.stop()


@pytest.mark.small_panel_too
def test_a_long_name_found_for_an_exception_stays_inside_its_line(kiosk_dir):
    with Store.open(kiosk_dir) as store, store.transaction():
        store.upsert_pupil(Pupil("P777", "Maximilien-Alexandre", "Oberholzer-Baumgartner", "10VG", "secondary", "",
                                 True, "F77"))
    with kh.kiosk_on_screen(kiosk_dir, printer=open_printer("none"), sync=False) as ui:
        cashier_menu(ui)
        press(ui, "Servir sans badge")
        on(ui, "exception_find")
        kh.type_text("m")  # Maximilien and Léa Müller, side by side
        kh.pump(lambda: sum(" — " in b.text for b in kh.widgets(ui.root, kh.Button)) >= 2)
        kh.pump()
        rows = [b for b in kh.widgets(ui.root, kh.Button) if " — " in b.text]
        assert all(row.texture_size[0] <= row.width for row in rows)  # a long name ends in … inside its line
        snap(ui, "exception-find-long-name")
