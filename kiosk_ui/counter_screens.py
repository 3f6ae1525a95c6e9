"""What the pupils see: the idle screen ("Présentez votre badge"), the verdict after a tap, and that
verdict over a cashier's screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, Ellipse, Line, Rectangle, Triangle
from kivy.metrics import dp, sp
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

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


class ReaderArrow(Widget):
    """A thick arrow pointing down, to the reader under the screen (drawn: Roboto has no arrow glyph)."""

    def __init__(self) -> None:
        super().__init__(size_hint_x=None, width=dp(64))
        with self.canvas:
            Color(*theme.WHITE)
            self._shaft = Rectangle()
            self._head = Triangle()
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_args) -> None:
        x, y, w, h = self.x, self.y, self.width, self.height
        head = min(h * 0.45, w)
        self._shaft.pos, self._shaft.size = (x + w * 0.32, y + head), (w * 0.36, max(h - head - dp(8), 0))
        self._head.points = (x, y + head, x + w, y + head, x + w / 2, y + dp(4))


class IdleView(Panel):
    """What a pupil sees between taps: the day and time, today's menu in letters readable at 1 m,
    and "Présentez votre badge" on a band whose arrows point down to the reader; the status bar.

    Readable at 1 m: the menu's capital letters are at least 16 minutes of arc tall (ISO 9241-303's
    minimum), 4.7 mm, on both panels: 40 px type on a 7-inch 800×480 panel (0.19 mm a pixel) and
    on a 10.1-inch 1280×800 one (0.17 mm), Roboto's capitals being 0.71 of the type size. A long
    menu steps down to the size that fits rather than leave the screen.

    Built once and updated in place: the screen a pupil sees between taps must cost nothing to show
    again (a label whose text did not change is not drawn again)."""

    MENU_SIZES = (sp(64), sp(56), sp(48), sp(40), sp(34), sp(28))  # the first that fits the window

    def __init__(self, ui) -> None:
        super().__init__(orientation="vertical", padding=dp(16), spacing=dp(8))
        self.ui = ui
        top = BoxLayout(size_hint_y=None, height=theme.touch_target(), spacing=dp(8))
        self.day = Text("", size="normal", halign="left", size_hint_y=1)
        self.time = Text("", size="large", bold=True, halign="right", size_hint_y=1, size_hint_x=None,
                         width=dp(110))
        self.cashier = TouchButton("", ui.open_cashier, size="small", colour=theme.MUTED, height=theme.touch_target(),
                                   size_hint_x=None, width=theme.touch_target() * 2.4)
        self.language = TouchButton("", ui.switch_language, size="small", colour=theme.MUTED,
                                    height=theme.touch_target(), size_hint_x=None, width=theme.touch_target() * 2.4)
        for widget in (self.day, self.time, self.cashier, self.language):
            top.add_widget(widget)
        self.add_widget(top)
        self.menu_box = BoxLayout(orientation="vertical", spacing=dp(4))
        self.menu_title = Text("", size="normal", bold=True, colour=theme.MUTED, one_line=True,
                               height=theme.font("normal") * 1.6)
        self.menu = Text("", markup=True)
        for widget in (Widget(), self.menu_title, self.menu, Widget()):  # the menu in the middle of its room
            self.menu_box.add_widget(widget)
        self.add_widget(self.menu_box)
        band = Panel(colour=theme.BUTTON, size_hint_y=None, padding=(dp(12), dp(6)), spacing=dp(8))
        words = BoxLayout(orientation="vertical")
        self.title = Text("", size="huge", bold=True, colour=theme.WHITE, size_hint_y=1, one_line=True)
        self.where = Text("", size="normal", colour=theme.WHITE, size_hint_y=None, height=theme.font("normal") * 1.4,
                          one_line=True)
        words.add_widget(self.title)
        words.add_widget(self.where)
        self.band = band
        self.bind(height=lambda *_: self._size_band())
        band.add_widget(ReaderArrow())
        band.add_widget(words)
        band.add_widget(ReaderArrow())
        self.add_widget(band)
        self.status = StatusBar()
        self.add_widget(self.status)
        self._refit = Clock.create_trigger(lambda _dt: self._fit_menu())  # once laid out
        self.menu_box.bind(size=lambda *_: self._refit())

    def _size_band(self) -> None:
        """Taller, with larger words, on a taller panel (nothing more at 480 px, 128 px more at 800):
        the space goes to the call to tap, not to blank."""
        extra = max(0.0, (self.height - dp(480)) * 0.4)
        self.title.font_size = theme.font("huge") + extra * 0.25
        self.where.font_size = theme.font("normal") + extra * 0.06
        self.where.height = self.where.font_size * 1.4
        self.band.height = self.title.font_size * 1.3 + self.where.height + dp(12) + extra * 0.6

    def update(self) -> None:
        ui = self.ui
        ui.language_back_if_due()
        _ = ui._
        now = local(ui.clock())
        self.day.text, self.time.text = ui.format_day(now), now.strftime("%H:%M")
        self.title.text = _("Present your badge")
        self.where.text = _("on the reader below the screen")
        menu = ui.todays_menu()
        self.menu_title.text = _("Today's menu") if menu else ui.config.canteen.name
        text = "\n".join(f"[size={int(theme.font('normal'))}]{escape_markup(course)}[/size]  {escape_markup(dish)}"
                         for course, dish in menu)
        if text != self.menu.text:
            self.menu.text = text
            self._refit()
        self.cashier.text = _("Cashier")
        self.language.text = _("English") if ui.language == "fr" else _("Français")
        self.status.update(ui.status)

    def _fit_menu(self) -> None:
        """The menu at the largest size that fits its box (measured when the menu or the box changed)."""
        room = self.menu_box.height - self.menu_title.height - dp(8)
        self.menu.text_size = (self.menu_box.width, None)
        for size in self.MENU_SIZES:
            self.menu.font_size = size
            self.menu.texture_update()
            if self.menu.texture_size[1] + theme.font("small") <= room:
                break


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


class VerdictOverlay(FloatLayout):
    """Holds a pupil's verdict above a cashier screen. Every touch on it stops here, so a finger
    meant for a cashier's button never presses what the verdict hides; once the pupil has had a
    moment to read, a touch hands the screen back to the cashier. It paints the verdict's
    background itself: a verdict view in full screen leaves that to the window's clear colour,
    which the cashier's screen covers here."""

    def __init__(self, on_touch: Callable[[], None]) -> None:
        super().__init__(pos_hint={"x": 0, "y": 0})
        self._on_touch = on_touch
        with self.canvas.before:
            self._colour = Color(0, 0, 0, 1)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=lambda *_: setattr(self._rect, "pos", self.pos),
                  size=lambda *_: setattr(self._rect, "size", self.size))

    def paint(self, colour) -> None:
        self._colour.rgba = colour

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        self._on_touch()
        return True

    def on_touch_move(self, touch) -> bool:
        return self.collide_point(*touch.pos)

    def on_touch_up(self, touch) -> bool:
        return self.collide_point(*touch.pos)
