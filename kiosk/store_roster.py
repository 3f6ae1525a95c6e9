"""The kiosk store's roster side: pupils, badges, holds, reservations and cashiers.

A mixin of `Store` (one connection, one transaction discipline), kept apart so that the ledger
queries and the roster queries each fit in one reading.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.clock import to_text
from domain.meals import BadgeStatus, HoldReason, Pupil, ReservationKind

_PUPIL_COLUMNS = "p.pupil_id, p.first_name, p.last_name, p.class_name, p.category, p.diet, p.active, p.family_id"
# What the pupil `p` may spend, beside `balances bal`: the balance less what the server set aside for
# transfers to siblings it has not booked yet (the table is empty but for those few minutes), down to
# zero: meals served offline before the set-aside arrived may have left less than it (the server then
# cancels the transfer), and the counter shows a balance of 0, not a debt.
_SPENDABLE = ("COALESCE(bal.balance_cents, 0) - MIN(MAX(COALESCE(bal.balance_cents, 0), 0),"
              " COALESCE((SELECT SUM(t.amount_cents) FROM set_aside t WHERE t.pupil_id = p.pupil_id), 0))")


def _pupil(row: tuple) -> Pupil:
    pupil_id, first, last, class_name, category, diet, active, family_id = row
    return Pupil(pupil_id, first, last, class_name, category, diet, bool(active), family_id)


class RosterQueries:
    def badge_with_pupil(self, uid: str) -> tuple[BadgeStatus, Pupil] | None:
        row = self.conn.execute(
            f"SELECT b.status, {_PUPIL_COLUMNS} FROM badges b JOIN pupils p USING (pupil_id) WHERE b.uid = ?",
            (uid,),
        ).fetchone()
        return (BadgeStatus(row[0]), _pupil(row[1:])) if row else None

    def pupil(self, pupil_id: str) -> Pupil | None:
        row = self.conn.execute(f"SELECT {_PUPIL_COLUMNS} FROM pupils p WHERE pupil_id = ?", (pupil_id,)).fetchone()
        return _pupil(row) if row else None

    def active_pupils(self) -> list[Pupil]:
        """Every pupil enrolled at the refectory, by last then first name (a school: a few thousand)."""
        rows = self.conn.execute(f"SELECT {_PUPIL_COLUMNS} FROM pupils p WHERE p.active ORDER BY p.last_name,"
                                 " p.first_name, p.pupil_id")
        return [_pupil(row) for row in rows]

    def active_badges(self) -> list[tuple[str, Pupil]]:
        """(uid, pupil) of every active badge of an enrolled pupil, by name (the demo's badge panel)."""
        rows = self.conn.execute(f"SELECT b.uid, {_PUPIL_COLUMNS} FROM badges b JOIN pupils p USING (pupil_id)"
                                 " WHERE b.status = 'active' AND p.active ORDER BY p.last_name, p.first_name, b.uid")
        return [(row[0], _pupil(row[1:])) for row in rows]

    def badge_owners(self, uids: list[str]) -> dict[str, str]:
        owners: dict[str, str] = {}
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            owners.update(self.conn.execute(f"SELECT uid, pupil_id FROM badges WHERE uid IN ({marks})", chunk))
        return owners

    def upsert_pupil(self, pupil: Pupil) -> None:
        self.conn.execute(
            "INSERT INTO pupils (pupil_id, first_name, last_name, class_name, category, diet, family_id, active)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pupil_id) DO UPDATE SET first_name = excluded.first_name,"
            " last_name = excluded.last_name, class_name = excluded.class_name, category = excluded.category,"
            " diet = excluded.diet, family_id = excluded.family_id, active = excluded.active",
            (pupil.pupil_id, pupil.first_name, pupil.last_name, pupil.class_name, pupil.category,
             pupil.diet, pupil.family_id, int(pupil.active)),
        )

    def assign_badge(self, uid: str, pupil_id: str, now: datetime) -> bool:
        """Give the pupil a new badge (their other active badge becomes 'replaced'); True if new.

        A badge the pupil already had keeps its status: a roster exported again must never
        bring a badge reported lost back to life.
        """
        if self.conn.execute("SELECT 1 FROM badges WHERE uid = ?", (uid,)).fetchone():
            return False
        self.conn.execute(
            "UPDATE badges SET status = 'replaced', since = ? WHERE pupil_id = ? AND status = 'active'",
            (to_text(now), pupil_id),
        )
        self.conn.execute(
            "INSERT INTO badges (uid, pupil_id, status, since) VALUES (?, ?, 'active', ?)",
            (uid, pupil_id, to_text(now)),
        )
        return True

    def set_badge_status(self, uid: str, status: BadgeStatus, now: datetime) -> None:
        self.conn.execute("UPDATE badges SET status = ?, since = ? WHERE uid = ?", (status, to_text(now), uid))

    def hold(self, pupil_id: str) -> HoldReason | None:
        row = self.conn.execute("SELECT reason FROM holds WHERE pupil_id = ?", (pupil_id,)).fetchone()
        return HoldReason(row[0]) if row else None

    def set_hold(self, pupil_id: str, reason: HoldReason | None, now: datetime, note: str | None = None) -> None:
        """Put the account on hold (`note`: the manager's reason for an exclusion) or lift it (None)."""
        if reason is None:
            self.conn.execute("DELETE FROM holds WHERE pupil_id = ?", (pupil_id,))
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO holds (pupil_id, reason, since, note) VALUES (?, ?, ?, ?)",
                (pupil_id, reason, to_text(now), note),
            )

    def set_aside(self, transfer_id: str, pupil_id: str | None, amount_cents: int | None) -> None:
        """Keep `amount_cents` of the pupil's balance out of reach for the server's transfer, or, with
        None, release it (the transfer's entries, or its cancellation, came before)."""
        if pupil_id is None or amount_cents is None:
            self.conn.execute("DELETE FROM set_aside WHERE transfer_id = ?", (transfer_id,))
        else:
            self.conn.execute("INSERT OR REPLACE INTO set_aside (transfer_id, pupil_id, amount_cents) VALUES (?, ?, ?)",
                              (transfer_id, pupil_id, amount_cents))

    def set_reservation(self, pupil_id: str, day: date, kind: ReservationKind | None, now: datetime) -> None:
        if kind is None:
            self.conn.execute(
                "DELETE FROM reservations WHERE pupil_id = ? AND service_date = ?", (pupil_id, day.isoformat())
            )
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO reservations (pupil_id, service_date, kind, updated_at) VALUES (?, ?, ?, ?)",
                (pupil_id, day.isoformat(), kind, to_text(now)),
            )

    def forget_pupil_state(self, pupil_id: str) -> None:
        """The pupil's hold, reservations and money set aside, all of which come from the server:
        before the server sends them again as they now are (a pupil back from another school)."""
        for table in ("holds", "reservations", "set_aside"):
            self.conn.execute(f"DELETE FROM {table} WHERE pupil_id = ?", (pupil_id,))

    # -- cashiers --------------------------------------------------------------------------

    def add_cashier(self, cashier_id: str, name: str, pin_hash: str, badge_uid: str | None = None) -> None:
        self.db["cashiers"].upsert(
            {"cashier_id": cashier_id, "name": name, "pin_hash": pin_hash, "active": 1, "badge_uid": badge_uid},
            pk="cashier_id",
        )

    def cashier(self, cashier_id: str) -> tuple[str, str, bool] | None:
        """(name, pin_hash, active) of a cashier."""
        row = self.conn.execute(
            "SELECT name, pin_hash, active FROM cashiers WHERE cashier_id = ?", (cashier_id,)
        ).fetchone()
        return (row[0], row[1], bool(row[2])) if row else None

    def cashier_for_badge(self, uid: str) -> tuple[str, str] | None:
        """(cashier_id, name) of the active cashier whose badge this is."""
        row = self.conn.execute(
            "SELECT cashier_id, name FROM cashiers WHERE badge_uid = ? AND active", (uid,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def cashier_badges(self) -> frozenset[str]:
        return frozenset(uid for (uid,) in self.conn.execute(
            "SELECT badge_uid FROM cashiers WHERE badge_uid IS NOT NULL AND active"))

    def cashier_names(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT cashier_id, name FROM cashiers"))
