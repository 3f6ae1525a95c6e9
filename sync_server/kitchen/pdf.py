"""The kitchen's counts as a one-page PDF (ReportLab, as the statements): the day, whether the count
is final, the totals, special meals by diet and the counts by class; after service, reserved
against served."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from domain.clock import SCHOOL_TZ
from domain.messages import N_
from sync_server.kitchen.counts import NO_DIET, KitchenDay
from sync_server.money.statement_pdf import BOLD, FONT, day_text

Gettext = Callable[[str], str]

WORDS = {
    "title": N_("Kitchen counts for {day}"),
    "final": N_("Final count: reservations closed at {time}."),
    "provisional": N_("Provisional count: normal meals can still be booked or cancelled until {time}."),
    "closed": N_("Closed: {reason}"),
    "no_service": N_("No meal service on this day."),
    "meals": N_("Meals"),
    "normal": N_("Normal"),
    "special": N_("Special"),
    "total": N_("Total"),
    "by_diet": N_("Special meals by diet"),
    "by_class": N_("By class"),
    "class": N_("Class"),
    "diet": N_("Diet"),
    "served": N_("Served"),
    "wasted": N_("Reserved, not served"),
    "unreserved": N_("Served without reservation"),
    "left_out": N_("Reservations not counted (account on hold or pupil no longer enrolled): {count}"),
}

_BODY = ParagraphStyle("kitchen", fontName=FONT, fontSize=10, leading=13)
_TITLE = ParagraphStyle("kitchen-title", parent=_BODY, fontName=BOLD, fontSize=15, leading=19, spaceAfter=3)
_HEADING = ParagraphStyle("kitchen-heading", parent=_BODY, fontName=BOLD, fontSize=11.5, leading=15, spaceBefore=8,
                          spaceAfter=3)


def _table(rows: list[list], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9.5),
        ("FONT", (0, 0), (-1, 0), BOLD, 9.5),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
    ]))
    return table


def kitchen_pdf(found: KitchenDay, *, after_service: bool, canteen_name: str, _: Gettext) -> bytes:
    time = found.cutoff.astimezone(SCHOOL_TZ).strftime("%H:%M")
    story = [Paragraph(escape(_(WORDS["title"]).format(day=day_text(found.day))), _TITLE),
             Paragraph(escape(canteen_name), _BODY)]
    if found.closed_reason:
        story.append(Paragraph(escape(_(WORDS["closed"]).format(reason=found.closed_reason)), _BODY))
    elif not found.service_day:
        story.append(Paragraph(escape(_(WORDS["no_service"])), _BODY))
    story.append(Paragraph(escape(_(WORDS["final" if found.final else "provisional"]).format(time=time)), _BODY))
    served = [_(WORDS["served"]), _(WORDS["wasted"]), _(WORDS["unreserved"])] if after_service else []
    wide = 100 * mm if after_service else 60 * mm

    def counts(tally) -> list:
        return [tally.normal, tally.special, tally.total] + (
            [tally.served, tally.wasted, tally.unreserved] if after_service else [])

    head = [_(WORDS["normal"]), _(WORDS["special"]), _(WORDS["total"]), *served]
    widths = [40 * mm] + [(130 * mm if after_service else 90 * mm) / len(head)] * len(head)
    story += [Spacer(1, 3 * mm), _table([[_(WORDS["meals"]), *head], [_(WORDS["total"]), *counts(found.total)]],
                                        widths)]
    if found.by_diet:
        story += [Paragraph(escape(_(WORDS["by_diet"])), _HEADING),
                  _table([[_(WORDS["diet"]), _(WORDS["special"])]]
                         + [[diet or _(NO_DIET), tally.special] for diet, tally in found.by_diet.items()],
                         [wide, 30 * mm])]
    story += [Paragraph(escape(_(WORDS["by_class"])), _HEADING),
              _table([[_(WORDS["class"]), *head]] + [[name, *counts(t)] for name, t in found.by_class.items()],
                     widths)]
    if found.left_out:
        story += [Spacer(1, 3 * mm), Paragraph(escape(_(WORDS["left_out"]).format(count=found.left_out)), _BODY)]
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                      bottomMargin=16 * mm, title=_(WORDS["title"]).format(day=day_text(found.day)),
                      author=canteen_name).build(story)
    return out.getvalue()
