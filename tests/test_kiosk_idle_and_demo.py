"""The counter's smaller points and the demo's first impression, on the real Kivy app offscreen:
the idle screen a pupil reads from a step away, the language a pupil switches for their own tap,
the cashier's wording, and the demo's kiosk on its stopped clock. Each test saves its screens to
test-artifacts/screens/; the last one runs the others again in an 800×480 window.
"""

from __future__ import annotations

import math

import pytest

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from domain.clock import parse_instant
from hardware.escpos_decode import decode
from hardware.printer import open_printer
from hardware.readers import VirtualReader
from kiosk.config import load_config
from kiosk.store import Store
from kiosk_ui.app import KioskUI
from kiosk_ui.counter_screens import ReaderArrow

from .conftest import MONDAY_NOON
from .test_kiosk_screens import confirm_with_pin, credit, on, open_topup_for_lea, tap

MENU = (("Entrée", "Salade de carottes râpées"), ("Plat du jour", "Filet de colin, pommes vapeur"),
        ("Dessert", "Compote de pommes"))
PANEL_INCHES = {(800, 480): 7.0, (1280, 800): 10.1}  # the kiosk's two panels, diagonal
ROBOTO_CAPITALS = 0.711  # Roboto's cap height, as a fraction of the type size
BACKGROUND = (245, 245, 240)  # theme.BACKGROUND in 8 bits

pytestmark = pytest.mark.small_panel_too  # every test here, again on 800×480 (test_kiosk_small_panel.py)


def size_tag() -> str:
    return "{}x{}".format(*kh.Window.size)


def mm_per_pixel() -> float:
    width, height = kh.Window.size
    return PANEL_INCHES[(width, height)] * 25.4 / math.hypot(width, height)


@pytest.fixture
def screen(kiosk_dir, printer):
    """The kiosk UI, French, at Monday noon, with today's three-course menu."""
    with Store.open(kiosk_dir) as store, store.transaction():
        store.conn.executemany("INSERT INTO menus VALUES (?, ?, ?, ?, '', '')",
                               [(MONDAY_NOON.date().isoformat(), n, course, dish)
                                for n, (course, dish) in enumerate(MENU)])
    with kh.kiosk_on_screen(kiosk_dir, lock_after=60) as ui:
        kh.pump(lambda: ui.status is not None and "Filet" in ui.idle_view.menu.text)
        kh.pump()  # the menu sized to its room, at the next frame
        yield ui


def status_texts(ui) -> list[str]:
    return [label.text for label in ui.idle_view.status.labels]


def empty_rows(picture) -> float:
    """The share of the screenshot's pixel rows with nothing but the background on them."""
    from PIL import Image

    with Image.open(picture) as image:
        rgb = image.convert("RGB")
        pixels = rgb.load()
        empty = sum(1 for y in range(rgb.height)
                    if all(max(abs(a - b) for a, b in zip(pixels[x, y], BACKGROUND, strict=True)) < 24
                           for x in range(0, rgb.width, 2)))
        return empty / rgb.height


def luminance(rgb) -> float:
    def linear(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_contrast(picture, widget) -> float:
    """WCAG contrast of a button's text, from the screenshot's pixels: its background is the
    commonest colour inside it, its text the pixel farthest from that in luminance."""
    from PIL import Image

    x, y = widget.to_window(*widget.pos)
    with Image.open(picture) as image:
        height = image.height
        box = image.convert("RGB").crop((int(x) + 2, int(height - y - widget.height) + 2,
                                         int(x + widget.width) - 2, int(height - y) - 2))
        colours = box.getcolors(box.width * box.height)
    background = max(colours)[1]
    lights = sorted((luminance(background), luminance(colour)) for _count, colour in colours)
    return max((max(a, b) + 0.05) / (min(a, b) + 0.05) for a, b in lights)


def test_the_idle_screen_fills_the_panel_with_a_menu_readable_at_a_metre_and_points_to_the_reader(screen):
    tag = size_tag()
    texts = kh.texts(screen.root)
    assert "Présentez votre badge" in texts and "sur le lecteur, sous l'écran" in texts
    assert "Menu du jour" in texts and "Filet de colin, pommes vapeur" in screen.idle_view.menu.text
    arrows = kh.widgets(screen.root, ReaderArrow)
    assert len(arrows) == 2 and all(a.height > 40 for a in arrows)
    # Capitals at least 16 minutes of arc at 1 m (ISO 9241-303's minimum): 4.65 mm on the panel.
    capitals_mm = screen.idle_view.menu.font_size * ROBOTO_CAPITALS * mm_per_pixel()
    assert capitals_mm >= 4.65, f"{tag}: menu capitals {capitals_mm:.2f} mm"
    menu = screen.idle_view.menu
    assert menu.texture_size[1] < len(MENU) * menu.font_size * 1.6, "a dish wraps onto a second line"
    picture = kh.screenshot(f"idle-{tag}-fr")
    empty = empty_rows(picture)
    assert empty < 0.4, f"{tag}: {empty:.0%} of the idle screen is empty"
    print(f"{tag}: menu capitals {capitals_mm:.2f} mm, empty rows {empty:.0%}")


def test_in_english_the_status_bar_is_english_and_french_comes_back_after_the_verdict(screen, kiosk_dir):
    kh.pump(lambda: status_texts(screen)[1:] == ["Lecteur prêt", "Imprimante prête."])
    kh.press(kh.button(screen.root, "English"))
    assert status_texts(screen) == ["Not connected to a server", "Reader ready", "Printer ready."]
    assert "Present your badge" in kh.texts(screen.root) and "Today's menu" in kh.texts(screen.root)
    kh.screenshot(f"idle-{size_tag()}-en")

    credit(kiosk_dir, "P001", 20_00)
    screen.verdict_seconds = 0.5
    tap(screen, "04A1B2C3")
    assert screen.language == "en"  # the pupil who switched reads their own verdict in English
    on(screen, "idle")
    assert screen.language == "fr" and "Présentez votre badge" in kh.texts(screen.root)
    assert status_texts(screen)[1:] == ["Lecteur prêt", "Imprimante prête."]

    kh.press(kh.button(screen.root, "English"))  # and no tap at all: back after a quiet spell
    screen.language_back_seconds = 0.5
    kh.pump(lambda: "Présentez votre badge" in kh.texts(screen.root))
    assert kh.button(screen.root, "English")


def test_the_cashier_reads_a_printer_in_words_a_legible_reprint_and_names_not_numbers(screen, kiosk_dir, printer):
    tag = size_tag()
    printer.close()
    open_topup_for_lea(screen)
    screen.typed = "12.33"
    kh.press(kh.button(screen.root, "Continuer"))
    kh.pump(lambda: screen.problem is not None)
    assert "(montant saisi : CHF 12.33)" in screen.problem and "reçu" not in screen.problem
    kh.press(kh.button(screen.root, "50"))
    on(screen, "confirm")
    kh.press(kh.button(screen.root, "Confirmer"))
    confirm_with_pin(screen)
    on(screen, "done")
    problem = next(t for t in kh.texts(screen.root) if t.startswith("Reçu NON imprimé"))
    assert "L'imprimante à reçus (réseau) n'est pas disponible" in problem and "127.0.0.1" not in problem
    reprint = kh.button(screen.root, "Réimprimer")
    contrast = text_contrast(kh.screenshot(f"done-printer-down-{tag}"), reprint)
    assert contrast >= 4.5, f"'Réimprimer' at {contrast:.2f}:1"
    print(f"{tag}: 'Réimprimer' contrast {contrast:.1f}:1")
    printer.reopen()
    kh.press(reprint)
    kh.pump(lambda: "Reçu imprimé." in kh.texts(screen.root))

    kh.press(kh.button(screen.root, "Terminé"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Annuler la dernière opération"))
    on(screen, "cancel")
    kh.type_text("mauvais montant")
    kh.press(kh.button(screen.root, "Annuler et rendre l'argent"))
    confirm_with_pin(screen)
    on(screen, "done")
    assert "Annulé : CHF 50.00 pour Léa Müller ; nouveau solde CHF 0.00." in kh.texts(screen.root)
    kh.pump(lambda: any("Annulation" in " ".join(decode(job).texts) for job in printer.jobs))
    cancellation = next(d for d in map(decode, printer.jobs) if "Annulation" in " ".join(d.texts))
    topup = next(d for d in map(decode, printer.jobs) if "Reçu de recharge" in " ".join(d.texts))
    assert "Merci et bon appétit !" in topup.texts and "appétit" not in " ".join(cancellation.texts)

    kh.press(kh.button(screen.root, "Terminé"))
    on(screen, "cashier")
    kh.press(kh.button(screen.root, "Rapport du jour"))
    on(screen, "report")
    texts = kh.texts(screen.root)
    assert "Rapport de caisse du lundi 30 novembre 2026 — borne K1" in texts
    assert "    net : CHF 0.00" in texts
    kh.pump()
    for label in kh.widgets(screen.holder, kh.Label):
        if "CHF" in label.text and not isinstance(label, kh.Button) and label.font_size < 20:
            assert label.texture_size[1] < label.font_size * 2, f"{tag}: {label.text!r} is broken over two lines"
    kh.screenshot(f"report-{tag}")


def test_the_demos_kiosk_serves_its_first_tap_on_a_sunday_night_and_shows_its_receipt_unwrapped(run, tmp_path):
    from kiosk_ui.demo_panel import DemoPanel
    from refectory.demo import first_service_day, kiosk_screen_instant

    sunday_night = "2026-12-06T23:30:00+01:00"
    data = tmp_path / "demo"
    result = run("demo", "--data", str(data), "--no-window", "--exit", "--at", sunday_night)
    assert result.exit_code == 0, result.output
    at = kiosk_screen_instant(first_service_day(parse_instant(sunday_night)))
    kh.window()
    config = load_config(data)
    printer = open_printer(config.printer.connection)
    ui = KioskUI(data, config, reader=VirtualReader(), printer=printer, clock=lambda: at, language="fr", sync=False)
    with Store.open(data) as store:
        panel = DemoPanel(ui, store.active_badges(), printer.out_dir, fixed_clock=True)
    ui.root.add_widget(panel)
    kh.show(ui.root)
    ui.start()
    try:
        assert "Démo : horloge fixée à mardi 8 décembre 2026, 11:45" in kh.texts(ui.root)
        kh.pump(lambda: "Plat du jour" in ui.idle_view.menu.text and panel.receipt.text)  # the day has its menu
        kh.press(kh.button(ui.root, "Léa Müller"))
        kh.pump(lambda: ui.last_tap is not None)
        assert ui.last_tap.result.verdict.served, ui.last_tap.result.verdict.message.render(ui._)
        kh.pump(lambda: ui.screen == "verdict")
        receipt = panel.receipt
        kh.pump(lambda: receipt.texture_size[0] > 1)
        lines = receipt.text.split("\n")
        assert max(map(len, lines)) == 42  # the printed width
        assert len(receipt._label._cached_lines) == len(lines), "the receipt pane wraps lines"
        if size_tag() == "1280x800":  # the demo's window; in a 800×480 one the pane scrolls sideways
            assert receipt.width <= panel.receipt_scroll.width, "the receipt is cut at the pane's edge"
        kh.screenshot(f"demo-{size_tag()}")
    finally:
        ui.stop()
        kh.hide(ui.root)
