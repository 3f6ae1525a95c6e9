"""A local stand-in for Datatrans: a small Flask app on a loopback port that speaks the part of
Datatrans's documented HTTP protocol the server uses, for the tests and the demo.

- `POST /v1/transactions` (HTTP Basic merchantId:password) opens a transaction and answers 201
  `{"transactionId": ...}` with the payment page in `Location`; a wrong password is 401, a bad body
  400, each with Datatrans's `{"error": {"code", "message"}}`.
- `GET /v1/start/{transactionId}` is the hosted payment page: whoever is at it (a person in the
  demo, Playwright or `requests` in the tests) chooses "Pay", "Decline" or "Cancel". The transaction
  becomes `settled`, `failed` or `canceled`; the webhook is sent (signed, before the browser is sent
  back, as Datatrans does by default) and the browser goes to the success, error or cancel URL with
  `datatransTrxId` added.
- `GET /v1/transactions/{transactionId}` is the status API.
- A transaction opened with `"option": {"createAlias": true}` and paid carries, in its status and
  webhook, the alias of what paid: `card` (alias, masked number, expiry) for Visa and Mastercard,
  `TWI` or `PFC` (alias) for Twint and PostFinance.
- `POST /v1/transactions/authorize` charges such an alias without the family (a merchant-initiated
  payment): 200 `{"transactionId", "acquirerAuthorizationCode"}` and a settled transaction, or 400
  `{"error": {"code": "DECLINED"...}}`; no webhook, as Datatrans sends none for it. The same
  `Idempotency-Key` with the same body within the hour gets the first answer again.

Webhooks carry `Datatrans-Signature: t=<milliseconds>,s0=<hex HMAC-SHA256 of t + body>` made with
the hex-decoded HMAC key (computed here on its own, not with the server's code). The tests ask for
what a real provider does now and then: `send_webhook` again (a duplicate), `hold_webhooks` then
`release_webhooks` (late), `forged=True` (a signature made with another key); for automatic
top-ups, `decline_charges` (the next charges declined), `unreachable` (the authorize call
answered 503 without being made) and `lose_answers` (the next authorize calls made, their answer
kept for their `Idempotency-Key`, but lost on the way back: a 503).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import urlencode

import requests
from flask import Flask, abort, jsonify, redirect, request
from werkzeug.serving import make_server

METHODS = {"VIS": "Visa", "ECA": "Mastercard", "PFC": "PostFinance Card", "TWI": "Twint"}
ENDINGS = {"pay": ("settled", "successUrl"), "decline": ("failed", "errorUrl"), "cancel": ("canceled", "cancelUrl")}


@dataclass
class Transaction:
    transaction_id: str
    body: dict
    status: str = "initialized"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: list = field(default_factory=list)

    alias: dict | None = None  # what a paid transaction opened with createAlias gives back

    def described(self, merchant_id: str) -> dict:
        """The JSON of the status API and of the webhook."""
        amount = self.body["amount"]
        detail = {"init": {"expires": (self.created + timedelta(minutes=30)).isoformat()}}
        if self.status == "settled":
            detail |= {"authorize": {"amount": amount, "acquirerAuthorizationCode": "100000"},
                       "settle": {"amount": amount}}
        elif self.status == "failed":
            detail["fail"] = {"reason": "declined", "message": "declined"}
        described = {"transactionId": self.transaction_id, "merchantId": merchant_id, "type": "payment",
                     "status": self.status, "currency": self.body["currency"], "refno": self.body["refno"],
                     "detail": detail, "language": self.body.get("language", "en"), "history": self.history}
        if self.status != "initialized":
            described["paymentMethod"] = self.body["paymentMethods"][0]
        if self.alias is not None:
            method = self.body["paymentMethods"][0]
            described["card" if method in ("VIS", "ECA") else method] = self.alias
        return described


class PaymentStandIn:
    """The stand-in provider; `start()` serves it on 127.0.0.1, `config()` is what the server needs."""

    def __init__(self, merchant_id: str = "1100000001", password: str | None = None,
                 hmac_key: str | None = None) -> None:
        self.merchant_id = merchant_id
        self.password = password or secrets.token_urlsafe(12)
        self.hmac_key = hmac_key or secrets.token_hex(32)
        self.transactions: dict[str, Transaction] = {}
        self.hold_webhooks = False
        self.held: list[str] = []
        self.deliveries: list[tuple[str, str, int]] = []  # (transactionId, status sent, our server's answer)
        self.amount_override: int | None = None  # settle another amount than asked (a misbehaving provider)
        self.aliases: dict[str, str] = {}  # alias -> the method it pays with
        self.decline_charges = 0  # how many of the next authorize calls are declined
        self.unreachable = False  # authorize answers 503 and charges nothing
        self.lose_answers = 0  # how many of the next authorize calls are made but answered 503
        self.charges: list[dict] = []  # every authorize body received, in order
        self._idempotent: dict[str, tuple[str, tuple]] = {}  # Idempotency-Key -> (body, answer)
        self._lock = threading.Lock()
        self.app = self._make_app()
        self._server = None
        self.url = ""

    def start(self) -> PaymentStandIn:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},  # stop() waits for a poll
                         name="payment-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def config(self) -> dict:
        return {"DATATRANS_API_URL": self.url, "DATATRANS_PAY_URL": self.url, "DATATRANS_MERCHANT_ID": self.merchant_id,
                "DATATRANS_PASSWORD": self.password, "DATATRANS_HMAC_KEY": self.hmac_key,
                "DATATRANS_ALIASES": True}  # it saves aliases for automatic top-ups

    # -- what the tests ask for -------------------------------------------------------------------

    def send_webhook(self, transaction_id: str, *, forged: bool = False, url: str | None = None) -> int:
        """Sign and send the transaction's current state to its webhook URL (or `url`, for a
        transaction that has none, such as an automatic charge); our server's answer."""
        transaction = self.transactions[transaction_id]
        body = json.dumps(transaction.described(self.merchant_id)).encode()
        key = bytes.fromhex(secrets.token_hex(32) if forged else self.hmac_key)
        stamp = str(int(time.time() * 1000))
        signature = hmac.new(key, stamp.encode() + body, hashlib.sha256).hexdigest()
        answer = requests.post(url or transaction.body["webhook"]["url"], data=body, timeout=15, headers={
            "Content-Type": "application/json", "Datatrans-Signature": f"t={stamp},s0={signature}"})
        self.deliveries.append((transaction_id, transaction.status, answer.status_code))
        return answer.status_code

    def release_webhooks(self) -> list[int]:
        held, self.held = self.held, []
        return [self.send_webhook(transaction_id) for transaction_id in held]

    def last(self) -> Transaction:
        return list(self.transactions.values())[-1]

    # -- the HTTP side ----------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask(__name__)

        def error(status: int, code: str, message: str):
            return jsonify({"error": {"code": code, "message": message}}), status

        def authorised() -> bool:
            auth = request.authorization
            return bool(auth and auth.type == "basic" and hmac.compare_digest(auth.username or "", self.merchant_id)
                        and hmac.compare_digest(auth.password or "", self.password))

        @app.post("/v1/transactions")
        def init():
            if not authorised():
                return error(401, "UNAUTHORIZED", "Incorrect authorization")
            body = request.get_json(silent=True)
            problem = _invalid(body)
            if problem:
                return error(400, "INVALID_PROPERTY", problem)
            with self._lock:
                transaction_id = str(secrets.randbelow(9 * 10**17) + 10**17)  # 18 digits, as Datatrans's
                self.transactions[transaction_id] = Transaction(transaction_id, body)
            self.transactions[transaction_id].history.append(_step("init", body["amount"], "api"))
            answer = jsonify({"transactionId": transaction_id})
            answer.status_code = 201
            answer.headers["Location"] = f"{self.url}/v1/start/{transaction_id}"
            return answer

        @app.get("/v1/transactions/<transaction_id>")
        def status(transaction_id: str):
            if not authorised():
                return error(401, "UNAUTHORIZED", "Incorrect authorization")
            transaction = self.transactions.get(transaction_id)
            if transaction is None:
                return error(404, "TRANSACTION_NOT_FOUND", "No transaction found with the given transactionId")
            return jsonify(transaction.described(self.merchant_id))

        @app.get("/v1/start/<transaction_id>")
        def payment_page(transaction_id: str):
            transaction = self.transactions.get(transaction_id) or abort(404)
            return _page(transaction), 200, {"Content-Type": "text/html; charset=utf-8"}

        @app.post("/v1/start/<transaction_id>")
        def choose(transaction_id: str):
            transaction = self.transactions.get(transaction_id) or abort(404)
            action = request.form.get("action", "")
            if action not in ENDINGS or transaction.status != "initialized":
                abort(409)
            transaction.status, target = ENDINGS[action]
            if action == "pay" and (transaction.body.get("option") or {}).get("createAlias"):
                transaction.alias = self._new_alias(transaction.body["paymentMethods"][0])
            if self.amount_override is not None:
                transaction.body = {**transaction.body, "amount": self.amount_override}
            transaction.history.append(_step({"pay": "authorize", "decline": "authorize", "cancel": "cancel"}[action],
                                             transaction.body["amount"], "redirect", success=action == "pay"))
            if self.hold_webhooks:
                self.held.append(transaction_id)
            else:
                self.send_webhook(transaction_id)
            url = transaction.body["redirect"][target]
            return redirect(url + ("&" if "?" in url else "?") + urlencode({"datatransTrxId": transaction_id}), 302)

        @app.post("/v1/transactions/authorize")
        def authorize():
            if not authorised():
                return error(401, "UNAUTHORIZED", "Incorrect authorization")
            body = request.get_json(silent=True)
            key = request.headers.get("Idempotency-Key")
            with self._lock:
                if key and key in self._idempotent:
                    seen, (payload, status) = self._idempotent[key]
                    if seen != json.dumps(body, sort_keys=True):
                        return error(422, "INVALID_PROPERTY", "Idempotency-Key reused with another body")
                    return jsonify(payload), status
                if self.unreachable:
                    return error(503, "SERVER_ERROR", "Service unavailable")
                payload, status = self._authorize(body)
                if key:
                    self._idempotent[key] = (json.dumps(body, sort_keys=True), (payload, status))
                if self.lose_answers:
                    self.lose_answers -= 1
                    return error(503, "SERVER_ERROR", "Service unavailable")
                return jsonify(payload), status

        return app

    def _new_alias(self, method: str) -> dict:
        alias = secrets.token_urlsafe(24)[:32]  # Datatrans's format: 32 characters of A-Z a-z 0-9 - _
        self.aliases[alias] = method
        if method in ("VIS", "ECA"):
            return {"alias": alias, "masked": "424242xxxxxx4242" if method == "VIS" else "520000xxxxxx0007",
                    "expiryMonth": "06", "expiryYear": "29"}
        return {"alias": alias}

    def _authorize(self, body) -> tuple[dict, int]:
        """A merchant-initiated charge of a saved alias (the caller holds the lock): the answer's
        JSON and status."""
        problem = _invalid_charge(body)
        if problem:
            return {"error": {"code": "INVALID_PROPERTY", "message": problem}}, 400
        self.charges.append(body)
        card = body.get("card")
        method = next((m for m in ("TWI", "PFC") if m in body), None)
        alias = card["alias"] if card else body[method]["alias"]
        if alias not in self.aliases or (method and self.aliases[alias] != method) or (
                card and self.aliases[alias] not in ("VIS", "ECA")):
            return {"error": {"code": "INVALID_ALIAS", "message": "unknown alias"}}, 400
        transaction_id = str(secrets.randbelow(9 * 10**17) + 10**17)
        transaction = Transaction(transaction_id, {**body, "paymentMethods": [self.aliases[alias]]})
        self.transactions[transaction_id] = transaction
        if self.decline_charges:
            self.decline_charges -= 1
            transaction.status = "failed"
            transaction.history.append(_step("authorize", body["amount"], "api", success=False))
            return {"error": {"code": "DECLINED", "message": "declined"}, "transactionId": transaction_id}, 400
        transaction.status = "settled"
        transaction.history.append(_step("authorize", body["amount"], "api"))
        return {"transactionId": transaction_id, "acquirerAuthorizationCode": "100000"}, 200


def _invalid_charge(body) -> str | None:
    """What Datatrans would refuse in an authorize request (the parts we send)."""
    if not isinstance(body, dict):
        return "authorize: body must be JSON"
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "authorize.amount: must be a positive integer in the currency's minor unit"
    if body.get("currency") != "CHF":
        return "authorize.currency: unsupported currency"
    refno = body.get("refno")
    if not isinstance(refno, str) or not 1 <= len(refno) <= 20:
        return "authorize.refno: 1 to 20 characters"
    card = body.get("card")
    if card is not None:
        if not isinstance(card, dict) or not all(isinstance(card.get(k), str) for k in
                                                 ("alias", "expiryMonth", "expiryYear")):
            return "authorize.card: alias, expiryMonth and expiryYear are required"
    elif not any(isinstance(body.get(m), dict) and isinstance(body[m].get("alias"), str) for m in ("TWI", "PFC")):
        return "authorize: card, TWI or PFC with an alias is required"
    return None


def _step(action: str, amount: int, source: str, *, success: bool = True) -> dict:
    return {"action": action, "amount": amount, "source": source, "date": datetime.now(UTC).isoformat(),
            "success": success}


def _invalid(body) -> str | None:
    """What Datatrans would refuse in an init request (the parts we send)."""
    if not isinstance(body, dict):
        return "init: body must be JSON"
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "init.amount: must be a positive integer in the currency's minor unit"
    if body.get("currency") != "CHF":
        return "init.currency: unsupported currency"
    refno = body.get("refno")
    if not isinstance(refno, str) or not 1 <= len(refno) <= 20:
        return "init.refno: 1 to 20 characters"
    methods = body.get("paymentMethods")
    if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
        return "init.paymentMethods: unknown payment method"
    redirect_urls = body.get("redirect")
    if not isinstance(redirect_urls, dict) or not all(
            isinstance(redirect_urls.get(k), str) for k in ("successUrl", "cancelUrl", "errorUrl")):
        return "init.redirect: successUrl, cancelUrl and errorUrl are required"
    if not isinstance(body.get("webhook"), dict) or not isinstance(body["webhook"].get("url"), str):
        return "init.webhook.url: required (this stand-in has no dashboard to configure it)"
    return None


def _page(transaction: Transaction) -> str:
    body = transaction.body
    amount = f"CHF {body['amount'] // 100}.{body['amount'] % 100:02d}"
    method = " / ".join(METHODS[m] for m in body["paymentMethods"])
    if transaction.status != "initialized":
        choices = f"<p>This transaction is already {escape(transaction.status)}.</p>"
    else:
        choices = (f'<form method="post" action="/v1/start/{transaction.transaction_id}">'
                   '<button name="action" value="pay">Pay</button> '
                   '<button name="action" value="decline">Decline</button> '
                   '<button name="action" value="cancel">Cancel</button></form>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Datatrans (stand-in)</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
            f'<h1>Datatrans payment page (local stand-in)</h1><p>Reference {escape(body["refno"])}</p>'
            f'<p>Amount <strong>{amount}</strong> · {escape(method)}</p>{choices}</main></body></html>')
