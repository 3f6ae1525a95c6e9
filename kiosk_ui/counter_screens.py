"""What the pupils see: the idle screen ("Présentez votre badge") and the verdict after a tap."""

from __future__ import annotations

from dataclasses import dataclass

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle, Triangle
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

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
        self.menu_title = Text("", size="normal", bold=True, colour=theme.MUTED)
        self.menu = Text("", markup=True)
        for widget in (Widget(), self.menu_title, self.menu, Widget()):  # the menu in the middle of its room
            self.menu_box.add_widget(widget)
        self.add_widget(self.menu_box)
        band = Panel(colour=theme.BUTTON, size_hint_y=None, padding=(dp(12), dp(6)), spacing=dp(8))
        words = BoxLayout(orientation="vertical")
        self.title = Text("", size="huge", bold=True, colour=theme.WHITE, size_hint_y=1)
        self.where = Text("", size="normal", colour=theme.WHITE, size_hint_y=None, height=theme.font("normal") * 1.4)
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
