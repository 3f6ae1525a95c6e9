"""The parents' portal ("Espace client"): log in, balances and history, menus, the reservation
agenda, documents and help, in French first and English.

`init_app` wires what every page shares: the language (Flask-Babel over our gettext catalogue),
the family session (Flask-Login) and the security headers; CSRF and login throttling are
`sync_server.web`'s, shared with the back office. Pages live in `auth`, `pages` and `agenda`;
what they read and change is in `sync_server.families`, `reservations` and `documents`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from io import BytesIO

from babel.dates import format_date
from flask import Blueprint, Flask, current_app, g, request, session
from flask_babel import Babel, Domain
from jinja2 import pass_context
from markupsafe import Markup

from domain.agenda import day_in_words
from domain.clock import local
from domain.i18n import DEFAULT_LANGUAGE, LANGUAGES, compiled_catalog, translations
from domain.money import format_chf
from domain.text import french_spacing
from sync_server.families.letters import canteen
from sync_server.web.request_services import day_words

bp = Blueprint("portal", __name__, template_folder="../templates", static_folder="../static",
               static_url_path="/static/portal")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self';"
       " frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


class CatalogueDomain(Domain):
    """Flask-Babel reading the project's one catalogue (compiled in memory by `domain.i18n`)."""

    def get_translations(self):
        return catalogue()


def catalogue():
    """The catalogue the request's strings come from: the portal's pages have French spacing, the
    rest of the app (the back office) the catalogue as it is."""
    if request and request.blueprint == bp.name:
        return page_translations(current_language())
    return translations(current_language())


@cache
def page_translations(language: str):
    """The catalogue as web pages show it: in French, every translation with its no-break spaces
    (`french_spacing`), set once when the catalogue is read. Mails and PDFs keep `translations`:
    the PDFs' standard fonts have no narrow no-break space."""
    if language != "fr":
        return translations(language)
    from babel import support

    spaced = support.Translations(BytesIO(compiled_catalog(language)))
    spaced._catalog = {key: french_spacing(text) if key else text for key, text in spaced._catalog.items()}
    return spaced


def current_language() -> str:
    if not request:
        return DEFAULT_LANGUAGE
    if "language" not in g:  # asked for by every translated string and date of a page
        chosen = session.get("language")
        g.language = chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
    return g.language


def init_app(app: Flask) -> None:
    babel = Babel(app, locale_selector=current_language, default_locale=DEFAULT_LANGUAGE)
    babel.domain_instance = CatalogueDomain()
    # Templates translate straight from the catalogue the page's context already holds: a page has
    # dozens of strings, and looking the request up again for each one adds up.
    app.jinja_env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=False)
    from sync_server.portal import (  # noqa: F401  (their routes register on `bp`)
        agenda,
        alerts,
        auth,
        automatic,
        pages,
        payments,
        refunds,
        statements,
        topups,
        transfers,
    )

    auth.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(timedelta=timedelta, in_words=day_words)
    app.jinja_env.filters.update(chf=format_chf, day=_day, typography=_typography,
                                 clock=lambda moment: local(moment).strftime("%H:%M"),
                                 short=lambda moment: local(moment).strftime("%d.%m.%Y %H:%M"))
    app.after_request(_security_headers)


@bp.app_context_processor
def _shared():
    return {"canteen": canteen(current_app.config), "language": current_language(), "languages": LANGUAGES,
            "catalogue": catalogue()}


@pass_context
def _template_gettext(context, text: str) -> str:
    return (context.get("catalogue") or catalogue()).gettext(text)


@pass_context
def _template_ngettext(context, singular: str, plural: str, n: int) -> str:
    return (context.get("catalogue") or catalogue()).ngettext(singular, plural, n)


@pass_context
def _typography(context, text):
    """Text written in a page's own language (the help pages) with that language's spacing."""
    if (context.get("language") or current_language()) != "fr":
        return text
    return Markup(french_spacing(str(text))) if isinstance(text, Markup) else french_spacing(text)


# The shapes that say a day in words: written by the domain, as its refusals write a day, so that
# a page and the refusal on it agree ("mardi 1er décembre", "Tuesday 1 December" alike).
IN_WORDS = {"full": True, "EEEE d MMMM": False}  # format → with the year


@pass_context
def _day(context, value, format: str = "full") -> str:
    """A date, or the Zurich date of an instant (Babel would take an instant's UTC date)."""
    if isinstance(value, datetime):
        value = local(value).date()
    if format in IN_WORDS:
        return day_in_words(value, year=IN_WORDS[format]).render((context.get("catalogue") or catalogue()).gettext)
    return formatted_day(value, format, context.get("language") or current_language())


@lru_cache(maxsize=4096)
def formatted_day(day: date, format: str, language: str) -> str:
    """The same few weeks' dates are shown to every family: Babel formats each once."""
    return format_date(day, format=format, locale=language)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response
