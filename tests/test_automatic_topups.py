"""Automatic top-ups against the Datatrans stand-in: the family registers Twint or a card with an
ordinary payment, a kiosk push below the threshold queues a charge, and the runner (what the
mail timer runs) charges the saved alias over real HTTP and credits it through the online
payments' path. On SQLite and PostgreSQL; the family reads the portal in English (the msgids)."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.entries import EntryKind
from sync_server.admin import pupils, roster_import
from sync_server.money import automatic_charges, automatic_topups
from sync_server.tables import automatic_topup_charges, entries, mail_outbox

from .conftest import MONDAY_NOON
from .kiosk_push import cash_topup, enroll, meal, push
from .portal_client import text_of
from .test_online_payments import come_back, on_payment_page, paying_school
from .test_sibling_transfers import roster_moving_zoe

pytestmark = pytest.mark.on_each_database

PAGE = "/children/P001/automatic"


@pytest.fixture
def school(school_database, tmp_path, standin):
    """The online payments' school (aliases on, as the stand-in offers them) with kiosk K1
    enrolled to push."""
    school = paying_school(school_database, tmp_path, standin)
    enroll(school.live)
    yield school
    school.live.stop()


def register(school, standin, *, method="TWI", threshold="10", amount="50"):
    """The family sets automatic top-up up for Léa and pays the first top-up on the provider's page."""
    browser = school.logged_in("F01")
    response = browser.submit(PAGE, {"threshold": threshold, "amount": amount, "method": method, "terms": "y"})
    return browser, come_back(browser, on_payment_page(standin, response, "pay"))


def run(school):
    """What the mail timer runs every minute, at the school's clock."""
    return automatic_charges.charge_due_with(school.live.engine, school.app.config, school.clock())


def credits(school) -> list[int]:
    with school.live.write() as conn:
        return conn.execute(select(entries.c.amount_cents).where(entries.c.kind == EntryKind.ONLINE_TOPUP.value)
                            .order_by(entries.c.seq)).scalars().all()


def mails(school) -> list[str]:
    with school.live.write() as conn:
        return conn.execute(select(mail_outbox.c.subject).order_by(mail_outbox.c.id)).scalars().all()


def charges(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(automatic_topup_charges.c.day, automatic_topup_charges.c.status,
                                   automatic_topup_charges.c.attempts)
                            .order_by(automatic_topup_charges.c.id)).all()


def test_a_sync_below_the_threshold_charges_the_saved_twint_once_later_with_a_mail(school, standin):
    _browser, result = register(school, standin)
    assert standin.last().body["option"] == {"createAlias": True}
    page = text_of(result)
    assert "Thank you: CHF 50.00 is credited to the account of Léa." in page
    assert "Automatic top-up is on: when the balance falls below CHF 10.00, we charge CHF 50.00 the same way." in page

    push(school.live, meal(-41_00))  # 50.00 -> 9.00: below the threshold
    assert standin.charges == [] and charges(school) == [("2026-11-30", "due", 0)]  # the push only queued it

    report = run(school)
    assert report.paid == 1
    (charge,) = standin.charges
    assert charge["amount"] == 50_00 and charge["TWI"]["alias"] in standin.aliases and charge["autoSettle"] is True
    assert credits(school) == [50_00, 50_00] and school.live.balance("P001") == 59_00
    assert charges(school) == [("2026-11-30", "paid", 0)]
    assert mails(school)[-1] == "Automatic top-up for Léa: CHF 50.00"
    assert run(school) == automatic_charges.ChargeReport()  # nothing left to do
    assert "CHF 59.00" in text_of(school.logged_in("F01").get(PAGE))


def test_a_card_is_charged_with_its_alias_and_expiry(school, standin):
    register(school, standin, method="VIS", threshold="20")
    push(school.live, meal(-35_00))
    run(school)
    (charge,) = standin.charges
    assert charge["card"]["expiryMonth"] == "06" and charge["card"]["expiryYear"] == "29"
    assert "Visa 424242xxxxxx4242" in text_of(school.logged_in("F01").get("/children/P001/topup"))
    assert school.live.balance("P001") == 65_00


def test_a_duplicate_webhook_about_a_charge_credits_nothing_more(school, standin):
    register(school, standin)
    push(school.live, meal(-41_00))
    run(school)
    transaction_id = standin.last().transaction_id
    webhook = school.live.url + "/payments/datatrans/webhook"
    assert standin.send_webhook(transaction_id, url=webhook) == 200
    assert standin.send_webhook(transaction_id, url=webhook) == 200
    assert credits(school) == [50_00, 50_00] and school.live.verify_balances() == []


def test_at_most_one_charge_a_day_whatever_the_syncs(school, standin):
    register(school, standin)
    push(school.live, meal(-41_00))
    run(school)
    push(school.live, meal(-55_00))  # 59.00 -> 4.00, the same Zurich day
    push(school.live, meal(-1_00))
    run(school)
    assert len(standin.charges) == 1 and school.live.balance("P001") == 3_00

    school.clock.now = MONDAY_NOON + timedelta(days=1)
    run(school)
    assert len(standin.charges) == 1  # a new day alone charges nothing: a sync must bring the fall
    push(school.live, meal(-1_00))
    run(school)
    assert len(standin.charges) == 2 and school.live.balance("P001") == 52_00
    assert charges(school) == [("2026-11-30", "paid", 0), ("2026-12-01", "paid", 0)]


def test_a_declined_charge_is_told_and_tried_once_more_then_automatic_top_up_is_off(school, standin):
    register(school, standin)
    standin.decline_charges = 2
    push(school.live, meal(-41_00))
    assert run(school).declined == 1
    assert mails(school)[-1] == "Automatic top-up for Léa declined" and charges(school) == [("2026-11-30", "due", 1)]
    assert run(school) == automatic_charges.ChargeReport() and len(standin.charges) == 1  # not before the retry

    school.clock.now += automatic_charges.RETRY_AFTER
    assert run(school).declined == 1
    assert len(standin.charges) == 2 and standin.charges[0]["refno"] != standin.charges[1]["refno"]
    assert mails(school)[-1] == "Automatic top-up for Léa turned off"
    assert charges(school) == [("2026-11-30", "declined", 2)]
    assert credits(school) == [50_00] and school.live.balance("P001") == 9_00
    with school.live.write() as conn:
        assert automatic_topups.setting_of(conn, "P001") is None
    page = text_of(school.logged_in("F01").get(PAGE))
    assert "declined, not charged" in page and "Pay and register" in page

    school.clock.now += timedelta(days=1)
    push(school.live, meal(-1_00))
    run(school)
    assert len(standin.charges) == 2  # off: no more tries


def test_a_charge_declined_once_is_credited_when_the_retry_succeeds(school, standin):
    register(school, standin)
    standin.decline_charges = 1
    push(school.live, meal(-41_00))
    run(school)
    school.clock.now += automatic_charges.RETRY_AFTER
    assert run(school).paid == 1
    assert credits(school) == [50_00, 50_00] and charges(school) == [("2026-11-30", "paid", 1)]
    assert mails(school)[-2:] == ["Automatic top-up for Léa declined", "Automatic top-up for Léa: CHF 50.00"]


def test_an_unanswered_charge_is_asked_again_with_the_same_reference_and_charged_once(school, standin):
    register(school, standin)
    standin.unreachable = True
    push(school.live, meal(-41_00))
    assert run(school).waiting == 1 and credits(school) == [50_00]
    assert mails(school)[-1] != "Automatic top-up for Léa declined"  # the family is not told of our trouble
    with school.live.write() as conn:
        first = conn.execute(select(automatic_topup_charges.c.reference)).scalar_one()
    standin.unreachable = False
    run(school)
    assert standin.charges == []  # asked again only a few minutes later
    school.clock.now += automatic_charges.ASK_AGAIN_AFTER
    assert run(school).paid == 1
    assert [charge["refno"] for charge in standin.charges] == [first]
    assert credits(school) == [50_00, 50_00]


def test_turning_it_off_forgets_the_alias_and_cancels_the_charge_not_yet_sent(school, standin):
    browser, _result = register(school, standin)
    assert "Automatic top-up is on" in text_of(browser.get(PAGE))
    push(school.live, meal(-41_00))
    answer = browser.submit(PAGE + "/off", {}, form_page=PAGE)
    assert answer.status_code == 303
    page = text_of(browser.get(answer.headers["Location"]))
    assert "Automatic top-up for Léa is off; your card or Twint is no longer kept." in page
    assert "Pay and register" in page
    assert run(school) == automatic_charges.ChargeReport()
    assert standin.charges == [] and charges(school) == [("2026-11-30", "cancelled", 0)]
    push(school.live, meal(-1_00))
    run(school)
    assert standin.charges == []


@pytest.mark.parametrize("moved_by", ["manager", "roster"])
def test_a_child_moved_to_another_family_is_no_longer_charged_on_the_old_familys_twint(school, standin, moved_by):
    register(school, standin)
    push(school.live, meal(-41_00))  # today's charge waits for the runner
    with school.live.write() as conn:
        if moved_by == "manager":
            pupils.move(conn, "P001", "F02", school.clock())
        else:
            roster_import.import_pupils(conn, *roster_moving_zoe(conn, "F02", "P001"), school.clock())
    assert run(school) == automatic_charges.ChargeReport()
    assert standin.charges == [] and charges(school) == [("2026-11-30", "cancelled", 0)]
    school.clock.now += timedelta(days=1)
    push(school.live, meal(-1_00))  # below the threshold again, another day: nothing to charge
    run(school)
    assert standin.charges == [] and len(charges(school)) == 1
    with school.live.write() as conn:
        assert automatic_topups.setting_of(conn, "P001") is None


def test_a_registration_paid_after_the_child_changed_family_credits_the_child_but_keeps_no_card(school, standin):
    browser = school.logged_in("F01")
    response = browser.submit(PAGE, {"threshold": "10", "amount": "50", "method": "TWI", "terms": "y"})
    with school.live.write() as conn:  # while F01 is on the provider's page
        pupils.move(conn, "P001", "F02", school.clock())
    on_payment_page(standin, response, "pay")  # the provider's webhook books the payment
    assert credits(school) == [50_00]  # the money paid is the child's
    with school.live.write() as conn:
        assert automatic_topups.setting_of(conn, "P001") is None  # but F01's Twint pays nothing for F02
    push(school.live, meal(-41_00))
    run(school)
    assert standin.charges == []


def turn_off(browser) -> str:
    """The family turns automatic top-up off on the child's page; what the page then says."""
    answer = browser.submit(PAGE + "/off", {}, form_page=PAGE)
    assert answer.status_code == 303
    return text_of(browser.get(answer.headers["Location"]))


def test_a_charge_made_whose_answer_was_lost_is_credited_after_the_family_turned_it_off(school, standin):
    browser, _result = register(school, standin)
    standin.lose_answers = 1  # the provider charges the card, its answer never arrives
    push(school.live, meal(-41_00))
    assert run(school).waiting == 1 and len(standin.charges) == 1 and credits(school) == [50_00]

    page = turn_off(browser)
    assert "Automatic top-up for Léa is off. A charge already sent to the payment service is being confirmed" in page
    assert "being confirmed" in page.split("Latest automatic top-ups")[1]

    school.clock.now += automatic_charges.ASK_AGAIN_AFTER
    assert run(school).paid == 1
    assert len(standin.charges) == 1  # asked again with the same Idempotency-Key: the first answer, no new charge
    assert credits(school) == [50_00, 50_00] and school.live.balance("P001") == 59_00
    assert mails(school)[-1] == "Automatic top-up for Léa: CHF 50.00"
    assert charges(school) == [("2026-11-30", "paid", 0)]
    with school.live.write() as conn:
        assert conn.execute(select(automatic_topup_charges.c.alias)).scalar_one() is None  # forgotten once answered
        assert automatic_topups.setting_of(conn, "P001") is None

    school.clock.now += timedelta(days=1)
    push(school.live, meal(-55_00))  # below the threshold again: off, so no new attempt
    assert run(school) == automatic_charges.ChargeReport() and len(standin.charges) == 1


def test_an_unanswered_charge_declined_after_the_family_turned_it_off_is_told_and_not_tried_again(school, standin):
    browser, _result = register(school, standin)
    standin.unreachable = True
    push(school.live, meal(-41_00))
    run(school)
    turn_off(browser)
    standin.unreachable, standin.decline_charges = False, 1
    school.clock.now += automatic_charges.ASK_AGAIN_AFTER
    assert run(school).declined == 1
    assert charges(school) == [("2026-11-30", "declined", 1)]
    with school.live.write() as conn:
        subject, body = conn.execute(select(mail_outbox.c.subject, mail_outbox.c.body)
                                     .order_by(mail_outbox.c.id.desc())).first()
    assert subject == "Automatic top-up for Léa declined" and "will not be tried again" in body
    school.clock.now += automatic_charges.RETRY_AFTER
    assert run(school) == automatic_charges.ChargeReport()
    assert len(standin.charges) == 1 and credits(school) == [50_00]
    assert "declined, not charged" in text_of(browser.get(PAGE))


def test_turning_it_off_before_the_first_attempt_cancels_it_and_keeps_no_alias(school, standin):
    browser, _result = register(school, standin)
    push(school.live, meal(-41_00))
    assert "your card or Twint is no longer kept" in turn_off(browser)
    assert run(school).cancelled == 0 and standin.charges == []
    with school.live.write() as conn:
        assert conn.execute(select(automatic_topup_charges.c.alias)).scalar_one() is None


def test_a_credit_that_came_before_the_runner_cancels_the_charge(school, standin):
    register(school, standin)
    push(school.live, meal(-41_00))
    push(school.live, cash_topup(20_00))  # back above before the runner came
    assert run(school).cancelled == 1 and standin.charges == []


def test_the_form_says_what_is_wrong_and_another_familys_child_is_404(school, standin):
    browser = school.logged_in("F01")
    answer = browser.submit(PAGE, {"threshold": "", "amount": "4", "terms": ""})
    assert answer.status_code == 422
    page = text_of(answer)
    assert "Enter the balance below which we top up." in page and "The minimum amount is CHF 5.00." in page
    assert "Choose how you pay" in page and "Accept the terms of online payment to go on." in page
    assert standin.transactions == {}
    other = school.logged_in("F02")
    assert other.get(PAGE).status_code == 404
    assert other.submit(PAGE, {"threshold": "10", "amount": "50", "method": "TWI", "terms": "y"},
                        form_page="/").status_code == 404
    assert other.submit(PAGE + "/off", {}, form_page="/").status_code == 404


def test_the_top_up_page_leads_with_twint_and_card(school, standin):
    page = text_of(school.logged_in("F01").get("/children/P001/topup"))
    assert page.index("Twint or card") < page.index("Automatic top-up") < page.index("By e-banking (QR-bill)")
    assert page.index("Twint") < page.index("Visa") < page.index("Mastercard") < page.index("PostFinance Card")


def test_without_the_alias_option_automatic_top_up_is_not_offered(school, standin):
    school.app.config["DATATRANS_ALIASES"] = False
    browser = school.logged_in("F01")
    assert "Automatic top-up" not in text_of(browser.get("/children/P001/topup"))
    assert "Automatic top-up is not available" in text_of(browser.get(PAGE))
    answer = browser.submit(PAGE, {"threshold": "10", "amount": "50", "method": "TWI", "terms": "y"})
    assert answer.status_code == 503 and standin.transactions == {}


def test_the_mail_timers_command_charges_what_is_due_then_sends_its_mail(school, standin, tmp_path):
    """`refectory server send-mail`, as refectory-mail.timer runs it every minute on an installed server."""
    register(school, standin)
    push(school.live, meal(-41_00))
    env = {**os.environ, "DATABASE_URL": school.live.engine.url.render_as_string(hide_password=False),
           "REFECTORY_SERVER_INSTANCE": str(tmp_path / "instance"), "REFECTORY_PORTAL_URL": school.live.url + "/",
           "REFECTORY_MAIL_FOLDER": str(tmp_path / "mail"),
           **{f"REFECTORY_{key}": str(value).lower() if isinstance(value, bool) else str(value)
              for key, value in standin.config().items()}}
    answer = subprocess.run([sys.executable, "-m", "refectory", "server", "send-mail"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert answer.returncode == 0, answer.stderr
    assert len(standin.charges) == 1 and school.live.balance("P001") == 59_00
    sent = [email.message_from_bytes(message.read_bytes(), policy=email.policy.default)["Subject"]
            for message in (tmp_path / "mail").glob("*.eml")]
    assert "Automatic top-up for Léa: CHF 50.00" in sent
