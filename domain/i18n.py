"""Message catalogues: French first, English available.

Catalogues are kept as `.po` text only, so there is no build step and no binary file in the
repository (several people append msgids to the `.po` at once; a `.mo` beside it would go stale).
Compiling one with Babel costs a process about 60 ms (importing Babel, then `read_po`/`write_mo`),
which a one-shot command such as `refectory kiosk tap` pays on every run. So the compiled
catalogue is cached in `$XDG_CACHE_HOME/refectory/locale` (`~/.cache/...` by default), named
after the SHA-256 of the `.po` it was compiled from: a new or edited catalogue can never be
answered by a stale file, and there is nothing to invalidate.

A cached file is written under a temporary name and renamed over the final one, so a process
killed while writing leaves no half-written catalogue under that name; one damaged in any other
way fails `gettext`'s own checks when read, and is compiled and replaced again. Where no cache
folder can be written (a read-only home, a full disk) the catalogue is compiled in memory, as
before. Plain code gets the standard library's `gettext` translations, read without importing
Babel; Flask-Babel gets Babel's flavour, built from the same compiled bytes.
"""

from __future__ import annotations

import contextlib
import gettext
import hashlib
import os
import secrets
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "fr"
LANGUAGES = ("fr", "en")  # msgids are English
CACHE_FORMAT = "1"  # part of every cached name: change it when the compiled form changes
LEFTOVER_AGE_SECONDS = 3600  # an unused cached catalogue or a temporary file this old is removed


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Babel's flavour of gettext translations (`babel.support`), which Flask-Babel needs."""
    from babel import support

    if _checked(language) == "en":
        return support.NullTranslations()
    return support.Translations(BytesIO(compiled_catalog(language)))


@cache
def plain_translations(language: str) -> gettext.NullTranslations:
    """The standard library's translations: what every other caller needs, without Babel's import."""
    if _checked(language) == "en":
        return gettext.NullTranslations()
    return _read_compiled(compiled_catalog(language))


def chosen_language() -> str:
    return os.environ.get("REFECTORY_LANG", DEFAULT_LANGUAGE)


def gettext_for(language: str | None = None) -> Callable[[str], str]:
    return plain_translations(language or chosen_language()).gettext


def ngettext_for(language: str | None = None) -> Callable[[str, str, int], str]:
    """A message with a count, in the form the language uses for that count (singular, plural...)."""
    return plain_translations(language or chosen_language()).ngettext


def _checked(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; choose from {', '.join(LANGUAGES)}")
    return language


@cache
def compiled_catalog(language: str) -> bytes:
    """The `.mo` bytes of a language's catalogue: from the cache when it holds a sound copy."""
    source = catalog_path(language).read_bytes()
    digest = hashlib.sha256(CACHE_FORMAT.encode() + b"\0" + source).hexdigest()[:32]
    folder = cache_folder()
    cached = folder / f"{language}-{digest}.mo" if folder else None
    if cached is not None:
        try:
            data = cached.read_bytes()
            _read_compiled(data)
            return data
        except Exception:  # missing, or damaged in any way: compiled and replaced below
            pass
    data = _compile(source, language)
    if cached is not None:
        _write(cached, data)
    return data


def cache_folder() -> Path | None:
    """`$XDG_CACHE_HOME/refectory/locale` (`~/.cache/...` by default), or None if it cannot be made."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = base / "refectory" / "locale"
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    return folder


def _read_compiled(data: bytes) -> gettext.GNUTranslations:
    return gettext.GNUTranslations(BytesIO(data))


def _compile(source: bytes, language: str) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(BytesIO(source), locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def _write(path: Path, data: bytes) -> None:
    """Put `data` at `path` whole or not at all; a folder that refuses it only costs the next start."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with temporary.open("xb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return
    _sweep(path)


def _sweep(path: Path) -> None:
    """Remove temporary files killed writers left and catalogues of older `.po` versions; anything
    written in the last hour stays, as another checkout or release may still read it.

    Ages are measured against the catalogue just written (`path`): the file system's own clock,
    not the process's, which a test may set anywhere."""
    language = path.name.split("-")[0]
    with contextlib.suppress(OSError):
        written = path.stat().st_mtime
        for old in [*path.parent.glob(f"{language}-*.mo"), *path.parent.glob(f".{language}-*.tmp")]:
            with contextlib.suppress(OSError):
                if old != path and written - old.stat().st_mtime > LEFTOVER_AGE_SECONDS:
                    old.unlink()
