"""A setting is checked against the rules that use it when it is set, on the kiosk and on the
server: a meal price of zero would be a meal served for nothing, which the ledger cannot record
(every meal is a debit, and the served record is that debit), so it is refused when it is set.
A zero price stored before this rule (or pulled from a server that had one) refuses the meal with
a reason instead of breaking every tap of the category."""

from __future__ import annotations

import json

import pytest

from domain.meals import Refusal
from domain.settings import SettingError, parse_setting
from kiosk.service import KioskService
from kiosk.store import Store
from sync_server.admin import canteen_settings
from tests.conftest import MONDAY_NOON

LEA = "04A1B2C3"  # P001, category primary
AT = "2026-11-30T12:05"


@pytest.mark.parametrize("key", ["price.primary", "price.new_category", "topup.min"])
@pytest.mark.parametrize("value", ["0", "0,00"])
def test_a_price_or_a_smallest_top_up_of_zero_is_refused(key, value):
    with pytest.raises(SettingError, match="greater than zero"):
        parse_setting(key, value)


def test_the_smallest_positive_amounts_are_still_accepted():
    assert parse_setting("price.primary", "0.05") == "0.05"
    assert parse_setting("topup.min", "0.05") == "0.05"
    assert parse_setting("balance.low_threshold", "0") == "0.00"  # a threshold switched off


def test_kiosk_settings_set_refuses_a_zero_price_and_the_category_keeps_being_served(run, kiosk_dir, cashier,
                                                                                    service):
    service.cash_topup(cashier, "P001", 20_00)
    result = run("kiosk", "settings", "set", "--data", str(kiosk_dir), "price.primary", "0.00", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"ok": False, "error": "invalid_setting",
                                         "message": "price.primary : Le montant doit être supérieur à zéro."}
    tapped = run("kiosk", "tap", "--data", str(kiosk_dir), LEA, "--at", AT, "--json")
    assert tapped.exit_code == 0 and json.loads(tapped.stdout)["balance_cents"] == 13_00


def test_a_zero_price_stored_before_the_rule_refuses_the_meal_with_a_reason_and_debits_nothing(run, kiosk_dir,
                                                                                              cashier, service):
    service.cash_topup(cashier, "P001", 20_00)
    with Store.open(kiosk_dir) as store, store.transaction():
        store.put_setting("price.primary", "0.00", MONDAY_NOON)  # as a pull from an older server would
    result = run("kiosk", "tap", "--data", str(kiosk_dir), LEA, "--at", AT, "--json")
    assert result.exit_code == 2  # refused, not an error
    answer = json.loads(result.stdout)
    assert (answer["served"], answer["reason"]) == (False, "no_price")
    assert answer["message"] == ("Le tarif de la catégorie « primary » est nul, ce qui n'est pas permis."
                                 " Adressez-vous au responsable.")
    with Store.open(kiosk_dir) as store:
        assert KioskService(store).tap(LEA, now=MONDAY_NOON).verdict.reason is Refusal.NO_PRICE
        assert store.balance("P001") == 20_00


def test_the_server_refuses_a_zero_price_as_the_kiosk_does_and_keeps_the_old_one(server):
    with pytest.raises(SettingError, match="greater than zero"), server.write() as conn:
        canteen_settings.set_setting(conn, "price.primary", "0.00", MONDAY_NOON)
    with server.write() as conn:
        assert canteen_settings.current_settings(conn).prices_cents["primary"] == 7_50
