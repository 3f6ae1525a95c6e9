"""The verdict screens read at a glance, and without colour: a light screen with a ✔ when served,
a dark one with a ✘ when refused (a ! when the kiosk itself failed), the child's first name on
each, the reason on one line and the balance on its own. Checked from the screenshots' pixels at
1280×800 and, in a second process, on an 800×480 panel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from kivy.core.text import Label as CoreLabel

from domain.meals import BadgeStatus, ReservationKind
from hardware.printer import open_printer
from kiosk.service import KioskService
from kiosk.store import Store
from kiosk_ui.counter_screens import verdict_kind

from .conftest import MONDAY_NOON

LEA, NOE, ZOE = "04A1B2C3", "04112233445566", "0A0B0C0D"


def credit(kiosk_dir, pupil_id: str, cents: int) -> None:
    with Store.open(kiosk_dir) as store:
        service = KioskService(store, clock=lambda: MONDAY_NOON)
        service.cash_topup(service.login("anne", "1234"), pupil_id, cents)


def luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB pixel (0-255 channels)."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class Shot:
    """A verdict screen's screenshot, read where the shape and the background are drawn."""

    def __init__(self, ui, name: str) -> None:
        from PIL import Image

        width, height = kh.Window.size
        self.path = kh.screenshot(f"verdict-{width}x{height}-{name}")
        with Image.open(self.path) as image:
            self.image = image.convert("RGB")
        self.view = ui.verdict_views[verdict_kind(ui.last_tap.result.verdict)]
        self.shape = self.view.shape
        self.texts = kh.texts(ui.root)

    def pixel(self, x: float, y: float):
        """The pixel at (x, y) of the window, Kivy's way (from the bottom left)."""
        return self.image.getpixel((int(x), int(self.image.height - 1 - y)))

    def background(self):
        return self.pixel(self.image.width - 3, self.image.height / 2)  # in the screen's right margin

    def at_shape(self, u: float, v: float):
        """The pixel at (u, v) of the shape's unit square."""
        shape = self.shape
        side = min(shape.size)
        x, y = shape.to_window(shape.center_x - side / 2, shape.center_y - side / 2)
        return self.pixel(x + u * side, y + v * side)

    def inked(self, u: float, v: float) -> bool:
        return contrast(self.at_shape(u, v), self.background()) > 3

    def text_contrast(self) -> float:
        """The main line's ink against the background: its pixel farthest from the background."""
        label = self.view.message
        x, y = label.to_window(*label.pos)
        box = self.image.crop((int(x), int(self.image.height - y - label.height), int(x + label.width),
                               int(self.image.height - y)))
        pixels = {box.getpixel((i, j)) for i in range(box.width) for j in range(0, box.height, 2)}
        return max(contrast(pixel, self.background()) for pixel in pixels)


def tap(ui, uid: str) -> None:
    before = ui.last_tap
    ui.reader.inject(uid)
    kh.pump(lambda: ui.last_tap is not before and ui.screen == "verdict")


def one_line(label) -> bool:
    """The label's text fits its width on a single line, in its own font."""
    measured = CoreLabel(text=label.text, font_name=label.font_name, font_size=label.font_size, bold=label.bold,
                         text_size=(label.width, None), halign="center")
    measured.refresh()
    return measured.texture.size[1] < label.font_size * 1.6


@pytest.fixture
def screen(kiosk_dir):
    """The kiosk UI, French, on a clock the test moves, with a virtual reader and no printer."""
    now = [MONDAY_NOON]
    with kh.kiosk_on_screen(kiosk_dir, printer=open_printer("none"), clock=lambda: now[0], sync=False) as ui:
        ui.now = now
        kh.pump(lambda: ui.status is not None)
        yield ui


@pytest.mark.small_panel_too
def test_served_and_refused_differ_by_shape_and_luminance_and_name_the_child(screen, kiosk_dir):
    credit(kiosk_dir, "P001", 20_00)
    credit(kiosk_dir, "P002", 50_00)
    with Store.open(kiosk_dir) as store, store.transaction():
        store.set_reservation("P002", MONDAY_NOON.date(), ReservationKind.SPECIAL, MONDAY_NOON)
    shots = {}

    tap(screen, LEA)  # served, and her balance is now under the low-balance threshold
    shots["served"] = served = Shot(screen, "served-low-balance")
    assert served.texts[:3] == ["Léa", "Bon appétit !", "Solde CHF 13.00"]
    assert "Solde bas : dis-le à tes parents." in served.texts[-1]
    assert "Sans réservation aujourd'hui : c'est en ordre." in served.texts[-1]  # said, but not as a problem

    tap(screen, NOE)
    special = Shot(screen, "served-special-meal")
    assert special.texts[:4] == ["Noé", "Bon appétit !", "Solde CHF 41.50", "Repas spécial : Sans gluten"]

    tap(screen, ZOE)  # no money: the reason and the balance, each one short line
    shots["balance"] = Shot(screen, "refused-balance")
    assert shots["balance"].texts == ["Zoé", "Pas assez d'argent : va à la caisse.", "Solde CHF 0.00 · repas CHF 7.00"]
    view = screen.verdict_views["refused"]
    assert one_line(view.message) and one_line(view.balance)

    tap(screen, LEA)  # two refusals in a row: each child sees their own name
    shots["already-served"] = Shot(screen, "refused-already-served")
    assert shots["already-served"].texts == ["Léa", "Tu as déjà mangé aujourd'hui à 12:00.", "Solde CHF 13.00"]

    tap(screen, "CAFEBABE")
    shots["unknown"] = Shot(screen, "refused-unknown-badge")
    assert shots["unknown"].texts == ["Badge inconnu : va à la caisse."]

    with Store.open(kiosk_dir) as store, store.transaction():
        store.set_badge_status(NOE, BadgeStatus.LOST, MONDAY_NOON)
    tap(screen, NOE)
    shots["blocked"] = Shot(screen, "refused-blocked-badge")
    assert shots["blocked"].texts == ["Noé", "Badge bloqué (perdu) : va à la caisse.", "Solde CHF 41.50"]

    screen.now[0] = MONDAY_NOON + timedelta(hours=4)  # 16:00 in Zurich
    tap(screen, ZOE)
    shots["outside-hours"] = Shot(screen, "refused-outside-hours")
    assert shots["outside-hours"].texts[:2] == ["Zoé", "Repas servis de 11:00 à 14:00."]

    screen._counter_store.close()  # the kiosk's own failure: the counter cannot read its database
    tap(screen, ZOE)
    shots["fault"] = fault = Shot(screen, "fault")
    assert fault.texts[0].startswith("La borne n'a pas pu traiter ce badge")

    for name, shot in shots.items():
        assert shot is served or contrast(shot.background(), served.background()) >= 3, f"{name} looks served in grey"
        assert shot.text_contrast() >= 4.5, name
    # The shapes, where each is drawn and where the others are not: ✔'s short stroke, ✘'s crossing, !'s bar.
    assert served.inked(0.27, 0.38) and not served.inked(0.5, 0.5) and not served.inked(0.25, 0.75)
    for name in ("balance", "already-served", "unknown", "blocked", "outside-hours"):
        shot = shots[name]
        assert shot.inked(0.5, 0.5) and shot.inked(0.25, 0.75) and not shot.inked(0.27, 0.38), name
    assert fault.inked(0.5, 0.65) and fault.inked(0.5, 0.14) and not fault.inked(0.25, 0.75)
