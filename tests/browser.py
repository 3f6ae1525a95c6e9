"""Playwright with Debian's Chromium, shared by the portal's and the back office's browser tests:
the launch flags this closed network needs (the `chromium` fixture in conftest.py uses them), and
axe-core's accessibility check."""

from __future__ import annotations

import functools
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def axe_problems(page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA findings on the page (its context must bypass the page's CSP).
    Only the violations come back, already cut to what a failure prints: axe's whole result (every
    rule passed, with its nodes) cost more to carry to Python than the check itself."""
    if not page.evaluate("typeof axe !== 'undefined'"):  # checked again at another size: already there
        page.add_script_tag(content=_axe_source())
    found = page.evaluate("""axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']},
                                                 resultTypes: ['violations']})
                             .then(result => result.violations.map(v => [v.id, v.help, v.nodes.length,
                                                                         v.nodes[0].target]))""")
    return [f"{rule}: {words} ({count}× e.g. {target})" for rule, words, count, target in found]


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")
