"""Driving the Kivy kiosk screen with no display: SDL's offscreen driver renders for real (Mesa).

Import this module before anything imports Kivy: it sets Kivy's environment (no argument
parsing, no log files, a throw-away home). One window per test process; each test builds its own
`KioskUI` and puts its root in the window. A focused text field docks Kivy's on-screen keyboard at
the bottom of the window, as `refectory kiosk run` does on the kiosk's touch screen.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", KIVY_USE_DEFAULTCONFIG="1",
                  KIVY_HOME=os.environ.get("KIVY_HOME") or tempfile.mkdtemp(prefix="kivy-home-"))

from kivy.config import Config

WINDOW_SIZE = tuple(int(n) for n in os.environ.get("REFECTORY_TEST_WINDOW", "1280x800").split("x"))
Config.set("graphics", "width", str(WINDOW_SIZE[0]))  # the offscreen window cannot be resized later
Config.set("graphics", "height", str(WINDOW_SIZE[1]))
Config.set("kivy", "keyboard_mode", "dock")  # as on the kiosk (kiosk_ui/run.py)

from kivy.base import EventLoop  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402
from kivy.uix.button import Button  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.textinput import TextInput  # noqa: E402
from kivy.uix.vkeyboard import VKeyboard  # noqa: E402

SCREENS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts" / "screens"




def window():
    EventLoop.ensure_window()
    return Window


def show(root) -> None:
    """Put a screen's root in the window, full size."""
    Window.add_widget(root)
    root.size = Window.size


def hide(root) -> None:
    """Take a screen's root out of the window, with any keyboard its fields docked (the window
    serves the next test)."""
    Window.release_all_keyboards()
    Window.remove_widget(root)


def pump(until=None, timeout: float = 30.0) -> None:
    """Let the Clock run (callbacks from other threads arrive through it) until `until()` holds."""
    deadline = time.monotonic() + timeout
    while True:
        EventLoop.idle()
        if until is None or until():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s for {until}")
        time.sleep(0.005)


def widgets(root, kind=object):
    return [w for w in root.walk(restrict=True) if isinstance(w, kind)]


def texts(root) -> list[str]:
    """Every label's text on screen, buttons excluded, top to bottom."""
    return [w.text for w in widgets(root, Label) if not isinstance(w, Button) and w.text.strip()]


def button(root, text: str) -> Button:
    found = [w for w in widgets(root, Button) if w.text == text]
    assert found, f"no button {text!r} among {[w.text for w in widgets(root, Button)]}"
    return found[0]


def press(widget) -> None:
    """A finger on the widget's centre, through the window like a real touch."""
    pump()  # a screen just built is laid out at the next frame
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    pump()


def docked_keyboard() -> VKeyboard | None:
    """The on-screen keyboard when one is docked in the window."""
    return next((w for w in Window.children if isinstance(w, VKeyboard)), None)


def under_keyboard(root) -> list[str]:
    """The texts of the buttons on screen that the docked keyboard covers, even in part."""
    keyboard = docked_keyboard()
    if keyboard is None:
        return []
    pump()
    return [w.text for w in widgets(root, Button)
            if w.get_parent_window() and w.width > 1 and w.to_window(*w.pos)[1] < keyboard.top]


def keyboard_enter() -> None:
    """The docked keyboard's Enter key, as its key sends it (the field keeps its focus)."""
    keyboard = docked_keyboard()
    for event in ("on_key_down", "on_key_up"):
        keyboard.dispatch(event, "enter", None, [])
    pump()


def focused_field() -> TextInput | None:
    return next((w for child in Window.children for w in widgets(child, TextInput) if w.focus), None)


def type_text(text: str) -> None:
    """Keys into the focused field, as a keyboard (or the docked on-screen one) sends them. A
    screen just built focuses its field at the next frame: wait for it."""
    pump(lambda: focused_field() is not None)
    field = focused_field()
    for char in text:
        field.insert_text(char)
    pump()


def screenshot(name: str) -> Path:
    """The window as test-artifacts/screens/<name>.png, replaced at each run (`Window.screenshot`
    adds a numbered copy instead, so the folder kept every run's screens)."""
    from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels
    from PIL import Image

    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    pump()
    width, height = Window.size
    picture = Image.frombytes("RGB", (width, height), glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE))
    path = SCREENS_DIR / f"{name}.png"
    picture.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(path, compress_level=1)
    return path


def colour_at(picture: Path, x: float, y: float) -> tuple[int, int, int]:
    """The colour of a screenshot at (x, y) as fractions of its width and height from the top left."""
    from PIL import Image

    with Image.open(picture) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((int(x * (rgb.width - 1)), int(y * (rgb.height - 1))))


@contextmanager
def kiosk_on_screen(data_dir: Path, *, printer=None, clock=None, language: str = "fr", **options):
    """The kiosk screen of `data_dir` in the window, started, with a virtual reader: its printer
    is `printer`, else the one `kiosk.toml` names; its clock reads Monday noon unless given. Stopped
    and taken out of the window afterwards (the window serves the next test)."""
    from hardware.printer import open_printer
    from hardware.readers import VirtualReader
    from kiosk.config import load_config
    from kiosk_ui.app import KioskUI

    from .conftest import MONDAY_NOON

    window()
    config = load_config(data_dir)
    ui = KioskUI(data_dir, config, reader=VirtualReader(),
                 printer=printer if printer is not None else open_printer(config.printer.connection),
                 clock=clock or (lambda: MONDAY_NOON), language=language, **options)
    show(ui.root)
    ui.start()
    try:
        yield ui
    finally:
        ui.stop()
        hide(ui.root)
