"""The e-mail a family gets at each step of a refund, in the family's language, through the outbox
(so it leaves with the step's transaction or not at all)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from sync_server.families.accounts import mail_family


def tell_family(conn: Connection, request, now: datetime, *, canteen: dict, portal_url: str,
                balance_cents: int | None = None) -> None:
    """`request` is a `refunds.RefundRequest` as it now is; its status names the mail
    (`mail/templates/refund_<status>.txt`)."""
    mail_family(conn, request.family_id, f"refund_{request.status}", now, request=request,
                balance_cents=balance_cents, canteen=canteen, portal_url=portal_url)
