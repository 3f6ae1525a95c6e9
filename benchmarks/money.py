"""Money documents on a SQLite server database (a freshly migrated file in a temporary folder):

- bank import: one camt.054 with 5,000 credits (batch bookings of 100) through `bank_import`,
  from the XML bytes to the committed entries and family e-mails → credits/s;
- a statement: one child's school year (about 180 meals and 10 top-ups) queried and rendered as
  PDF, as the portal would, N times → p50/p95 ms;
- tax statements: the yearly figures of 1,000 children (one grouped query) and a PDF per child
  → total seconds and ms per child.
Last line: `statement_ms_p50=<x>` (target ≤ 300).

Usage: .venv/bin/python benchmarks/money.py [--credits 5000] [--children 1000] [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from domain.clock import to_text  # noqa: E402
from domain.entries import EntryKind, new_entry_id  # noqa: E402
from domain.i18n import gettext_for  # noqa: E402
from domain.roster import parse_csv  # noqa: E402
from refectory.testing.camt import camt054, entry, tx  # noqa: E402
from sync_server.admin import roster_import  # noqa: E402
from sync_server.db import make_engine, reading, upgrade, writing  # noqa: E402
from sync_server.money import bank_import  # noqa: E402
from sync_server.money.bank_files import read_credits  # noqa: E402
from sync_server.money.statement_pdf import statement_pdf, tax_statement_pdf  # noqa: E402
from sync_server.money.statements import statement, tax_years  # noqa: E402
from sync_server.tables import entries  # noqa: E402

YEAR = 2026
NOW = datetime(YEAR + 1, 1, 10, 9, 0, tzinfo=UTC)
CANTEEN = {"name": "Restaurant scolaire de l'École du Bourg", "address": "Rue de l'Église 3\n1700 Fribourg",
           "phone": "026 000 00 00", "email": "cantine@example.ch"}
BATCH = 100  # credits per booked entry of the notification


def school(conn, children: int) -> list[str]:
    rows = ["pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id,parent_email"]
    rows += [f"P{n:05d},Léa,Müller{n},5A,primary,04B0{n:04X},,F{n:05d},parent{n}@example.ch" for n in range(children)]
    roster_import.import_pupils(conn, *parse_csv("\n".join(rows).encode()), NOW)
    return [f"P{n:05d}" for n in range(children)]


def school_year(pupil_id: str) -> list[dict]:
    """180 meals on school days at 12:05 in Zurich, a bank top-up each month (10), one meal
    cancelled; rows as the ledger stores them."""
    rows, day, meals = [], date(YEAR, 1, 5), 0
    received = to_text(NOW)

    def row(kind: EntryKind, cents: int, moment: datetime, **extra) -> dict:
        record = {"id": new_entry_id(), "account_id": pupil_id, "amount_cents": cents, "kind": kind.value,
                  "occurred_at": to_text(moment), "origin": "K1" if kind is EntryKind.MEAL else "server",
                  "operator": None, "reference": None, "service_date": None, "note": None, "received_at": received}
        return {**record, **extra}

    for month in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11):
        rows.append(row(EntryKind.BANK_TOPUP, 140_00, datetime(YEAR, month, 1, 6, 0, tzinfo=UTC),
                        reference=f"B-{pupil_id}-{month}"))
    while meals < 180:
        if day.weekday() < 5 and day.month not in (7, 8):
            moment = datetime(day.year, day.month, day.day, 11, 5, tzinfo=UTC)
            rows.append(row(EntryKind.MEAL, -7_50, moment, service_date=day.isoformat(), reference="04B00000"))
            meals += 1
        day += timedelta(days=1)
    served_by_mistake = next(r["id"] for r in rows if r["kind"] == "meal" and r["occurred_at"] >= f"{YEAR}-03-02")
    rows.append(row(EntryKind.REVERSAL, 7_50, datetime(YEAR, 3, 2, 11, 10, tzinfo=UTC), operator="anne",
                    reference=served_by_mistake, note="Servi par erreur"))
    return rows


def spread(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def bank_import_rate(engine, pupil_ids: list[str], credits: int) -> float:
    with writing(engine) as conn:
        references = [bank_import.payment_reference(conn, p, qr_iban=True) for p in pupil_ids]
    details = [tx(f"BANK-{n:06d}", "20.00", reference=references[n % len(references)], payer="Anna Müller")
               for n in range(credits)]
    data = camt054(*(entry(f"{20 * len(details[n:n + BATCH])}.00", details[n:n + BATCH], entry_ref=f"E-{n}")
                     for n in range(0, credits, BATCH)))
    started = time.perf_counter()
    with writing(engine) as conn:
        report = bank_import.import_credits(conn, read_credits(data), NOW, canteen=CANTEEN,
                                            portal_url="https://portail.example.ch/")
    elapsed = time.perf_counter() - started
    if len(report.credited) != credits:
        raise SystemExit(f"only {len(report.credited)} of {credits} credits were booked")
    print(f"bank_import_credits_per_s={credits / elapsed:.0f} ({credits} credits in one camt.054 of "
          f"{len(data) / 1e6:.1f} MB, {elapsed:.2f} s: parse, match, entry, change, e-mail)")
    return elapsed


def statement_times(engine, pupil_id: str, runs: int) -> tuple[float, float, int, int]:
    _ = gettext_for("fr")
    times, size, lines = [], 0, 0
    for _run in range(runs):
        started = time.perf_counter()
        with reading(engine) as conn:
            year = statement(conn, pupil_id, date(YEAR, 1, 1), date(YEAR, 12, 31))
        pdf = statement_pdf([year], CANTEEN, _, issued_on=NOW.date())
        times.append(time.perf_counter() - started)
        size, lines = len(pdf), len(year.lines)
    p50, p95 = spread(times)
    return p50, p95, lines, size


def tax_statements(engine, pupil_ids: list[str]) -> tuple[float, float, int]:
    _ = gettext_for("fr")
    started = time.perf_counter()
    with reading(engine) as conn:
        years = tax_years(conn, pupil_ids, YEAR)
    queried = time.perf_counter() - started
    size = sum(len(tax_statement_pdf([year], CANTEEN, _, issued_on=NOW.date())) for year in years)
    return queried, time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credits", type=int, default=5000)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30, help="statement PDFs timed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-money-"))
    try:
        url = f"sqlite:///{work / 'refectory.db'}"
        upgrade(url)
        engine = make_engine(url)
        with writing(engine) as conn:
            pupil_ids = school(conn, args.children)
            for pupil_id in pupil_ids:
                conn.execute(insert(entries), school_year(pupil_id))
        bank_import_rate(engine, pupil_ids, args.credits)
        p50, p95, lines, size = statement_times(engine, pupil_ids[0], args.runs)
        print(f"statement_ms_p95={p95:.1f} ({lines} lines over {YEAR}, {size / 1e3:.0f} kB PDF, query + render,"
              f" {args.runs} runs)")
        queried, total, tax_bytes = tax_statements(engine, pupil_ids)
        print(f"tax_statements_s={total:.2f} ms_per_child={total * 1000 / len(pupil_ids):.1f} (figures of "
              f"{len(pupil_ids)} children in {queried * 1000:.0f} ms, one PDF each, {tax_bytes / 1e6:.1f} MB in all)")
        print(f"statement_ms_p50={p50:.1f}")
        engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
