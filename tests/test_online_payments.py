"""Online payment against the Datatrans stand-in: real HTTP both ways between our server and the
stand-in on loopback, the family's side through the portal (Flask's test client as the browser),
on SQLite and PostgreSQL. Only the provider is stood in."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from domain.entries import EntryKind
from kiosk.sync_agent import SyncAgent
from refectory import payment_standin
from sync_server.families import accounts, documents
from sync_server.tables import entries, mail_outbox, online_payments

from .conftest import MONDAY_NOON
from .live_server import new_kiosk
from .portal_client import start_school, text_of

pytestmark = pytest.mark.on_each_database

PAY_PAGE = "/children/P001/pay"


@pytest.fixture
def school(school_database, tmp_path, standin):
    school = paying_school(school_database, tmp_path, standin)
    yield school
    school.live.stop()


def paying_school(school_database, tmp_path, standin):
    """The test school with its terms of payment published and the stand-in as its Datatrans
    account; family F01 (Léa and Zoé) reads the portal in English (the msgids)."""
    school = start_school(school_database, tmp_path)
    live = school.live
    terms = tmp_path / "conditions.pdf"
    terms.write_bytes(b"%PDF-1.4 conditions\n")
    with live.write() as conn:
        accounts.set_language(conn, "F01", "en")
        document = documents.add(conn, tmp_path / "instance" / "documents", terms, "Online payment terms", MONDAY_NOON)
    live.app.config.update(PORTAL_URL=live.url + "/", PAYMENT_TERMS_DOCUMENT=document.document_id, **standin.config())
    return school


def start(school, browser=None, *, amount="50", method="TWI", terms="y"):
    """The family fills the form; the answer sends the browser to the provider's page."""
    browser = browser or school.logged_in("F01")
    form = {"amount": amount, "method": method, **({"terms": terms} if terms else {})}
    return browser, browser.submit(PAY_PAGE, form)


def on_payment_page(standin, response, action: str) -> str:
    """The person on the provider's page chooses; returns the portal address the provider sends them back to."""
    assert response.status_code == 303, text_of(response)
    page = requests.get(response.headers["Location"], timeout=30)
    assert page.status_code == 200 and "CHF 50.00" in page.text
    back = requests.post(response.headers["Location"], data={"action": action}, allow_redirects=False, timeout=30)
    assert back.status_code == 302
    parts = urlsplit(back.headers["Location"])
    return f"{parts.path}?{parts.query}"


def come_back(browser, path: str):
    answer = browser.get(path)
    assert answer.status_code == 303, text_of(answer)
    return browser.get(answer.headers["Location"])


def paid_through(school, standin, action="pay", **form):
    browser, response = start(school, **form)
    return browser, come_back(browser, on_payment_page(standin, response, action))


def credits(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(entries.c.account_id, entries.c.amount_cents, entries.c.reference)
                            .where(entries.c.kind == EntryKind.ONLINE_TOPUP.value)).all()


def payments(school) -> list[tuple]:
    with school.live.write() as conn:
        return conn.execute(select(online_payments.c.pupil_id, online_payments.c.amount_cents,
                                   online_payments.c.method, online_payments.c.status)).all()


def test_a_paid_payment_is_credited_once_mailed_and_reaches_the_kiosk_at_its_next_sync(school, standin, tmp_path):
    kiosk = new_kiosk(tmp_path, school.live)
    SyncAgent(kiosk.store).run_round()
    _browser, result = paid_through(school, standin)
    transaction = standin.last()
    assert transaction.body["amount"] == 50_00 and transaction.body["paymentMethods"] == ["TWI"]
    assert transaction.body["webhook"]["url"] == school.live.url + "/payments/datatrans/webhook"
    assert standin.deliveries == [(transaction.transaction_id, "settled", 200)]  # the webhook credited it
    page = text_of(result)
    assert "Thank you: CHF 50.00 is credited to the account of Léa." in page and "Balance CHF 50.00" in page
    assert credits(school) == [("P001", 50_00, transaction.transaction_id)]
    assert payments(school) == [("P001", 50_00, "TWI", "paid")]
    with school.live.write() as conn:
        mails = conn.execute(select(mail_outbox.c.recipient, mail_outbox.c.subject)).all()
    assert mails == [("parent3@example.ch", "Online payment received for Léa: CHF 50.00")]
    SyncAgent(kiosk.store).run_round()
    assert kiosk.store.balance("P001") == 50_00


def test_a_duplicate_webhook_credits_nothing_more(school, standin):
    paid_through(school, standin)
    transaction_id = standin.last().transaction_id
    assert standin.send_webhook(transaction_id) == 200
    assert standin.send_webhook(transaction_id) == 200
    assert credits(school) == [("P001", 50_00, transaction_id)]
    assert school.live.balance("P001") == 50_00 and school.live.verify_balances() == []


def test_a_late_webhook_after_the_return_page_fetched_the_status_still_credits_once(school, standin):
    standin.hold_webhooks = True
    _browser, result = paid_through(school, standin)
    assert "CHF 50.00 is credited" in text_of(result)  # the return page asked the status API
    transaction_id = standin.last().transaction_id
    assert credits(school) == [("P001", 50_00, transaction_id)]
    assert standin.release_webhooks() == [200]
    assert credits(school) == [("P001", 50_00, transaction_id)]


def test_the_return_address_alone_credits_nothing(school, standin):
    """Coming back to the success address without paying is only a hint: the provider says "initialized"."""
    browser, _response = start(school)
    reference = urlsplit(standin.last().body["redirect"]["successUrl"]).path
    page = text_of(come_back(browser, reference))
    assert "has not confirmed this payment yet" in page
    assert credits(school) == [] and payments(school)[0][3] == "pending"


def test_a_forged_or_tampered_webhook_is_refused_and_credits_nothing(school, standin):
    standin.hold_webhooks = True
    _browser, response = start(school)
    on_payment_page(standin, response, "pay")
    transaction_id = standin.held[0]
    assert standin.send_webhook(transaction_id, forged=True) == 401
    url = school.live.url + "/payments/datatrans/webhook"
    body = json.dumps(standin.last().described(standin.merchant_id)).encode()
    stamp = str(int(time.time() * 1000))
    good = hmac.new(bytes.fromhex(standin.hmac_key), stamp.encode() + body, hashlib.sha256).hexdigest()
    tampered = body.replace(b'"amount": 5000', b'"amount": 50000')
    for data, header in ((tampered, f"t={stamp},s0={good}"), (body, None), (body, f"t={stamp}"),
                         (body, f"t={int(stamp) + 1},s0={good}"), (body, f"t=\xb2,s0={good}"),  # ² is a digit
                         (body, f"t={stamp},s0=\xe9{good[1:]}")):  # sent as Latin-1, as HTTP headers are
        headers = {"Content-Type": "application/json", **({"Datatrans-Signature": header} if header else {})}
        assert requests.post(url, data=data, headers=headers, timeout=30).status_code == 401
    assert credits(school) == [] and payments(school)[0][3] == "pending"
    assert requests.post(url, data=body, timeout=30, headers={"Datatrans-Signature": f"t={stamp},s0={good}"}).ok
    assert len(credits(school)) == 1  # the same body, signed right, is taken: the refusals were the signature's


def test_a_declined_payment_credits_nothing_and_says_so(school, standin):
    _browser, result = paid_through(school, standin, "decline")
    assert "The payment was declined; nothing was charged." in text_of(result)
    assert credits(school) == [] and payments(school)[0][3] == "declined"
    assert standin.deliveries[0][1:] == ("failed", 200)


def test_a_cancelled_payment_credits_nothing_and_says_so(school, standin):
    _browser, result = paid_through(school, standin, "cancel")
    assert "The payment was cancelled; nothing was charged." in text_of(result)
    assert credits(school) == [] and payments(school)[0][3] == "cancelled"


def test_a_settled_amount_other_than_ours_is_not_credited_and_waits_for_the_manager(school, standin):
    standin.amount_override = 5_00
    _browser, result = paid_through(school, standin)
    assert "confirmed a different amount" in text_of(result)
    assert credits(school) == [] and payments(school)[0][3] == "review"

    office = school.manager()
    listing = text_of(office.get("/manage/payments"))
    assert "CHF 50.00 Twint À vérifier" in listing
    reference = standin.last().body["refno"]
    done = office.submit(f"/manage/payments/{reference}/credit-settled", {}, form_page="/manage/payments")
    assert done.status_code == 302
    assert f"{reference} : CHF 5.00 crédités à Léa." in text_of(office.get("/manage/payments"))
    assert credits(school) == [("P001", 5_00, standin.last().transaction_id)]
    assert payments(school)[0][1:] == (5_00, "TWI", "paid")
    office.submit(f"/manage/payments/{reference}/credit-settled", {}, form_page="/manage/payments")
    assert "Ce paiement n'attend pas de vérification." in text_of(office.get("/manage/payments"))
    assert len(credits(school)) == 1
    assert f"sandra Montant réglé crédité {reference} CHF 5.00 to P001 (asked CHF 50.00)" in text_of(
        office.get("/manage/journal"))


@pytest.mark.parametrize("form, says", [
    ({"amount": "4.50"}, "The minimum amount is CHF 5.00."),
    ({"amount": "501"}, "The maximum amount is CHF 500.00."),
    ({"amount": "fifty"}, "is not an amount"),
    ({"amount": " "}, "Enter the amount to pay."),
    ({"terms": ""}, "Accept the terms of online payment to go on."),
    ({"method": "AMX"}, "Choose how you pay: Visa, Mastercard, PostFinance Card or Twint."),
])
def test_a_wrong_form_is_refused_in_words_and_nothing_is_opened(school, standin, form, says):
    _browser, response = start(school, **form)
    assert response.status_code == 422 and says in text_of(response)
    assert payments(school) == [] and standin.transactions == {}


def test_another_familys_child_and_payment_are_404_and_nothing_is_opened(school, standin):
    _browser, _response = paid_through(school, standin)
    reference = urlsplit(standin.last().body["redirect"]["successUrl"]).path.split("/")[2]
    other = school.logged_in("F02")
    assert other.get(PAY_PAGE).status_code == 404
    assert other.submit(PAY_PAGE, {"amount": "50", "method": "VIS", "terms": "y"}, form_page="/").status_code == 404
    assert other.get(f"/payments/{reference}").status_code == 404
    assert other.get(f"/payments/{reference}/success").status_code == 404
    assert len(standin.transactions) == 1 and len(payments(school)) == 1


def test_the_payment_form_needs_its_csrf_token(school, standin):
    response = school.logged_in("F01").post(PAY_PAGE, {"amount": "50", "method": "VIS", "terms": "y"})
    assert response.status_code == 400 and payments(school) == [] and standin.transactions == {}


def test_every_payment_page_needs_a_login(school, standin):
    for path in (PAY_PAGE, "/payments/OPABC", "/payments/OPABC/success"):
        assert school.browser().get(path).headers["Location"].startswith("/login")


def test_without_the_merchant_account_or_the_terms_the_page_says_online_payment_is_not_available(school, standin):
    for missing in ({"DATATRANS_HMAC_KEY": ""}, {"PAYMENT_TERMS_DOCUMENT": 99}):
        saved = {key: school.app.config[key] for key in missing}
        school.app.config.update(missing)
        browser = school.logged_in("F01")
        page = text_of(browser.get(PAY_PAGE))
        assert "Online payment is not available yet" in page and "Go to the payment page" not in page
        _browser, response = start(school, browser)
        assert response.status_code == 503 and "not available yet" in text_of(response)
        school.app.config.update(saved)
    assert payments(school) == [] and standin.transactions == {}


def test_a_provider_that_refuses_or_cannot_be_reached_charges_nothing_and_says_so(school, standin):
    for broken in ({"DATATRANS_PASSWORD": "wrong"}, {"DATATRANS_API_URL": "http://127.0.0.1:9"}):
        saved = {key: school.app.config[key] for key in broken}
        school.app.config.update(broken)
        _browser, response = start(school)
        assert response.status_code == 502
        assert "The payment service cannot be reached just now; nothing was charged." in text_of(response)
        school.app.config.update(saved)
    assert payments(school) == [] and standin.transactions == {}


def test_the_form_lets_the_browser_go_on_to_the_providers_page_only(school, standin):
    policy = school.logged_in("F01").get(PAY_PAGE).headers["Content-Security-Policy"]
    assert f"form-action 'self' {standin.url};" in policy
    topup_page = school.logged_in("F01").get("/children/P001/topup")  # it leads with the same form
    assert f"form-action 'self' {standin.url};" in topup_page.headers["Content-Security-Policy"]
    home = school.logged_in("F01").get("/")
    assert "form-action 'self';" in home.headers["Content-Security-Policy"]


def test_the_back_office_lists_online_payments_and_asks_the_provider_about_a_pending_one(school, standin):
    paid_through(school, standin, "decline")
    standin.hold_webhooks = True
    _browser, response = start(school, amount="20")
    back = requests.post(response.headers["Location"], data={"action": "pay"}, allow_redirects=False, timeout=30)
    assert back.status_code == 302  # the family closed the tab: no return page, and the webhook is held
    assert school.logged_in("F01").get("/manage/payments").headers["Location"] == "/manage/login"
    office = school.manager()
    listing = text_of(office.get("/manage/payments"))
    assert "Léa Müller (P001) F01 CHF 50.00 Twint Refusé (failed)" in listing
    assert "Léa Müller (P001) F01 CHF 20.00 Twint Pas encore confirmé (initialized)" in listing
    assert "Paiements en ligne" in text_of(office.get("/manage/"))
    reference = standin.last().body["refno"]
    office.submit(f"/manage/payments/{reference}/refresh", {}, form_page="/manage/payments")
    assert f"{reference} : Payé et crédité (CHF 20.00)." in text_of(office.get("/manage/payments"))
    assert credits(school) == [("P001", 20_00, standin.last().transaction_id)]
    assert "CHF 20.00 Twint Payé et crédité (settled)" in text_of(office.get("/manage/payments?status=paid"))
    assert "CHF 50.00" not in text_of(office.get("/manage/payments?status=paid"))
    assert standin.release_webhooks() == [200] and len(credits(school)) == 1


def test_one_confirmation_is_one_credit_even_when_webhook_and_return_page_race(school, standin):
    standin.hold_webhooks = True
    browser, response = start(school)
    path = on_payment_page(standin, response, "pay")
    answers = []
    webhook = threading.Thread(target=lambda: answers.extend(standin.release_webhooks()))
    webhook.start()
    come_back(browser, path)
    webhook.join(60)
    assert answers == [200]
    with school.live.write() as conn:
        assert conn.execute(select(func.count()).select_from(entries)
                            .where(entries.c.kind == EntryKind.ONLINE_TOPUP.value)).scalar() == 1
    assert school.live.verify_balances() == []


def test_a_signed_webhook_about_a_transaction_not_ours_changes_nothing(school, standin):
    standin.hold_webhooks = True
    _browser, response = start(school)
    on_payment_page(standin, response, "pay")
    transaction = standin.last()
    transaction.body = {**transaction.body, "refno": "OPSOMEONEELSE"}  # same id, another merchant's reference
    assert standin.send_webhook(transaction.transaction_id) == 200
    assert credits(school) == [] and payments(school)[0][3] == "pending"


def test_a_settled_status_without_its_amount_is_not_credited_even_by_the_manager(school, standin, monkeypatch):
    standin.hold_webhooks = True
    _browser, response = start(school)
    on_payment_page(standin, response, "pay")
    described = payment_standin.Transaction.described
    monkeypatch.setattr(payment_standin.Transaction, "described",  # a provider leaving the amount out
                        lambda self, merchant_id: {**described(self, merchant_id), "detail": {}})
    assert standin.send_webhook(standin.held[0]) == 200
    assert payments(school) == [("P001", 50_00, "TWI", "review")]
    reference = standin.last().body["refno"]
    office = school.manager()
    refused = office.submit(f"/manage/payments/{reference}/credit-settled", {}, form_page="/manage/payments")
    assert refused.status_code == 302
    assert "il n’y a rien à créditer" in text_of(office.get("/manage/payments")).replace("'", "’")
    assert credits(school) == [] and payments(school) == [("P001", 50_00, "TWI", "review")]


def test_a_settled_amount_above_the_top_up_maximum_is_not_credited_even_by_the_manager(school, standin):
    standin.amount_override = 92233720368547758_07  # what a misbehaving provider might settle
    paid_through(school, standin)
    assert payments(school) == [("P001", 50_00, "TWI", "review")]
    office = school.manager()
    reference = standin.last().body["refno"]
    refused = office.submit(f"/manage/payments/{reference}/credit-settled", {}, form_page="/manage/payments")
    assert refused.status_code == 302
    assert ("Datatrans a encaissé CHF 92'233'720'368'547'758.07 : Le montant maximum est de CHF 500.00. Réglez-le"
            " dans le tableau de bord de Datatrans.") in text_of(office.get("/manage/payments"))
    assert credits(school) == [] and payments(school) == [("P001", 50_00, "TWI", "review")]
    assert school.live.balance("P001") == 0
