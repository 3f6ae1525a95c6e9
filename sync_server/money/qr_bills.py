"""The Swiss QR-bill a family prints or pays from e-banking to top up a child's account.

The bill carries the canteen's account and structured address (settings `QRBILL_*`), the pupil's
stable payment reference (`bank_import.payment_reference`: a QRR with a QR-IBAN, an RF creditor
reference otherwise), the amount when the family chose one (blank for a standing order), and a
line naming the child. `qrbill` writes it (QR-bill standard 2.3, French, German, Italian or
English labels) as SVG; svglib and ReportLab make the PDF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from qrbill import QRBill
from reportlab.graphics import renderPDF
from sqlalchemy import Connection, select
from svglib.svglib import svg2rlg

from domain.messages import N_, RefectoryError
from sync_server.mail.compose import Mail, compose
from sync_server.money.bank_import import payment_reference
from sync_server.tables import pupils

QR_IID = range(30000, 32000)  # the institution ids of QR-IBANs


class QrBillError(RefectoryError):
    code = "qr_bill_unavailable"


@dataclass(frozen=True, slots=True)
class Creditor:
    iban: str
    name: str
    street: str
    house_num: str
    pcode: str
    city: str
    country: str = "CH"

    @classmethod
    def from_config(cls, config) -> Creditor:
        values = {key: (config.get(f"QRBILL_{key.upper()}") or "").strip()
                  for key in ("iban", "name", "street", "house_num", "pcode", "city", "country")}
        missing = [f"QRBILL_{key.upper()}" for key in ("iban", "name", "pcode", "city") if not values[key]]
        if missing:
            raise QrBillError(N_("QR-bills need the canteen's account and address: set {keys}."),
                              keys=", ".join(missing))
        return cls(**{**values, "iban": values["iban"].replace(" ", "").upper(), "country": values["country"] or "CH"})

    @property
    def is_qr_iban(self) -> bool:
        return self.iban[4:9].isdigit() and int(self.iban[4:9]) in QR_IID

    @property
    def iban_grouped(self) -> str:
        return " ".join(self.iban[n:n + 4] for n in range(0, len(self.iban), 4))

    @property
    def address(self) -> str:
        street = " ".join(part for part in (self.street, self.house_num) if part)
        return ", ".join(part for part in (self.name, street, f"{self.pcode} {self.city}") if part)


def qr_bill_pdf(conn: Connection, creditor: Creditor, pupil_id: str, amount_cents: int | None,
                language: str) -> bytes:
    """The QR-bill for topping up `pupil_id`, as a one-page A4 PDF."""
    pupil = conn.execute(select(pupils.c.first_name, pupils.c.last_name, pupils.c.class_name)
                         .where(pupils.c.pupil_id == pupil_id)).first()
    if pupil is None:
        raise QrBillError(N_("Unknown pupil '{pupil_id}'."), pupil_id=pupil_id)
    reference = payment_reference(conn, pupil_id, qr_iban=creditor.is_qr_iban)
    try:
        bill = QRBill(
            account=creditor.iban,
            creditor={"name": creditor.name, "street": creditor.street, "house_num": creditor.house_num,
                      "pcode": creditor.pcode, "city": creditor.city, "country": creditor.country},
            amount=None if amount_cents is None else str(Decimal(amount_cents) / 100),
            reference_number=reference,
            additional_information=f"{pupil.first_name} {pupil.last_name} ({pupil.class_name})"[:140],
            language=language if language in ("fr", "de", "it", "en") else "fr",
        )
    except ValueError as error:  # the account or the canteen's address is not acceptable on a QR-bill
        raise QrBillError(N_("The QR-bill cannot be made: {problem}."), problem=str(error)) from None
    svg = io.StringIO()
    bill.as_svg(svg, full_page=True)
    drawing = svg2rlg(io.BytesIO(svg.getvalue().encode()))
    return renderPDF.drawToString(drawing)


def qr_bill_mail(child, amount_cents: int | None, language: str, canteen: dict) -> Mail:
    """The e-mail that carries a QR-bill the family made on the portal, in the family's language."""
    return compose("qr_bill", language, first_name=child.first_name, amount_cents=amount_cents, canteen=canteen)
