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
- Automatic top-ups: a payment opened with `option.createAlias` leaves, once paid, an alias of the
  card (`card.alias` with its expiry) or of the Twint or PostFinance account (`TWI.alias`,
  `PFC.alias`) in its status; `authorize_with_alias` then charges it without the family
  (POST {api}/v1/transactions/authorize, a merchant-initiated payment, answered at once: no webhook).
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


class Declined(DatatransError):
    """The provider refused to charge a saved alias (declined, expired or blocked card...): asking
    again with the same request will not help, unlike an unreachable provider."""

    code = "payment_declined"


# The error codes of an authorize call that say no to the charge itself, not to our request.
DECLINE_CODES = frozenset({"DECLINED", "SOFT_DECLINED", "EXPIRED_CARD", "INVALID_CARD", "BLOCKED_CARD",
                           "UNSUPPORTED_CARD", "INVALID_ALIAS", "REFERRAL", "BLOCKED_BY_VELOCITY_CHECKER"})


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
class Alias:
    """A saved card or Twint/PostFinance account, as the provider gives it back after a payment."""

    method: str  # VIS, ECA, PFC, TWI
    alias: str
    expiry_month: str | None = None  # cards only
    expiry_year: str | None = None
    masked: str | None = None  # 424242xxxxxx4242 (cards)


@dataclass(frozen=True, slots=True)
class Status:
    """A transaction as the provider describes it (status API or webhook)."""

    transaction_id: str
    refno: str
    status: str  # Datatrans's own word: initialized, authorized, settled, failed, canceled...
    amount_cents: int | None
    currency: str
    alias: Alias | None = None  # when the payment was opened with `create_alias`

    @property
    def outcome(self) -> Outcome:
        return _OUTCOMES.get(self.status, Outcome.PENDING)


def init_transaction(account: Account, *, refno: str, amount_cents: int, method: str, language: str,
                     success_url: str, cancel_url: str, error_url: str, webhook_url: str,
                     create_alias: bool = False) -> str:
    """Open a transaction on the provider; returns its transactionId (valid 30 minutes). With
    `create_alias`, the paid transaction's status also carries the alias of what paid it."""
    body = {"currency": "CHF", "refno": refno, "amount": amount_cents, "paymentMethods": [method],
            "autoSettle": True, "language": language,
            "redirect": {"successUrl": success_url, "cancelUrl": cancel_url, "errorUrl": error_url},
            "webhook": {"url": webhook_url}}
    if create_alias:
        body["option"] = {"createAlias": True}
    return _transaction_id(_call(account, "POST", "/v1/transactions", body=body, expect=201))


def authorize_with_alias(account: Account, *, refno: str, amount_cents: int, alias: Alias) -> str:
    """Charge a saved alias (a merchant-initiated payment, settled at once); returns the new
    transactionId, whose status then says what was settled. `refno` is also the request's
    `Idempotency-Key`: the same attempt sent again within the provider's hour (an answer lost on
    the way back) gets the first answer, not a second charge. `Declined` when the provider says no."""
    body = {"currency": "CHF", "refno": refno, "amount": amount_cents, "autoSettle": True}
    if alias.method in ("VIS", "ECA"):
        body["card"] = {"alias": alias.alias, "expiryMonth": alias.expiry_month, "expiryYear": alias.expiry_year}
    else:
        body[alias.method] = {"alias": alias.alias}
    return _transaction_id(_call(account, "POST", "/v1/transactions/authorize", body=body, expect=200,
                                 headers={"Idempotency-Key": refno}))


def _transaction_id(answer: dict) -> str:
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
    if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii() and signature):
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
                  amount, str(payload.get("currency") or ""), _alias(payload))


def _alias(payload: dict) -> Alias | None:
    """The alias a paid transaction carries: in `card` for Visa and Mastercard, else in the
    method's own object (`TWI`, `PFC`)."""
    method = payload.get("paymentMethod")
    if method not in METHODS:
        return None
    found = payload.get("card" if method in ("VIS", "ECA") else method)
    if not isinstance(found, dict) or not isinstance(found.get("alias"), str) or not found["alias"]:
        return None

    def text(name: str) -> str | None:
        value = found.get(name)
        return str(value)[:40] if isinstance(value, str | int) and not isinstance(value, bool) else None

    return Alias(method, found["alias"][:100], text("expiryMonth"), text("expiryYear"), text("masked"))


def _call(account: Account, method: str, path: str, *, expect: int, body: dict | None = None,
          headers: dict | None = None) -> dict:
    try:
        response = requests.request(method, account.api_url + path, json=body, timeout=TIMEOUT_S,
                                    auth=(account.merchant_id, account.password), headers=headers)
    except requests.RequestException as error:
        raise DatatransError(N_("The payment provider cannot be reached: {problem}"),
                             problem=type(error).__name__) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != expect or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) and isinstance(answer.get("error"), dict) else {}
        refused = Declined if response.status_code == 400 and error.get("code") in DECLINE_CODES else DatatransError
        raise refused(N_("The payment provider refused {call} ({status} {code}: {problem})."),
                      call=f"{method} {path}", status=response.status_code,
                      code=error.get("code", ""), problem=str(error.get("message", ""))[:200])
    return answer
