"""Refund transfers as an ISO 20022 credit-transfer file (pain.001) for the canteen's e-banking.

Swiss Payment Standards: pain.001.001.09 (SPS 2022 and later) by default, pain.001.001.03 for a
bank that still wants it (`REFUND_PAIN001_VERSION = "03"`). Transfers to CH/LI accounts form one
payment group (the IBAN is enough); transfers abroad another, with the creditor's bank's BIC when
schwifty knows it. Written with the standard library's ElementTree; the tests validate the output
against ISO's own schemas.

The debtor is the canteen's account: `REFUND_DEBTOR_IBAN`, `REFUND_DEBTOR_NAME` and optionally
`REFUND_DEBTOR_BIC`, or else `QRBILL_IBAN` and `QRBILL_NAME` when that IBAN is not a QR-IBAN (a
QR-IBAN only receives QR payments; it cannot be debited).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime
from xml.etree import ElementTree as ET

from schwifty import IBAN
from schwifty.exceptions import NationalChecksumNotVerified, SchwiftyException

from domain.clock import local
from domain.messages import N_, RefectoryError

VERSIONS = ("09", "03")
DOMESTIC = frozenset({"CH", "LI"})


def is_qr_iban(iban: IBAN) -> bool:
    """A QR-IBAN (institution id 30000-31999) only receives QR-bill payments: it can neither pay a
    refund nor receive one."""
    return iban.country_code in DOMESTIC and 30000 <= int(iban.bank_code) <= 31999


class Pain001Error(RefectoryError):
    code = "invalid_request"


@dataclass(frozen=True, slots=True)
class Transfer:
    end_to_end_id: str  # our reference of the payment, e.g. "REFUND-12" (35 characters at most)
    amount_cents: int
    iban: str
    holder: str
    remittance: str  # what the family reads on its statement (140 characters at most)


@dataclass(frozen=True, slots=True)
class Debtor:
    name: str
    iban: str
    bic: str | None = None

    @classmethod
    def from_config(cls, config) -> Debtor:
        iban_text = config.get("REFUND_DEBTOR_IBAN") or config.get("QRBILL_IBAN") or ""
        name = config.get("REFUND_DEBTOR_NAME") or config.get("QRBILL_NAME") or ""
        if not iban_text or not name:
            raise Pain001Error(N_("Set REFUND_DEBTOR_IBAN and REFUND_DEBTOR_NAME (the canteen's account the"
                                  " refunds are paid from) to export a payment file."))
        iban = _iban(iban_text)
        if is_qr_iban(iban):
            raise Pain001Error(N_("{iban} is a QR-IBAN, which only receives payments: set REFUND_DEBTOR_IBAN to"
                                  " the account the refunds are paid from."), iban=iban.formatted)
        return cls(name[:70], iban.compact, config.get("REFUND_DEBTOR_BIC") or None)


def _iban(text: str) -> IBAN:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NationalChecksumNotVerified)
            return IBAN(text)
    except SchwiftyException:
        raise Pain001Error(N_("The debtor account {iban} is not a valid IBAN."), iban=text) from None


def credit_transfer(transfers: list[Transfer], debtor: Debtor, *, message_id: str, created_at: datetime,
                    execution_date: date, version: str = "09") -> bytes:
    """The pain.001 document (UTF-8 XML) paying `transfers` from `debtor`'s account in CHF."""
    if version not in VERSIONS:
        raise Pain001Error(N_("pain.001 version {version} is not supported (choose 09 or 03)."), version=version)
    if not transfers:
        raise Pain001Error(N_("There is no refund to pay."))
    ns = f"urn:iso:std:iso:20022:tech:xsd:pain.001.001.{version}"

    def sub(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, name, attributes)
        if text is not None:
            element.text = text
        return element

    document = ET.Element("Document", {"xmlns": ns})  # every element in ISO's namespace
    root = sub(document, "CstmrCdtTrfInitn")
    header = sub(root, "GrpHdr")
    sub(header, "MsgId", message_id[:35])
    sub(header, "CreDtTm", local(created_at).replace(microsecond=0).isoformat())
    sub(header, "NbOfTxs", str(len(transfers)))
    sub(header, "CtrlSum", _amount(sum(t.amount_cents for t in transfers)))
    sub(sub(header, "InitgPty"), "Nm", debtor.name)
    domestic = [t for t in transfers if t.iban[:2] in DOMESTIC]
    abroad = [t for t in transfers if t.iban[:2] not in DOMESTIC]
    for number, group in enumerate((g for g in (domestic, abroad) if g), start=1):
        _payment_group(sub, root, f"{message_id[:31]}-{number}", group, debtor, execution_date, version)
    return ET.tostring(document, encoding="UTF-8", xml_declaration=True)


def _payment_group(sub, root, group_id: str, transfers: list[Transfer], debtor: Debtor, execution_date: date,
                   version: str) -> None:
    bic = "BICFI" if version == "09" else "BIC"
    group = sub(root, "PmtInf")
    sub(group, "PmtInfId", group_id)
    sub(group, "PmtMtd", "TRF")
    sub(group, "BtchBookg", "true")
    sub(group, "NbOfTxs", str(len(transfers)))
    sub(group, "CtrlSum", _amount(sum(t.amount_cents for t in transfers)))
    if version == "09":
        sub(sub(group, "ReqdExctnDt"), "Dt", execution_date.isoformat())
    else:
        sub(group, "ReqdExctnDt", execution_date.isoformat())
    sub(sub(group, "Dbtr"), "Nm", debtor.name)
    sub(sub(sub(group, "DbtrAcct"), "Id"), "IBAN", debtor.iban)
    agent = sub(sub(group, "DbtrAgt"), "FinInstnId")
    if debtor.bic:
        sub(agent, bic, debtor.bic)
    else:  # a Swiss bank is also known by its institution id (IID), in the IBAN
        member = sub(agent, "ClrSysMmbId")
        sub(sub(member, "ClrSysId"), "Cd", "CHBCC")
        sub(member, "MmbId", debtor.iban[4:9])
    for transfer in transfers:
        item = sub(group, "CdtTrfTxInf")
        sub(sub(item, "PmtId"), "EndToEndId", transfer.end_to_end_id[:35])
        sub(sub(item, "Amt"), "InstdAmt", _amount(transfer.amount_cents), Ccy="CHF")
        creditor_bic = _creditor_bic(transfer.iban)
        if creditor_bic:
            sub(sub(sub(item, "CdtrAgt"), "FinInstnId"), bic, creditor_bic)
        sub(sub(item, "Cdtr"), "Nm", transfer.holder[:70])
        sub(sub(sub(item, "CdtrAcct"), "Id"), "IBAN", transfer.iban)
        sub(sub(item, "RmtInf"), "Ustrd", transfer.remittance[:140])


def _creditor_bic(iban_text: str) -> str | None:
    """Abroad only: at home the IBAN names the bank."""
    if iban_text[:2] in DOMESTIC:
        return None
    bic = _iban(iban_text).bic
    return str(bic) if bic else None


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
