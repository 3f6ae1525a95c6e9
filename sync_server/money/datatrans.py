"""The Datatrans adapter: the few calls of Datatrans's JSON API (v1) that an online top-up needs.

Datatrans (Zurich) is the payment gateway of many Swiss schools, communes and cantonal services;
it takes Visa, Mastercard, PostFinance Card and Twint on one hosted payment page. See
docs/payments.md for the protocol as implemented. In short:

- `init_transaction`: POST {api}/v1/transactions (HTTP Basic, merchantId:password) with the amount
  in centimes, our reference as `refno`, the one payment method the family chose, `autoSettle`, the
  three return URLs and the webhook URL; the answer carries the `transactionId`.
- `payment_page_url`: the family's browser goes to {pay}/v1/start/{transactionId}.
- `fetch_status`: GET {api}/v1/transactions/{transactionId} says what became of it.
- `verified_webhook`: Datatrans POSTs the same JSON to the webhook URL, signed in the
  `Datatrans-Signature: t=<timestamp>,s0=<hex HMAC-SHA256 of timestamp + body>` header, with the
  merchant's HMAC key (given in hex). A body whose signature does not verify is never read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum

import requests

from domain.messages import N_, RefectoryError

SANDBOX_API = "https://api.sandbox.datatrans.com"
SANDBOX_PAY = "https://pay.sandbox.datatrans.com"
METHODS = {"VIS": "Visa", "ECA": "Mastercard", "PFC": "PostFinance Card", "TWI": "Twint"}  # Datatrans's codes
TIMEOUT_S = 15
SIGNATURE_HEADER = "Datatrans-Signature"


class DatatransError(RefectoryError):
    """The provider cannot be reached, refused a call, or answered something we cannot read."""

    code = "payment_provider"


class NotConfigured(RefectoryError):
    code = "payment_unavailable"


class BadSignature(RefectoryError):
    code = "bad_signature"


class Outcome(StrEnum):
    """What a Datatrans status means for the family's money."""

    PENDING = "pending"  # initialized, being authenticated or authorized: not yet money
    PAID = "paid"  # settled (or transmitted to the acquirer): the money is ours
    DECLINED = "declined"  # failed: refused by the card's bank, Twint, PostFinance
    CANCELLED = "cancelled"  # the family cancelled on the payment page


_OUTCOMES = {"settled": Outcome.PAID, "transmitted": Outcome.PAID, "failed": Outcome.DECLINED,
             "canceled": Outcome.CANCELLED}


@dataclass(frozen=True, slots=True)
class Account:
    """The merchant account (settings `DATATRANS_*`)."""

    merchant_id: str
    password: str
    hmac_key: bytes
    api_url: str = SANDBOX_API
    pay_url: str = SANDBOX_PAY

    @classmethod
    def from_config(cls, config) -> Account:
        values = {key: str(config.get(f"DATATRANS_{key.upper()}") or "").strip()
                  for key in ("merchant_id", "password", "hmac_key", "api_url", "pay_url")}
        missing = [f"DATATRANS_{key.upper()}" for key in ("merchant_id", "password", "hmac_key") if not values[key]]
        if missing:
            raise NotConfigured(N_("Online payment needs the Datatrans merchant account: set {keys}."),
                                keys=", ".join(missing))
        try:
            key = bytes.fromhex(values["hmac_key"])
        except ValueError:
            raise NotConfigured(N_("DATATRANS_HMAC_KEY must be the key in hexadecimal, as the Datatrans "
                                   "dashboard shows it.")) from None
        return cls(values["merchant_id"], values["password"], key,
                   (values["api_url"] or SANDBOX_API).rstrip("/"), (values["pay_url"] or SANDBOX_PAY).rstrip("/"))


@dataclass(frozen=True, slots=True)
class Status:
    """A transaction as the provider describes it (status API or webhook)."""

    transaction_id: str
    refno: str
    status: str  # Datatrans's own word: initialized, authorized, settled, failed, canceled...
    amount_cents: int | None
    currency: str

    @property
    def outcome(self) -> Outcome:
        return _OUTCOMES.get(self.status, Outcome.PENDING)


def init_transaction(account: Account, *, refno: str, amount_cents: int, method: str, language: str,
                     success_url: str, cancel_url: str, error_url: str, webhook_url: str) -> str:
    """Open a transaction on the provider; returns its transactionId (valid 30 minutes)."""
    body = {"currency": "CHF", "refno": refno, "amount": amount_cents, "paymentMethods": [method],
            "autoSettle": True, "language": language,
            "redirect": {"successUrl": success_url, "cancelUrl": cancel_url, "errorUrl": error_url},
            "webhook": {"url": webhook_url}}
    answer = _call(account, "POST", "/v1/transactions", body=body, expect=201)
    transaction_id = answer.get("transactionId")
    if not isinstance(transaction_id, str) or not transaction_id:
        raise DatatransError(N_("The payment provider's answer has no transaction id."))
    return transaction_id


def payment_page_url(account: Account, transaction_id: str) -> str:
    return f"{account.pay_url}/v1/start/{transaction_id}"


def fetch_status(account: Account, transaction_id: str) -> Status:
    if not transaction_id.isalnum():
        raise DatatransError(N_("'{value}' is not a transaction id."), value=transaction_id[:40])
    return parse_status(_call(account, "GET", f"/v1/transactions/{transaction_id}", expect=200))


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(key, timestamp.encode("ascii") + body, hashlib.sha256).hexdigest()


def verified_webhook(account: Account, header: str | None, body: bytes) -> Status:
    """The webhook's transaction, once its signature is checked. No time window is enforced: a
    replayed webhook only repeats a status we apply idempotently, and a late one must still count."""
    parts = dict(part.strip().partition("=")[::2] for part in (header or "").split(",") if "=" in part)
    timestamp, signature = parts.get("t", ""), parts.get("s0", "")
    if not (timestamp.isdigit() and signature):
        raise BadSignature(N_("The webhook carries no Datatrans signature."))
    if not hmac.compare_digest(sign(account.hmac_key, timestamp, body), signature.lower()):
        raise BadSignature(N_("The webhook's signature does not match its body."))
    try:
        return parse_status(json.loads(body))
    except ValueError:
        raise DatatransError(N_("The webhook's body is not JSON.")) from None


def parse_status(payload) -> Status:
    if not isinstance(payload, dict) or not isinstance(payload.get("transactionId"), str):
        raise DatatransError(N_("The payment provider's answer does not describe a transaction."))
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    amount = None
    for step in ("settle", "authorize"):  # what was settled, else what was authorized
        value = (detail.get(step) or {}).get("amount") if isinstance(detail.get(step), dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            amount = value
            break
    return Status(payload["transactionId"], str(payload.get("refno") or ""), str(payload.get("status") or ""),
                  amount, str(payload.get("currency") or ""))


def _call(account: Account, method: str, path: str, *, expect: int, body: dict | None = None) -> dict:
    try:
        response = requests.request(method, account.api_url + path, json=body, timeout=TIMEOUT_S,
                                    auth=(account.merchant_id, account.password))
    except requests.RequestException as error:
        raise DatatransError(N_("The payment provider cannot be reached: {problem}"),
                             problem=type(error).__name__) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != expect or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) and isinstance(answer.get("error"), dict) else {}
        raise DatatransError(N_("The payment provider refused {call} ({status} {code}: {problem})."),
                             call=f"{method} {path}", status=response.status_code,
                             code=error.get("code", ""), problem=str(error.get("message", ""))[:200])
    return answer
