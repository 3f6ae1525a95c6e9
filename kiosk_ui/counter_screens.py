"""What the pupils see: the idle screen ("Présentez votre badge") and the verdict after a tap."""

from __future__ import annotations

from dataclasses import dataclass

from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from domain.clock import local
from kiosk.service import TapResult

from . import theme
from .widgets import Panel, Text, TouchButton


@dataclass(frozen=True, slots=True)
class StatusLine:
    """The status bar's three facts, already in words."""

    sync: str
    sync_ok: bool
    reader: str
    reader_ok: bool
    printer: str
    printer_ok: bool


def status_bar(status: StatusLine | None) -> Widget:
    bar = Panel(colour=(0.88, 0.88, 0.86, 1), size_hint_y=None, height=theme.touch_target(), padding=dp(8),
                spacing=dp(12))
    if status is None:
        return bar
    for text, ok in ((status.sync, status.sync_ok), (status.reader, status.reader_ok),
                     (status.printer, status.printer_ok)):
        bar.add_widget(Text(text, size="small", colour=theme.INK if ok else theme.RED, halign="left", size_hint_y=1))
    return bar


def idle_screen(ui) -> Widget:
    _ = ui._
    root = Panel(orientation="vertical", padding=dp(16), spacing=dp(8))
    top = BoxLayout(size_hint_y=None, height=theme.touch_target())
    now = local(ui.clock())
    top.add_widget(Text(ui.format_day(now), size="normal", halign="left", size_hint_y=1))
    top.add_widget(Text(now.strftime("%H:%M"), size="large", bold=True, halign="right", size_hint_y=1))
    root.add_widget(top)
    root.add_widget(Text(_("Present your badge"), size="huge", bold=True))
    menu = ui.todays_menu()
    if menu:
        root.add_widget(Text(_("Today's menu"), size="normal", colour=theme.MUTED))
        for course, dish in menu:
            root.add_widget(Text(f"{course} : {dish}" if ui.language == "fr" else f"{course}: {dish}", size="normal"))
    root.add_widget(Widget())
    corner = AnchorLayout(anchor_x="right", size_hint_y=None, height=theme.touch_target())
    buttons = BoxLayout(size_hint_x=None, width=theme.touch_target() * 5, spacing=dp(8))
    buttons.add_widget(TouchButton(_("Cashier"), ui.open_cashier, size="small", colour=theme.MUTED,
                                   height=theme.touch_target()))
    buttons.add_widget(TouchButton(_("English") if ui.language == "fr" else _("Français"), ui.switch_language,
                                   size="small", colour=theme.MUTED, height=theme.touch_target()))
    corner.add_widget(buttons)
    root.add_widget(corner)
    root.add_widget(status_bar(ui.status))
    return root


def verdict_screen(ui, result: TapResult) -> Widget:
    """Green with the pupil's name and balance, or red with the reason and what to do."""
    _ = ui._
    verdict = result.verdict
    root = Panel(colour=theme.GREEN if verdict.served else theme.RED, orientation="vertical",
                 padding=dp(24), spacing=dp(12))
    root.add_widget(Widget())
    root.add_widget(Text(verdict.message.render(_), size="huge", colour=theme.WHITE, bold=True))
    for number, hint in enumerate(verdict.hints()):
        if number == 0 and verdict.special_meal is not None:  # not to be missed: black on amber
            strip = Panel(colour=theme.AMBER, size_hint_y=None, padding=dp(8))
            label = Text(hint.render(_), size="large", colour=theme.INK, bold=True)
            strip.add_widget(label)
            label.bind(height=lambda _l, h, s=strip: setattr(s, "height", h + dp(16)))
            root.add_widget(strip)
        else:
            root.add_widget(Text(hint.render(_), size="large", colour=theme.WHITE))
    root.add_widget(Widget())
    return root
