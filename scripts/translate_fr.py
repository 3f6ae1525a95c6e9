"""Fill French translations into the catalogue from a small JSON map (msgid → msgstr).

Usage: .venv/bin/python scripts/translate_fr.py FILE.json   (keeps existing translations)
"""

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "domain" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"


def main() -> None:
    wanted = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    for msgid, msgstr in wanted.items():
        message = catalog.get(msgid)
        if message is None:
            raise SystemExit(f"not in the catalogue (run update_catalog.py first): {msgid!r}")
        message.string = msgstr
    with PO.open("wb") as handle:
        write_po(handle, catalog, omit_header=False, sort_output=True, width=100)


if __name__ == "__main__":
    main()
