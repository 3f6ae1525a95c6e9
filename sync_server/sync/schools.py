"""A pupil changing school, as the kiosks see it.

Each kiosk of a school holds only that school's pupils (sync/changes.py), so a pupil who moves
must leave one set of kiosks and arrive whole at the other: the kiosks of the school left learn
that the pupil is no longer theirs (refused there from their next sync), and those of the school
joined learn everything a kiosk holds about the pupil — badges, hold, money set aside for a
transfer to a sibling, reservations and the whole ledger of the account, from which they compute
the balance. Entries already on a kiosk are skipped there (they are kept by id). The pupil record
the joining kiosks get says `arrived`: a kiosk that had the pupil before drops what it still holds
of that time (a hold lifted, a reservation cancelled, money set aside and released while the pupil
was away were told only to the school the pupil was at), and takes what follows instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from domain.clock import to_text
from domain.sync import ChangeType
from sync_server.sync import ledger
from sync_server.sync.changes import record_change, record_entries
from sync_server.tables import badges, entries, holds, reservations, sibling_transfers


def publish_move(conn: Connection, pupil: dict, left: str | None, joined: str | None, now: datetime) -> None:
    """Publish pupil record `pupil` (as kiosks hold it) moved from school `left` to `joined` (None:
    every kiosk); the pupil's row already says `joined`."""
    pupil_id = pupil["pupil_id"]
    # A push booking an entry of the pupil at this moment holds the balance's lock: wait for it, so
    # that its entry is in the list below (it was published with the old school). A push after this
    # one waits in turn, and publishes its entries with the new school.
    ledger.balance(conn, pupil_id, lock=True)
    record_change(conn, ChangeType.PUPIL, pupil_id, {**pupil, "active": False}, now, school=left)
    record_change(conn, ChangeType.PUPIL, pupil_id, {**pupil, "arrived": True}, now, school=joined)
    for row in conn.execute(select(badges).where(badges.c.pupil_id == pupil_id).order_by(badges.c.uid)):
        record_change(conn, ChangeType.BADGE, row.uid, dict(row._mapping), now, school=joined)
    hold = conn.execute(select(holds).where(holds.c.pupil_id == pupil_id)).first()
    if hold is not None:
        record_change(conn, ChangeType.HOLD, pupil_id, dict(hold._mapping), now, school=joined)
    for row in conn.execute(select(sibling_transfers.c.transfer_id, sibling_transfers.c.amount_cents)  # before the
                            .where(sibling_transfers.c.from_pupil == pupil_id,  # entries: never a balance without
                                   sibling_transfers.c.status == "waiting")  # what is set aside on it
                            .order_by(sibling_transfers.c.transfer_id)):
        record_change(conn, ChangeType.TRANSFER, row.transfer_id,
                      {"pupil_id": pupil_id, "amount_cents": row.amount_cents}, now, school=joined)
    for row in conn.execute(select(reservations.c.service_date, reservations.c.kind)
                            .where(reservations.c.pupil_id == pupil_id).order_by(reservations.c.service_date)):
        record_change(conn, ChangeType.RESERVATION, f"{pupil_id}/{row.service_date}",
                      {"pupil_id": pupil_id, "service_date": row.service_date, "kind": row.kind}, now, school=joined)
    ids = conn.execute(select(entries.c.id).where(entries.c.account_id == pupil_id).order_by(entries.c.seq)).scalars()
    record_entries(conn, [(entry_id, pupil_id) for entry_id in ids], to_text(now))
