"""The portal's configuration keys and their defaults (overridden by `instance/config.py` and
`REFECTORY_*` variables, e.g. `REFECTORY_CANTEEN_PHONE`)."""

from __future__ import annotations

from datetime import timedelta

PORTAL_DEFAULTS = {
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(minutes=30),  # idle time before a family logs in again
    "SESSION_MAX_HOURS": 12,  # however active, a session ends after this
    "WTF_CSRF_TIME_LIMIT": None,  # the session's own expiry bounds the token
    "WTF_I18N_ENABLED": False,  # every validator has its own message in our catalogue
    "RATELIMIT_STORAGE_URI": "memory://",
    "LOGIN_LIMIT_PER_ADDRESS": "30 per 10 minutes",  # every login attempt counts, right or wrong
    "LOGIN_LIMIT_PER_ACCOUNT": "10 per 15 minutes",
    "PROXY_FIX_X_FOR": 0,  # 1 behind one reverse proxy (nginx): throttle by the client address
    "PORTAL_URL": "http://127.0.0.1:8000/",
    "CANTEEN_NAME": "Restaurant scolaire",
    "CANTEEN_PHONE": "",
    "CANTEEN_EMAIL": "",
    "CANTEEN_ADDRESS": "",
    "CANTEEN_CONTACT": "",  # the person who shows parents the portal
    "CANTEEN_HOURS": "",  # when to come by, e.g. "before 11:30 or after 14:00"
    # The account top-up QR-bills are paid to, and its holder's address (QR-IBAN: QRR references;
    # a plain IBAN: RF creditor references). Without them the portal offers no QR-bill.
    "QRBILL_IBAN": "",
    "QRBILL_NAME": "",
    "QRBILL_STREET": "",
    "QRBILL_HOUSE_NUM": "",
    "QRBILL_PCODE": "",
    "QRBILL_CITY": "",
    "QRBILL_COUNTRY": "CH",
    # Online payment through Datatrans (docs/payments.md): the merchant account, the hexadecimal
    # HMAC key that signs its webhooks, and the number of the published document holding the terms
    # families accept. Without them the portal offers no online payment. The URLs default to
    # Datatrans's sandbox; production is https://api.datatrans.com and https://pay.datatrans.com.
    "DATATRANS_MERCHANT_ID": "",
    "DATATRANS_PASSWORD": "",
    "DATATRANS_HMAC_KEY": "",
    "DATATRANS_API_URL": "https://api.sandbox.datatrans.com",
    "DATATRANS_PAY_URL": "https://pay.sandbox.datatrans.com",
    "PAYMENT_TERMS_DOCUMENT": "",
}
