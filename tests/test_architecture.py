"""Layering rules a reader can rely on: the domain is pure, the kiosk core knows no GUI."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the domain may import: the standard library's pure parts and itself.
DOMAIN_ALLOWED = {"__future__", "collections", "csv", "dataclasses", "datetime", "enum", "re", "secrets", "time",
                  "types", "unicodedata", "uuid", "zoneinfo", "domain"}
GUI_AND_HARDWARE = {"kivy", "smartcard", "escpos", "flask"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("domain" if node.level else (node.module or "").split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((ROOT / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_no_io_and_no_framework(path):
    assert imported_roots(path) <= DOMAIN_ALLOWED, imported_roots(path) - DOMAIN_ALLOWED


@pytest.mark.parametrize("path", sorted((ROOT / "kiosk").glob("*.py")), ids=lambda p: p.name)
def test_the_kiosk_core_imports_no_gui_and_no_hardware_library(path):
    assert not imported_roots(path) & GUI_AND_HARDWARE


# The commands that open devices are the kiosk's UI layer; the rest of the kiosk core never
# imports a driver, and drivers know nothing of the kiosk.
KIOSK_DEVICE_COMMANDS = {"counter_cli.py"}


@pytest.mark.parametrize("path", sorted((ROOT / "kiosk").glob("*.py")), ids=lambda p: p.name)
def test_only_the_device_commands_of_the_kiosk_import_the_drivers(path):
    assert ("hardware" in imported_roots(path)) <= (path.name in KIOSK_DEVICE_COMMANDS)


@pytest.mark.parametrize("path", sorted((ROOT / "hardware").glob("*.py")), ids=lambda p: p.name)
def test_drivers_know_nothing_of_the_kiosk_core(path):
    assert not imported_roots(path) & {"kiosk", "sync_server", "refectory"}


def test_no_module_grows_into_a_god_module():
    sizes = {p.relative_to(ROOT): len(p.read_text(encoding="utf-8").splitlines())
             for package in ("domain", "kiosk", "kiosk_ui", "refectory", "hardware", "sync_server",
                             "sync_server/portal") for p in (ROOT / package).glob("*.py")}
    assert max(sizes.values()) <= 400, sizes


@pytest.mark.parametrize("path", sorted((ROOT / "sync_server" / "portal").glob("*.py")), ids=lambda p: p.name)
def test_the_portal_pages_hold_no_sql_of_their_own(path):
    """Pages call the server core (families, reservations, menus ...); tables and SQL stay there."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in modules if m and (m.split(".")[0] == "sqlalchemy" or m.endswith("tables"))}
