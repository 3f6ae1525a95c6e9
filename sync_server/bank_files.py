"""Credits read from the bank's ISO 20022 files: camt.054 (credit notifications) and camt.053
(statements), in the versions Swiss banks send (.001.04 and .001.08 among them).

Only what a top-up needs is read: each booked credit's amount, its structured reference (QRR or
RF), the bank's own reference for it (`AcctSvcrRef`, what makes an import idempotent), the booking
date and the payer. Elements are found by their local names, so a new schema version with the
same layout needs no change. Parsing goes through defusedxml: the file comes from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from domain.messages import N_, RefectoryError

MESSAGES = {"BkToCstmrDbtCdtNtfctn": "Ntfctn", "BkToCstmrStmt": "Stmt"}  # camt.054, camt.053


class BankFileError(RefectoryError):
    code = "invalid_bank_file"


@dataclass(frozen=True, slots=True)
class BankCredit:
    bank_reference: str  # unique per credit at the bank: the same credit in two files is one credit
    amount_cents: int
    currency: str
    reference: str | None  # the QRR or RF reference the payer used, as written
    booked_on: date | None
    payer: str | None
    note: str | None  # unstructured remittance text, when there is no reference


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _find(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        found = _children(element, name)
        element = found[0] if found else None
    return element


def _text(element: Element | None, *path: str) -> str | None:
    found = _find(element, *path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def read_credits(data: bytes) -> list[BankCredit]:
    """Every booked credit of a camt.053 or camt.054 file, in file order."""
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as error:
        raise BankFileError(N_("This is not a readable XML bank file: {problem}."), problem=str(error)) from None
    message = next((child for child in root if _local(child.tag) in MESSAGES), None)
    if _local(root.tag) != "Document" or message is None:
        raise BankFileError(N_("This XML file is not a camt.053 or camt.054 bank file."))
    credits = []
    for report in _children(message, MESSAGES[_local(message.tag)]):
        for entry in _children(report, "Ntry"):
            if _text(entry, "CdtDbtInd") != "CRDT" or _status(entry) not in ("BOOK", None):
                continue
            credits.extend(_entry_credits(entry))
    return credits


def _status(entry: Element) -> str | None:
    return _text(entry, "Sts", "Cd") or _text(entry, "Sts")  # .08 nests the code, .04 does not


def _entry_credits(entry: Element) -> list[BankCredit]:
    booked = _date(_text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm"))
    entry_reference = _text(entry, "AcctSvcrRef")
    details = [tx for block in _children(entry, "NtryDtls") for tx in _children(block, "TxDtls")]
    if not details:  # an entry without details: the entry is the credit
        return [_credit(entry, entry, entry_reference, booked)]
    credits = []
    for number, tx in enumerate(details, start=1):
        if _text(tx, "CdtDbtInd") not in ("CRDT", None):
            continue
        own = _text(tx, "Refs", "AcctSvcrRef")
        bank_reference = own or (f"{entry_reference}/{number}" if entry_reference else None)
        amount_from = tx if _find(tx, "Amt") is not None or _find(tx, "AmtDtls") is not None else entry
        credits.append(_credit(tx, amount_from, bank_reference, booked))
    return credits


def _credit(tx: Element, amount_from: Element, bank_reference: str | None, booked: date | None) -> BankCredit:
    if not bank_reference:
        raise BankFileError(
            N_("A credit has no bank reference (AcctSvcrRef); it cannot be imported once and only once.")
        )
    amount = _find(amount_from, "Amt")
    if amount is None:
        amount = _find(amount_from, "AmtDtls", "TxAmt", "Amt")
    return BankCredit(
        bank_reference=bank_reference,
        amount_cents=_cents(amount, bank_reference),
        currency=amount.get("Ccy", "") if amount is not None else "",
        reference=_text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref"),
        booked_on=booked,
        payer=_text(tx, "RltdPties", "Dbtr", "Pty", "Nm") or _text(tx, "RltdPties", "Dbtr", "Nm"),
        note=_text(tx, "RmtInf", "Ustrd"),
    )


def _cents(amount: Element | None, bank_reference: str) -> int:
    try:
        value = Decimal((amount.text or "").strip()) if amount is not None else None
    except InvalidOperation:
        value = None
    if value is None or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise BankFileError(N_("Credit {reference}: the amount is missing or not a positive amount in centimes."),
                            reference=bank_reference)
    return int(value * 100)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        raise BankFileError(N_("'{text}' is not a booking date."), text=text) from None
