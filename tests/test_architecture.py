"""Layering rules a reader can rely on: the import contracts in pyproject.toml hold, and the domain
is pure."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the domain may import: the standard library's pure parts and itself.
DOMAIN_ALLOWED = {"__future__", "collections", "csv", "dataclasses", "datetime", "enum", "functools", "re", "secrets",
                  "time", "types", "unicodedata", "uuid", "zoneinfo", "domain"}
# The message catalogue lives in the domain so that every layer may translate (as Electrum keeps
# i18n.py in its core); reading it is the one thing there that touches files: through Babel, and
# through the standard library's gettext for the compiled copy it caches.
CATALOGUE_READER = "i18n.py"


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("domain" if node.level else (node.module or "").split(".")[0])
    return roots


def test_the_import_contracts_hold():
    """Dependencies point one way (see [tool.importlinter] in pyproject.toml for each contract)."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    done = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "domain").glob("*.py") if p.name != CATALOGUE_READER),
                         ids=lambda p: p.name)
def test_the_domain_imports_no_io_and_no_framework(path):
    assert imported_roots(path) <= DOMAIN_ALLOWED, imported_roots(path) - DOMAIN_ALLOWED


def test_the_catalogue_reader_needs_only_babel_beside_the_standard_library():
    allowed = DOMAIN_ALLOWED | {"babel", "collections", "contextlib", "functools", "gettext", "hashlib", "io", "os",
                                "pathlib"}
    assert imported_roots(ROOT / "domain" / CATALOGUE_READER) <= allowed


def test_the_top_of_the_server_holds_only_the_factory_config_database_and_feature_packages():
    modules = {p.name for p in (ROOT / "sync_server").glob("*.py")}
    assert modules == {"__init__.py", "settings.py", "db.py", "tables.py"}
