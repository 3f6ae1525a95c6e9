"""Outgoing e-mail: queued in `mail_outbox` with the change it reports, sent later with retries.

A change and its e-mail commit together; the sender (`send_due`, run by the server's scheduler
and by `refectory server send-mail`) hands due messages to the SMTP server and marks each one
sent. A mail server that is down only delays mail: a failed message is tried again later, up to
a day between tries. A crash between the SMTP server's acceptance and the mark can send one
message twice, never lose one.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select, update

from domain.clock import to_text, utc_now

from .db import reading, writing
from .tables import mail_outbox

BATCH = 50
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(days=1)
SMTP_TIMEOUT_SECONDS = 20


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"  # "none", "starttls" or "ssl"
    username: str | None = None
    password: str | None = None
    sender: str = "refectory@localhost"
    folder: str | None = None  # instead of SMTP: each message as a .eml file here (the demo, trials)

    @classmethod
    def from_config(cls, config) -> SmtpSettings:
        security = str(config.get("MAIL_SECURITY", "none")).lower()
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"MAIL_SECURITY must be none, starttls or ssl, not {security!r}")
        return cls(config.get("MAIL_HOST", "localhost"), int(config.get("MAIL_PORT", 25)), security,
                   config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD"),
                   config.get("MAIL_SENDER", "refectory@localhost"), config.get("MAIL_FOLDER"))


@dataclass(frozen=True, slots=True)
class SendReport:
    sent: int
    failed: int
    last_error: str | None = None


def enqueue(conn: Connection, recipient: str, subject: str, body: str, now: datetime) -> None:
    conn.execute(insert(mail_outbox).values(recipient=recipient, subject=subject, body=body, created_at=to_text(now),
                                            next_attempt_at=to_text(now)))


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failure, at most a day."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def send_due(engine: Engine, smtp: SmtpSettings, now: datetime) -> SendReport:
    with reading(engine) as conn:
        due = conn.execute(select(mail_outbox.c.id, mail_outbox.c.recipient, mail_outbox.c.subject,
                                  mail_outbox.c.body, mail_outbox.c.attempts, mail_outbox.c.created_at)
                           .where(mail_outbox.c.sent_at.is_(None), mail_outbox.c.next_attempt_at <= to_text(now))
                           .order_by(mail_outbox.c.id).limit(BATCH)).all()
    if not due:
        return SendReport(0, 0)
    sent, failed, error = 0, 0, None
    try:
        client = _FolderClient(Path(smtp.folder)) if smtp.folder else _connect(smtp)
    except (OSError, smtplib.SMTPException) as problem:
        error = f"{type(problem).__name__}: {problem}"
        _failed(engine, due, error, now)
        return SendReport(0, len(due), error)
    with client:
        for row in due:
            try:
                client.send_message(_message(smtp.sender, row))
            except (OSError, smtplib.SMTPException) as problem:
                error = f"{type(problem).__name__}: {problem}"
                _failed(engine, [row], error, now)
                failed += 1
            else:
                with writing(engine) as conn:
                    conn.execute(update(mail_outbox).where(mail_outbox.c.id == row.id)
                                 .values(sent_at=to_text(now), attempts=row.attempts + 1, last_error=None))
                sent += 1
    return SendReport(sent, failed, error)


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS)
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
    if smtp.username:
        client.login(smtp.username, smtp.password or "")
    return client


class _FolderClient:
    """Stands where the SMTP connection would: writes each message to `<folder>/<id>.eml`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def send_message(self, message: EmailMessage) -> None:
        name = message["Message-ID"].strip("<>").split("@")[0]
        (self.folder / f"{name}.eml").write_bytes(bytes(message))


def _message(sender: str, row) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, row.recipient, row.subject
    message["Date"] = format_datetime(datetime.fromisoformat(row.created_at))
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}")
    message.set_content(row.body)
    return message


def _failed(engine: Engine, rows, error: str, now: datetime) -> None:
    with writing(engine) as conn:
        for row in rows:
            conn.execute(update(mail_outbox).where(mail_outbox.c.id == row.id).values(
                attempts=row.attempts + 1, last_error=error[:500],
                next_attempt_at=to_text(now + retry_delay(row.attempts + 1))))


def start_sender(engine: Engine, smtp: SmtpSettings, every_seconds: float = 30.0, clock=utc_now):
    """Send due mail in the background every `every_seconds` (the development server's job)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(lambda: send_due(engine, smtp, clock()), "interval", seconds=every_seconds,
                      max_instances=1, coalesce=True, id="send-mail")
    scheduler.start()
    return scheduler


def pending(conn: Connection) -> int:
    return conn.execute(select(func.count()).where(mail_outbox.c.sent_at.is_(None))).scalar_one()
