"""Fingers on the real panels: every button, keyboard key and search result at least 9 mm on a
7-inch 800×480 and a 10.1-inch 1280×800 panel, nothing under the docked keyboard, nothing that
moves when a message comes.

The walk runs in this process's window (1280×800), then again in a process whose window is
800×480 (a window's size is fixed when it opens). Millimetres are measured here from the panel's
resolution and diagonal, independently of the screen's own arithmetic. Each screen is saved to
test-artifacts/screens/touch-WxH-NAME.png, with the keyboard up where a field has the focus.
"""

from __future__ import annotations

import math

import pytest

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from kivy.uix.scrollview import ScrollView

from hardware.printer import open_printer
from kiosk.config import ConfigError, load_config
from kiosk.roster_import import import_roster
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk_ui import theme
from kiosk_ui.cashier_screens import PIN_MASK

from .conftest import MONDAY_NOON, ROSTER

PANEL_INCHES = {(800, 480): 7.0, (1280, 800): 10.1}  # the kiosk's two panels, as documented
MORE_OF_5A = "".join(f"P10{n},{first},Blanc,5A,primary,,,F1{n}\n"
                     for n, first in enumerate(("Ana", "Béa", "Cloé", "Dan")))  # class 5A: six pupils


def finger(size=None) -> float:
    """9 mm in pixels on the panel whose resolution is `size` (the window's by default)."""
    width, height = size or kh.Window.size
    return 9 * math.hypot(width, height) / (PANEL_INCHES[(width, height)] * 25.4)


@pytest.fixture
def screen(kiosk_dir, tmp_path):
    """The kiosk UI, French, at Monday noon, six pupils in 5A, Léa with CHF 20 topped up today."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER + MORE_OF_5A, encoding="utf-8")
    with Store.open(kiosk_dir) as store:
        import_roster(store, roster, MONDAY_NOON)
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        service.cash_topup(service.login("anne", "1234"), "P001", 20_00)
    with kh.kiosk_on_screen(kiosk_dir, printer=open_printer("none"), lock_after=600, sync=False) as ui:
        kh.pump(lambda: ui.status is not None)
        yield ui


def window_rect(widget) -> tuple[float, float, float, float]:
    x, y = widget.to_window(*widget.pos)
    return x, y, widget.width, widget.height


def visible_rect(widget):
    """The part of the widget on screen: clipped by the scrolling lists it is in (None: none)."""
    left, bottom, width, height = window_rect(widget)
    right, top = left + width, bottom + height
    parent = widget.parent
    while parent is not None and parent is not kh.Window:
        if isinstance(parent, ScrollView):
            px, py, pw, ph = window_rect(parent)
            left, bottom, right, top = max(left, px), max(bottom, py), min(right, px + pw), min(top, py + ph)
        parent = parent.parent
    return (left, bottom, right - left, top - bottom) if right > left and top > bottom else None


def controls(root):
    """What a finger can hit, or an eye must read: buttons, fields, lists and texts, as shown."""
    kh.pump()
    return [w for w in kh.widgets(root) if w.get_parent_window() and w.width > 1
            and (isinstance(w, kh.Button | kh.TextInput | ScrollView) or getattr(w, "text", "").strip())]


def check_screen(ui, name: str) -> None:
    """Everything inside the window; each button, field and result at least 9 mm both ways, each
    keyboard key too; nothing visible under the keyboard. Saves the screen."""
    kh.pump()
    width, height = kh.Window.size
    nine_mm = finger()
    keyboard = kh.docked_keyboard()
    problems = []
    for widget in controls(ui.holder):
        shown = visible_rect(widget)
        if shown is None:
            continue  # scrolled out of the list's view
        x, y, w, h = shown
        label = getattr(widget, "text", "") or type(widget).__name__
        if x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
            problems.append(f"{label!r} at {shown} is outside {width}×{height}")
        if isinstance(widget, kh.Button | kh.TextInput) and min(widget.size) < nine_mm - 0.5:
            problems.append(f"{label!r} is {widget.width:.0f}×{widget.height:.0f} px, under 9 mm ({nine_mm:.1f} px)")
        if keyboard is not None and y < keyboard.top - 0.5:
            problems.append(f"{label!r} at {shown} is under the keyboard (top at {keyboard.top})")
    if keyboard is not None:
        assert keyboard.width == width and keyboard.y == 0, "the keyboard is docked at the bottom, full width"
        for label, (_x, _y, w, h) in keyboard.key_rects():
            if min(w, h) < nine_mm - 0.5:
                problems.append(f"key {label!r} is {w:.0f}×{h:.0f} px, under 9 mm ({nine_mm:.1f} px)")
    kh.screenshot(f"touch-{width}x{height}-{name}")
    assert problems == [], f"{name}: " + "; ".join(problems)


def on(ui, name: str) -> None:
    kh.pump(lambda: ui.screen == name)


def press_key(label: str) -> None:
    """A finger on the docked keyboard's key."""
    keyboard = kh.docked_keyboard()
    x, y, w, h = next(rect for text, rect in keyboard.key_rects() if text == label)
    touch = kh.UnitTestTouch(x + w / 2, y + h / 2)
    touch.touch_down()
    touch.touch_up()
    kh.pump()


def results_in_view(ui) -> list[str]:
    """The search results a finger can hit whole, above the keyboard."""
    view = next(w for w in kh.widgets(ui.holder, ScrollView))
    return [w.text for w in kh.widgets(view, kh.Button) if visible_rect(w) == pytest.approx(window_rect(w))]


@pytest.mark.small_panel_too
def test_every_cashier_screen_has_finger_sized_targets_and_nothing_under_the_keyboard(screen):
    check_screen(screen, "idle")
    screen.reader.inject("04A1B2C3")
    on(screen, "verdict")
    check_screen(screen, "verdict")
    screen.close_cashier()
    kh.press(kh.button(screen.root, "Caisse"))
    on(screen, "unlock")
    check_screen(screen, "unlock")
    kh.press(kh.button(screen.root, "Anne Roch"))
    on(screen, "pin")
    for digit in "1234":
        kh.press(kh.button(screen.root, digit))
    check_screen(screen, "pin")
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")
    check_screen(screen, "cashier")

    kh.press(kh.button(screen.root, "Recharge en espèces"))
    on(screen, "find")
    kh.pump(lambda: kh.docked_keyboard() is not None)
    check_screen(screen, "find-keyboard")
    press_key("123")  # the digits are on the keyboard's 123 layer, which stays until pressed again
    kh.pump(lambda: kh.docked_keyboard().layout_mode == "special")
    press_key("5")
    check_screen(screen, "find-keyboard-digits")
    kh.pump(lambda: len(screen.found) == 6)  # class 5A
    assert len(results_in_view(screen)) >= 4
    check_screen(screen, "find-keyboard-results")
    press_key("abc")
    kh.pump(lambda: kh.docked_keyboard().layout_mode == "normal")
    for key in "⌫zoé":  # QWERTZ: z top left of centre, é beside l
        press_key(key)
    kh.pump(lambda: [p.first_name for p in screen.found] == ["Zoé"])
    assert kh.focused_field().text == "zoé"
    kh.press(kh.button(screen.root, "Lire le badge de l'élève"))
    check_screen(screen, "find-badge-step")
    kh.press(kh.button(screen.root, "Annuler"))
    kh.pump(lambda: kh.docked_keyboard() is not None)
    kh.press(kh.button(screen.root, "Zoé Rochat — 5A"))
    on(screen, "amount")
    assert kh.docked_keyboard() is None
    check_screen(screen, "amount")
    kh.press(kh.button(screen.root, "20"))
    on(screen, "confirm")
    check_screen(screen, "confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    on(screen, "pin")
    check_screen(screen, "pin-before-drawer")
    for digit in "1234":
        kh.press(kh.button(screen.root, digit))
    kh.press(kh.button(screen.root, "Confirmer"))
    on(screen, "done")
    check_screen(screen, "done")

    kh.press(kh.button(screen.root, "Terminé"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Annuler la dernière opération"))
    on(screen, "cancel")
    kh.pump(lambda: kh.docked_keyboard() is not None)
    kh.press(kh.button(screen.root, "Annuler et rendre l'argent"))  # no reason: refused, said on screen
    kh.pump(lambda: screen.problem is not None)
    kh.pump(lambda: kh.docked_keyboard() is not None)
    check_screen(screen, "cancel-keyboard")
    kh.press(kh.button(screen.root, "Retour"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Rapport du jour"))
    on(screen, "report")
    for key in "27.5":
        kh.press(kh.button(screen.root, key))
    check_screen(screen, "report")


def keypad_keys(ui) -> dict[str, tuple[float, float]]:
    kh.pump()
    return {w.text: w.to_window(*w.pos) for w in kh.widgets(ui.holder, kh.Button) if w.text in "0123456789<."}


@pytest.mark.small_panel_too
def test_a_message_appearing_moves_no_keypad_key_and_the_keypads_read_like_a_phone(screen):
    kh.press(kh.button(screen.root, "Caisse"))
    on(screen, "unlock")
    kh.press(kh.button(screen.root, "Anne Roch"))
    on(screen, "pin")
    before = keypad_keys(screen)
    assert before["1"][1] > before["4"][1] > before["7"][1] > before["0"][1]  # 1-2-3 on top
    assert before["1"][0] < before["2"][0] < before["3"][0]
    for digit in "99":
        kh.press(kh.button(screen.root, digit))
    mask = next(t for t in kh.texts(screen.holder) if set(t) == {PIN_MASK})
    assert mask == PIN_MASK * 2
    kh.press(kh.button(screen.root, "Déverrouiller"))
    kh.pump(lambda: screen.problem is not None)
    assert "Caissier·ère ou code PIN incorrect." in kh.texts(screen.root)
    assert keypad_keys(screen) == before
    for digit in "1234":
        kh.press(kh.button(screen.root, digit))
    kh.press(kh.button(screen.root, "Déverrouiller"))
    on(screen, "cashier")

    kh.press(kh.button(screen.root, "Recharge en espèces"))
    on(screen, "find")
    kh.type_text("lea")
    kh.pump(lambda: len(screen.found) == 1)
    kh.press(kh.button(screen.root, "Léa Müller — 5A"))
    on(screen, "amount")
    before = keypad_keys(screen)
    for key in "12.33":
        kh.press(kh.button(screen.root, key))
    kh.press(kh.button(screen.root, "Continuer"))
    kh.pump(lambda: "0.05" in (screen.problem or ""))
    kh.screenshot(f"touch-{kh.Window.width}x{kh.Window.height}-amount-message")
    assert keypad_keys(screen) == before
    kh.press(kh.button(screen.root, "<"))  # the next key takes the refusal away, on the same screen
    texts = kh.texts(screen.root)
    assert "CHF 12.3" in texts and not any("0.05" in text for text in texts)
    assert screen.problem is None and keypad_keys(screen) == before


def test_the_pin_mask_is_a_glyph_of_the_screen_font():
    """A missing glyph draws as a box: the mask must be in Roboto, the font the labels use."""
    from kivy.core.text import DEFAULT_FONT, LabelBase
    from PIL import ImageFont

    font = ImageFont.truetype(LabelBase._fonts[DEFAULT_FONT][0], 40)
    assert bytes(font.getmask(PIN_MASK)) != bytes(font.getmask("\U000F0000"))  # not the missing-glyph box


def test_nine_millimetres_follow_the_panel_not_kivys_assumed_dpi(kiosk_dir):
    for width, height in PANEL_INCHES:
        theme.use_panel(width, height)
        assert theme.touch_target() == math.ceil(finger((width, height)))
    theme.use_panel(1280, 800, 15.6)  # a larger panel of the same resolution: bigger pixels, fewer of them
    assert theme.touch_target() == math.ceil(9 * math.hypot(1280, 800) / (15.6 * 25.4))
    theme.use_panel(*kh.Window.size)
    toml = kiosk_dir / "kiosk.toml"
    toml.write_text("[screen]\ndiagonal_inches = 7\n", encoding="utf-8")
    assert load_config(kiosk_dir).screen.diagonal_inches == 7.0
    for wrong, says in (("2", "between 4 and 32"), ('"7 pouces"', "must be a number")):
        toml.write_text(f"[screen]\ndiagonal_inches = {wrong}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            load_config(kiosk_dir)
        assert says in refused.value.render(lambda text: text)
