"""The e-mail a family gets at each step of a refund, in the family's language, through the outbox
(so it leaves with the step's transaction or not at all)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from domain.i18n import gettext_for
from domain.money import format_chf
from sync_server.families.accounts import mail_address
from sync_server.families.letters import family_mail
from sync_server.mail import outbox


def tell_family(conn: Connection, request, now: datetime, *, canteen: dict, portal_url: str,
                balance_cents: int | None = None) -> None:
    """`request` is a `refunds.RefundRequest` as it now is; its status says which mail."""
    address = mail_address(conn, request.family_id)
    if address is None:
        return
    email, language = address
    _ = gettext_for(language)
    values = {"name": request.first_name, "iban": request.iban_masked, "holder": request.holder,
              "amount": format_chf(request.amount_cents or 0), "reason": request.refusal_reason or "",
              "balance": format_chf(balance_cents or 0)}
    status = str(request.status)
    if status == "requested":
        subject = _("Refund request received for {name}")
        text = _("We have received your request to refund the balance of {name} ({balance} today) to the account"
                 " {iban} of {holder}. The canteen checks it and writes to you when it is approved.")
    elif status == "approved":
        subject = _("Refund approved for {name}")
        text = _("The refund for {name} is approved. The account is on hold from now on: {name} cannot take"
                 " meals with it until the refund is booked, which happens once every till of the canteen has"
                 " synced (usually within a day).")
    elif status == "to_pay":
        subject = _("Refund booked for {name}: {amount}")
        text = _("The refund of {amount} for {name} is booked and the account is open again. The transfer to"
                 " {iban} ({holder}) follows in the next few days.")
    elif status == "closed":
        subject = _("Refund closed for {name}")
        text = _("When the refund for {name} was booked, the balance was nil: there is nothing to transfer."
                 " The account is open again.")
    elif status == "paid":
        subject = _("Refund paid for {name}: {amount}")
        text = _("The canteen has transferred {amount} to the account {iban} ({holder}).")
    elif status == "refused":
        subject = _("Refund refused for {name}")
        text = _("The canteen has refused the refund for {name}. Reason: {reason}")
    else:
        return
    body = family_mail(_, [text.format(**values), _("Follow your request on the portal: {url}").format(url=portal_url)],
                       canteen)
    outbox.enqueue(conn, email, subject.format(**values), body, now)
