"""The compiled French catalogue is cached between starts, and no state of that cache can cost a
process its French: damaged, unwritable or older than the `.po`, it is compiled again."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain import i18n

ROOT = Path(__file__).resolve().parent.parent
SAY = "from domain.i18n import gettext_for; print(gettext_for('fr')('Enjoy your meal!'))"


def french_in_a_fresh_process(cache_home: Path) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SAY], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout.strip()


def cached_catalogues(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "refectory" / "locale").glob("fr-*.mo"))


def test_the_second_start_reads_the_catalogue_compiled_by_the_first(tmp_path):
    assert french_in_a_fresh_process(tmp_path) == "Bon appétit !"
    [cached] = cached_catalogues(tmp_path)
    written = cached.stat().st_mtime_ns
    assert french_in_a_fresh_process(tmp_path) == "Bon appétit !"
    assert cached_catalogues(tmp_path) == [cached] and cached.stat().st_mtime_ns == written


@pytest.mark.parametrize("damage", [b"", b"\0" * 64, "half"], ids=["empty", "zeroed", "cut-short"])
def test_a_damaged_cached_catalogue_is_compiled_again_and_french_still_shows(tmp_path, damage):
    french_in_a_fresh_process(tmp_path)
    [cached] = cached_catalogues(tmp_path)
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) // 2] if damage == "half" else damage)
    assert french_in_a_fresh_process(tmp_path) == "Bon appétit !"
    assert cached.read_bytes() == whole


def test_a_writer_killed_mid_write_leaves_no_catalogue_that_a_start_would_read(tmp_path):
    french_in_a_fresh_process(tmp_path)
    [cached] = cached_catalogues(tmp_path)
    cached.unlink()
    (cached.parent / f".{cached.name}.killed.tmp").write_bytes(b"\x95\x04\x12\xde half")  # what a kill leaves
    assert french_in_a_fresh_process(tmp_path) == "Bon appétit !"
    assert cached_catalogues(tmp_path) == [cached]


def test_without_a_writable_cache_folder_the_catalogue_is_compiled_in_memory(tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder would be")
    assert french_in_a_fresh_process(not_a_folder) == "Bon appétit !"
    assert not_a_folder.read_text() == "a file where the cache folder would be"


def test_an_edited_catalogue_is_never_answered_from_the_cache_of_the_previous_one(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    locale = tmp_path / "locale"
    po = locale / "fr" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_bytes(i18n.catalog_path("fr").read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    caches = (i18n.compiled_catalog, i18n.plain_translations, i18n.translations)
    try:
        for cached in caches:
            cached.cache_clear()
        assert i18n.gettext_for("fr")("Enjoy your meal!") == "Bon appétit !"
        po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Bon appétit !"', 'msgstr "Bon app !"'),
                      encoding="utf-8")
        for cached in caches:
            cached.cache_clear()
        assert i18n.gettext_for("fr")("Enjoy your meal!") == "Bon app !"
        assert i18n.translations("fr").gettext("Enjoy your meal!") == "Bon app !"
    finally:
        for cached in caches:
            cached.cache_clear()


def test_catalogues_of_older_po_versions_go_once_an_hour_older_than_the_new_one_and_recent_ones_stay(tmp_path):
    folder = tmp_path / "refectory" / "locale"
    folder.mkdir(parents=True)
    stale, recent = folder / "fr-0000stale.mo", folder / "fr-0000recent.mo"
    for old in (stale, recent):
        old.write_bytes(b"a catalogue of another .po")
    made = recent.stat().st_mtime  # ages on the file system's clock, like the sweep's
    os.utime(stale, (made - 2 * i18n.LEFTOVER_AGE_SECONDS, made - 2 * i18n.LEFTOVER_AGE_SECONDS))
    assert french_in_a_fresh_process(tmp_path) == "Bon appétit !"
    assert not stale.exists() and recent.exists() and len(cached_catalogues(tmp_path)) == 2
