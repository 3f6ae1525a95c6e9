"""Refresh the French catalogue from the source: new msgids are added, translations kept.

Usage: .venv/bin/python scripts/update_catalog.py   (then translate any empty msgstr)
"""

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "domain" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "_l": None}
PACKAGES = ("domain", "kiosk", "kiosk_ui", "refectory", "hardware", "sync_server")
# Pages are HTML templates; the e-mails to families are plain-text ones (sync_server/mail/templates).
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2")]


def extracted_msgids() -> list[str]:
    ids: list[str] = []
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=METHODS, keywords=KEYWORDS
        ):
            if message not in ids:
                ids.append(message)
    return ids


def main() -> None:
    old = {}
    if PO.exists():
        with PO.open("rb") as f:
            old = {m.id: m.string for m in read_po(f, locale="fr") if m.id}
    catalog = Catalog(locale="fr", project="refectory", version="0.1", charset="utf-8", fuzzy=False)
    for msgid in extracted_msgids():
        catalog.add(msgid, old.get(msgid, ""))
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True, width=100)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{PO.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} untranslated")
    for msgid in missing:
        print("  untranslated:", msgid)


if __name__ == "__main__":
    main()
