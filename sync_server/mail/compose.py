"""The e-mails families receive, written as one plain-text template per mail in `templates/`.

A template says both the subject (its `subject` block) and the body (what it renders, in the
shape `family_mail.txt` gives every family mail), in the family's language through the same
catalogue as the pages, so a mail's wording is changed and translated where it is read, never in
Python. Callers pass the facts (amounts in centimes, dates); the templates format them.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from domain.agenda import day_in_words
from domain.i18n import plain_translations, translations
from domain.money import format_chf

TEMPLATES = Path(__file__).parent / "templates"


class Mail(NamedTuple):
    subject: str
    body: str


def compose(name: str, language: str, **values) -> Mail:
    """The mail `templates/<name>.txt` in `language`, filled with `values`."""
    template = _environment(language).get_template(f"{name}.txt")
    subject = "".join(template.blocks["subject"](template.new_context(values)))
    return Mail(subject, template.render(values))


@cache
def _environment(language: str) -> Environment:
    """One environment per language: the catalogue is installed in it once, not looked up per string.

    Plain text, so nothing is HTML-escaped; a name the template does not receive is an error (in
    the tests), not a blank in a family's mail."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES), extensions=["jinja2.ext.i18n"],
                              autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)
    environment.install_gettext_translations(translations(language), newstyle=False)
    environment.filters.update(chf=format_chf, full_date=lambda day: _full_date(day, language))
    return environment


def _full_date(day: date, language: str) -> str:
    """A day in words with its year, as the domain writes it (the refusals in the same mail too)."""
    return day_in_words(day, year=True).render(plain_translations(language).gettext)
