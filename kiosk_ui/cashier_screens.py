"""What the cashier sees: who unlocks, the PIN pad, the cashier menu, find the pupil, amount,
confirm, done, cancel the last top-up, the day's report. Each function builds one screen from the
UI's current state; every action goes back to `KioskUI`, which runs it on the desk's thread."""

from __future__ import annotations

from collections.abc import Callable

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from domain.money import format_chf
from kiosk.cashier_desk import NOTHING_TO_CANCEL, QUICK_AMOUNTS_CENTS
from kiosk.texts import counted_line, on_screen, report_lines

from . import keyboard, theme
from .widgets import Keypad, MessageLine, Panel, Text, TouchButton

PIN_MASK = "\u2022"  # •, which Roboto has (● is not in it and draws as a box)


def _frame(ui, title: str, *, back=None, hint: str = "") -> tuple[Panel, BoxLayout]:
    """A cashier screen: a title bar (with a back button, and while a session is open the
    cashier's name and the lock: an open session never looks like the counter), then the body,
    which opens on a line of fixed height: the problem when there is one, else the screen's hint."""
    _ = ui._
    root = Panel(orientation="vertical", padding=dp(12), spacing=dp(8))
    bar = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.2, spacing=dp(8))
    if back is not None:
        bar.add_widget(TouchButton(_("Back"), back, size="small", colour=theme.MUTED, size_hint_x=0.2,
                                   height=theme.touch_target() * 1.2))
    bar.add_widget(Text(title, size="large", bold=True, size_hint_y=1))
    if ui.desk.session is not None:
        session = Panel(colour=theme.AMBER, size_hint_x=0.36, padding=(dp(6), 0, 0, 0), spacing=dp(6))
        session.add_widget(Text(ui.desk.session.name, size="small", bold=True, size_hint_y=1, max_lines=2))
        session.add_widget(TouchButton(_("Lock"), ui.close_cashier, size="small", colour=theme.INK, size_hint_x=1.2,
                                       height=theme.touch_target() * 1.2))
        bar.add_widget(session)
    root.add_widget(bar)
    body = BoxLayout(orientation="vertical", spacing=dp(8))
    root.message = MessageLine(ui.problem or hint, colour=theme.RED if ui.problem else theme.MUTED)
    root.hint = hint
    body.add_widget(root.message)
    root.add_widget(body)
    return root, body


def _chf_typed(ui) -> str:
    return f"CHF {ui.typed}" if ui.typed else ""


def _typed_line(ui, screen: str, root: Panel, render: Callable[[], tuple[str, bool]], size: str) -> Text:
    """The line a keypad types into, `render()` giving its text and whether it is bold. A key
    changes this line and the message line in place (`KioskUI.show_typed`): building the whole
    screen again for each key pressed was most of a keypress's time."""
    text, bold = render()
    line = Text(text, size=size, bold=bold)

    def update() -> None:
        line.text, line.bold = render()
        root.message.text = ui.problem or root.hint
        root.message.color = theme.RED if ui.problem else theme.MUTED

    ui.typed_line = (screen, update)
    return line


def _keyboard_room(body: BoxLayout) -> None:
    """Keep the docked keyboard's height free at the bottom of a screen with a text field. The
    screen's bottom padding and the gap above this spacer are under the keyboard too."""
    body.add_widget(Widget(size_hint_y=None, height=keyboard.height() - body.parent.padding[3] - body.spacing))


def results_list(body: BoxLayout) -> GridLayout:
    """The found pupils under a search field: two columns that scroll, above the keyboard's room."""
    results = GridLayout(cols=2, spacing=dp(4), size_hint_y=None)
    results.bind(minimum_height=results.setter("height"))
    scroll = ScrollView()
    scroll.add_widget(results)
    body.add_widget(scroll)
    _keyboard_room(body)
    return results


def unlock_screen(ui) -> Widget:
    """Who unlocks: a name, or a cashier's badge; either brings up the PIN pad."""
    _ = ui._
    root, body = _frame(ui, _("Cashier: who are you?"), back=ui.close_cashier,
                        hint=_("Or tap your cashier badge on the reader."))
    grid = GridLayout(cols=2, spacing=dp(8), size_hint_y=None)
    grid.bind(minimum_height=grid.setter("height"))
    for cashier_id, name in ui.desk.cashiers():
        grid.add_widget(TouchButton(name, lambda c=cashier_id: ui.choose_cashier(c)))
    body.add_widget(grid)
    body.add_widget(Widget())
    return root


def pin_screen(ui) -> Widget:
    """The PIN pad, wherever the desk asks for it: what the PIN will do on the left (open cashier
    mode, or the amount and the drawer), the keypad on the right; no text field, so no on-screen
    keyboard covers it."""
    _ = ui._
    request = ui.pin_request
    root, body = _frame(ui, _("PIN for {name}").format(name=request.asked.cashier_name), back=request.back)
    columns = BoxLayout(spacing=dp(12))
    left = BoxLayout(orientation="vertical", spacing=dp(6))
    left.add_widget(Text(request.asked.render(_), size="large", bold=True))
    left.add_widget(_typed_line(ui, "pin", root, lambda: (PIN_MASK * len(ui.pin_typed) or " ", False), "huge"))
    left.add_widget(Widget())
    left.add_widget(TouchButton(_(request.button), ui.submit_pin, colour=theme.GREEN))
    columns.add_widget(left)
    columns.add_widget(Keypad(ui.pin_key, decimal=False))
    body.add_widget(columns)
    return root


def cashier_menu_screen(ui) -> Widget:
    _ = ui._
    root, body = _frame(ui, _("Cashier: {name}").format(name=ui.desk.session.name), back=ui.close_cashier)
    for text, action in ((_("Cash top-up"), ui.start_topup), (_("Cancel the last operation"), ui.start_cancel),
                         (_("End-of-day report"), ui.show_report)):
        body.add_widget(TouchButton(text, action, size="large"))
    exceptions = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.3, spacing=dp(8))
    for text, kind in ((_("Serve without badge"), "serve"), (_("Block a lost badge"), "block"),
                       (_("Cancel a meal"), "cancel_meal")):
        exceptions.add_widget(TouchButton(text, lambda k=kind: ui.start_exception(k)))
    body.add_widget(exceptions)
    body.add_widget(Widget())
    return root


def find_screen(ui) -> Widget:
    """Type part of a name with the on-screen keyboard, or ask for one read of the pupil's badge
    (until then a badge on the reader is a meal tap from the queue). The badge step takes the
    field's row while it waits, so nothing moves and the typed text comes back with the field.
    The results in two columns of rows one touch target high: four show above the keyboard at 800×480."""
    _ = ui._
    root, body = _frame(ui, _("Find the pupil"), back=ui.back_to_menu,
                        hint=_("Type a name, or read the pupil's badge."))
    row = Panel(colour=theme.AMBER if ui.badge_armed else theme.BACKGROUND, size_hint_y=None,
                height=theme.touch_target(), spacing=dp(8))
    field = None
    if ui.badge_armed:
        row.add_widget(Text(_("Present the badge of the pupil to credit"), bold=True, size_hint_y=1))
        row.add_widget(TouchButton(_("Cancel"), ui.cancel_badge_step, colour=theme.MUTED, size_hint_x=0.4,
                                   height=theme.touch_target()))
    else:
        field = TextInput(text=ui.typed, multiline=False, font_size=theme.font("normal"), hint_text=_("Name or class"))
        field.bind(text=lambda _f, text: ui.search(text))
        row.add_widget(field)
        row.add_widget(TouchButton(_("Read the pupil's badge"), ui.read_pupil_badge, size_hint_x=0.65,
                                   height=theme.touch_target()))
    body.add_widget(row)
    ui.results_box = results_list(body)
    show_results(ui)
    if field is not None:
        ui.focus_later(field)
    return root


def pupil_row(pupil, choose) -> TouchButton:
    """A pupil found by name, one line whatever the name's length (a long one ends in …, inside)."""
    row = TouchButton(f"{pupil.first_name} {pupil.last_name} — {pupil.class_name}", choose, colour=theme.BUTTON,
                      height=theme.touch_target(), halign="center", valign="middle", shorten=True,
                      shorten_from="center")
    row.bind(size=lambda button, size: setattr(button, "text_size", size))
    return row


def show_results(ui) -> None:
    """Refill the find screen's list in place, so the field keeps its focus while typing."""
    _ = ui._
    results = ui.results_box
    results.clear_widgets()
    for pupil in ui.found:
        results.add_widget(pupil_row(pupil, lambda p=pupil: ui.choose_pupil(p)))
    if ui.typed.strip() and not ui.found:
        results.add_widget(Text(_("No pupil matches '{text}'.").format(text=ui.typed), colour=theme.MUTED))


def amount_screen(ui) -> Widget:
    """The amount on the left (typed, or a quick amount), the keypad on the right: fits 800×480."""
    _ = ui._
    pupil = ui.pupil
    root, body = _frame(ui, f"{pupil.first_name} {pupil.last_name} ({pupil.class_name})", back=ui.start_topup)
    columns = BoxLayout(spacing=dp(12))
    left = BoxLayout(orientation="vertical", spacing=dp(6))
    left.add_widget(Text(_("Balance: {balance}").format(balance=format_chf(ui.pupil_balance)), colour=theme.MUTED))
    left.add_widget(_typed_line(ui, "amount", root, lambda: (_chf_typed(ui) or _("Amount in CHF"), True), "huge"))
    quick = GridLayout(cols=2, spacing=dp(6), size_hint_y=None, height=theme.touch_target() * 2.6 + dp(6))
    for cents in QUICK_AMOUNTS_CENTS:
        quick.add_widget(TouchButton(str(cents // 100), lambda c=cents: ui.quick_amount(c), size="large"))
    left.add_widget(quick)
    left.add_widget(Widget())
    left.add_widget(TouchButton(_("Continue"), ui.submit_amount, colour=theme.GREEN))
    columns.add_widget(left)
    columns.add_widget(Keypad(ui.amount_key))
    body.add_widget(columns)
    return root


def confirm_screen(ui) -> Widget:
    _ = ui._
    pupil = ui.pupil
    root, body = _frame(ui, _("Confirm the top-up"), back=ui.back_to_amount)
    body.add_widget(Text(f"{pupil.first_name} {pupil.last_name} — {pupil.class_name}", size="large"))
    body.add_widget(Text(_("Cash received: {amount}").format(amount=format_chf(ui.preview.cents)), size="huge",
                         bold=True))
    body.add_widget(Text(_("New balance: {balance}").format(balance=format_chf(ui.preview.balance_after_cents)),
                         size="large"))
    body.add_widget(Widget())
    body.add_widget(TouchButton(_("Confirm"), ui.confirm_topup, size="large", colour=theme.GREEN))
    return root


def done_screen(ui) -> Widget:
    """After a committed operation: what was done, and whether the receipt printed."""
    _ = ui._
    outcome = ui.outcome
    root, body = _frame(ui, ui.done_title)
    for line in ui.done_lines:
        body.add_widget(Text(line, size="large"))
    printed = outcome.printed if outcome is not None else None
    if printed is not None and printed.printed:
        body.add_widget(Text(_("Receipt printed."), colour=theme.GREEN, bold=True))
    elif printed is not None:
        body.add_widget(Text(_("Receipt NOT printed: {problem}").format(problem=on_screen(printed.problem, _)),
                             colour=theme.RED, bold=True))
        body.add_widget(Text(_("The operation is recorded. Fix the printer, then reprint."), colour=theme.RED))
        body.add_widget(TouchButton(_("Reprint"), ui.reprint_last, colour=theme.AMBER, color=theme.INK))
    body.add_widget(Widget())
    row = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.3, spacing=dp(8))
    row.add_widget(TouchButton(_("New top-up"), ui.start_topup))
    row.add_widget(TouchButton(_("Done"), ui.back_to_menu, colour=theme.MUTED))
    body.add_widget(row)
    return root


def cancel_screen(ui) -> Widget:
    _ = ui._
    root, body = _frame(ui, _("Cancel the last operation"), back=ui.back_to_menu)
    last = ui.last_topup
    if last is None:
        body.add_widget(Text(_(NOTHING_TO_CANCEL)))
        body.add_widget(Widget())
        return root
    body.add_widget(Text(_("Top-up of {amount} to {name}, at {time}").format(
        amount=format_chf(last.amount_cents), name=ui.last_topup_name, time=ui.format_time(last.occurred_at))))
    # The button beside the field, both above the docked keyboard's room.
    row = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.3, spacing=dp(8))
    field = TextInput(text=ui.typed, multiline=False, font_size=theme.font("normal"), size_hint_x=0.55,
                      hint_text=_("Reason (required)"))
    field.bind(text=lambda _f, text: setattr(ui, "typed", text))
    field.bind(on_text_validate=lambda _f: ui.confirm_cancel())  # the keyboard's Enter key does the same
    row.add_widget(field)
    row.add_widget(TouchButton(_("Cancel it and hand back the cash"), ui.confirm_cancel, colour=theme.RED,
                               size_hint_x=0.45))
    body.add_widget(row)
    body.add_widget(Widget())
    _keyboard_room(body)
    ui.focus_later(field)
    return root


def report_screen(ui) -> Widget:
    """The day's report on the left (scrolling when long), with the drawer's count typed on the
    keypad on the right, as the amount screen does: fits 800×480 and needs no keyboard."""
    _ = ui._
    # the count's outcome on the frame's message line, which never scrolls away on a small panel
    root, body = _frame(ui, _("End-of-day report"), back=ui.back_to_menu, hint=counted_line(ui.report, _))
    columns = BoxLayout(spacing=dp(12))
    left = BoxLayout(orientation="vertical", spacing=dp(6))
    lines = BoxLayout(orientation="vertical", size_hint_y=None)
    lines.bind(minimum_height=lines.setter("height"))
    for line in report_lines(ui.report, _, ui.language):
        lines.add_widget(Text(line, size="small", halign="left"))
    scroll = ScrollView()
    scroll.add_widget(lines)
    left.add_widget(scroll)
    left.add_widget(_typed_line(ui, "report", root,
                                lambda: (_chf_typed(ui) or _("Cash counted in the drawer, in CHF"), bool(ui.typed)),
                                "large"))
    row = BoxLayout(size_hint_y=None, height=theme.touch_target() * 1.3, spacing=dp(8))
    row.add_widget(TouchButton(_("Record the count"), ui.submit_count, colour=theme.GREEN))
    row.add_widget(TouchButton(_("Print the report"), ui.print_report))
    left.add_widget(row)
    columns.add_widget(left)
    columns.add_widget(Keypad(ui.count_key, size_hint_x=0.6))
    body.add_widget(columns)
    return root


SCREENS = {"unlock": unlock_screen, "pin": pin_screen, "cashier": cashier_menu_screen, "find": find_screen,
           "amount": amount_screen, "confirm": confirm_screen, "done": done_screen, "cancel": cancel_screen,
           "report": report_screen}
