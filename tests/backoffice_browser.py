"""The back office in a real browser, at the sizes a manager uses (a laptop and a tablet): a page
logged in with a role, and each page reached checked by axe-core and saved at both sizes to
test-artifacts/backoffice/<name>-<size>.png. A test walks its path once; each page it reaches is
laid out, checked and saved at every size. Each page's test module uses these with the `chromium`
fixture and a live server (`tests.live_server`)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sync_server.admin import managers

from .browser import axe_problems

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "backoffice"
SIZES = {"laptop": {"width": 1366, "height": 768}, "tablet": {"width": 820, "height": 1180}}


@contextmanager
def back_office_page(chromium, live, *, role: str = managers.MANAGER, size: str = "laptop", login: str | None = None):
    """A Chromium page logged in to `live`'s back office with a new login of `role`; yields
    (page, base URL of /manage). The context bypasses the CSP so that axe-core can be injected."""
    login = login or f"bo-{role}"
    with live.write() as conn:
        password = managers.set_manager(conn, login, f"Test {role}", live.clock(), role)
    context = chromium.new_context(locale="fr-CH", bypass_csp=True, viewport=SIZES[size])
    page = context.new_page()
    base = live.url.replace("127.0.0.1", "localhost") + "/manage"
    try:
        page.goto(base + "/login")
        page.get_by_label("Identifiant").fill(login)
        page.get_by_label("Mot de passe").fill(password)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(base + "/")
        yield page, base
    finally:
        context.close()


def check_and_shoot(page, name: str) -> list[str]:
    """The page laid out at each size in turn, saved as test-artifacts/backoffice/<name>-<size>.png
    and checked by axe-core; returns the findings, each with its size. The page is left at the size
    it had."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    kept, problems = page.viewport_size, []
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
        problems += [f"{size}: {problem}" for problem in axe_problems(page)]
    page.set_viewport_size(kept)
    return problems
