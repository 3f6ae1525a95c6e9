"""The docked on-screen keyboard: Swiss French QWERTZ, keys of at least 9 mm on the panel.

Kivy's own docked keyboard is a 700×200 picture scaled to the window's width: its keys follow
the window's width, not the finger (about 8×6.5 mm on a 7-inch 800×480 panel), and it is five
rows high. This one is as wide as the window and exactly `height()` high: four rows of keys one
touch target high, so the screens with a text field keep that much room free at the bottom
(`cashier_screens`) and nothing they show lies under it. Caps lock and the 123 key switch and
stay switched: a finger on a touch screen cannot hold a shift key while typing.
"""

from __future__ import annotations

from pathlib import Path

from kivy.core.window import Window
from kivy.uix.vkeyboard import VKeyboard

from . import theme

LAYOUT = Path(__file__).resolve().parent / "keyboards" / "fr_CH_qwertz.json"
ROWS = 4
KEY_GAP = 2  # pixels between two keys, up and down (the key's own size stays a touch target)


def height() -> float:
    """The docked keyboard's height on this panel."""
    return ROWS * (theme.touch_target() + KEY_GAP)


class DockedKeyboard(VKeyboard):
    def __init__(self, **kwargs) -> None:
        super().__init__(layout=LAYOUT.stem, margin_hint=[0, 0, 0, 0],
                         key_margin=[KEY_GAP / 2, KEY_GAP * 1.5, KEY_GAP / 2, KEY_GAP * 1.5],
                         font_size=theme.font("normal"), **kwargs)
        self._load_layout_fn(str(LAYOUT), LAYOUT.stem)  # now: docking draws the keys at once
        self._digits = False

    def setup_mode_dock(self, *args) -> None:
        """Docked for a field: on the letters, whatever the last field left."""
        super().setup_mode_dock(*args)
        self._digits = self.have_special = False
        self._fit()

    def _update_dock_mode(self, *args) -> None:
        self._fit()

    def _fit(self) -> None:
        """Full width, `height()` high, unscaled, at the bottom of the window."""
        window = self.get_parent_window()
        self.scale = 1
        self.size = (window.width, height())
        self.pos = (0, 0)
        self.refresh(True)

    def process_key_up(self, touch) -> None:
        """The 123 key toggles the digits layer (Kivy's holds it only while pressed)."""
        pressed = touch.ud.get(self.uid, {}).get("key")
        super().process_key_up(touch)
        if pressed is not None and pressed[0][2] == "special":
            self._digits = not self._digits
            self.have_special = self._digits

    def key_rects(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """Each key's label and its rectangle in window pixels (x, y, width, height), as drawn."""
        layout = self.available_layouts[self.layout]
        found = []
        for row in range(1, layout["rows"] + 1):
            labels = layout[f"{self.layout_mode}_{row}"]
            for (label, *_rest), ((x, y), (width, key_height)) in zip(labels, self.layout_geometry[f"LINE_{row}"],
                                                                       strict=True):
                left, bottom = self.to_window(x, y)
                found.append((label, (left, bottom, width * self.scale, key_height * self.scale)))
        return found


def fit_to_panel(width: int, height_px: int, diagonal_inches: float) -> None:
    """Size the screen for this panel and dock this keyboard: before any screen is built."""
    theme.use_panel(width, height_px, diagonal_inches)
    Window.set_vkeyboard_class(DockedKeyboard)
