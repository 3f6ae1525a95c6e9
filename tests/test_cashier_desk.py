"""The cashier's desk without a screen: PIN pause, cashier badges, the confirmation preview."""

from __future__ import annotations

import pytest

from domain.messages import RefectoryError
from domain.roster import RosterError
from kiosk.cashier_desk import PIN_PAUSE_SECONDS, PIN_TRIES, CashierDesk, DeskLockedError, TooManyTriesError
from kiosk.config import CanteenInfo
from kiosk.roster_import import import_roster
from kiosk.service import AuthError, CashierBadgeError
from refectory.i18n import gettext_for

from .conftest import MONDAY_NOON


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Ticking()


@pytest.fixture
def desk(service, clock):
    return CashierDesk(service, printer=None, canteen=CanteenInfo(), _=gettext_for("fr"), monotonic=clock)


def test_after_five_wrong_pins_the_pad_pauses_even_for_the_right_pin(desk, clock):
    for _ in range(PIN_TRIES):
        with pytest.raises(AuthError):
            desk.unlock("anne", "0000")
    with pytest.raises(TooManyTriesError) as paused:
        desk.unlock("anne", "1234")
    assert paused.value.render(gettext_for("fr")) == "Trop de codes PIN erronés : réessayez dans 60 s."
    clock.now += PIN_PAUSE_SECONDS
    assert desk.unlock("anne", "1234").name == "Anne Roch"


def test_a_right_pin_forgives_the_wrong_ones_before_it(desk):
    for _ in range(PIN_TRIES - 1):
        with pytest.raises(AuthError):
            desk.unlock("anne", "0000")
    desk.unlock("anne", "1234")
    desk.lock()
    with pytest.raises(AuthError):
        desk.unlock("anne", "0000")  # counting starts again: no pause yet
    assert desk.unlock("anne", "1234")


def test_a_cashier_badge_opens_the_desk_as_that_cashier(service, desk):
    service.add_cashier("marc", "Marc Python", "5678", badge="04:de:ad:00")
    assert desk.unlock_with_badge("04DEAD00").cashier_id == "marc"
    assert desk.session.name == "Marc Python"


def test_a_pupil_badge_neither_opens_the_desk_nor_becomes_a_cashier_badge(service, desk):
    with pytest.raises(AuthError):
        desk.unlock_with_badge("04A1B2C3")  # Léa's
    with pytest.raises(CashierBadgeError):
        service.add_cashier("marc", "Marc Python", "5678", badge="04A1B2C3")
    service.add_cashier("marc", "Marc Python", "5678", badge="04DEAD00")
    with pytest.raises(CashierBadgeError, match=r"anne|marc"):
        service.add_cashier("anne", "Anne Roch", "1234", badge="04DEAD00")  # already Marc's


def test_a_cashier_saved_again_without_a_badge_loses_it(service, desk):
    service.add_cashier("marc", "Marc Python", "5678", badge="04DEAD00")
    service.add_cashier("marc", "Marc Python", "5678")
    with pytest.raises(AuthError):
        desk.unlock_with_badge("04DEAD00")


def test_the_preview_checks_the_amount_and_gives_the_balance_it_would_make(service, cashier, desk):
    service.cash_topup(cashier, "P001", 12_50)
    with pytest.raises(DeskLockedError):
        desk.preview("P001", "20")
    desk.unlock("anne", "1234")
    preview = desk.preview("P001", "20")
    assert (preview.cents, preview.balance_cents, preview.balance_after_cents) == (20_00, 12_50, 32_50)
    with pytest.raises(RefectoryError):
        desk.preview("P001", "20.02")
    assert service.store.balance("P001") == 12_50  # a preview writes nothing


def test_a_roster_row_with_a_cashier_badge_is_refused_and_nothing_is_imported(service, tmp_path):
    service.add_cashier("marc", "Marc Python", "5678", badge="04DEAD00")
    roster = tmp_path / "new.csv"
    roster.write_text("pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n"
                      "P009,Tim,Bolt,6C,primary,04DEAD00,,F09\n", encoding="utf-8")
    with pytest.raises(RosterError) as refused:
        import_roster(service.store, roster, MONDAY_NOON)
    assert [(e.line, e.message.render()) for e in refused.value.errors] == [(2, "Badge 04DEAD00 is a cashier's badge.")]
    assert service.store.pupil("P009") is None
