"""Login letters from the back office: one PDF for a class (a page per family that has no login
yet) or for one family (its first login or a new password), printed and handed to the children.

The letter's words are `letters.login_letter`'s, the ones the command line prints, with the
children it is for, so that a class's pile is handed out without opening an envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy import Connection, select

from domain.messages import N_, Message
from sync_server.admin import audit
from sync_server.admin.errors import FieldErrors
from sync_server.admin.pupils import Family, family
from sync_server.families.accounts import Letter, issue_login
from sync_server.families.letters import login_letter
from sync_server.tables import pupils

_BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=11, leading=15)
_FOR = ParagraphStyle("for", parent=_BODY, fontName="Helvetica-Bold", fontSize=12, spaceAfter=8)


def class_letters(conn: Connection, class_name: str, now: datetime, actor: str) -> list[tuple[Letter, Family]]:
    """First login letters for the families of a class's active pupils that have none yet (a
    password is never reset in bulk: that is the family's page), each with its audit entry. A class
    whose families all have a login is refused: there is no letter to print."""
    ids = sorted(set(conn.execute(select(pupils.c.family_id).where(
        pupils.c.class_name == class_name, pupils.c.active, pupils.c.family_id.is_not(None))).scalars()))
    if not ids:
        raise FieldErrors({"class_name": Message(N_("No family has an active pupil in class '{value}'."),
                                                 {"value": class_name})})
    letters = []
    for family_id in ids:
        found = family(conn, family_id)
        if not found.login:
            letter = issue_login(conn, family_id, now)
            audit.record(conn, actor, "family.login", family_id, now, f"login {letter.login}, class {class_name}")
            letters.append((letter, found))
    if not letters:
        raise FieldErrors({"class_name": Message(N_(
            "Every family of class {class_name} already has a login: a new password is given from the family's"
            " page."), {"class_name": class_name})})
    return letters


def family_letter(conn: Connection, family_id: str, now: datetime, actor: str) -> tuple[Letter, Family]:
    """The family's login letter: its first login, or a new password (which ends its sessions),
    with its audit entry."""
    found = family(conn, family_id)
    if found is None:
        raise FieldErrors({"family_id": Message(N_("There is no family '{family_id}'."), {"family_id": family_id})})
    letter = issue_login(conn, family_id, now)
    audit.record(conn, actor, "family.password" if found.login else "family.login", family_id, now,
                 f"login {letter.login}")
    return letter, found


def letters_pdf(letters: list[tuple[Letter, Family]], config, _: Callable[[str], str]) -> bytes:
    """One A4 page per letter."""
    story: list = []
    for letter, found in letters:
        if story:
            story.append(PageBreak())
        names = ", ".join(f"{child.first_name} {child.last_name} ({child.class_name})"
                          for child in found.children if child.active)
        story += [Paragraph(escape(_("For the family of {names}").format(names=names)), _FOR), Spacer(1, 4 * mm)]
        story += [Paragraph(escape(line) or "&nbsp;", _BODY) for line in login_letter(letter, config, _).split("\n")]
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=30 * mm,
                      bottomMargin=20 * mm, title=_("Your family portal"), author=config["CANTEEN_NAME"]).build(story)
    return out.getvalue()
