"""What the counter's receipts say: builders from committed facts to `domain.receipts.Receipt`.

Builders only read facts the service already returned (a committed `TopUp`, a `Reversal`, a
`CashReport`, a reprint's `ReceiptFacts`), so printing can fail, be retried or be repeated as a
duplicate without touching the ledger. Text goes through the gettext function `_` of the
counter's language, like `kiosk.texts`. Characters stay within code page 858 (no em dash, no
curly quotes) because that is what the printer is set to.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.cash_report import CashReport
from domain.clock import local
from domain.meals import Pupil
from domain.money import format_chf
from domain.receipts import Blank, Line, Receipt, Row, Rule, Style, Text

from .config import CanteenInfo
from .service import ReceiptFacts, Reversal, TopUp

Gettext = Callable[[str], str]


def when(moment: datetime) -> str:
    """Swiss wall-clock date and time in Europe/Zurich, e.g. `30.11.2026 12:00`."""
    return local(moment).strftime("%d.%m.%Y %H:%M")


def _header(canteen: CanteenInfo, title: str, duplicate: bool, _: Gettext) -> list[Line]:
    lines: list[Line] = [Text(canteen.name, Style.TITLE)]
    lines += [Text(part, Style.CENTER) for part in canteen.address if part.strip()]
    if canteen.phone.strip():
        lines.append(Text(canteen.phone, Style.CENTER))
    lines += [Rule(), Text(title, Style.TITLE)]
    if duplicate:
        lines.append(Text(_("Duplicate"), Style.CENTER))
    lines.append(Rule())
    return lines


def _identity(moment: datetime, kiosk_id: str, receipt_no: int | None, cashier_name: str, _: Gettext) -> list[Line]:
    lines: list[Line] = [Row(_("Date"), when(moment)), Row(_("Kiosk"), kiosk_id)]
    if receipt_no is not None:
        lines.append(Row(_("Receipt no."), str(receipt_no), bold=True))
    if cashier_name:
        lines.append(Row(_("Served by"), cashier_name))
    return lines


def _pupil(pupil: Pupil | None, account_id: str, _: Gettext) -> list[Line]:
    if pupil is None:
        return [Row(_("Pupil"), account_id)]
    return [Row(_("Pupil"), f"{pupil.first_name} {pupil.last_name}"), Row(_("Class"), pupil.class_name)]


def _footer(canteen: CanteenInfo) -> list[Line]:
    return [Rule(), Text(canteen.receipt_footer, Style.CENTER)] if canteen.receipt_footer.strip() else [Rule()]


def topup_receipt(done: TopUp, canteen: CanteenInfo, cashier_name: str, _: Gettext, *,
                  duplicate: bool = False) -> Receipt:
    """The receipt handed over with a cash top-up (printed after the commit)."""
    entry = done.entry
    lines = [
        *_header(canteen, _("Top-up receipt"), duplicate, _),
        *_identity(entry.occurred_at, entry.origin, done.receipt_no, cashier_name, _),
        Rule(),
        *_pupil(done.pupil, entry.account_id, _),
        Blank(),
        Row(_("Amount paid"), format_chf(entry.amount_cents), bold=True),
        Row(_("New balance"), format_chf(done.balance_cents)),
        *_footer(canteen),
    ]
    return Receipt(tuple(lines), done.receipt_no)


def reversal_receipt(done: Reversal, canteen: CanteenInfo, cashier_name: str, _: Gettext, *,
                     duplicate: bool = False) -> Receipt:
    """The receipt of a cancelled cash top-up: the cash handed back and the new balance."""
    entry, original = done.entry, done.original
    lines = [
        *_header(canteen, _("Cancellation"), duplicate, _),
        *_identity(entry.occurred_at, entry.origin, done.receipt_no, cashier_name, _),
        Row(_("Cancels receipt"), original.reference or original.id),
        Row(_("Reason"), entry.note or ""),
        Rule(),
        *_pupil(done.pupil, entry.account_id, _),
        Blank(),
        Row(_("Amount handed back"), format_chf(-entry.amount_cents), bold=True),
        Row(_("New balance"), format_chf(done.balance_cents)),
        Rule(),  # not the canteen's footer: "bon appétit" does not go with money handed back
    ]
    return Receipt(tuple(lines), done.receipt_no)


def reprint_receipt(facts: ReceiptFacts, canteen: CanteenInfo, _: Gettext) -> Receipt:
    """A duplicate of a receipt from `KioskService.receipt(receipt_no)` (says "Duplicate")."""
    if isinstance(facts.operation, Reversal):
        return reversal_receipt(facts.operation, canteen, facts.cashier_name, _, duplicate=True)
    return topup_receipt(facts.operation, canteen, facts.cashier_name, _, duplicate=True)


def cash_report_receipt(report: CashReport, canteen: CanteenInfo, _: Gettext, *,
                        printed_at: datetime | None = None) -> Receipt:
    """End-of-day cash report: each cashier's top-ups, cancellations and net, then the totals."""
    lines: list[Line] = [*_header(canteen, _("Cash report"), False, _),
                         Row(_("Day"), report.day.strftime("%d.%m.%Y")), Row(_("Kiosk"), report.kiosk_id)]
    if printed_at is not None:
        lines.append(Row(_("Printed"), when(printed_at)))
    for row in report.cashiers:
        lines += [
            Rule(),
            Text(f"{row.name} ({row.cashier_id})", Style.BOLD),
            Row(_("Top-ups ({count})").format(count=row.topup_count), format_chf(row.topup_cents)),
            Row(_("Cancelled ({count})").format(count=row.reversal_count), format_chf(-row.reversal_cents)),
            Row(_("Net"), format_chf(row.net_cents), bold=True),
        ]
    lines += [
        Rule("="),
        Row(_("Net cash"), format_chf(report.net_cents), bold=True),
        *([Row(_("Counted"), format_chf(report.count.counted_cents)),
           Row(_("Difference"), format_chf(report.difference_cents), bold=True)] if report.count else []),
        Row(_("Meals served"), str(report.meals_served)),
        Row(_("Meals cancelled"), str(report.meals_cancelled)),
        Rule(),
    ]
    return Receipt(tuple(lines))


def test_receipt(canteen: CanteenInfo, kiosk_id: str, now: datetime, _: Gettext) -> Receipt:
    """A page to check the printer: header, accents of the code page, an amount, the footer."""
    lines = [
        *_header(canteen, _("Printer test"), False, _),
        Row(_("Date"), when(now)),
        Row(_("Kiosk"), kiosk_id),
        Rule(),
        Text("é è à ç ô ü É À ä ö Ü ß"),
        Row(_("Sample amount"), format_chf(123450), bold=True),
        Text(_("If every accent above is right, the printer is ready."), Style.CENTER),
        *_footer(canteen),
    ]
    return Receipt(tuple(lines))


test_receipt.__test__ = False  # a builder, not a pytest test
