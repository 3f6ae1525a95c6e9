"""Message catalogues: French first, English available.

Catalogues are kept as `.po` text only and compiled in memory when first used (a few ms), so
there is no build step and no binary file in the repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "fr"
LANGUAGES = ("fr", "en")  # msgids are English


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> support.NullTranslations:
    """Babel's flavour of gettext translations, which Flask-Babel needs and plain code can use."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; choose from {', '.join(LANGUAGES)}")
    if language == "en":
        return support.NullTranslations()
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return support.Translations(compiled)


def chosen_language() -> str:
    return os.environ.get("REFECTORY_LANG", DEFAULT_LANGUAGE)


def gettext_for(language: str | None = None) -> Callable[[str], str]:
    return translations(language or chosen_language()).gettext
