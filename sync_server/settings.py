"""The server's settings, declared once: each one's name, default and what a value must be.

`load` reads them when the app is made: the defaults here, then `instance/config.py`, then the
`REFECTORY_<NAME>` environment variables. Each value is checked and converted to the setting's type
whatever its source. An environment variable is text, read as its setting's type says and never
guessed, so `REFECTORY_QRBILL_PCODE=1214` stays the postcode "1214", and
`REFECTORY_MAIL_PORT=587` becomes the number 587. A wrong value stops the start with the setting's
name, where it was set, and what it must be. The code past `create_app` reads typed values and
does not check them again. docs/settings.md lists the same settings.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from limits import parse_many
from schwifty import BIC, IBAN
from schwifty.exceptions import NationalChecksumNotVerified, SchwiftyException
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from domain.messages import N_, Message, RefectoryError
from domain.money import MAX_BALANCE_CENTS
from domain.text import has_control_characters, is_email
from sync_server import db

ENV_PREFIX = "REFECTORY_"
# Variables of the `refectory` command itself, which share the prefix without being server settings.
COMMAND_VARIABLES = frozenset({"REFECTORY_LANG", "REFECTORY_SERVER_INSTANCE", "REFECTORY_KIOSK_DATA",
                               "REFECTORY_KIOSK_CONFIG"})
DEFAULT_BANK_CREDIT_MAX_CENTS = 10_000_00
DEFAULT_CANTEEN_NAME = "Restaurant scolaire"
QR_BILL_COUNTRIES = ("CH", "LI")  # the accounts a QR-bill may be paid to
_WHOLE = re.compile(r"\s*-?[0-9]+\s*")


class SettingsError(RefectoryError):
    code = "invalid_setting"


@dataclass(frozen=True, slots=True)
class Kind:
    """What a setting's value must be (said to the person who set it wrong), and how a value given
    as text or as a Python value becomes the setting's type; `convert` raises ValueError or
    TypeError for a value it cannot take."""

    expected: Message
    convert: Callable[[object], object]


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: Kind
    default: object
    also_from: tuple[str, ...] = ()  # other environment variables for it, which take precedence

    @property
    def variables(self) -> tuple[str, ...]:
        return (ENV_PREFIX + self.name, *self.also_from)


# -- kinds ------------------------------------------------------------------------------------

def _text_of(value: object) -> str:
    """A text; a whole number written in `config.py` (`QRBILL_PCODE = 1854`) is taken as its digits,
    a path (`MAIL_FOLDER = Path(...)`) as its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def text(max_length: int = 500, *, required: bool = False) -> Kind:
    def convert(value: object) -> str:
        found = "" if value is None and not required else _text_of(value)
        if has_control_characters(found) or len(found) > max_length or (required and not found.strip()):
            raise ValueError(found)
        return found

    template = (N_("a text of 1 to {length} characters, without control characters") if required
                else N_("a text of at most {length} characters, without control characters"))
    return Kind(Message(template, {"length": str(max_length)}), convert)


def whole(minimum: int, maximum: int) -> Kind:
    def convert(value: object) -> int:
        if isinstance(value, str) and _WHOLE.fullmatch(value):  # ASCII digits: int() also takes "١٢"
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise ValueError(value)
        return value

    return Kind(Message(N_("a whole number from {minimum} to {maximum}"),
                        {"minimum": str(minimum), "maximum": str(maximum)}), convert)


_FLAGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def flag() -> Kind:
    def convert(value: object) -> bool:
        if isinstance(value, str):
            value = _FLAGS[value.strip().lower()]
        if not isinstance(value, bool):
            raise TypeError(value)
        return value

    return Kind(Message(N_("true or false")), convert)


def choice(*allowed: str, folded: bool = False) -> Kind:
    def convert(value: object) -> str:
        found = _text_of(value).strip()
        found = found.lower() if folded else found
        if found not in allowed:
            raise ValueError(found)
        return found

    return Kind(Message(N_("one of {allowed}"), {"allowed": ", ".join(allowed)}), convert)


def seconds(minimum: int, maximum: int) -> Kind:
    """A duration: a timedelta in `config.py`, or a whole number of seconds."""
    count = whole(minimum, maximum).convert

    def convert(value: object) -> timedelta:
        if isinstance(value, timedelta):
            count(int(value.total_seconds()))
            return value
        return timedelta(seconds=count(value))

    return Kind(Message(N_("a number of seconds from {minimum} to {maximum}"),
                        {"minimum": str(minimum), "maximum": str(maximum)}), convert)


def optional_seconds(minimum: int, maximum: int) -> Kind:
    count = whole(minimum, maximum).convert
    return Kind(Message(N_("a number of seconds from {minimum} to {maximum}, or none"),
                        {"minimum": str(minimum), "maximum": str(maximum)}),
                lambda value: None if value is None or str(value).strip().lower() in ("", "none") else count(value))


def _checked_text(check: Callable[[str], str], expected: Message, *, optional: bool = True) -> Kind:
    """A text that `check` accepts (and may rewrite, e.g. an IBAN without its spaces); empty when
    `optional` means "not set"."""
    plain = text().convert

    def convert(value: object) -> str:
        found = plain(value).strip()
        return found if optional and not found else check(found)

    return Kind(expected, convert)


def _email(value: str) -> str:
    if not is_email(value):
        raise ValueError(value)
    return value


def _sender(value: str) -> str:
    _name, address = parseaddr(value)
    local, at, domain = address.partition("@")
    if not (local and at and domain) or "@" in domain:
        raise ValueError(value)
    return value


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(value)
    return value


def _iban(value: str, countries: tuple[str, ...] = ()) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NationalChecksumNotVerified)
            iban = IBAN(value)
    except SchwiftyException:
        raise ValueError(value) from None
    if countries and iban.country_code not in countries:
        raise ValueError(value)
    return iban.compact


def _bic(value: str) -> str:
    try:
        return str(BIC(value))
    except SchwiftyException:
        raise ValueError(value) from None


def _country(value: str) -> str:
    if not (len(value) == 2 and value.isascii() and value.isalpha()):
        raise ValueError(value)
    return value.upper()


def _hexadecimal(value: str) -> str:
    bytes.fromhex(value)
    return value


def _document_number(value: str) -> str:
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise ValueError(value)
    return str(int(value))


def _rate_limits(value: str) -> str:
    parse_many(value)
    return value


def _database_url(value: str) -> str:
    try:
        make_url(value)
    except ArgumentError:
        raise ValueError(value) from None
    return value


def _storage_uri(value: str) -> str:
    if "://" not in value:
        raise ValueError(value)
    return value


EMAIL = _checked_text(_email, Message(N_("an e-mail address, or empty")))
SENDER = _checked_text(_sender, Message(N_("an e-mail address, alone or as 'Name <address>'")), optional=False)
WEB_ADDRESS = _checked_text(_web_address, Message(N_("an address starting with http:// or https://")),
                            optional=False)
QR_IBAN_OR_IBAN = _checked_text(lambda value: _iban(value, QR_BILL_COUNTRIES),
                                Message(N_("a Swiss or Liechtenstein IBAN or QR-IBAN, or empty")))
ANY_IBAN = _checked_text(_iban, Message(N_("an IBAN, or empty")))
BIC_CODE = _checked_text(_bic, Message(N_("a BIC (8 or 11 characters), or empty")))
COUNTRY = _checked_text(_country, Message(N_("a two-letter country code such as CH")), optional=False)
HEXADECIMAL = _checked_text(_hexadecimal, Message(N_("the key in hexadecimal, or empty")))
DOCUMENT = _checked_text(_document_number, Message(N_("the number of a published document, or empty")))
RATE_LIMITS = _checked_text(_rate_limits, Message(N_("a limit such as '10 per 15 minutes'")), optional=False)
DATABASE = _checked_text(_database_url, Message(N_("a database URL such as sqlite:///path/refectory.db")),
                         optional=False)
STORAGE = _checked_text(_storage_uri, Message(N_("a storage URI such as memory:// or redis://host:6379")),
                        optional=False)

# -- the settings -----------------------------------------------------------------------------

SETTINGS = (
    # Storage, the session and the limits of a request
    Setting("DATABASE_URL", DATABASE, None, also_from=("DATABASE_URL",)),  # default: instance/refectory.db
    Setting("SECRET_KEY", text(), ""),  # empty: made once and kept in instance/secret_key
    # PostgreSQL connections per worker, and how long a request waits for one before its 503
    # (sync_server/db.py says why these defaults); SQLite keeps its own pool
    Setting("DB_POOL_SIZE", whole(1, 100), db.POOL_SIZE),
    Setting("DB_MAX_OVERFLOW", whole(0, 100), db.MAX_OVERFLOW),
    Setting("DB_POOL_TIMEOUT", seconds(1, 60), timedelta(seconds=db.POOL_TIMEOUT_S)),
    Setting("MAX_CONTENT_LENGTH", whole(64 * 1024, 1024 ** 3), 2 * 1024 * 1024),
    Setting("SESSION_COOKIE_SECURE", flag(), True),
    Setting("SESSION_COOKIE_HTTPONLY", flag(), True),
    Setting("SESSION_COOKIE_SAMESITE", choice("Lax", "Strict"), "Lax"),
    Setting("PERMANENT_SESSION_LIFETIME", seconds(60, 86_400), timedelta(minutes=30)),  # idle time before a new login
    Setting("SESSION_MAX_HOURS", whole(1, 24 * 31), 12),  # however active, a session ends after this
    Setting("WTF_CSRF_TIME_LIMIT", optional_seconds(60, 86_400), None),  # none: the session's expiry bounds it
    Setting("WTF_I18N_ENABLED", flag(), False),  # every validator has its own message in our catalogue
    Setting("RATELIMIT_STORAGE_URI", STORAGE, "memory://"),
    Setting("LOGIN_LIMIT_PER_ADDRESS", RATE_LIMITS, "30 per 10 minutes"),  # every attempt counts, right or wrong
    Setting("LOGIN_LIMIT_PER_ACCOUNT", RATE_LIMITS, "10 per 15 minutes"),
    Setting("PROXY_FIX_X_FOR", whole(0, 5), 0),  # 1 behind one reverse proxy: throttle by the client's address
    # The canteen, as letters, e-mails, pages and PDFs show it
    Setting("PORTAL_URL", WEB_ADDRESS, "http://127.0.0.1:8000/"),
    Setting("CANTEEN_NAME", text(70, required=True), DEFAULT_CANTEEN_NAME),
    Setting("CANTEEN_PHONE", text(40), ""),
    Setting("CANTEEN_EMAIL", EMAIL, ""),
    Setting("CANTEEN_ADDRESS", text(200), ""),
    Setting("CANTEEN_CONTACT", text(100), ""),  # the person who shows parents the portal
    Setting("CANTEEN_HOURS", text(200), ""),  # when to come by, e.g. "before 11:30 or after 14:00"
    # Outgoing e-mail
    Setting("MAIL_HOST", text(253, required=True), "localhost"),
    Setting("MAIL_PORT", whole(1, 65_535), 25),
    Setting("MAIL_SECURITY", choice("none", "starttls", "ssl", folded=True), "none"),
    Setting("MAIL_USERNAME", text(), ""),
    Setting("MAIL_PASSWORD", text(), ""),
    Setting("MAIL_SENDER", SENDER, "refectory@localhost"),
    Setting("MAIL_FOLDER", text(), ""),  # instead of SMTP: each message as a .eml file there
    # The account top-up QR-bills are paid to and its holder's address, in the QR-bill's lengths.
    # A QR-IBAN: QRR references; a plain IBAN: RF creditor references. Unset: no QR-bill.
    Setting("QRBILL_IBAN", QR_IBAN_OR_IBAN, ""),
    Setting("QRBILL_NAME", text(70), ""),
    Setting("QRBILL_STREET", text(70), ""),
    Setting("QRBILL_HOUSE_NUM", text(16), ""),
    Setting("QRBILL_PCODE", text(16), ""),
    Setting("QRBILL_CITY", text(35), ""),
    Setting("QRBILL_COUNTRY", COUNTRY, "CH"),
    # Online payment through Datatrans (docs/payments.md); unset: no online payment
    Setting("DATATRANS_MERCHANT_ID", text(20), ""),
    Setting("DATATRANS_PASSWORD", text(), ""),
    Setting("DATATRANS_HMAC_KEY", HEXADECIMAL, ""),
    Setting("DATATRANS_API_URL", WEB_ADDRESS, "https://api.sandbox.datatrans.com"),
    Setting("DATATRANS_PAY_URL", WEB_ADDRESS, "https://pay.sandbox.datatrans.com"),
    Setting("PAYMENT_TERMS_DOCUMENT", DOCUMENT, ""),
    Setting("DATATRANS_ALIASES", flag(), False),  # the merchant account has Datatrans's alias option
    # Refunds' payment file (pain.001); unset: the QR-bill's account unless it is a QR-IBAN
    Setting("REFUND_DEBTOR_IBAN", ANY_IBAN, ""),
    Setting("REFUND_DEBTOR_NAME", text(70), ""),
    Setting("REFUND_DEBTOR_BIC", BIC_CODE, ""),
    Setting("REFUND_PAIN001_VERSION", choice("09", "03"), "09"),
    # The most one bank credit may bring: above it, the whole bank file is refused
    Setting("BANK_CREDIT_MAX_CENTS", whole(1, MAX_BALANCE_CENTS), DEFAULT_BANK_CREDIT_MAX_CENTS),
)
NAMES = frozenset(setting.name for setting in SETTINGS)


def load(given: Mapping[str, object], environ: Mapping[str, str], *, given_in: str,
         database_default: str) -> dict[str, object]:
    """Every setting, checked and typed: from `environ` (`REFECTORY_<NAME>`), else from `given`
    (what `given_in` holds: instance/config.py, or a test's configuration), else its default."""
    values = {}
    for setting in SETTINGS:
        variable = next((name for name in reversed(setting.variables) if name in environ), None)
        if variable is not None:
            value, source = environ[variable], Message(N_("the environment variable {variable}"),
                                                       {"variable": variable})
        elif setting.name in given:
            value, source = given[setting.name], given_in
        else:
            value = database_default if setting.name == "DATABASE_URL" else setting.default
            source = Message(N_("its default"))
        try:
            values[setting.name] = setting.kind.convert(value)
        except (ValueError, TypeError, KeyError):
            raise SettingsError(N_("The setting {name} (from {source}) must be {expected}."), name=setting.name,
                                source=source, expected=setting.kind.expected) from None
    return values


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`REFECTORY_*` variables that set nothing (a misspelt setting, most likely)."""
    return sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in COMMAND_VARIABLES
                  and name.removeprefix(ENV_PREFIX) not in NAMES)


# -- what a production start needs ------------------------------------------------------------

MIN_SECRET_KEY_LENGTH = 32
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class Finding:
    """A setting a production server should not start with (`blocking`), or should be told about."""

    setting: str
    message: Message
    blocking: bool = True


def production_findings(values: Mapping[str, object]) -> list[Finding]:
    """What typed settings (`load`'s result) lack for a server that parents reach over the
    Internet behind a reverse proxy. Each rule is one that loading cannot know: the values are
    valid, but wrong for production."""
    found = []

    def add(setting: str, template: str, *, blocking: bool = True, **params: str) -> None:
        found.append(Finding(setting, Message(template, params), blocking))

    secret = str(values["SECRET_KEY"])
    if secret and len(secret) < MIN_SECRET_KEY_LENGTH:
        add("SECRET_KEY", N_("It is shorter than {length} characters, so the session signatures can be guessed: "
                             "set a long random key, or none (one is then made in instance/secret_key)."),
            length=str(MIN_SECRET_KEY_LENGTH))
    portal = urlsplit(str(values["PORTAL_URL"]))
    if portal.hostname in _LOOPBACK_HOSTS:
        add("PORTAL_URL", N_("It is a local address ({url}): letters and e-mails would send parents there. "
                             "Set the portal's public address."), url=str(values["PORTAL_URL"]))
    elif portal.scheme != "https":
        add("PORTAL_URL", N_("The portal must be served over HTTPS (passwords and balances cross the Internet): "
                             "put it behind the TLS reverse proxy and set an https:// address."))
    if not values["SESSION_COOKIE_SECURE"]:
        add("SESSION_COOKIE_SECURE", N_("It is off: the session cookie would also travel over plain HTTP. "
                                        "Turn it on (behind HTTPS)."))
    if values["PROXY_FIX_X_FOR"] == 0:
        add("PROXY_FIX_X_FOR", N_("It is 0: behind a reverse proxy the login throttle sees every parent as the "
                                  "proxy's one address. Set 1 behind one proxy (nginx)."), blocking=False)
    if parseaddr(str(values["MAIL_SENDER"]))[1].rpartition("@")[2].lower() in _LOOPBACK_HOSTS:
        add("MAIL_SENDER", N_("Mail from a local address is refused by most mail providers: set the canteen's "
                              "sender address."))
    if values["MAIL_FOLDER"]:
        add("MAIL_FOLDER", N_("E-mails are written to {folder} and never sent."), blocking=False,
            folder=str(values["MAIL_FOLDER"]))
    elif values["MAIL_USERNAME"] and values["MAIL_SECURITY"] == "none" and values["MAIL_HOST"] not in _LOOPBACK_HOSTS:
        add("MAIL_SECURITY", N_("The mail password would cross the network in clear: set starttls or ssl."))
    elif values["MAIL_HOST"] in _LOOPBACK_HOSTS:
        add("MAIL_HOST", N_("E-mails go to a mail server on this machine: make sure one runs there and relays "
                            "them, or set your provider's server."), blocking=False)
    if values["CANTEEN_NAME"] == DEFAULT_CANTEEN_NAME:
        add("CANTEEN_NAME", N_("It is the default name: set the canteen's own, as parents know it."), blocking=False)
    if not values["CANTEEN_EMAIL"]:
        add("CANTEEN_EMAIL", N_("Parents have no address to write to on letters, pages and e-mails."),
            blocking=False)
    if values["DATATRANS_MERCHANT_ID"] and "sandbox" in f"{values['DATATRANS_API_URL']}{values['DATATRANS_PAY_URL']}":
        add("DATATRANS_API_URL", N_("Online payments go to Datatrans's sandbox: no real money is taken. Set the "
                                    "production addresses when the merchant account is live."), blocking=False)
    return found
