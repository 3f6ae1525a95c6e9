"""The cashier's desk without a screen: PIN pause, cashier badges, the confirmation preview, and the
drawer behind the PIN (real receipts and drawer kicks through python-escpos to a capture printer)."""

from __future__ import annotations

import pytest

from domain.corrections import ReversalError
from domain.i18n import gettext_for
from domain.messages import RefectoryError
from domain.roster import RosterError
from hardware.escpos_decode import decode
from hardware.printer import open_printer
from kiosk.cashier_desk import (
    PIN_PAUSE_SECONDS,
    PIN_TRIES,
    CashierDesk,
    DeskLockedError,
    PinRequiredError,
    TooManyTriesError,
)
from kiosk.config import CanteenInfo
from kiosk.roster_import import import_roster
from kiosk.service import AuthError, CashierBadgeError

from .conftest import MONDAY_NOON
from .escpos_capture import CaptureServer

FR = gettext_for("fr")


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Ticking()


@pytest.fixture
def printer():
    server = CaptureServer()
    yield server
    server.close()


@pytest.fixture
def desk(service, clock, printer):
    return CashierDesk(service, printer=open_printer(printer.connection), canteen=CanteenInfo(), _=FR,
                       monotonic=clock)


def printer_jobs(printer, count: int) -> list[str]:
    """What the printer did, once `count` jobs have arrived: 'drawer', or a receipt's lines in one string."""
    jobs = map(decode, printer.wait_for_jobs(count))
    return ["drawer" if job.drawer_kicks else " / ".join(job.texts) for job in jobs]


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


def test_a_cashier_badge_alone_only_asks_for_that_cashiers_pin(service, desk):
    service.add_cashier("marc", "Marc Python", "5678", badge="04:de:ad:00")
    with pytest.raises(PinRequiredError) as asked:
        desk.unlock_with_badge("04DEAD00")
    assert (asked.value.cashier_id, asked.value.cashier_name) == ("marc", "Marc Python")
    assert asked.value.render(FR) == "Saisissez votre code PIN pour ouvrir le mode caisse."
    assert desk.session is None
    for wrong in ("0000", "1234"):  # 1234 is Anne's: a badge opens only as its own cashier
        with pytest.raises(AuthError):
            desk.unlock_with_badge("04DEAD00", wrong)
    assert desk.session is None
    assert desk.unlock_with_badge("04DEAD00", "5678").cashier_id == "marc"
    assert desk.session.name == "Marc Python"


def test_a_pupil_badge_neither_opens_the_desk_nor_becomes_a_cashier_badge(service, desk):
    with pytest.raises(AuthError):
        desk.unlock_with_badge("04A1B2C3", "1234")  # Léa's, with Anne's PIN
    with pytest.raises(CashierBadgeError):
        service.add_cashier("marc", "Marc Python", "5678", badge="04A1B2C3")
    service.add_cashier("marc", "Marc Python", "5678", badge="04DEAD00")
    with pytest.raises(CashierBadgeError, match=r"anne|marc"):
        service.add_cashier("anne", "Anne Roch", "1234", badge="04DEAD00")  # already Marc's


def test_a_cashier_saved_again_without_a_badge_loses_it(service, desk):
    service.add_cashier("marc", "Marc Python", "5678", badge="04DEAD00")
    service.add_cashier("marc", "Marc Python", "5678")
    with pytest.raises(AuthError):
        desk.unlock_with_badge("04DEAD00", "5678")


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


def test_a_pin_is_asked_before_cashier_mode_opens_and_a_locked_desk_does_nothing(service, desk):
    with pytest.raises(PinRequiredError) as asked:
        desk.unlock("anne")
    assert asked.value.cashier_name == "Anne Roch" and desk.session is None
    desk.unlock("anne", "1234")
    desk.lock()  # the cashier leaves cashier mode
    for operation in (lambda: desk.find_pupils("lea"), lambda: desk.top_up("P001", 10_00, pin="1234"),
                      lambda: desk.cancel_last("erreur", pin="1234"), desk.report):
        with pytest.raises(DeskLockedError):
            operation()
    assert service.store.balance("P001") == 0


def test_a_top_up_inside_an_open_session_asks_the_pin_again_before_the_drawer_opens(service, desk, printer):
    desk.unlock("anne", "1234")
    with pytest.raises(PinRequiredError) as asked:
        desk.top_up("P001", 20_00)
    assert asked.value.render(FR) == "Saisissez votre code PIN pour encaisser CHF 20.00 et ouvrir le tiroir."
    with pytest.raises(AuthError) as wrong:
        desk.top_up("P001", 20_00, pin="0000")
    assert wrong.value.render(FR) == "Code PIN erroné : rien n'a été fait."
    assert service.store.balance("P001") == 0
    done = desk.top_up("P001", 20_00, pin="1234")
    assert done.printed.drawer_opened and service.store.balance("P001") == 20_00
    drawer, receipt = printer_jobs(printer, 2)  # nothing came out before the right PIN
    assert drawer == "drawer" and "Reçu de recharge" in receipt


def test_cancelling_a_top_up_asks_the_pin_again_before_handing_the_cash_back(service, desk, printer):
    desk.unlock("anne", "1234")
    desk.top_up("P001", 20_00, pin="1234")
    with pytest.raises(PinRequiredError) as asked:
        desk.cancel_last("mauvais montant")
    assert asked.value.render(FR) == ("Saisissez votre code PIN pour annuler CHF 20.00 et rendre l'argent"
                                      " du tiroir.")
    with pytest.raises(AuthError):
        desk.cancel_last("mauvais montant", pin="4321")
    assert service.store.balance("P001") == 20_00
    done = desk.cancel_last("mauvais montant", pin="1234")
    assert done.printed.drawer_opened and service.store.balance("P001") == 0
    drawer, receipt = printer_jobs(printer, 4)[2:]
    assert drawer == "drawer" and "Annulation" in receipt


def test_cancelling_a_meal_by_its_id_asks_the_pin_too(service, cashier, desk):
    service.cash_topup(cashier, "P001", 20_00)
    meal = service.tap("04A1B2C3").entry
    desk.unlock("anne", "1234")
    with pytest.raises(PinRequiredError) as asked:
        desk.reverse(meal.id, "servi par erreur")
    assert asked.value.render(FR) == "Saisissez votre code PIN pour annuler cette opération (CHF 7.00)."
    assert service.store.balance("P001") == 13_00
    assert desk.reverse(meal.id, "servi par erreur", pin="1234").printed is None
    assert service.store.balance("P001") == 20_00


def test_what_would_be_refused_is_refused_before_the_pin_is_asked(service, desk):
    desk.unlock("anne", "1234")
    with pytest.raises(RefectoryError, match=r"0\.05"):
        desk.top_up("P001", 12_33)
    with pytest.raises(RefectoryError, match="P404"):
        desk.top_up("P404", 10_00)
    with pytest.raises(RefectoryError) as nothing:
        desk.cancel_last("erreur")
    assert nothing.value.render(FR).startswith("Rien à annuler")
    desk.top_up("P001", 20_00, pin="1234")
    with pytest.raises(ReversalError) as no_reason:
        desk.cancel_last("  ")
    assert no_reason.value.render(FR) == "Indiquez le motif de l'annulation."


def test_wrong_pins_at_the_drawer_lock_cashier_mode_and_pause_the_pad(service, desk, clock):
    desk.unlock("anne", "1234")
    for _ in range(PIN_TRIES - 1):
        with pytest.raises(AuthError):
            desk.top_up("P001", 50_00, pin="0000")
    with pytest.raises(DeskLockedError) as locked:
        desk.top_up("P001", 50_00, pin="0000")
    assert locked.value.render(FR) == ("Trop de codes PIN erronés : le mode caisse est verrouillé pour 60 s ;"
                                       " rien n'a été fait.")
    assert desk.session is None and service.store.balance("P001") == 0
    with pytest.raises(TooManyTriesError):
        desk.unlock("anne")  # paused: not even the PIN pad
    clock.now += PIN_PAUSE_SECONDS
    desk.unlock("anne", "1234")
    assert desk.top_up("P001", 50_00, pin="1234").operation.balance_cents == 50_00
