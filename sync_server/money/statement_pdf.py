"""Statements as PDF (ReportLab platypus): the account statement of one child or of a family's
children (a section each), and the yearly statement for the tax return.

The figures come from `statements.py`; here they are only laid out. Every word goes through the
`_` given (the family's language), the issuer is the canteen's own details (`CANTEEN_NAME`,
`CANTEEN_ADDRESS`, `CANTEEN_PHONE`, `CANTEEN_EMAIL`), amounts are `format_chf`'s and dates
dd.mm.yyyy in Zurich. Helvetica's WinAnsi encoding covers French and German letters and the
apostrophe of Swiss amounts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from domain.entries import KIND_NAMES, EntryKind
from domain.messages import N_
from domain.money import format_chf
from sync_server.money.statements import Statement, StatementLine, TaxYear

Gettext = Callable[[str], str]

WORDS = {
    "statement": N_("Account statement"),
    "pupil": N_("{name}, class {class_name}"),
    "period": N_("From {first} to {last}"),
    "amounts": N_("Amounts in CHF."),
    "date": N_("Date"),
    "description": N_("Description"),
    "debit": N_("Debit"),
    "credit": N_("Credit"),
    "balance": N_("Balance"),
    "cancelled": N_("Cancellation: {kind}"),
    "opening": N_("Balance on {day}"),
    "totals": N_("Totals"),
    "closing": N_("Balance at the end of {day}"),
    "no_entries": N_("No movement in this period."),
    "tax_title": N_("Yearly statement {year} for the tax return"),
    "period_not_over": N_("The period is not over: the entries and the balance are those known on {day}."),
    "year_not_over": N_("The year {year} is not over: these figures go up to {day}. Ask for this statement again"
                        " in January for the whole year."),
    "topups": N_("Top-ups (cash, bank transfer, online payment)"),
    "meals": N_("Meals paid"),
    "refunds": N_("Refunds"),
    "adjustments": N_("Adjustments by the canteen"),
    "transfers": N_("Transfers between brothers and sisters"),
    "net_note": N_("Cancelled meals and top-ups are deducted in the year they were cancelled."),
    "meals_paid": N_("Meals paid in {year}: {amount}"),
    "issued": N_("Issued on {day} by {issuer}."),
    "page": N_("Page {page} of {pages}"),
}

FONT, BOLD = "Helvetica", "Helvetica-Bold"
GREY = colors.HexColor("#555555")
LINE = colors.HexColor("#BBBBBB")
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=10, textColor=GREY)
_ISSUER = ParagraphStyle("issuer", parent=_BODY, fontSize=9, leading=11.5)
_TITLE = ParagraphStyle("title", parent=_BODY, fontName=BOLD, fontSize=14, leading=18, spaceBefore=6, spaceAfter=2)
_SUBTITLE = ParagraphStyle("subtitle", parent=_BODY, fontName=BOLD, fontSize=11, leading=14, spaceAfter=2)
_CELL_NOTE = ParagraphStyle("cell", parent=_BODY, fontSize=8.5, leading=10.5)
_WIDTHS = [22 * mm, 84 * mm, 22 * mm, 22 * mm, 24 * mm]


def day_text(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _amount(cents: int) -> str:
    return format_chf(cents, currency=False) if cents else ""


def _paragraph(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _issuer(canteen: dict) -> list:
    """The canteen's name, address and contact, as configured (nothing is assumed)."""
    lines = [f"<b>{escape(canteen.get('name') or '')}</b>"] if canteen.get("name") else []
    lines += [escape(part.strip()) for part in (canteen.get("address") or "").splitlines() if part.strip()]
    contact = " · ".join(part for part in (canteen.get("phone"), canteen.get("email")) if part)
    if contact:
        lines.append(escape(contact))
    return [Paragraph("<br/>".join(lines), _ISSUER), Spacer(1, 6 * mm)] if lines else []


def _numbered(_: Gettext) -> type[canvas.Canvas]:
    """A canvas that writes "Page x of y" once the number of pages is known."""
    template = _(WORDS["page"])

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self.setFont(FONT, 8)
                self.setFillColor(GREY)
                self.drawRightString(A4[0] - 18 * mm, 10 * mm, template.format(page=number, pages=total))
                super().showPage()
            super().save()

    return NumberedCanvas


def _render(story: list, _: Gettext, title: str, author: str) -> bytes:
    out = BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                 bottomMargin=18 * mm, title=title, author=author)
    document.build(story, canvasmaker=_numbered(_))
    return out.getvalue()


def _description(line: StatementLine, _: Gettext):
    if line.kind is EntryKind.REVERSAL and line.reversed_kind is not None:
        text = _(WORDS["cancelled"]).format(kind=_(KIND_NAMES[line.reversed_kind]))
    else:
        text = _(KIND_NAMES[line.kind])
    if line.note and line.kind in (EntryKind.REVERSAL, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.TRANSFER):
        return Paragraph(f"{escape(text)}<br/><font size='7.5' color='#555555'>{escape(line.note)}</font>",
                         _CELL_NOTE)
    return text


def _statement_table(item: Statement, _: Gettext, issued_on: date) -> Table:
    rows = [[_(WORDS["date"]), _(WORDS["description"]), _(WORDS["debit"]), _(WORDS["credit"]), _(WORDS["balance"])],
            ["", _(WORDS["opening"]).format(day=day_text(item.first)), "", "",
             format_chf(item.opening_cents, currency=False)]]
    rows += [[day_text(line.day), _description(line, _), _amount(line.debit_cents), _amount(line.credit_cents),
              format_chf(line.balance_cents, currency=False)] for line in item.lines]
    if not item.lines:
        rows.append(["", _(WORDS["no_entries"]), "", "", ""])
    rows.append(["", _(WORDS["totals"]), format_chf(item.debits_cents, currency=False),
                 format_chf(item.credits_cents, currency=False), ""])
    closing = (_(WORDS["closing"]).format(day=day_text(item.last)) if item.last < issued_on  # a period still
               else _(WORDS["opening"]).format(day=day_text(issued_on)))  # running: its balance on the day issued
    rows.append(["", closing, "", "", format_chf(item.closing_cents, currency=False)])
    last = len(rows) - 1
    table = Table(rows, colWidths=_WIDTHS, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("FONT", (0, 0), (-1, 0), BOLD, 8.5),
        ("FONT", (0, 1), (-1, 1), BOLD, 8.5),
        ("FONT", (0, last - 1), (-1, last), BOLD, 8.5),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, last - 2), 0.25, LINE),
        ("LINEABOVE", (0, last - 1), (-1, last - 1), 0.8, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


def _pupil_heading(pupil, _: Gettext) -> Paragraph:
    name = f"{pupil.first_name} {pupil.last_name}"
    return _paragraph(_(WORDS["pupil"]).format(name=name, class_name=pupil.class_name), _SUBTITLE)


def statement_pdf(statements: list[Statement], canteen: dict, _: Gettext, *, issued_on: date) -> bytes:
    """One PDF with a section per statement (one child, or each child of a family), each starting
    on a new page with the issuer's details."""
    story: list = []
    for number, item in enumerate(statements):
        if number:
            story.append(PageBreak())
        story += _issuer(canteen)
        story += [_paragraph(_(WORDS["statement"]), _TITLE), _pupil_heading(item.pupil, _),
                  _paragraph(_(WORDS["period"]).format(first=day_text(item.first), last=day_text(item.last))),
                  *([_paragraph(_(WORDS["period_not_over"]).format(day=day_text(issued_on)), _SMALL)]
                    if item.last >= issued_on else []),
                  _paragraph(_(WORDS["amounts"]), _SMALL),
                  Spacer(1, 4 * mm), _statement_table(item, _, issued_on), Spacer(1, 4 * mm),
                  _paragraph(_(WORDS["issued"]).format(day=day_text(issued_on), issuer=canteen.get("name") or ""),
                             _SMALL)]
    return _render(story, _, _(WORDS["statement"]), canteen.get("name") or "")


def _tax_table(item: TaxYear, _: Gettext, last: date) -> Table:
    first = date(item.year, 1, 1)
    rows = [[_(WORDS["opening"]).format(day=day_text(first)), format_chf(item.opening_cents)],
            [_(WORDS["topups"]), "+ " + format_chf(item.topups_cents)],
            [_(WORDS["meals"]), "- " + format_chf(item.meals_cents)],
            [_(WORDS["refunds"]), "- " + format_chf(item.refunds_cents)],
            [_(WORDS["adjustments"]), ("- " if item.adjustments_cents < 0 else "+ ")
             + format_chf(abs(item.adjustments_cents))],
            *([[_(WORDS["transfers"]), ("- " if item.transfers_cents < 0 else "+ ")
                + format_chf(abs(item.transfers_cents))]] if item.transfers_cents else []),
            [_(WORDS["closing" if last == date(item.year, 12, 31) else "opening"]).format(day=day_text(last)),
             format_chf(item.closing_cents)]]
    table = Table(rows, colWidths=[120 * mm, 40 * mm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9.5),
        ("FONT", (0, 0), (-1, 0), BOLD, 9.5),
        ("FONT", (0, -1), (-1, -1), BOLD, 9.5),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -2), 0.25, LINE),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
    ]))
    return table


def tax_statement_pdf(years: list[TaxYear], canteen: dict, _: Gettext, *, issued_on: date) -> bytes:
    """The yearly statement for the tax return, a page per child: the year's top-ups, meals paid,
    refunds and adjustments between the balances of 1 January and 31 December, issued by the canteen."""
    story: list = []
    for number, item in enumerate(years):
        if number:
            story.append(PageBreak())
        story += _issuer(canteen)
        last = min(date(item.year, 12, 31), issued_on)  # a year not over yet: its figures so far
        story += [_paragraph(_(WORDS["tax_title"]).format(year=item.year), _TITLE), _pupil_heading(item.pupil, _),
                  *([_paragraph(_(WORDS["year_not_over"]).format(year=item.year, day=day_text(last)), _SMALL)]
                    if last < date(item.year, 12, 31) else []),
                  Spacer(1, 4 * mm), _tax_table(item, _, last), Spacer(1, 5 * mm),
                  KeepTogether([
                      _paragraph(_(WORDS["meals_paid"]).format(year=item.year, amount=format_chf(item.meals_cents)),
                                 _SUBTITLE),
                      _paragraph(_(WORDS["net_note"]), _SMALL), Spacer(1, 8 * mm),
                      _paragraph(_(WORDS["issued"]).format(day=day_text(issued_on),
                                                           issuer=canteen.get("name") or ""))])]
    title = _(WORDS["tax_title"]).format(year=years[0].year) if years else ""
    return _render(story, _, title, canteen.get("name") or "")
