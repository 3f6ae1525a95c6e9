"""Small widgets the screens share: coloured panels, labels that wrap, a message line, touch
buttons, a keypad."""

from __future__ import annotations

from collections.abc import Callable

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from . import theme


class Panel(BoxLayout):
    """A box with a solid background colour (the verdict screen is one, green or red)."""

    def __init__(self, colour=theme.BACKGROUND, **kwargs) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*colour)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_args) -> None:
        self._rect.pos, self._rect.size = self.pos, self.size


class Text(Label):
    """A label that wraps within its width and grows to its text's height; or, with `lines`, a
    fixed box of that many lines whose texture keeps one size whatever the text; or, with
    `one_line`, one centred line whose texture is just the text.

    The fixed box is for texts that change at every tap: on software GL (Mesa llvmpipe) each new
    texture size costs memory never given back, and each texel is uploaded at every change, so
    the box is only as big as the text may need. `one_line` is for large words that seldom change
    (the idle screen's call to tap): a texture the size of their box would be memory for nothing.
    """

    def __init__(self, text: str = "", size: str = "normal", colour=theme.INK, bold: bool = False,
                 halign: str = "center", lines: int | None = None, one_line: bool = False, **kwargs) -> None:
        kwargs.setdefault("size_hint_y", None)
        if lines is not None:
            kwargs["height"] = theme.font(size) * 1.25 * lines + theme.font("small")
        super().__init__(text=text, font_size=theme.font(size), color=colour, bold=bold, halign=halign,
                         valign="middle", **kwargs)
        if one_line:
            return  # no text_size: the texture fits the text, drawn at the box's centre
        if lines is not None:
            self.bind(size=lambda *_: setattr(self, "text_size", self.size))
        elif self.size_hint_y is None:  # as tall as its text
            self.bind(width=lambda *_: setattr(self, "text_size", (self.width, None)),
                      texture_size=lambda *_: setattr(self, "height", self.texture_size[1] + theme.font("small")))
        else:  # a share of its parent
            self.bind(size=lambda *_: setattr(self, "text_size", self.size))


class MessageLine(Label):
    """One line of fixed height for a screen's message, empty or not, so that nothing below it
    moves when a message comes; a long message takes a smaller font, then two lines, but never
    more room."""

    def __init__(self, text: str = "", colour=theme.MUTED, **kwargs) -> None:
        super().__init__(text=text, font_size=theme.font("normal"), color=colour, bold=True, halign="center",
                         valign="middle", size_hint_y=None, height=theme.message_line(), **kwargs)
        self.bind(size=self._fit, text=self._fit)

    def _fit(self, *_args) -> None:
        self.text_size = (self.width, None)  # the text's own height at this width
        for font_size in (theme.font("normal"), theme.font("small"), self.height / 2.6):
            self.font_size = font_size
            self.texture_update()
            if self.texture_size[1] <= self.height:
                break
        self.text_size = self.size


class TouchButton(Button):
    def __init__(self, text: str, on_press: Callable[[], None] | None = None, size: str = "normal",
                 colour=theme.BUTTON, **kwargs) -> None:
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", theme.touch_target() * 1.3)
        kwargs.setdefault("color", theme.WHITE)  # ink on light colours (amber): white there reads at 1.7:1
        super().__init__(text=text, font_size=theme.font(size), background_normal="", background_color=colour,
                         **kwargs)
        if on_press is not None:
            self.bind(on_release=lambda *_: on_press())


class Keypad(GridLayout):
    """Digits in phone order (1-2-3 on top, as on touch screens), a decimal point and a back key;
    each press calls `on_key` with '0'-'9', '.' or '<'."""

    KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "0", "<")

    def __init__(self, on_key: Callable[[str], None], *, decimal: bool = True, **kwargs) -> None:
        super().__init__(cols=3, spacing=dp(6), **kwargs)
        for key in self.KEYS:
            if key == "." and not decimal:
                self.add_widget(Label())
                continue
            button = TouchButton(key, size="large", size_hint_y=1, colour=theme.MUTED if key == "<" else theme.BUTTON)
            button.bind(on_release=lambda _b, k=key: on_key(k))
            self.add_widget(button)


def edit(text: str, key: str, *, max_length: int = 10) -> str:
    """The text after one keypad press."""
    if key == "<":
        return text[:-1]
    return text + key if len(text) < max_length else text
