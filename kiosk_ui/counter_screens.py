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


class StatusBar(Panel):
    def __init__(self) -> None:
        super().__init__(colour=(0.88, 0.88, 0.86, 1), size_hint_y=None, height=theme.touch_target(), padding=dp(8),
                         spacing=dp(12))
        self.labels = [Text("", size="small", halign="left", size_hint_y=1) for _ in range(3)]
        for label in self.labels:
            self.add_widget(label)

    def update(self, status: StatusLine | None) -> None:
        if status is None:
            return
        for label, (text, ok) in zip(self.labels, ((status.sync, status.sync_ok), (status.reader, status.reader_ok),
                                                   (status.printer, status.printer_ok)), strict=True):
            label.text, label.color = text, theme.INK if ok else theme.RED


class IdleView(Panel):
    """"Présentez votre badge", the day and time, today's menu, the status bar. Built once and
    updated in place: the screen a pupil sees between taps must cost nothing to show again."""

    def __init__(self, ui) -> None:
        super().__init__(orientation="vertical", padding=dp(16), spacing=dp(8))
        self.ui = ui
        top = BoxLayout(size_hint_y=None, height=theme.touch_target())
        self.day = Text("", size="normal", halign="left", size_hint_y=1)
        self.time = Text("", size="large", bold=True, halign="right", size_hint_y=1)
        top.add_widget(self.day)
        top.add_widget(self.time)
        self.add_widget(top)
        self.title = Text("", size="huge", bold=True)
        self.add_widget(self.title)
        self.menu = Text("", size="normal")
        self.add_widget(self.menu)
        self.add_widget(Widget())
        corner = AnchorLayout(anchor_x="right", size_hint_y=None, height=theme.touch_target())
        buttons = BoxLayout(size_hint_x=None, width=theme.touch_target() * 5, spacing=dp(8))
        self.cashier = TouchButton("", ui.open_cashier, size="small", colour=theme.MUTED, height=theme.touch_target())
        self.language = TouchButton("", ui.switch_language, size="small", colour=theme.MUTED,
                                    height=theme.touch_target())
        buttons.add_widget(self.cashier)
        buttons.add_widget(self.language)
        corner.add_widget(buttons)
        self.add_widget(corner)
        self.status = StatusBar()
        self.add_widget(self.status)

    def update(self) -> None:
        ui, _ = self.ui, self.ui._
        now = local(ui.clock())
        self.day.text, self.time.text = ui.format_day(now), now.strftime("%H:%M")
        self.title.text = _("Present your badge")
        menu = ui.todays_menu()
        separator = " : " if ui.language == "fr" else ": "
        self.menu.text = "\n".join([_("Today's menu"), *(f"{course}{separator}{dish}" for course, dish in menu)]
                                   ) if menu else ""
        self.cashier.text = _("Cashier")
        self.language.text = _("English") if ui.language == "fr" else _("Français")
        self.status.update(ui.status)


class VerdictView(Panel):
    """Green with the pupil's name and balance, or red with the reason and what to do; a special
    meal in a black-on-amber banner. One green and one red are built once; a tap only changes the
    texts of one of them (changing a colour costs a shader compile on software GL)."""

    def __init__(self, colour) -> None:
        super().__init__(colour=colour, orientation="vertical", padding=dp(12), spacing=dp(8))
        # Boxes of fixed size: a new verdict changes textures only, never the layout or a texture's
        # size (see widgets.Text), so it is drawn in the very next frame.
        self.add_widget(Widget())
        self.message = Text("", size="huge", colour=theme.WHITE, bold=True, lines=3)
        self.add_widget(self.message)
        self.banner = Panel(colour=theme.AMBER, size_hint_y=None, padding=dp(8))
        self.banner_text = Text("", size="large", colour=theme.INK, bold=True, lines=1)
        self.banner.height = self.banner_text.height + dp(16)
        self.banner.add_widget(self.banner_text)
        self.add_widget(self.banner)
        self.hints = Text("", size="large", colour=theme.WHITE, lines=2)
        self.add_widget(self.hints)
        self.add_widget(Widget())

    def update(self, result: TapResult, _) -> None:
        verdict = result.verdict
        self.message.text = verdict.message.render(_)
        hints = [hint.render(_) for hint in verdict.hints()]
        special = verdict.special_meal is not None
        self.banner_text.text = hints[0] if special else ""
        self.banner.opacity = 1 if special else 0
        self.hints.text = "\n".join(hints[1:] if special else hints)
        for label in (self.message, self.banner_text, self.hints):
            label.texture_update()  # now, not at the next frame: the verdict shows one frame sooner
