"""Outgoing e-mail: queued in `mail_outbox` with the change it reports, sent later with retries.

A change and its e-mail commit together; the sender (`send_due`, run by the server's scheduler
and by `refectory server send-mail`) claims due messages for a while (so two senders do not send
the same one), hands them to the SMTP server and marks each one sent. A mail server that is down
only delays mail: a failed message is tried again later, up to a day between tries. A message the
mail server refuses for good (5xx), or that cannot be written (a control character in a header),
or that failed `MAX_ATTEMPTS` times is given up and kept with its error, without holding up the
others. A crash between the SMTP server's acceptance and the mark can send one message twice,
never lose one.
"""

from __future__ import annotations

import smtplib
import ssl
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update

from domain.clock import to_text, utc_now
from domain.text import has_control_characters
from sync_server.db import writing
from sync_server.tables import mail_attachments, mail_outbox

BATCH = 50
CLAIM = timedelta(minutes=10)  # how long a sender has the messages it took
MAX_ATTEMPTS = 15  # about a week of tries
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
        """From the app's `MAIL_*` settings, checked and typed when the app was made (settings.py)."""
        return cls(config["MAIL_HOST"], config["MAIL_PORT"], config["MAIL_SECURITY"],
                   config["MAIL_USERNAME"] or None, config["MAIL_PASSWORD"] or None, config["MAIL_SENDER"],
                   config["MAIL_FOLDER"] or None)


@dataclass(frozen=True, slots=True)
class SendReport:
    sent: int
    failed: int  # tried again later
    last_error: str | None = None
    given_up: int = 0


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    content: bytes


_INSERT_MAIL = insert(mail_outbox)


def enqueue(conn: Connection, recipient: str, subject: str, body: str, now: datetime,
            attachments: Sequence[Attachment] = ()) -> None:
    message_id = conn.execute(_INSERT_MAIL, {"recipient": recipient, "subject": subject, "body": body,
                                             "created_at": to_text(now),
                                             "next_attempt_at": to_text(now)}).inserted_primary_key[0]
    if attachments:
        conn.execute(insert(mail_attachments), [
            {"message_id": message_id, "filename": item.filename, "content_type": item.content_type,
             "content": item.content} for item in attachments])


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failure, at most a day."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def send_due(engine: Engine, smtp: SmtpSettings, now: datetime) -> SendReport:
    due, attached = _claim(engine, now)
    if not due:
        return SendReport(0, 0)
    sent = failed = given_up = 0
    error = None
    try:
        client = _FolderClient(Path(smtp.folder)) if smtp.folder else _connect(smtp)
    except (OSError, smtplib.SMTPException) as problem:
        error = _describe(problem)
        given_up = sum(_failed(engine, row, error, now, permanent=False) for row in due)
        return SendReport(0, len(due) - given_up, error, given_up)
    with client:
        for row in due:
            try:
                client.send_message(_message(smtp.sender, row, attached[row.id]))
            except (ValueError, OSError, smtplib.SMTPException) as problem:
                error = _describe(problem)
                if _failed(engine, row, error, now, permanent=_refused_for_good(problem)):
                    given_up += 1
                else:
                    failed += 1
            else:
                with writing(engine) as conn:
                    conn.execute(update(mail_outbox).where(mail_outbox.c.id == row.id)
                                 .values(sent_at=to_text(now), attempts=row.attempts + 1, last_error=None))
                sent += 1
    return SendReport(sent, failed, error, given_up)


def _claim(engine: Engine, now: datetime) -> tuple[list, dict[int, list[Attachment]]]:
    """The due messages and their files, marked as taken for `CLAIM` so that another sender leaves
    them alone."""
    with writing(engine) as conn:
        due = conn.execute(select(mail_outbox.c.id, mail_outbox.c.recipient, mail_outbox.c.subject,
                                  mail_outbox.c.body, mail_outbox.c.attempts, mail_outbox.c.created_at)
                           .where(mail_outbox.c.sent_at.is_(None), mail_outbox.c.given_up_at.is_(None),
                                  mail_outbox.c.next_attempt_at <= to_text(now))
                           .order_by(mail_outbox.c.id).limit(BATCH)
                           .with_for_update(of=mail_outbox, skip_locked=True)).all()  # two senders: each its own
        attached = defaultdict(list)
        if due:
            ids = [row.id for row in due]
            conn.execute(update(mail_outbox).where(mail_outbox.c.id.in_(ids))
                         .values(next_attempt_at=to_text(now + CLAIM)))
            for row in conn.execute(select(mail_attachments.c.message_id, mail_attachments.c.filename,
                                           mail_attachments.c.content_type, mail_attachments.c.content)
                                    .where(mail_attachments.c.message_id.in_(ids)).order_by(mail_attachments.c.id)):
                attached[row.message_id].append(Attachment(row.filename, row.content_type, row.content))
    return due, attached


def _refused_for_good(problem: Exception) -> bool:
    if isinstance(problem, ValueError):  # the message cannot be written: trying again will not help
        return True
    if isinstance(problem, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _text in problem.recipients.values())
    return isinstance(problem, smtplib.SMTPResponseException) and problem.smtp_code >= 500


def _describe(problem: Exception) -> str:
    return f"{type(problem).__name__}: {problem}"[:500]


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


def _message(sender: str, row, attachments: Sequence[Attachment] = ()) -> EmailMessage:
    """The message as the SMTP server receives it; a header with a control character in it (a NUL,
    a line break) is refused whatever let it in, so it can never add a header or a recipient."""
    headers = {"From": sender, "To": row.recipient, "Subject": row.subject}
    for name, value in headers.items():
        if has_control_characters(value):
            raise ValueError(f"the {name} header would hold a control character: {value!r}")
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    message["Date"] = format_datetime(datetime.fromisoformat(row.created_at))
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}")
    message.set_content(row.body)
    for item in attachments:
        maintype, _slash, subtype = item.content_type.partition("/")
        message.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
    return message


def _failed(engine: Engine, row, error: str, now: datetime, *, permanent: bool) -> bool:
    """Schedule the next try, or give the message up; True when given up."""
    attempts = row.attempts + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    values = {"attempts": attempts, "last_error": error}
    if give_up:
        values["given_up_at"] = to_text(now)
    else:
        values["next_attempt_at"] = to_text(now + retry_delay(attempts))
    with writing(engine) as conn:
        conn.execute(update(mail_outbox).where(mail_outbox.c.id == row.id).values(**values))
    return give_up


def start_sender(engine: Engine, smtp: SmtpSettings, every_seconds: float = 30.0, clock=utc_now):
    """Send due mail in the background every `every_seconds` (the development server's job)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(lambda: send_due(engine, smtp, clock()), "interval", seconds=every_seconds,
                      max_instances=1, coalesce=True, id="send-mail")
    scheduler.start()
    return scheduler
