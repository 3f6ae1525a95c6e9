"""The demo's side panel: a button per demo badge (taps go through the virtual reader, exactly as
a badge on a real reader), and the last receipt the virtual printer produced."""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from . import theme
from .widgets import Panel, Text, TouchButton


class DemoPanel(Panel):
    def __init__(self, ui, badges, receipts_dir: Path | None) -> None:
        super().__init__(colour=(0.85, 0.87, 0.90, 1), orientation="vertical", size_hint_x=0.3, padding=dp(8),
                         spacing=dp(6))
        _ = ui._
        self.receipts_dir = receipts_dir
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
        self.receipt = Text("", size="small", halign="left", font_name="RobotoMono-Regular")
        receipt_scroll = ScrollView(size_hint_y=0.5)
        receipt_scroll.add_widget(self.receipt)
        self.add_widget(receipt_scroll)
        self._shown: Path | None = None
        self._event = Clock.schedule_interval(lambda _dt: self.show_last_receipt(), 1.0)

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
