"""What the pupils see: the idle screen ("Présentez votre badge") and the verdict after a tap."""

from __future__ import annotations

from dataclasses import dataclass

from kivy.core.window import Window
from kivy.graphics import Color, Ellipse, Line
from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from domain.clock import local
from domain.meals import Refusal, Verdict
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


def verdict_kind(verdict: Verdict) -> str:
    """Which verdict screen a tap gets: "served" (✔), "refused" (✘) or "fault" (!, the kiosk
    could not decide: not the child's fault, see an adult)."""
    if verdict.served:
        return "served"
    return "fault" if verdict.reason is Refusal.KIOSK_FAULT else "refused"


# Each shape in a unit square (y up): straight strokes (x1, y1, x2, y2) with round caps, and dots
# (x, y, radius). The ✔ is two strokes: one line through three points, with its joint, costs ten
# times more to draw on software GL.
SHAPES = {
    "served": ([(0.14, 0.52, 0.40, 0.24), (0.40, 0.24, 0.88, 0.80)], []),
    "refused": ([(0.20, 0.20, 0.80, 0.80), (0.20, 0.80, 0.80, 0.20)], []),
    "fault": ([(0.50, 0.90, 0.50, 0.38)], [(0.50, 0.14, 0.09)]),
}


class VerdictShape(Widget):
    """A large ✔, ✘ or ! drawn with lines, as square as its box allows. Drawn once: the font has
    none of these glyphs, and lines cost no texture at the tap."""

    def __init__(self, kind: str, colour, **kwargs) -> None:
        super().__init__(**kwargs)
        strokes, dots = SHAPES[kind]
        with self.canvas:
            Color(*colour)
            self._strokes = [(points, Line(cap="round")) for points in strokes]
            self._dots = [(dot, Ellipse()) for dot in dots]
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_args) -> None:
        side = min(self.size)  # from x, y and the size: the centre's cached alias may still be stale here
        left, bottom = self.x + (self.width - side) / 2, self.y + (self.height - side) / 2
        for points, line in self._strokes:
            line.width = max(1.0, side * 0.07)
            line.points = [left + v * side if n % 2 == 0 else bottom + v * side for n, v in enumerate(points)]
        for (x, y, radius), dot in self._dots:
            dot.pos = (left + (x - radius) * side, bottom + (y - radius) * side)
            dot.size = (2 * radius * side, 2 * radius * side)


class VerdictView(BoxLayout):
    """One verdict screen, built once per kind (served, refused, fault): its shape beside the
    child's first name, the main line (greeting, or the reason and where to go), the balance on
    its own line, a special meal in a black-on-amber banner, then the hints. A tap changes texts
    only: never a layout or a texture's size, so the verdict is drawn in the very next frame.

    The background is the window's clear colour while the view is up, not a rectangle: on
    software GL a full-screen rectangle costs about 15 ms of CPU per frame, a clear almost none."""

    def __init__(self, kind: str) -> None:
        self.background, ink = theme.VERDICT_COLOURS[kind]
        super().__init__(orientation="vertical", padding=dp(12), spacing=dp(8))
        self.bind(parent=self._cleared_in)
        top = BoxLayout(spacing=dp(16))  # takes the height the texts leave: the shape is as large as it can be
        self.shape = VerdictShape(kind, ink, size_hint_x=None)
        top.bind(height=lambda _top, height: setattr(self.shape, "width", height))
        top.add_widget(self.shape)
        name_box = AnchorLayout(anchor_y="center")
        self.name = Text("", size="huge", colour=ink, bold=True, halign="left", lines=1)
        name_box.add_widget(self.name)
        top.add_widget(name_box)
        self.add_widget(top)
        self.message = Text("", size="large", colour=ink, bold=True, lines=2)
        self.add_widget(self.message)
        self.balance = Text("", size="large", colour=ink, lines=1)
        self.add_widget(self.balance)
        self.banner = Panel(colour=theme.AMBER, size_hint_y=None, padding=dp(8))
        self.banner_text = Text("", size="large", colour=theme.INK, bold=True, lines=1)
        self.banner.height = self.banner_text.height + dp(16)
        self.banner.add_widget(self.banner_text)
        self.add_widget(self.banner)
        self.hints = Text("", size="normal", colour=ink, lines=2)
        self.add_widget(self.hints)

    def _cleared_in(self, _view, parent) -> None:
        """The window clears to this view's background while it shows, to black otherwise (the
        other screens paint their own)."""
        Window.clearcolor = self.background if parent is not None else (0, 0, 0, 1)

    def update(self, result: TapResult, _) -> None:
        verdict = result.verdict
        hints = [hint.render(_) for hint in verdict.hints()]
        special = verdict.special_meal is not None
        balance = verdict.balance_line()
        self.banner.opacity = 1 if special else 0
        for label, text in ((self.name, verdict.pupil.first_name if verdict.pupil else ""),
                            (self.message, verdict.message.render(_)),
                            (self.balance, balance.render(_) if balance else ""),
                            (self.banner_text, hints[0] if special else ""),
                            (self.hints, "\n".join(hints[1:] if special else hints))):
            if label.text != text:  # an unchanged text keeps its texture: nothing to upload
                label.text = text
                label.texture_update()  # now, not at the next frame: the verdict shows one frame sooner
