"""Documents the manager publishes on the portal (registration form, rules, charter, terms).

Files are copied into the instance's `documents/` folder under a random name; families download
them by number, so no name a browser sends ever reaches the file system.
"""

from __future__ import annotations

import mimetypes
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select

from domain.clock import from_text, to_text
from domain.messages import N_, RefectoryError
from sync_server.tables import documents

ALLOWED_SUFFIXES = {".pdf", ".odt", ".doc", ".docx", ".txt", ".png", ".jpg", ".jpeg"}
MAX_BYTES = 20 * 1024 * 1024
MAX_TITLE = 200


class DocumentError(RefectoryError):
    code = "invalid_request"


@dataclass(frozen=True, slots=True)
class Document:
    document_id: int
    title: str
    filename: str
    stored_name: str
    content_type: str
    size_bytes: int
    published_at: datetime


def add(conn: Connection, folder: Path, source: Path, title: str, now: datetime) -> Document:
    title = (title or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise DocumentError(N_("A document needs a title of at most {count} characters."), count=MAX_TITLE)
    suffix = source.suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise DocumentError(N_("'{name}': only {kinds} files can be published."), name=source.name,
                            kinds=", ".join(sorted(ALLOWED_SUFFIXES)))
    try:
        size = source.stat().st_size
    except OSError as error:
        raise DocumentError(N_("Cannot read '{name}': {problem}"), name=source.name, problem=error.strerror) from None
    if not 0 < size <= MAX_BYTES:
        raise DocumentError(N_("'{name}' must hold between 1 byte and {count} MB."), name=source.name,
                            count=MAX_BYTES // 2**20)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{uuid.uuid4().hex}{suffix}"
    shutil.copyfile(source, folder / stored_name)
    content_type = mimetypes.types_map.get(suffix, "application/octet-stream")
    values = {"title": title, "filename": source.name, "stored_name": stored_name, "content_type": content_type,
              "size_bytes": size, "published_at": to_text(now)}
    document_id = conn.execute(insert(documents).values(**values)).inserted_primary_key[0]
    return Document(document_id, **{**values, "published_at": now})


def published(conn: Connection) -> list[Document]:
    rows = conn.execute(select(documents).order_by(documents.c.title, documents.c.document_id)).all()
    return [Document(*row[:-1], from_text(row[-1])) for row in rows]


def find(conn: Connection, document_id: int) -> Document | None:
    row = conn.execute(select(documents).where(documents.c.document_id == document_id)).first()
    return Document(*row[:-1], from_text(row[-1])) if row else None


def terms_number(config) -> int | None:
    """The document online payment shows as its terms (PAYMENT_TERMS_DOCUMENT), if one is set."""
    number = str(config.get("PAYMENT_TERMS_DOCUMENT") or "").strip()
    return int(number) if number.isdigit() else None


def withdraw(conn: Connection, document_id: int, *, kept: int | None = None) -> Document:
    """Take a document off the portal; its file is left for `remove_file` once this has committed.
    `kept` is the document online payment shows as its terms: withdrawing it would stop payments."""
    found = find(conn, document_id)
    if found is None:
        raise DocumentError(N_("No document no. {number}."), number=document_id)
    if document_id == kept:
        raise DocumentError(N_("Document no. {number} holds the online payment terms (PAYMENT_TERMS_DOCUMENT): "
                               "publish the new terms and change that setting first."), number=document_id)
    conn.execute(delete(documents).where(documents.c.document_id == document_id))
    return found


def remove_file(folder: Path, document: Document) -> None:
    """Delete a withdrawn document's file (after its row is gone, so no family is sent a missing file)."""
    (folder / document.stored_name).unlink(missing_ok=True)
