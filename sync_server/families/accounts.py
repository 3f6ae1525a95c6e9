"""Family accounts: the login a family receives by letter, its password, and what it may see.

Everything a family reads goes through `own_child`, which answers "not found" for a child of
another family, so a guessed id reveals nothing. Balances are the server's ledger, as complete as
the kiosks' last sync.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, update

from domain.clock import from_text, to_text
from domain.entries import EntryKind, is_identifier
from domain.messages import N_, RefectoryError
from domain.settings import Settings
from domain.text import email_problem
from sync_server.admin.canteen_settings import current_settings
from sync_server.admin.passwords import PASSWORD_ALPHABET, hash_password, new_secret, password_matches
from sync_server.db import fetch_all, running_cents
from sync_server.mail import outbox
from sync_server.mail.compose import compose
from sync_server.tables import account_balances, balance_alerts, entries, families, kiosks, pupils

LOGIN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a letter
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
HISTORY_PAGE_SIZE = 25


class FamilyError(RefectoryError):
    code = "invalid_request"


class NotYoursError(RefectoryError):
    """A child or record that does not exist or belongs to another family: the same answer."""

    code = "not_found"


@dataclass(frozen=True, slots=True)
class Letter:
    """What the family's letter says: the login and a first password, shown once."""

    family_id: str
    login: str
    password: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Family:
    family_id: str
    login: str
    email: str | None
    language: str
    session_key: str  # from the password hash: a session remembers it, so a new password ends the others


@dataclass(frozen=True, slots=True)
class Child:
    pupil_id: str
    first_name: str
    last_name: str
    class_name: str
    diet: str
    balance_cents: int
    low_balance: bool  # under the alert threshold
    alert_threshold_cents: int  # 0: no alert


@dataclass(frozen=True, slots=True)
class HistoryLine:
    occurred_at: datetime
    kind: EntryKind
    amount_cents: int
    balance_after_cents: int
    note: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    lines: list[HistoryLine]
    page: int
    pages: int


def issue_login(conn: Connection, family_id: str, now: datetime, *, email: str | None = None) -> Letter:
    """Give a family of the roster its portal login and a first password. A family that has a
    login keeps it and gets a new password. An id no roster brought is refused: a login for it
    would show no child."""
    if not is_identifier(family_id):
        raise FamilyError(N_("'{family_id}' is not a family id (letters, digits, '_', '-')."), family_id=family_id)
    if email is not None and (problem := email_problem(email, "--email")):
        raise FamilyError(problem.template, **problem.params)
    row = conn.execute(select(families.c.login, families.c.email).where(families.c.family_id == family_id)).first()
    if row is None:
        raise FamilyError(N_("Unknown family '{family_id}': no pupil of the roster belongs to it."),
                          family_id=family_id)
    login, known_email = row.login, email or row.email
    while login is None:
        candidate = f"{new_secret(LOGIN_ALPHABET, 4)}-{new_secret(LOGIN_ALPHABET, 4)}"
        if conn.execute(select(families.c.family_id).where(families.c.login == candidate)).first() is None:
            login = candidate
    password = new_secret(PASSWORD_ALPHABET, 12)
    conn.execute(update(families).where(families.c.family_id == family_id).values(
        login=login, email=known_email, password_hash=hash_password(password), password_changed_at=to_text(now)))
    return Letter(family_id, login, password, known_email)


def reset_password(conn: Connection, family_id: str, now: datetime) -> Letter:
    if conn.execute(select(families.c.login).where(families.c.family_id == family_id)).scalar() is None:
        raise FamilyError(N_("Family '{family_id}' has no portal login yet: use 'family add'."), family_id=family_id)
    return issue_login(conn, family_id, now)


# Statements read on every page are built once (building one costs several times running it).
_FAMILY_COLUMNS = (families.c.family_id, families.c.login, families.c.email, families.c.language,
                   families.c.password_hash)
_FAMILY_BY_LOGIN = select(*_FAMILY_COLUMNS).where(families.c.login == bindparam("login"))
_FAMILY_BY_ID = select(*_FAMILY_COLUMNS).where(families.c.family_id == bindparam("family_id"),
                                               families.c.password_hash.is_not(None))
# A pupil's balance as a column of a query on pupils (the portal, the low-balance alerts): the kept
# one (see `ledger._insert`), 0 for an account without entries.
BALANCE = func.coalesce(select(account_balances.c.balance_cents)
                        .where(account_balances.c.account_id == pupils.c.pupil_id).scalar_subquery(), 0)
_CHILDREN = (select(pupils.c.pupil_id, pupils.c.first_name, pupils.c.last_name, pupils.c.class_name, pupils.c.diet,
                    BALANCE, balance_alerts.c.threshold_cents)
             .select_from(pupils.outerjoin(balance_alerts, balance_alerts.c.pupil_id == pupils.c.pupil_id))
             .where(pupils.c.family_id == bindparam("family_id"), pupils.c.active)
             .order_by(pupils.c.first_name, pupils.c.pupil_id))
_ONE_CHILD = _CHILDREN.where(pupils.c.pupil_id == bindparam("pupil_id"))
_LAST_HEARTBEAT = select(func.max(kiosks.c.last_heartbeat)).where(kiosks.c.revoked_at.is_(None))


def _family(row) -> Family:
    *fields, password_hash = row
    return Family(*fields, session_key=hashlib.sha256(password_hash.encode()).hexdigest()[:16])


def authenticate(conn: Connection, login: str, password: str) -> Family | None:
    """The family whose login (case-sensitive) and password these are, or None."""
    row = conn.execute(_FAMILY_BY_LOGIN, {"login": login}).first()
    if not password_matches(row.password_hash if row else None, password):
        return None
    return _family(row)


def family(conn: Connection, family_id: str) -> Family | None:
    rows = fetch_all(conn, _FAMILY_BY_ID, {"family_id": family_id})  # every portal request asks
    return _family(rows[0]) if rows else None


def mail_address(conn: Connection, family_id: str) -> tuple[str, str] | None:
    """Where and in which language to write to a family: (e-mail, language), or None without an address."""
    row = conn.execute(select(families.c.email, families.c.language).where(families.c.family_id == family_id)).first()
    return (row.email, row.language) if row is not None and row.email else None


def mail_family(conn: Connection, family_id: str, template: str, now: datetime, **values) -> None:
    """Queue the mail `template` (sync_server/mail/templates) to the family, in its language, in the
    caller's transaction; nothing for a family without an address."""
    address = mail_address(conn, family_id)
    if address is None:
        return
    email, language = address
    mail = compose(template, language, **values)
    outbox.enqueue(conn, email, mail.subject, mail.body, now)


def change_password(conn: Connection, family_id: str, current: str, new: str, now: datetime) -> None:
    stored = conn.execute(select(families.c.login, families.c.password_hash)
                          .where(families.c.family_id == family_id)).first()
    if stored is None or not password_matches(stored.password_hash, current):
        raise FamilyError(N_("The current password is wrong."))
    if not MIN_PASSWORD_LENGTH <= len(new) <= MAX_PASSWORD_LENGTH:
        raise FamilyError(N_("The new password needs {minimum} to {maximum} characters."),
                          minimum=MIN_PASSWORD_LENGTH, maximum=MAX_PASSWORD_LENGTH)
    if new == current or new.casefold() == stored.login.casefold():
        raise FamilyError(N_("Choose a new password that is neither the old one nor your login."))
    conn.execute(update(families).where(families.c.family_id == family_id)
                 .values(password_hash=hash_password(new), password_changed_at=to_text(now)))


def set_language(conn: Connection, family_id: str, language: str) -> None:
    conn.execute(update(families).where(families.c.family_id == family_id).values(language=language))


# -- what the family sees ----------------------------------------------------------------------

def children(conn: Connection, family_id: str, pupil_id: str | None = None,
             settings: Settings | None = None) -> list[Child]:
    """The family's active children (or just `pupil_id` if it is one of them) with their balances,
    by first name."""
    if pupil_id is None:
        rows = fetch_all(conn, _CHILDREN, {"family_id": family_id})
    else:
        rows = fetch_all(conn, _ONE_CHILD, {"family_id": family_id, "pupil_id": pupil_id})
    canteens = (settings or current_settings(conn)).low_balance_cents if rows else 0
    found = []
    for *fields, balance, own in rows:
        threshold = alert_threshold(own, canteens)
        found.append(Child(*fields, balance, low_balance=balance < threshold, alert_threshold_cents=threshold))
    return found


def alert_threshold(own: int | None, canteens: int) -> int:
    """The low-balance threshold in force: the family's own for the child, else the canteen's."""
    return canteens if own is None else own


def own_child(conn: Connection, family_id: str, pupil_id: str, settings: Settings | None = None) -> Child:
    found = children(conn, family_id, pupil_id, settings)
    if not found:
        raise NotYoursError(N_("No such child in your family."))
    return found[0]


def history(conn: Connection, pupil_id: str, page: int = 1, per_page: int = HISTORY_PAGE_SIZE) -> HistoryPage:
    """The child's ledger, newest first, with the balance after each entry (in time order)."""
    count = conn.execute(select(func.count()).where(entries.c.account_id == pupil_id)).scalar_one()
    pages = max(1, -(-count // per_page))
    page = min(max(page, 1), pages)
    running = running_cents(entries.c.amount_cents, order_by=(entries.c.occurred_at, entries.c.seq))
    ordered = (select(entries.c.occurred_at, entries.c.kind, entries.c.amount_cents, running.label("after"),
                      entries.c.note, entries.c.seq)
               .where(entries.c.account_id == pupil_id).subquery())
    rows = conn.execute(select(ordered.c.occurred_at, ordered.c.kind, ordered.c.amount_cents, ordered.c.after,
                               ordered.c.note)
                        .order_by(ordered.c.occurred_at.desc(), ordered.c.seq.desc())
                        .limit(per_page).offset((page - 1) * per_page)).all()
    return HistoryPage([HistoryLine(from_text(at), EntryKind(kind), amount, after, note)
                        for at, kind, amount, after, note in rows], page, pages)


def last_kiosk_sync(conn: Connection) -> datetime | None:
    """When a kiosk last reported in: the balances include everything served until then."""
    [(latest,)] = fetch_all(conn, _LAST_HEARTBEAT)
    return from_text(latest) if latest else None
