"""Every message a person can see is translated into French, with the same placeholders."""

import re
import string
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from domain.i18n import catalog_path, gettext_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from update_catalog import extracted_msgids


def french_catalog():
    with catalog_path("fr").open("rb") as po:
        return {m.id: m.string for m in read_po(po, locale="fr") if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def forms(text: str | tuple) -> tuple:
    """A message's forms: one, or a plural message's singular and plural (or its translations)."""
    return text if isinstance(text, tuple) else (text,)


def test_every_message_in_the_code_has_a_french_translation():
    catalog = french_catalog()
    missing = [m for m in extracted_msgids() if not catalog.get(m)]
    assert missing == [], "run scripts/update_catalog.py and translate: " + "; ".join(missing)


FRENCH = sorted(french_catalog().items(), key=lambda item: forms(item[0]))


@pytest.mark.parametrize(("msgid", "translation"), FRENCH, ids=[forms(msgid)[0] for msgid, _ in FRENCH])
def test_translations_keep_the_placeholders_of_their_message(msgid, translation):
    """A plural's forms may leave out its count ("un crédit"), never add or lose another placeholder."""
    expected = placeholders(forms(msgid)[-1])
    assert placeholders(forms(translation)[-1]) == expected
    assert all(placeholders(form) <= expected for form in forms(translation))


def test_french_is_the_default_and_english_is_the_source():
    assert gettext_for("fr")("Enjoy your meal!") == "Bon appétit !"
    assert gettext_for("en")("Enjoy your meal!") == "Enjoy your meal!"


def test_french_messages_use_french_typography_before_colons():
    bad = [form for text in french_catalog().values() for form in forms(text) if re.search(r"\w: ", form)]
    assert bad == []
