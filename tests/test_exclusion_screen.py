"""An excluded pupil's tap on the kiosk screen: red, "account on hold", and the manager's reason
under it, whole, at the kiosk's 1280×800 and on an 800×480 panel (the longest reason allowed)."""

from __future__ import annotations

from tests import kivy_harness as kh  # first: Kivy's settings and window size hold only before Kivy loads

# isort: split
from kivy.core.text import Label as CoreLabel
from kivy.metrics import dp

from domain.meals import HoldReason
from kiosk.store import Store
from sync_server.families.exclusions import MAX_REASON

from .conftest import MONDAY_NOON

LONGEST = ("Compte négatif depuis le 2 novembre, exclusion décidée par le comité le 27.11.2026")[:MAX_REASON]
PADDING = dp(12)  # the verdict screen's, each side


def lines_needed(text: str, label, window_width: int) -> float:
    """The height `text` takes in `label`'s font at a window's width, unconstrained."""
    measured = CoreLabel(text=text, font_name=label.font_name, font_size=label.font_size, bold=label.bold,
                         text_size=(window_width - 2 * PADDING, None), halign="center")
    measured.refresh()
    return measured.texture.size[1]


def test_an_excluded_pupils_tap_shows_the_reason_whole_under_the_refusal(kiosk_dir):
    assert len(LONGEST) == MAX_REASON
    with Store.open(kiosk_dir) as store, store.transaction():
        store.set_hold("P001", HoldReason.MANAGER, MONDAY_NOON, LONGEST)
    with kh.kiosk_on_screen(kiosk_dir, lock_after=60) as ui:
        kh.pump(lambda: ui.status is not None)
        before = ui.last_tap
        ui.reader.inject("04A1B2C3")
        kh.pump(lambda: ui.last_tap is not before and ui.screen == "verdict")
        texts = kh.texts(ui.root)
        assert texts == ["Léa", "Compte bloqué : va voir le responsable.", "Solde CHF 0.00", f"Motif : {LONGEST}"]
        label = next(w for w in kh.widgets(ui.root, kh.Label) if w.text == f"Motif : {LONGEST}")
        for width in (1280, 800):
            assert lines_needed(label.text, label, width) <= label.height, f"the reason overflows at {width} px"
        red, green, blue = kh.colour_at(kh.screenshot("verdict-excluded"), 0.99, 0.5)
        assert red > 120 and green < 40 and blue < 40  # the dark red of a refusal
