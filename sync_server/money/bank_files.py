"""Credits read from the bank's ISO 20022 files: camt.054 (credit notifications) and camt.053
(statements), in the versions Swiss banks send (.001.04 and .001.08 among them).

Only what a top-up needs is read: each booked credit's amount, its structured reference (QRR or
RF), the bank's own reference for it (`AcctSvcrRef`, what makes an import idempotent), the booking
date and the payer. Elements are found by their local names, so a new schema version with the
same layout needs no change. Parsing goes through defusedxml: the file comes from outside.

The file is read as a stream, one entry (`Ntry`) at a time, so memory stays flat whatever its
size; a file larger than `MAX_BANK_FILE_BYTES` is refused before parsing, and one with more than
`MAX_CREDITS_PER_FILE` credits as soon as the parser reaches the one too many. One bad credit
refuses the whole file, naming the credit and its line: the manager asks the bank for a good one
rather than books half of a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from xml.etree.ElementTree import Element, TreeBuilder

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from domain.messages import N_, RefectoryError
from domain.money import AmountError, parse_amount

MESSAGES = {"BkToCstmrDbtCdtNtfctn": "Ntfctn", "BkToCstmrStmt": "Stmt"}  # camt.054, camt.053
# A school receives a few hundred transfers a day; a month's statement of a busy canteen stays in
# the low thousands, and its file (2-3 KB a credit as banks write them) well below these bounds.
MAX_BANK_FILE_BYTES = 32 * 1024 * 1024
MAX_CREDITS_PER_FILE = 10_000
_FEED_BYTES = 256 * 1024


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


def too_large(size: int) -> BankFileError:
    return BankFileError(N_("This file holds {size} MB; a bank file may hold at most {limit} MB. Ask the e-banking"
                            " for the credits of a shorter period (a day, a week)."),
                         size=f"{size / 1024 / 1024:.1f}", limit=MAX_BANK_FILE_BYTES // 1024 // 1024)


def read_credits(data: bytes, *, maximum_cents: int | None = None) -> list[BankCredit]:
    """Every booked credit of a camt.053 or camt.054 file, in file order; each amount at most
    `maximum_cents` (else the whole file is refused)."""
    if len(data) > MAX_BANK_FILE_BYTES:
        raise too_large(len(data))
    reader = _Reader(maximum_cents)
    parser = ElementTree.XMLParser(target=reader)
    reader.position = parser.parser  # expat knows the line of the element it is reading
    try:
        for start in range(0, len(data), _FEED_BYTES):
            parser.feed(data[start:start + _FEED_BYTES])
        parser.close()
    except (ElementTree.ParseError, DefusedXmlException, LookupError) as error:  # LookupError: an unknown encoding
        raise BankFileError(N_("This is not a readable XML bank file: {problem}."), problem=str(error)) from None
    return reader.credits


def _not_camt() -> BankFileError:
    return BankFileError(N_("This XML file is not a camt.053 or camt.054 bank file."))


class _Reader:
    """The parser's target: follows the element path, builds a tree only for the entry being
    read, turns it into credits when it ends, and lets it go."""

    def __init__(self, maximum_cents: int | None) -> None:
        self.maximum_cents = maximum_cents
        self.position = None
        self.path: list[str] = []  # local names of the open elements
        self.message: str | None = None
        self.entry: TreeBuilder | None = None
        self.lines: dict[Element, int] = {}
        self.credits: list[BankCredit] = []

    def start(self, tag: str, attrib: dict) -> None:
        name, depth = _local(tag), len(self.path)
        if depth == 0 and name != "Document":
            raise _not_camt()
        if depth == 1 and self.message is None:
            if name not in MESSAGES:
                raise _not_camt()
            self.message = name
        self.path.append(name)
        if (self.entry is None and name == "Ntry" and depth == 3 and self.path[1] == self.message
                and self.path[2] == MESSAGES[self.message]):
            self.entry, self.lines = TreeBuilder(), {}
        if self.entry is not None:
            self.lines[self.entry.start(tag, attrib)] = self.position.CurrentLineNumber

    def data(self, text: str) -> None:
        if self.entry is not None:
            self.entry.data(text)

    def end(self, tag: str) -> None:
        self.path.pop()
        if self.entry is None:
            return
        element = self.entry.end(tag)
        if len(self.path) == 3:  # the entry is complete
            self.entry = None
            if _text(element, "CdtDbtInd") == "CRDT" and _status(element) in ("BOOK", None):
                self.credits.extend(_entry_credits(element, self.lines, self.maximum_cents))
            if len(self.credits) > MAX_CREDITS_PER_FILE:
                raise BankFileError(N_("This file holds more than {limit} credits (line {line}). Ask the e-banking"
                                       " for the credits of a shorter period (a day, a week)."),
                                    limit=f"{MAX_CREDITS_PER_FILE:,}".replace(",", "'"),
                                    line=self.position.CurrentLineNumber)

    def close(self) -> None:
        if self.message is None:
            raise _not_camt()


@lru_cache(maxsize=256)  # a file uses a few dozen tags, each thousands of times
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


def _status(entry: Element) -> str | None:
    return _text(entry, "Sts", "Cd") or _text(entry, "Sts")  # .08 nests the code, .04 does not


def _entry_credits(entry: Element, lines: dict[Element, int], maximum_cents: int | None) -> list[BankCredit]:
    booked = _date(_text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm"), lines[entry])
    entry_reference = _text(entry, "AcctSvcrRef")
    details = [tx for block in _children(entry, "NtryDtls") for tx in _children(block, "TxDtls")]
    if not details:  # an entry without details: the entry is the credit
        return [_credit(entry, entry, entry_reference, booked, lines, maximum_cents)]
    credits = []
    debits: list[tuple[int, str]] | None = []  # None: a debit without its amount, so the entry is not added up
    for number, tx in enumerate(details, start=1):
        own = _text(tx, "Refs", "AcctSvcrRef")
        bank_reference = own or (f"{entry_reference}/{number}" if entry_reference else None)
        # a transaction without its own amount is the entry's amount only when it is the entry's one transaction
        amount_from = tx if _amount(tx) is not None or len(details) > 1 else entry
        if _text(tx, "CdtDbtInd") not in ("CRDT", None):
            if debits is not None and _amount(amount_from) is not None:
                debits.append(_cents(tx, amount_from, bank_reference or "?", lines, None))
            else:
                debits = None
            continue
        credits.append(_credit(tx, amount_from, bank_reference, booked, lines, maximum_cents))
    if debits is not None and _find(entry, "Chrgs") is None:  # with the bank's charges, booked net of them
        _check_adds_up(entry, entry_reference, credits, debits, lines)
    return credits


def _check_adds_up(entry: Element, entry_reference: str | None, credits: list[BankCredit],
                   debits: list[tuple[int, str]], lines: dict[Element, int]) -> None:
    """A batch entry's transactions add up to the entry's amount, as the bank booked it: otherwise
    the file would credit what the bank never did (or leave out what it did)."""
    booked, currency = _cents(entry, entry, entry_reference or "?", lines, None)
    if any(c.currency != currency for c in credits) or any(ccy != currency for _cents_, ccy in debits):
        return  # amounts in another currency than the account's do not add up to its amount
    total = sum(c.amount_cents for c in credits) - sum(cents for cents, _ccy in debits)
    if total != booked:
        raise BankFileError(N_("Entry {reference}, line {line}: its transactions add up to {total}, not to the"
                               " {amount} the bank booked."), reference=entry_reference or "?", line=lines[entry],
                            total=_plain(total), amount=_plain(booked))


def _plain(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _amount(element: Element) -> Element | None:
    found = _find(element, "Amt")
    return found if found is not None else _find(element, "AmtDtls", "TxAmt", "Amt")


def _cents(tx: Element, amount_from: Element, reference: str, lines: dict[Element, int],
           maximum_cents: int | None) -> tuple[int, str]:
    """(cents, currency) of the amount `amount_from` holds, for the credit or debit `tx`."""
    amount = _amount(amount_from)
    if amount is None:
        raise BankFileError(N_("Credit {reference}, line {line}: the amount is missing."),
                            reference=reference, line=lines[tx])
    try:
        return parse_amount(amount.text or "", plain=True, maximum_cents=maximum_cents), amount.get("Ccy", "")
    except AmountError as error:
        raise BankFileError(N_("Credit {reference}, line {line}: {problem}"), reference=reference,
                            line=lines[amount], problem=error.message) from None


def _credit(tx: Element, amount_from: Element, bank_reference: str | None, booked: date | None,
            lines: dict[Element, int], maximum_cents: int | None) -> BankCredit:
    if not bank_reference:
        raise BankFileError(N_("Line {line}: a credit has no bank reference (AcctSvcrRef); it cannot be imported once"
                               " and only once."), line=lines[tx])
    cents, currency = _cents(tx, amount_from, bank_reference, lines, maximum_cents)
    return BankCredit(
        bank_reference=bank_reference,
        amount_cents=cents,
        currency=currency,
        reference=_text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref"),
        booked_on=booked,
        payer=_text(tx, "RltdPties", "Dbtr", "Pty", "Nm") or _text(tx, "RltdPties", "Dbtr", "Nm"),
        note=_text(tx, "RmtInf", "Ustrd"),
    )


def _date(text: str | None, line: int) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        raise BankFileError(N_("Line {line}: '{text}' is not a booking date."), line=line, text=text[:40]) from None
