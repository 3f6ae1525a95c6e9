"""What the cashier sees for the day's exceptions: find the pupil, the form (what to choose, the
reason), the outcome. Built from `KioskUI.exception` (`exception_flow.ExceptionState`) like the
cashier's other screens; the reason's field and the button that confirms sit at the top of the
form, above the docked on-screen keyboard."""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from domain.messages import N_
from domain.money import format_chf

from . import theme
from .cashier_screens import _frame, pupil_row, results_list
from .widgets import Text, TouchButton

SERVE, BLOCK, CANCEL_MEAL = "serve", "block", "cancel_meal"
TITLES = {SERVE: N_("Serve without badge"), BLOCK: N_("Block a lost badge"), CANCEL_MEAL: N_("Cancel a meal")}
# The short list of reasons each exception offers (msgids); any other can be typed.
REASONS = {
    SERVE: (N_("Badge forgotten"), N_("Badge damaged"), N_("No badge yet")),
    BLOCK: (N_("Badge lost"), N_("Badge stolen"), N_("Badge broken")),
    CANCEL_MEAL: (N_("Served by mistake"), N_("Meal not taken"), N_("Wrong pupil")),
}
ACTIONS = {SERVE: N_("Serve the meal"), BLOCK: N_("Block the badge"), CANCEL_MEAL: N_("Cancel the meal")}


def exception_find_screen(ui) -> Widget:
    """Type part of the pupil's name (the pupil has no badge at hand)."""
    _ = ui._
    state = ui.exception
    root, body = _frame(ui, _(TITLES[state.kind]), back=ui.back_to_menu)
    field = TextInput(text=state.typed, multiline=False, font_size=theme.font("large"), size_hint_y=None,
                      height=theme.touch_target() * 1.3, hint_text=_("Pupil's name or class"))
    field.bind(text=lambda _f, text: ui.exception_search(text))
    body.add_widget(field)
    ui.results_box = results_list(body)
    show_results(ui)
    ui.focus_later(field)
    return root


def show_results(ui) -> None:
    """Refill the list in place, so the field keeps its focus while typing."""
    _ = ui._
    state, results = ui.exception, ui.results_box
    results.clear_widgets()
    for pupil in state.found:
        results.add_widget(pupil_row(pupil, lambda p=pupil: ui.exception_pupil(p)))
    if state.typed.strip() and not state.found:
        results.add_widget(Text(_("No pupil matches '{text}'.").format(text=state.typed), colour=theme.MUTED))


def exception_screen(ui) -> Widget:
    """The pupil, the reason and the button first (above the keyboard), then what to choose."""
    _ = ui._
    state = ui.exception
    pupil = state.pupil
    root, body = _frame(ui, _(TITLES[state.kind]), back=ui.exception_back_to_find)
    body.add_widget(Text(f"{pupil.first_name} {pupil.last_name} — {pupil.class_name}", size="large", bold=True))
    row = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.3, spacing=dp(8))
    field = TextInput(text=state.reason, multiline=False, font_size=theme.font("normal"), size_hint_x=0.55,
                      hint_text=_("Reason (required)"))
    field.bind(text=lambda _f, text: setattr(state, "reason", text))
    field.bind(on_text_validate=lambda _f: ui.confirm_exception())
    row.add_widget(field)
    row.add_widget(TouchButton(_(ACTIONS[state.kind]), ui.confirm_exception, size_hint_x=0.45,
                               colour=theme.GREEN if state.kind == SERVE else theme.RED))
    body.add_widget(row)
    reasons = GridLayout(cols=3, spacing=dp(6), size_hint_y=None, height=theme.touch_target() * 1.3)
    for reason in REASONS[state.kind]:
        text = _(reason)
        reasons.add_widget(TouchButton(text, lambda t=text: ui.exception_reason(t), size="small",
                                       colour=theme.GREEN if state.reason == text else theme.MUTED))
    body.add_widget(reasons)
    if state.kind != SERVE:
        _choices(ui, body)
    body.add_widget(Widget())
    return root


def _choices(ui, body) -> None:
    """The badge to block or the meal to cancel, the chosen one in green."""
    _ = ui._
    state = ui.exception
    if not state.options:
        body.add_widget(Text(_("No active badge: nothing to block.") if state.kind == BLOCK
                             else _("No meal of today at this kiosk to cancel."), colour=theme.MUTED))
        return
    body.add_widget(Text(_("Which badge?") if state.kind == BLOCK else _("Which meal?"), colour=theme.MUTED))
    grid = GridLayout(cols=3, spacing=dp(6), size_hint_y=None)
    grid.bind(minimum_height=grid.setter("height"))
    for option in state.options:
        if state.kind == BLOCK:
            label = option
        else:
            label = _("{time} · {price}").format(time=ui.format_time(option.occurred_at),
                                                  price=format_chf(-option.amount_cents))
        grid.add_widget(TouchButton(label, lambda o=option: ui.exception_choose(o),
                                    colour=theme.GREEN if option == state.choice else theme.BUTTON))
    body.add_widget(grid)


def exception_done_screen(ui) -> Widget:
    """The outcome in words (served or not, blocked, cancelled), its first line in green or red."""
    _ = ui._
    state = ui.exception
    root, body = _frame(ui, state.title)
    for number, line in enumerate(state.lines):
        outcome = theme.GREEN if state.done_ok else theme.RED
        body.add_widget(Text(line, size="large", bold=number == 0, colour=outcome if number == 0 else theme.INK))
    body.add_widget(Widget())
    row = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.3, spacing=dp(8))
    row.add_widget(TouchButton(_(TITLES[state.kind]), lambda: ui.start_exception(state.kind)))
    row.add_widget(TouchButton(_("Done"), ui.back_to_menu, colour=theme.MUTED))
    body.add_widget(row)
    return root


SCREENS = {"exception_find": exception_find_screen, "exception": exception_screen,
           "exception_done": exception_done_screen}
