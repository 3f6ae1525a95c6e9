"""Bank top-ups: each credit read from a bank file becomes a `bank_topup` entry for the pupil its
payment reference names, exactly once.

The bank's own reference of a credit is kept in `bank_credits`, so the same file imported again,
or a statement that repeats the day's notifications, adds nothing. A credit without a reference of
ours (no reference, an unknown or mistyped one, another creditor's, a currency other than CHF)
waits in the same table without an entry, for the manager to assign by hand. The family gets an
e-mail when a credit lands. A file is imported in chunks of `db.SQL_CHUNK` credits, each
looked up and written with a few statements, so a month's statement costs no more per credit
than a day's notification.

No credit brings more than the canteen's `BANK_CREDIT_MAX_CENTS` (CHF 10,000 unless set in the
server's configuration): a larger one is refused when its file is read, and when a credit kept
before that bound is assigned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from domain.clock import to_text
from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.messages import N_, RefectoryError
from domain.money import AmountError, check_amount
from domain.references import account_number, creditor_reference, qr_reference
from sync_server.db import chunked, insert_new
from sync_server.mail import outbox
from sync_server.mail.compose import compose
from sync_server.money.bank_files import BankCredit
from sync_server.settings import DEFAULT_BANK_CREDIT_MAX_CENTS
from sync_server.sync import ledger
from sync_server.tables import bank_credits, families, payment_accounts, pupils


class BankImportError(RefectoryError):
    code = "invalid_request"


@dataclass(frozen=True, slots=True)
class ImportReport:
    credited: list[tuple[BankCredit, str]]  # each with the pupil it went to
    duplicates: int  # credits already imported (same bank reference)
    unmatched: list[BankCredit]

    def summary(self, ngettext: Callable[[str, str, int], str]) -> str:
        """"2 credits booked, 1 already imported, 1 to assign by hand.", each count in its own grammar."""
        credited, unmatched = len(self.credited), len(self.unmatched)
        return ", ".join([
            ngettext("{count} credit booked", "{count} credits booked", credited).format(count=credited),
            ngettext("{count} already imported", "{count} already imported", self.duplicates).format(
                count=self.duplicates),
            ngettext("{count} to assign by hand", "{count} to assign by hand", unmatched).format(count=unmatched),
        ]) + "."


def number_for(conn: Connection, pupil_id: str) -> int:
    """The pupil's payment account number, given on first use and never changed."""
    found = conn.execute(select(payment_accounts.c.account_number)
                         .where(payment_accounts.c.pupil_id == pupil_id)).scalar()
    if found is None:
        _require_pupil(conn, pupil_id)
        conn.execute(insert_new(conn, payment_accounts).values(pupil_id=pupil_id))  # or another writer's, first
        found = conn.execute(select(payment_accounts.c.account_number)
                             .where(payment_accounts.c.pupil_id == pupil_id)).scalar_one()
    return found


def _require_pupil(conn: Connection, pupil_id: str) -> None:
    if conn.execute(select(pupils.c.pupil_id).where(pupils.c.pupil_id == pupil_id)).first() is None:
        raise BankImportError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)


def payment_reference(conn: Connection, pupil_id: str, *, qr_iban: bool) -> str:
    """The pupil's reference: a QRR for a QR-IBAN, an RF creditor reference for a plain IBAN."""
    number = number_for(conn, pupil_id)
    return qr_reference(number) if qr_iban else creditor_reference(number)


def _number(credit: BankCredit) -> int | None:
    """The account number of ours the credit's reference carries, if any."""
    return account_number(credit.reference or "") if credit.currency == "CHF" else None


def _pupils_by_number(conn: Connection, numbers: set[int]) -> dict[int, str]:
    return dict(conn.execute(select(payment_accounts.c.account_number, payment_accounts.c.pupil_id)
                             .where(payment_accounts.c.account_number.in_(numbers))).all()) if numbers else {}


def import_credits(conn: Connection, credits: list[BankCredit], now: datetime, *, canteen: dict,
                   portal_url: str) -> ImportReport:
    """Book the credits not imported before. Each is first kept in `bank_credits` (a bank reference
    already there, or written meanwhile by a concurrent import of the same file, is skipped as a
    duplicate), then booked and given its entry."""
    credited, unmatched, duplicates = [], [], 0
    for part in chunked(credits):
        firsts: dict[str, BankCredit] = {}
        for credit in part:
            firsts.setdefault(credit.bank_reference, credit)
        once = list(firsts.values())
        kept = set(conn.execute(insert_new(conn, bank_credits).returning(bank_credits.c.bank_reference), [
            {"bank_reference": credit.bank_reference, "amount_cents": credit.amount_cents,
             "currency": credit.currency, "reference": credit.reference,
             "booked_on": credit.booked_on.isoformat() if credit.booked_on else None, "payer": credit.payer,
             "note": credit.note, "imported_at": to_text(now), "entry_id": None}
            for credit in once]).scalars()) if once else set()
        new = [credit for credit in once if credit.bank_reference in kept]
        duplicates += len(part) - len(new)
        numbers = [_number(credit) for credit in new]
        owners = _pupils_by_number(conn, set(numbers) - {None})
        matched = [(credit, owners.get(number)) for credit, number in zip(new, numbers, strict=True)]
        booked = _credit_all(conn, [(credit, pupil) for credit, pupil in matched if pupil], now, canteen, portal_url)
        for reference, entry_id in booked.items():
            conn.execute(update(bank_credits).where(bank_credits.c.bank_reference == reference)
                         .values(entry_id=entry_id))
        credited += [(credit, pupil) for credit, pupil in matched if pupil]
        unmatched += [credit for credit, pupil in matched if not pupil]
    return ImportReport(credited, duplicates, unmatched)


def waiting(conn: Connection) -> list[BankCredit]:
    """The credits no reference of ours matched, oldest first."""
    rows = conn.execute(select(bank_credits).where(bank_credits.c.entry_id.is_(None))
                        .order_by(bank_credits.c.imported_at, bank_credits.c.bank_reference)).all()
    return [_stored(row) for row in rows]


def assign(conn: Connection, bank_reference: str, pupil_id: str, now: datetime, *, canteen: dict,
           portal_url: str, maximum_cents: int = DEFAULT_BANK_CREDIT_MAX_CENTS) -> BankCredit:
    """Credit a waiting (unmatched) bank credit to `pupil_id`, once."""
    row = conn.execute(select(bank_credits).where(bank_credits.c.bank_reference == bank_reference)
                       .with_for_update()).first()  # two managers assigning it at once: the second sees it credited
    if row is None:
        raise BankImportError(N_("No bank credit '{reference}'."), reference=bank_reference)
    if row.entry_id is not None:
        raise BankImportError(N_("Bank credit '{reference}' is already credited."), reference=bank_reference)
    if row.currency != "CHF":
        raise BankImportError(N_("Bank credit '{reference}' is in {currency}: accounts are kept in CHF."),
                              reference=bank_reference, currency=row.currency)
    try:
        check_amount(row.amount_cents, maximum_cents=maximum_cents)
    except AmountError as error:
        raise BankImportError(N_("Bank credit '{reference}' cannot be credited: {problem}"),
                              reference=bank_reference, problem=error.message) from None
    _require_pupil(conn, pupil_id)
    credit = _stored(row)
    entry_id = _credit_all(conn, [(credit, pupil_id)], now, canteen, portal_url)[bank_reference]
    conn.execute(update(bank_credits).where(bank_credits.c.bank_reference == bank_reference)
                 .values(entry_id=entry_id))
    return credit


def _stored(row) -> BankCredit:
    return BankCredit(row.bank_reference, row.amount_cents, row.currency, row.reference,
                      date.fromisoformat(row.booked_on) if row.booked_on else None, row.payer, row.note)


def _credit_all(conn: Connection, credits: list[tuple[BankCredit, str]], now: datetime, canteen: dict,
                portal_url: str) -> dict[str, str]:
    """Book each credit to its pupil and tell the families; the entry id of each bank reference."""
    if not credits:
        return {}
    booked = {credit.bank_reference: LedgerEntry(new_entry_id(), pupil_id, credit.amount_cents, EntryKind.BANK_TOPUP,
                                                 now, "server", reference=credit.bank_reference)
              for credit, pupil_id in credits}
    ledger.append_many(conn, list(booked.values()), now)
    _tell_families(conn, credits, now, canteen, portal_url)
    return {reference: entry.id for reference, entry in booked.items()}


def _tell_families(conn: Connection, credits: list[tuple[BankCredit, str]], now: datetime, canteen: dict,
                   portal_url: str) -> None:
    rows = conn.execute(select(pupils.c.pupil_id, pupils.c.first_name, families.c.email, families.c.language)
                        .select_from(pupils.join(families, pupils.c.family_id == families.c.family_id))
                        .where(pupils.c.pupil_id.in_({pupil_id for _credit, pupil_id in credits}))).all()
    addressed = {row.pupil_id: row for row in rows if row.email}
    for credit, pupil_id in credits:
        row = addressed.get(pupil_id)
        if row is None:
            continue
        mail = compose("transfer_received", row.language, first_name=row.first_name, amount_cents=credit.amount_cents,
                       canteen=canteen, portal_url=portal_url)
        outbox.enqueue(conn, row.email, mail.subject, mail.body, now)
