"""Import a pupil roster CSV into the kiosk store: every row checked first, then one transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from domain.badges import normalize_or_none
from domain.messages import N_, Message
from domain.roster import (
    ImportSummary,
    RosterError,
    RowError,
    check_header,
    parse_csv,
    unreadable,
    validate_roster,
)

from .store import Store


def read_csv(path: Path) -> tuple[list[str] | None, list[tuple[int, dict]]]:
    """Header and (line number, row) pairs of a UTF-8 CSV file (a BOM from Excel is accepted)."""
    try:
        return parse_csv(path.read_bytes())
    except OSError as error:
        raise unreadable(error) from None


def import_roster(store: Store, path: Path, now: datetime) -> ImportSummary:
    header, rows = read_csv(path)
    errors = check_header(header)
    if errors:
        raise RosterError(errors)
    if not rows:
        raise RosterError([RowError(1, Message(N_("The file has no pupil rows.")))])
    with store.transaction():
        uids = [u for u in (normalize_or_none(r.get("badge_uid") or "") for _, r in rows) if u]
        valid, errors = validate_roster(
            rows, categories=store.settings().categories, badge_owners=store.badge_owners(uids),
            cashier_badges=store.cashier_badges(),
        )
        if errors:
            raise RosterError(errors)
        created = updated = badges = 0
        for row in valid:
            if store.pupil(row.pupil.pupil_id) is None:
                created += 1
            else:
                updated += 1
            store.upsert_pupil(row.pupil)
            if row.badge_uid and store.assign_badge(row.badge_uid, row.pupil.pupil_id, now):
                badges += 1
    return ImportSummary(created, updated, badges)
