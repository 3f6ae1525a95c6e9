"""One kiosk doing both jobs: the queue's taps keep getting their verdicts while a cashier works.

Real Kivy rendering offscreen, the real kiosk core, database and virtual reader, receipts through
python-escpos to a TCP capture printer. A pupil's tap over a cashier screen shows its verdict above
it, then the cashier's screen comes back as it was; a badge picks the pupil to credit only through
the find screen's one-read badge step.
"""

from __future__ import annotations

import pytest

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from hardware.escpos_decode import decode
from kiosk.roster_import import import_roster
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk_ui.theme import VERDICT_COLOURS

from .conftest import MONDAY_NOON

QUEUE = [(f"Q{n:03}", f"Enfant{n}", f"B00000{n:02}") for n in range(1, 13)]  # pupil id, first name, badge
LEA_BADGE = "04A1B2C3"


@pytest.fixture
def queue_kiosk(kiosk_dir, tmp_path):
    """The kiosk with a queue of twelve more pupils (class 6C), each with CHF 20.00."""
    roster = tmp_path / "queue.csv"
    rows = [f"{pupil_id},{first},Dupont,6C,primary,{badge},,F9{n:02}" for n, (pupil_id, first, badge)
            in enumerate(QUEUE)]
    roster.write_text("\n".join(["pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id", *rows]),
                      encoding="utf-8")
    with Store.open(kiosk_dir) as store:
        import_roster(store, roster, MONDAY_NOON)
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        anne = service.login("anne", "1234")
        for pupil_id, _first, _badge in QUEUE:
            service.cash_topup(anne, pupil_id, 20_00)
    return kiosk_dir


@pytest.fixture
def screen(queue_kiosk, printer):
    """The kiosk UI, French, at Monday noon, with a virtual reader and short verdicts."""
    with kh.kiosk_on_screen(queue_kiosk, lock_after=60, sync=False) as ui:
        ui.verdict_seconds = 0.1
        ui.overlays = []  # what each verdict over a cashier screen said, and whether the keyboard hid it
        ui.overlay.bind(parent=lambda overlay, parent: parent and ui.overlays.append(
            (kh.texts(overlay)[:2], kh.docked_keyboard() is not None)))
        kh.pump(lambda: ui.status is not None)
        yield ui


def on(ui, name: str) -> None:
    kh.pump(lambda: ui.screen == name)


def press(ui, text: str) -> None:
    kh.press(kh.button(ui.root, text))


def type_keys(ui, keys: str) -> None:
    for key in keys:
        press(ui, key)


def open_top_up(ui) -> None:
    """Anne unlocks with her PIN and starts a cash top-up: the search for the pupil."""
    press(ui, "Caisse")
    press(ui, "Anne Roch")
    on(ui, "pin")
    type_keys(ui, "1234")
    press(ui, "Déverrouiller")
    on(ui, "cashier")
    press(ui, "Recharge en espèces")
    on(ui, "find")


def balance(kiosk_dir, pupil_id: str) -> int:
    with Store.open(kiosk_dir) as store:
        return store.balance(pupil_id)


def cashier_screen(ui) -> dict:
    """What the cashier sees and has typed or chosen: the same before and after a pupil's verdict."""
    kh.pump()
    return {"screen": ui.screen, "widget": ui.holder.children[0], "texts": kh.texts(ui.holder),
            "buttons": [b.text for b in kh.widgets(ui.holder, kh.Button)],
            "fields": [f.text for f in kh.widgets(ui.holder, kh.TextInput)], "typed": ui.typed,
            "pin_typed": ui.pin_typed, "pupil": ui.pupil, "preview": ui.preview, "found": list(ui.found)}


def meal_over(ui, kiosk_dir, pupil: tuple[str, str, str]) -> None:
    """The pupil taps while a cashier screen shows: the verdict above it, the meal on the ledger,
    then the cashier's screen exactly as it was, with the keyboard back if a field had it."""
    pupil_id, first, badge = pupil
    before, typing, shown = cashier_screen(ui), kh.focused_field() is not None, len(ui.overlays)
    ui.reader.inject(badge)
    kh.pump(lambda: len(ui.overlays) > shown and ui.overlay.parent is None)  # shown, and its time is up
    said, keyboard = ui.overlays[-1]
    assert said == [first, "Bon appétit !"] and not keyboard  # the whole verdict shows, with its name
    assert balance(kiosk_dir, pupil_id) == 13_00
    assert cashier_screen(ui) == before
    if typing:
        kh.pump(lambda: kh.focused_field() is not None and kh.docked_keyboard() is not None)


def assert_session_shown(ui) -> None:
    """The open session in the bar of every cashier screen: the cashier's name and the lock."""
    assert "Anne Roch" in kh.texts(ui.holder)
    assert kh.button(ui.holder, "Verrouiller")


def test_a_pupils_tap_during_each_cashier_screen_gets_its_verdict_and_the_top_up_goes_on(screen, queue_kiosk):
    taps = iter(QUEUE)
    seen = []

    def queue_tap():
        seen.append(screen.screen)
        meal_over(screen, queue_kiosk, next(taps))

    press(screen, "Caisse")
    on(screen, "unlock")
    queue_tap()
    press(screen, "Anne Roch")
    on(screen, "pin")
    type_keys(screen, "12")
    queue_tap()  # the half-typed PIN is kept
    type_keys(screen, "34")
    press(screen, "Déverrouiller")
    on(screen, "cashier")
    assert_session_shown(screen)
    queue_tap()
    press(screen, "Recharge en espèces")
    on(screen, "find")
    kh.type_text("lea mu")
    kh.pump(lambda: [p.first_name for p in screen.found] == ["Léa"])
    assert_session_shown(screen)
    queue_tap()  # the search and its results are kept, the field gets its keyboard back
    press(screen, "Léa Müller — 5A")
    on(screen, "amount")
    assert_session_shown(screen)
    press(screen, "2")
    queue_tap()
    press(screen, "0")
    press(screen, "Continuer")
    on(screen, "confirm")
    assert "Nouveau solde : CHF 20.00" in kh.texts(screen.root)
    assert_session_shown(screen)
    queue_tap()

    screen.overlay_hold_seconds, screen.verdict_seconds = 30, 30  # a finger lands as the verdict shows
    before = cashier_screen(screen)
    screen.reader.inject(next(taps)[2])
    kh.pump(lambda: screen.overlay.parent is not None)
    press(screen, "Confirmer")  # under the verdict: pressed nothing
    assert screen.overlay.parent is not None and screen.pin_request is None
    screen.overlay_hold_seconds = 0
    screen.reader.inject(next(taps)[2])
    kh.pump(lambda: screen.last_tap.result.uid == QUEUE[7][2])
    kh.pump(lambda: screen._overlay_touchable)
    press(screen, "Confirmer")  # once read, a touch gives the cashier the screen back, and only that
    assert screen.overlay.parent is None and cashier_screen(screen) == before and screen.pin_request is None
    screen.verdict_seconds = 0.1

    press(screen, "Confirmer")
    on(screen, "pin")
    assert_session_shown(screen)
    type_keys(screen, "12")
    queue_tap()
    type_keys(screen, "34")
    press(screen, "Confirmer")
    on(screen, "done")
    assert balance(queue_kiosk, "P001") == 20_00  # the top-up went to Léa, chosen before the taps
    assert_session_shown(screen)
    queue_tap()
    press(screen, "Terminé")
    on(screen, "cashier")
    press(screen, "Annuler la dernière opération")
    on(screen, "cancel")
    kh.type_text("erreur")
    assert_session_shown(screen)
    queue_tap()  # the reason typed is kept
    press(screen, "Retour")
    on(screen, "cashier")
    press(screen, "Rapport du jour")
    on(screen, "report")
    press(screen, "5")
    assert_session_shown(screen)
    queue_tap()  # the count typed is kept
    assert seen == ["unlock", "pin", "cashier", "find", "amount", "confirm", "pin", "done", "cancel", "report"]
    assert [balance(queue_kiosk, p) for p, _f, _b in QUEUE] == [13_00] * 12
    assert screen.typed == "5" and balance(queue_kiosk, "P001") == 20_00


def test_a_badge_picks_the_pupil_only_through_the_badge_step_and_once(screen, queue_kiosk):
    open_top_up(screen)
    kh.type_text("6c")
    kh.pump(lambda: len(screen.found) == 12)
    meal_over(screen, queue_kiosk, QUEUE[0])  # not armed: a meal tap, the find screen stays

    press(screen, "Lire le badge de l'élève")
    assert "Présentez le badge de l'élève à créditer" in kh.texts(screen.holder) and len(screen.found) == 12
    kh.screenshot("cashier-find-badge-step")
    press(screen, "Annuler")
    assert not screen.badge_armed and [f.text for f in kh.widgets(screen.holder, kh.TextInput)] == ["6c"]
    meal_over(screen, queue_kiosk, QUEUE[1])

    screen.badge_step_seconds = 0.3
    press(screen, "Lire le badge de l'élève")
    kh.pump(lambda: not screen.badge_armed)  # nobody came: the step ends by itself, and says so
    assert "Aucun badge lu : présentez-le à nouveau, ou tapez un nom." in kh.texts(screen.holder)
    meal_over(screen, queue_kiosk, QUEUE[2])

    screen.badge_step_seconds = 30
    press(screen, "Lire le badge de l'élève")
    screen.reader.inject(LEA_BADGE)
    on(screen, "amount")
    assert kh.texts(screen.holder)[0] == "Léa Müller (5A)"
    with Store.open(queue_kiosk) as store:
        assert store.entries("P001") == []  # Léa was picked, not served
    meal_over(screen, queue_kiosk, QUEUE[3])  # one read only: the next badge is a meal again


def test_every_drawer_opening_action_asks_for_the_pin_first(screen, queue_kiosk, printer):
    def kicks() -> int:
        kh.pump()
        return sum(len(d.drawer_kicks) for d in map(decode, printer.jobs))

    open_top_up(screen)
    kh.type_text("lea")
    kh.pump(lambda: len(screen.found) == 1)
    press(screen, "Léa Müller — 5A")
    on(screen, "amount")
    press(screen, "50")
    on(screen, "confirm")
    press(screen, "Confirmer")  # the top-up's drawer
    on(screen, "pin")
    assert "Saisissez votre code PIN pour encaisser CHF 50.00 et ouvrir le tiroir." in kh.texts(screen.holder)
    assert kicks() == 0 and balance(queue_kiosk, "P001") == 0
    type_keys(screen, "1234")
    press(screen, "Confirmer")
    on(screen, "done")
    kh.pump(lambda: kicks() == 1)

    press(screen, "Terminé")
    on(screen, "cashier")
    press(screen, "Annuler la dernière opération")  # the cash handed back from the drawer
    on(screen, "cancel")
    kh.type_text("erreur de saisie")
    press(screen, "Annuler et rendre l'argent")
    on(screen, "pin")
    assert ("Saisissez votre code PIN pour annuler CHF 50.00 et rendre l'argent du tiroir."
            in kh.texts(screen.holder))
    assert kicks() == 1 and balance(queue_kiosk, "P001") == 50_00
    type_keys(screen, "1234")
    press(screen, "Confirmer")
    on(screen, "done")
    kh.pump(lambda: kicks() == 2)
    assert balance(queue_kiosk, "P001") == 0


@pytest.mark.small_panel_too
def test_the_verdict_over_a_cashier_screen_covers_it_whole_and_gives_it_back(screen, queue_kiosk):
    """At the window's size (1280×800, and 800×480 in tests/test_kiosk_small_panel.py), with the keyboard docked."""
    open_top_up(screen)
    kh.type_text("6c")
    kh.pump(lambda: kh.docked_keyboard() is not None and len(screen.found) == 12)
    width, height = kh.Window.size
    kh.screenshot(f"queue-find-{width}x{height}")
    screen.verdict_seconds, screen.overlay_hold_seconds = 30, 0
    screen.reader.inject(QUEUE[0][2])
    kh.pump(lambda: screen.overlay.parent is not None)
    kh.pump()
    assert kh.docked_keyboard() is None and tuple(screen.overlay.size) == (width, height)
    labels = [label for label in kh.widgets(screen.overlay, kh.Label) if label.text.strip()]
    assert [label.text for label in labels[:2]] == ["Enfant1", "Bon appétit !"]
    for label in labels:
        x, y = label.to_window(*label.pos)
        assert x >= 0 and y >= 0 and x + label.width <= width and y + label.height <= height
    picture = kh.screenshot(f"queue-verdict-over-find-{width}x{height}")
    served = tuple(round(part * 255) for part in VERDICT_COLOURS["served"][0][:3])
    for where in ((0.02, 0.98), (0.5, 0.98), (0.98, 0.5)):  # where the find screen's results and keyboard were
        assert all(abs(a - b) <= 2 for a, b in zip(kh.colour_at(picture, *where), served, strict=True)), where
    kh.pump(lambda: screen._overlay_touchable)
    kh.press(screen.overlay)  # the cashier takes the screen back
    kh.pump(lambda: kh.docked_keyboard() is not None)
    assert [f.text for f in kh.widgets(screen.holder, kh.TextInput)] == ["6c"] and len(screen.found) == 12
