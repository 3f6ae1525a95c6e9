"""The demo's side panel: what the demo's clock says, a button per demo badge (taps go through
the virtual reader, exactly as a badge on a real reader), and the last receipt the virtual
printer produced, at its printed width of 42 columns: never wrapped, the type sized to fit."""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.metrics import dp, sp
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from domain.clock import local

from . import theme
from .widgets import Panel, Text, TouchButton

RECEIPT_COLUMNS = 42  # an 80 mm printer's line
MONO_ADVANCE = 0.6  # RobotoMono's advance width, as a fraction of its type size
SMALLEST_RECEIPT_TYPE = sp(9)  # below, the pane scrolls sideways (a 800×480 window)


class DemoPanel(Panel):
    def __init__(self, ui, badges, receipts_dir: Path | None, *, fixed_clock: bool = False) -> None:
        super().__init__(colour=(0.85, 0.87, 0.90, 1), orientation="vertical", size_hint_x=0.3, padding=dp(8),
                         spacing=dp(6))
        _ = ui._
        self.receipts_dir = receipts_dir
        if fixed_clock:
            now = ui.clock()
            self.add_widget(Text(_("Demo: clock stopped at {day}, {time}").format(
                day=ui.format_day(now), time=local(now).strftime("%H:%M")), size="small", colour=theme.RED, bold=True))
        self.add_widget(Text(_("Demo: tap a badge"), size="normal", bold=True))
        grid = GridLayout(cols=1, spacing=dp(4), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for uid, pupil in badges:
            grid.add_widget(TouchButton(f"{pupil.first_name} {pupil.last_name}", lambda u=uid: ui.reader.inject(u),
                                        size="small", height=theme.touch_target()))
        scroll = ScrollView(size_hint_y=0.5)
        scroll.add_widget(grid)
        self.add_widget(scroll)
        self.add_widget(Text(_("Last receipt"), size="normal", bold=True))
        # Unwrapped (no text_size): the label is as wide as its longest line; the scroll view
        # scrolls both ways when the type's smallest size is still too wide for the panel.
        self.receipt = Label(text="", font_name="RobotoMono-Regular", color=theme.INK, halign="left",
                             size_hint=(None, None))
        self.receipt.bind(texture_size=self.receipt.setter("size"))
        self.receipt_scroll = ScrollView(size_hint_y=0.5, do_scroll_x=True)
        self.receipt_scroll.add_widget(self.receipt)
        self.receipt_scroll.bind(width=lambda *_: self._fit_receipt())
        self.add_widget(self.receipt_scroll)
        self._shown: Path | None = None
        self._event = Clock.schedule_interval(lambda _dt: self.show_last_receipt(), 1.0)

    def _fit_receipt(self) -> None:
        """The largest type at which 42 columns fit the pane's width."""
        columns = RECEIPT_COLUMNS * MONO_ADVANCE
        self.receipt.font_size = max(SMALLEST_RECEIPT_TYPE, min(theme.font("small"),
                                                                (self.receipt_scroll.width - dp(4)) / columns))

    def show_last_receipt(self) -> None:
        if self.receipts_dir is None or not self.receipts_dir.is_dir():
            return
        numbered = [(int(p.stem.split("-")[1]), p) for p in self.receipts_dir.glob("receipt-*.txt")
                    if p.stem.split("-")[1].isdigit()]
        if numbered:
            newest = max(numbered)[1]
            if newest != self._shown:
                self._shown = newest
                self.receipt.text = newest.read_text(encoding="utf-8")
