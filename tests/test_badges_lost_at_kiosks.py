"""A badge marked lost in the back office is refused at every kiosk after its next sync, with the
reason on the verdict screen: the server holds each badge's status, so no kiosk serves a badge
another has blocked (the demo's lost badge, blocked on one kiosk, was served at a second)."""

from __future__ import annotations

from domain.i18n import gettext_for
from domain.meals import Refusal
from kiosk.sync_agent import SyncAgent

from .live_server import new_kiosk
from .portal_client import start_school

LEA = "04A1B2C3"


def test_a_badge_marked_lost_on_the_server_is_refused_at_two_kiosks_after_their_sync(school_database, tmp_path):
    school = start_school(school_database, tmp_path)
    try:
        first, second = new_kiosk(tmp_path, school.live, "K1"), new_kiosk(tmp_path, school.live, "K2")
        for kiosk in (first, second):
            SyncAgent(kiosk.store).run_round()
        first.cash_topup(first.login("anne", "1234"), "P001", 20_00)
        assert first.tap(LEA).verdict.served

        manager = school.manager()
        lost = manager.submit(f"/manage/pupils/P001/badges/{LEA}/lost", {"reason": "Perdu dans le bus"},
                              form_page="/manage/pupils/P001")
        assert lost.status_code == 302
        french = gettext_for("fr")
        for kiosk in (first, second):
            SyncAgent(kiosk.store).run_round()
            verdict = kiosk.tap(LEA).verdict
            assert verdict.reason is Refusal.BADGE_DISABLED
            assert verdict.message.render(french) == "Badge bloqué (perdu) : va à la caisse."

        replaced = manager.submit(f"/manage/pupils/P001/badges/{LEA}/replace", {"new_uid": "04A1B2C5"},
                                  form_page="/manage/pupils/P001")
        assert replaced.status_code == 302
        SyncAgent(second.store).run_round()
        assert second.tap("04A1B2C5").verdict.reason is Refusal.ALREADY_SERVED  # Léa herself: she ate at K1
        assert second.tap(LEA).verdict.reason is Refusal.BADGE_DISABLED  # the lost one stays lost
    finally:
        school.live.stop()
