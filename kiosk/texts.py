"""Human-readable lines for counter results, shared by the CLI and the demo (UI layer)."""

from __future__ import annotations

from collections.abc import Callable

from babel.dates import format_date

from domain.cash_report import CashReport
from domain.i18n import chosen_language
from domain.meals import Refusal, Verdict
from domain.messages import N_, Message
from domain.money import format_chf

from .service import Reversal, TapResult, TopUp

Gettext = Callable[[str], str]


def tap_lines(result: TapResult, _: Gettext) -> list[str]:
    """The screen's verdict as text: its shape, the first name and the main line, then the balance
    and the hints on lines of their own."""
    verdict = result.verdict
    name = f"{verdict.pupil.first_name} · " if verdict.pupil else ""
    balance = verdict.balance_line()
    return [f"{verdict_mark(verdict)} {name}{verdict.message.render(_)}",
            *([f"  {balance.render(_)}"] if balance else []), *(f"  ▶ {h.render(_)}" for h in verdict.hints())]


def verdict_mark(verdict: Verdict) -> str:
    """✔ served, ✘ refused, ! when the kiosk itself failed (the tap was not the child's fault)."""
    return "✔" if verdict.served else "!" if verdict.reason is Refusal.KIOSK_FAULT else "✘"


def tap_payload(result: TapResult, _: Gettext) -> dict:
    """A tap as one JSON-ready object (CLI `tap --json`, `listen`)."""
    verdict = result.verdict
    balance = verdict.balance_line()
    return {
        "served": verdict.served,
        "reason": verdict.reason and str(verdict.reason),
        "message": verdict.message.render(_),
        "balance_line": balance.render(_) if balance else None,
        "hints": [h.render(_) for h in verdict.hints()],
        "uid": result.uid,
        "pupil_id": verdict.pupil.pupil_id if verdict.pupil else None,
        "first_name": verdict.pupil.first_name if verdict.pupil else None,
        "price_cents": verdict.price_cents,
        "balance_cents": verdict.balance_cents,
        "special_meal": verdict.special_meal,
        "low_balance": verdict.low_balance,
        "without_reservation": verdict.without_reservation,
        "service_date": verdict.service_date.isoformat(),
        "entry_id": result.entry.id if result.entry else None,
    }


def topup_lines(done: TopUp, _: Gettext) -> list[str]:
    pupil = done.pupil
    return [
        _("Receipt no. {receipt_no}: {amount} credited to {name} ({class_name}).").format(
            receipt_no=done.receipt_no, amount=format_chf(done.entry.amount_cents),
            name=f"{pupil.first_name} {pupil.last_name}", class_name=pupil.class_name),
        _("New balance: {balance}").format(balance=format_chf(done.balance_cents)),
    ]


def reversal_lines(done: Reversal, _: Gettext) -> list[str]:
    pupil = done.pupil
    name = f"{pupil.first_name} {pupil.last_name}" if pupil else done.entry.account_id
    lines = [_("Cancelled: {amount} for {name}; new balance {balance}.").format(
        amount=format_chf(abs(done.original.amount_cents)), name=name, balance=format_chf(done.balance_cents))]
    if done.receipt_no is not None:
        lines.append(_("Cancellation receipt no. {receipt_no}: hand back {amount}.").format(
            receipt_no=done.receipt_no, amount=format_chf(-done.entry.amount_cents)))
    return lines


def report_lines(report: CashReport, _: Gettext, language: str | None = None) -> list[str]:
    """The day's report, its day in words; a cashier's figures one per line, so that no narrow
    screen ever breaks a line between "CHF" and its amount."""
    day = format_date(report.day, format="full", locale=language or chosen_language())
    lines = [_("Cash report {day} — kiosk {kiosk_id}").format(day=day, kiosk_id=report.kiosk_id)]
    for row in report.cashiers:
        lines += [f"  {row.name} ({row.cashier_id})",
                  _("    top-ups ({count}): {amount}").format(count=row.topup_count,
                                                              amount=format_chf(row.topup_cents)),
                  _("    cancelled ({count}): {amount}").format(count=row.reversal_count,
                                                                amount=format_chf(row.reversal_cents)),
                  _("    net: {amount}").format(amount=format_chf(row.net_cents))]
    lines.append(_("Net cash: {net}").format(net=format_chf(report.net_cents)))
    lines.append(counted_line(report, _))
    lines.append(_("Meals served: {served} (cancelled: {cancelled})").format(
        served=report.meals_served, cancelled=report.meals_cancelled))
    return lines


def counted_line(report: CashReport, _: Gettext) -> str:
    """The drawer's count against the net cash, the difference said in words when there is one."""
    difference = report.difference_cents
    if difference is None:
        return _("Counted in the drawer: not yet")
    counted = format_chf(report.count.counted_cents)
    if difference == 0:
        return _("Counted in the drawer: {counted}, as expected").format(counted=counted)
    template = _("Counted in the drawer: {counted}, {amount} missing") if difference < 0 else \
        _("Counted in the drawer: {counted}, {amount} too much")
    return template.format(counted=counted, amount=format_chf(abs(difference)))


PRINTER_KINDS = {"usb": N_("USB"), "network": N_("network"), "serial": N_("serial cable"), "file": N_("file"),
                 "virtual": N_("demo printer")}


def on_screen(message: Message, _: Gettext) -> str:
    """A printer's message for the screen: the connection named in words ("réseau", "USB"), not
    as the configuration writes it ("network:10.0.0.7:9100"), which the log keeps."""
    connection = message.params.get("connection")
    if not isinstance(connection, str):
        return message.render(_)
    kind = PRINTER_KINDS.get(connection.partition(":")[0])
    words = Message(kind) if kind else Message(N_("the configured connection"))
    return Message(message.template, {**message.params, "connection": words}).render(_)
