"""Refresh the French catalogue from the source with Babel's own commands: `pybabel extract` (what
babel.cfg names) into a template, then `pybabel update` of domain/locale, keeping every
translation. Prints what is left to translate.

Usage: .venv/bin/python scripts/update_catalog.py   (then translate any empty msgstr)
"""

import tempfile
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "domain" / "locale"
PO = LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po"
# Besides gettext's own names: N_ marks a message the domain renders later, _l a lazy form label.
EXTRA_KEYWORDS = ("N_", "_l")


def extracted_msgids() -> list:
    """Every message babel.cfg's files hold: a msgid, or (singular, plural) for a plural message."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, **{name: None for name in EXTRA_KEYWORDS}}
    ids: list = []
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map, keywords):
        if message not in ids:
            ids.append(message)
    return ids


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        template = str(Path(folder) / "messages.pot")
        pybabel = CommandLineInterface()
        pybabel.run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--no-location", "--sort-output",
                     "--project", "refectory", *(f"-k{name}" for name in EXTRA_KEYWORDS), "-o", template, str(ROOT)])
        pybabel.run(["pybabel", "-q", "update", "-i", template, "-d", str(LOCALE_DIR), "-l", "fr",
                     "--no-fuzzy-matching", "--ignore-obsolete", "-w", "100"])
    with PO.open("rb") as po:
        catalog = read_po(po, locale="fr")
    missing = [m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    print(f"{PO.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} untranslated")
    for msgid in missing:
        print("  untranslated:", msgid)


if __name__ == "__main__":
    main()
