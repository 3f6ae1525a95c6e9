"""Cash reconciliation: the drawers' counts the kiosks push, set against the cash their ledgers say
they took in.

A kiosk pushes each count of its drawer as a record of its own (beside its entries, with its own
id, so a count sent twice is stored once); a recount is a new record and the latest counts. The
day's report takes, per kiosk, each cashier's cash top-ups and cancellations from the server's
ledger (the same `domain.cash_report.summarize_cash` as the kiosk's own report), the expected
cash (their net), the latest count and the difference. The back office (`/manage/cash`) and
`refectory server cash` both read `day_report`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, insert, select

from domain.cash_report import CashCount, CashReport, summarize_cash
from domain.clock import day_bounds, from_text, to_text
from domain.entries import SERVER_ORIGIN, EntryKind, LedgerEntry
from domain.money import format_chf
from domain.sync import Ack, AckStatus
from domain.text import spreadsheet_text
from sync_server.tables import cash_counts, cashiers, entries


def ingest(conn: Connection, kiosk_id: str, counts: list[CashCount], now: datetime) -> list[Ack]:
    """Store the counts a kiosk pushed (its own, checked by the caller): one ack each, in order."""
    acks = []
    for count in counts:
        stored = conn.execute(select(cash_counts).where(cash_counts.c.id == count.id)).first()
        if stored is None:
            conn.execute(insert(cash_counts).values(
                id=count.id, kiosk_id=kiosk_id, day=count.day.isoformat(), counted_cents=count.counted_cents,
                counted_at=to_text(count.counted_at), counted_by=count.counted_by, received_at=to_text(now)))
            acks.append(Ack(count.id, AckStatus.ACCEPTED))
        elif _count(stored) == count:
            acks.append(Ack(count.id, AckStatus.DUPLICATE))
        else:
            acks.append(Ack(count.id, AckStatus.REJECTED, "another count already has this id"))
    return acks


@dataclass(frozen=True, slots=True)
class DayCash:
    """Every kiosk that took cash or counted its drawer on a day, by kiosk id."""

    day: date
    kiosks: list[CashReport]

    def to_dict(self) -> dict:
        return {"day": self.day.isoformat(), "kiosks": [{
            "kiosk_id": report.kiosk_id,
            "cashiers": [{"cashier_id": c.cashier_id, "name": c.name, "topup_count": c.topup_count,
                          "topup_cents": c.topup_cents, "cancellation_count": c.reversal_count,
                          "cancellation_cents": c.reversal_cents, "net_cents": c.net_cents}
                         for c in report.cashiers],
            "expected_cents": report.net_cents,
            "counted_cents": report.count.counted_cents if report.count else None,
            "counted_at": to_text(report.count.counted_at) if report.count else None,
            "counted_by": report.count.counted_by if report.count else None,
            "difference_cents": report.difference_cents,
            "flagged": report.difference_cents != 0,  # a difference, or no count at all
        } for report in self.kiosks]}


def day_report(conn: Connection, day: date) -> DayCash:
    start, end = day_bounds(day)
    reversed_entry = entries.alias("reversed_entry")
    rows = conn.execute(
        select(entries.c.id, entries.c.account_id, entries.c.amount_cents, entries.c.kind, entries.c.occurred_at,
               entries.c.origin, entries.c.operator, entries.c.reference, entries.c.note, reversed_entry.c.kind)
        .select_from(entries.outerjoin(reversed_entry, (entries.c.kind == EntryKind.REVERSAL.value)
                                       & (reversed_entry.c.id == entries.c.reference)))
        .where(entries.c.kind.in_([EntryKind.CASH_TOPUP.value, EntryKind.REVERSAL.value]),
               entries.c.occurred_at >= to_text(start), entries.c.occurred_at < to_text(end),
               entries.c.origin != SERVER_ORIGIN)
        .order_by(entries.c.seq))
    taken = [(LedgerEntry(row[0], row[1], row[2], EntryKind(row[3]), from_text(row[4]), row[5], operator=row[6],
                          reference=row[7], note=row[8]), row[9]) for row in rows]
    latest: dict[str, CashCount] = {}
    for row in conn.execute(select(cash_counts).where(cash_counts.c.day == day.isoformat())
                            .order_by(cash_counts.c.counted_at, cash_counts.c.id)):
        latest[row.kiosk_id] = _count(row)
    names = dict(conn.execute(select(cashiers.c.cashier_id, cashiers.c.name)).all())
    reports = []
    for kiosk_id in sorted({entry.origin for entry, _kind in taken} | set(latest)):
        report = summarize_cash(day, kiosk_id, taken, names, meals_served=0)
        report.count = latest.get(kiosk_id)
        reports.append(report)
    return DayCash(day, reports)


CSV_HEADER = ("day", "kiosk", "cashier_id", "cashier", "topups", "topups_chf", "cancellations", "cancellations_chf",
              "expected_chf", "counted_chf", "difference_chf", "counted_at", "counted_by")


def to_csv(report: DayCash) -> str:
    """For the accountant: a row per kiosk and cashier, then the kiosk's row with the expected
    cash, the count and the difference (amounts as plain decimals, e.g. -12.50)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    day = report.day.isoformat()
    for kiosk in report.kiosks:
        for c in kiosk.cashiers:
            writer.writerow((day, kiosk.kiosk_id, c.cashier_id, spreadsheet_text(c.name), c.topup_count,
                             _plain(c.topup_cents), c.reversal_count, _plain(c.reversal_cents), _plain(c.net_cents),
                             "", "", "", ""))
        count = kiosk.count
        writer.writerow((day, kiosk.kiosk_id, "", "", sum(c.topup_count for c in kiosk.cashiers),
                         _plain(sum(c.topup_cents for c in kiosk.cashiers)),
                         sum(c.reversal_count for c in kiosk.cashiers),
                         _plain(sum(c.reversal_cents for c in kiosk.cashiers)), _plain(kiosk.net_cents),
                         _plain(count.counted_cents) if count else "",
                         _plain(kiosk.difference_cents) if count else "",
                         to_text(count.counted_at) if count else "", (count.counted_by or "") if count else ""))
    return out.getvalue()


def _plain(cents: int) -> str:
    return format_chf(cents, currency=False).replace("'", "")


def _count(row) -> CashCount:
    return CashCount(row.id, row.kiosk_id, date.fromisoformat(row.day), row.counted_cents, from_text(row.counted_at),
                     row.counted_by)
