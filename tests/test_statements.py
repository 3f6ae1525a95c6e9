"""Account statements and the yearly tax statement: Zurich days, balances from the ledger,
cancellations netted in the tax year, and the PDFs read back with pdftotext."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from domain.entries import CREDITS, EntryKind, LedgerEntry, new_entry_id
from domain.i18n import gettext_for
from domain.roster import parse_csv
from sync_server.admin import roster_import
from sync_server.db import make_engine, reading, writing
from sync_server.money.statement_pdf import statement_pdf, tax_statement_pdf
from sync_server.money.statements import StatementError, family_pupil_ids, statement, statements, tax_year, tax_years
from sync_server.sync import ledger

from .conftest import MONDAY_NOON
from .live_server import SERVER_ROSTER

pytestmark = pytest.mark.on_each_database

ZURICH = ZoneInfo("Europe/Zurich")
CANTEEN = {"name": "Réfectoire de l'École du Bourg", "address": "Rue de l'Église 3\n1700 Fribourg",
           "phone": "026 000 00 00", "email": "cantine@example.ch"}
ISSUED = date(2027, 1, 15)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def made(pupil_id: str, cents: int, kind: EntryKind, when: str, *, reverses: LedgerEntry | None = None,
         note: str | None = None) -> LedgerEntry:
    moment = at(when)
    return LedgerEntry(new_entry_id(), pupil_id, cents, kind, moment, "K1" if kind is EntryKind.MEAL else "server",
                       reference=reverses.id if reverses else None, note=note,
                       service_date=moment.astimezone(ZURICH).date() if kind is EntryKind.MEAL else None)


def reversal(original: LedgerEntry, when: str, note: str) -> LedgerEntry:
    return made(original.account_id, -original.amount_cents, EntryKind.REVERSAL, when, reverses=original, note=note)


def lea_ledger() -> list[LedgerEntry]:
    """Léa's account across a month and a year boundary (times are UTC; Zurich is UTC+1 in winter)."""
    old_meal = made("P001", -750, EntryKind.MEAL, "2025-12-31T11:00")
    meal = made("P001", -750, EntryKind.MEAL, "2026-01-12T11:00")
    cash = made("P001", 5000, EntryKind.CASH_TOPUP, "2026-01-31T23:30")  # 1 February, 00:30 in Zurich
    march = [made("P001", -750, EntryKind.MEAL, f"2026-03-0{day}T11:00") for day in range(2, 7)]
    return [
        made("P001", 10000, EntryKind.CASH_TOPUP, "2025-12-15T10:00"),
        old_meal,
        made("P001", 150000, EntryKind.BANK_TOPUP, "2025-12-31T23:30"),  # 1 January 2026, 00:30 in Zurich
        reversal(old_meal, "2026-01-05T08:00", "Repas annulé après coup"),
        meal,
        reversal(meal, "2026-01-12T11:05", "Servi deux fois: erreur de caisse"),
        made("P001", 2000, EntryKind.ONLINE_TOPUP, "2026-01-31T22:59"),  # 23:59 on 31 January in Zurich
        cash,
        reversal(cash, "2026-02-02T07:00", "Montant mal saisi"),
        made("P001", -750, EntryKind.MEAL, "2026-02-03T11:00"),
        *march,
        made("P001", -10000, EntryKind.REFUND, "2026-06-30T09:00", note="Remboursement demandé"),
        made("P001", 200, EntryKind.ADJUSTMENT, "2026-07-01T09:00", note="Repas offert à la fête"),
        made("P001", 1000, EntryKind.CASH_TOPUP, "2026-12-31T22:30"),  # 23:30 on 31 December in Zurich
        made("P001", -750, EntryKind.MEAL, "2026-12-31T23:30"),  # 00:30 on 1 January 2027 in Zurich
    ]


LEA = lea_ledger()
ZOE = [made("P003", 3000, EntryKind.CASH_TOPUP, "2026-01-06T07:30"),
       made("P003", -750, EntryKind.MEAL, "2026-01-06T11:10")]


@pytest.fixture
def engine(migrated_database_url):
    engine = make_engine(migrated_database_url)
    with writing(engine) as conn:
        roster_import.import_pupils(conn, *parse_csv(SERVER_ROSTER.encode()), MONDAY_NOON)
        for entry in LEA + ZOE:
            ledger.append(conn, entry, MONDAY_NOON)
    yield engine
    engine.dispose()


# -- what the test expects, worked out from the entries above without the database -------------

def zurich_day(entry: LedgerEntry) -> date:
    return entry.occurred_at.astimezone(ZURICH).date()


def balance_before(entries: list[LedgerEntry], day: date) -> int:
    return sum(e.amount_cents for e in entries if zurich_day(e) < day)


def within(entries: list[LedgerEntry], first: date, last: date) -> list[LedgerEntry]:
    return sorted((e for e in entries if first <= zurich_day(e) <= last), key=lambda e: e.occurred_at)


def year_figures(entries: list[LedgerEntry], year: int) -> dict[str, int]:
    by_id = {e.id: e for e in entries}
    figures = {"topups": 0, "meals": 0, "refunds": 0, "adjustments": 0}
    for e in within(entries, date(year, 1, 1), date(year, 12, 31)):
        kind = by_id[e.reference].kind if e.kind is EntryKind.REVERSAL else e.kind
        if kind in CREDITS:
            figures["topups"] += e.amount_cents
        elif kind is EntryKind.MEAL:
            figures["meals"] -= e.amount_cents
        elif kind is EntryKind.REFUND:
            figures["refunds"] -= e.amount_cents
        else:
            figures["adjustments"] += e.amount_cents
    return figures


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "statement.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def money(cents: int) -> str:
    units, frac = divmod(abs(cents), 100)
    return ("-" if cents < 0 else "") + f"{units:,}.{frac:02d}".replace(",", "'")


# -- the figures -----------------------------------------------------------------------------------

def test_a_statement_opens_with_the_balance_before_its_first_day_in_zurich(engine):
    with reading(engine) as conn:
        january = statement(conn, "P001", date(2026, 1, 1), date(2026, 1, 31))
    assert january.opening_cents == balance_before(LEA, date(2026, 1, 1)) == 92_50
    assert january.lines[0].amount_cents == 1500_00 and january.lines[0].day == date(2026, 1, 1)  # 23:30 UTC


def test_a_statement_lists_each_entry_of_its_zurich_days_in_time_order_with_the_running_balance(engine):
    with reading(engine) as conn:
        january = statement(conn, "P001", date(2026, 1, 1), date(2026, 1, 31))
    expected = within(LEA, date(2026, 1, 1), date(2026, 1, 31))
    assert [(line.occurred_at, line.kind, line.amount_cents) for line in january.lines] == [
        (e.occurred_at, e.kind, e.amount_cents) for e in expected]
    running = january.opening_cents
    for line, entry in zip(january.lines, expected, strict=True):
        running += entry.amount_cents
        assert line.balance_cents == running
    assert january.lines[-1].kind is EntryKind.ONLINE_TOPUP  # 23:59 on 31 January; the 00:30 cash is February's
    assert january.closing_cents == balance_before(LEA, date(2026, 2, 1)) == running


def test_a_statement_totals_its_debits_and_credits_and_names_what_a_reversal_cancels(engine):
    with reading(engine) as conn:
        february = statement(conn, "P001", date(2026, 2, 1), date(2026, 2, 28))
    lines = within(LEA, date(2026, 2, 1), date(2026, 2, 28))
    assert february.debits_cents == -sum(e.amount_cents for e in lines if e.amount_cents < 0) == 57_50
    assert february.credits_cents == sum(e.amount_cents for e in lines if e.amount_cents > 0) == 50_00
    assert february.opening_cents + february.credits_cents - february.debits_cents == february.closing_cents
    cancelled = [line for line in february.lines if line.kind is EntryKind.REVERSAL]
    assert [(c.reversed_kind, c.debit_cents, c.note) for c in cancelled] == [
        (EntryKind.CASH_TOPUP, 50_00, "Montant mal saisi")]


def test_a_period_without_entries_keeps_the_balance(engine):
    with reading(engine) as conn:
        quiet = statement(conn, "P001", date(2026, 8, 1), date(2026, 8, 31))
    assert quiet.lines == () and quiet.opening_cents == quiet.closing_cents == balance_before(LEA, date(2026, 8, 1))


def test_a_statement_refuses_a_reversed_or_too_long_period_and_an_unknown_pupil(engine):
    with reading(engine) as conn:
        with pytest.raises(StatementError, match=r"cannot end \(31.01.2026\) before it starts \(01.02.2026\)"):
            statement(conn, "P001", date(2026, 2, 1), date(2026, 1, 31))
        with pytest.raises(StatementError, match="at most 5 years"):
            statement(conn, "P001", date(2020, 1, 1), date(2026, 1, 1))
        with pytest.raises(StatementError, match="Unknown pupil 'NOPE'"):
            statement(conn, "NOPE", date(2026, 1, 1), date(2026, 1, 31))
        with pytest.raises(StatementError, match="Unknown pupil 'NOPE'"):
            tax_year(conn, "NOPE", 2026)
        assert statement(conn, "P001", date(2021, 1, 2), date(2026, 1, 1)).closing_cents == 92_50 + 1500_00


def test_the_tax_year_nets_cancelled_meals_and_top_ups_and_adds_up_to_the_closing_balance(engine):
    with reading(engine) as conn:
        year = tax_year(conn, "P001", 2026)
    expected = year_figures(LEA, 2026)
    assert (year.topups_cents, year.meals_cents, year.refunds_cents, year.adjustments_cents) == (
        expected["topups"], expected["meals"], expected["refunds"], expected["adjustments"])
    assert (year.topups_cents, year.meals_cents) == (1530_00, 37_50)  # 1500 + 20 + 50 − 50 + 10; 7 meals − 2 cancelled
    assert year.opening_cents == balance_before(LEA, date(2026, 1, 1))
    assert year.closing_cents == balance_before(LEA, date(2027, 1, 1))
    assert (year.opening_cents + year.topups_cents - year.meals_cents - year.refunds_cents + year.adjustments_cents
            == year.closing_cents)


def test_tax_years_for_many_pupils_take_two_queries_and_match_one_by_one(engine):
    executed = []
    event.listen(engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    with reading(engine) as conn:
        executed.clear()
        many = tax_years(conn, ["P003", "P001", "P002", "NOPE"], 2026)
        assert len(executed) == 2
        assert many == [tax_year(conn, pupil_id, 2026) for pupil_id in ("P003", "P001", "P002")]
    assert [y.closing_cents for y in many] == [22_50, balance_before(LEA, date(2027, 1, 1)), 0]
    for year in many:
        assert (year.opening_cents + year.topups_cents - year.meals_cents - year.refunds_cents
                + year.adjustments_cents == year.closing_cents)


def test_an_entry_at_half_past_midnight_on_new_years_day_belongs_to_the_new_year(engine):
    with reading(engine) as conn:
        years = {year.year: year for year in (tax_year(conn, "P001", 2025), tax_year(conn, "P001", 2027))}
    assert years[2025].topups_cents == 100_00 and years[2025].closing_cents == 92_50  # not the 1'500 of 23:30 UTC
    assert years[2027].meals_cents == 7_50 and years[2027].topups_cents == 0


# -- the PDFs --------------------------------------------------------------------------------------

def test_the_statement_pdf_shows_each_line_the_totals_and_both_balances(engine, tmp_path):
    with reading(engine) as conn:
        january = statement(conn, "P001", date(2026, 1, 1), date(2026, 1, 31))
    text = pdf_text(statement_pdf([january], CANTEEN, gettext_for("en"), issued_on=ISSUED), tmp_path)
    rows = [line.strip() for line in text.splitlines()]
    assert "Account statement" in text and "Léa Müller, class 5A" in text and "From 01.01.2026 to 31.01.2026" in text
    assert "Amounts in CHF." in text
    assert re.search(r"Balance on 01\.01\.2026\s+92\.50$", text, re.M)
    described = {EntryKind.BANK_TOPUP: "Bank transfer", EntryKind.MEAL: "Meal",
                 EntryKind.ONLINE_TOPUP: "Online payment", EntryKind.REVERSAL: "Cancellation: Meal"}
    running = 92_50
    for entry in within(LEA, date(2026, 1, 1), date(2026, 1, 31)):
        running += entry.amount_cents
        debit, credit = (money(-entry.amount_cents), "") if entry.amount_cents < 0 else ("", money(entry.amount_cents))
        pattern = (rf"{zurich_day(entry):%d\.%m\.%Y}\s+{re.escape(described[entry.kind])}\s+"
                   rf"{re.escape(debit or credit)}\s+{re.escape(money(running))}$")
        assert any(re.fullmatch(pattern, row) for row in rows), pattern
    assert re.search(r"^01\.01\.2026\s+Bank transfer\s+1'500\.00\s+1'592\.50$", text, re.M)  # 00:30 in Zurich
    assert "Servi deux fois: erreur de caisse" in text  # a reversal's note
    assert re.search(rf"Totals\s+{re.escape(money(january.debits_cents))}\s+{re.escape(money(january.credits_cents))}$",
                     text, re.M)
    assert re.search(rf"Balance at the end of 31\.01\.2026\s+{re.escape(money(january.closing_cents))}$", text, re.M)
    assert "Page 1 of 1" in text and "not over" not in text


def test_a_statement_of_a_period_still_running_gives_the_balance_on_the_day_it_is_issued(engine, tmp_path):
    with reading(engine) as conn:
        january = statement(conn, "P001", date(2026, 1, 1), date(2026, 1, 31))
    text = pdf_text(statement_pdf([january], CANTEEN, gettext_for("en"), issued_on=date(2026, 1, 20)), tmp_path)
    assert "The period is not over: the entries and the balance are those known on 20.01.2026." in text
    assert re.search(rf"Balance on 20\.01\.2026\s+{re.escape(money(january.closing_cents))}$", text, re.M)
    assert "31.01.2026" in text and "Balance at the end of 31.01.2026" not in text  # the period asked, no more


def test_the_statement_pdf_names_the_canteen_as_configured_and_speaks_french(engine, tmp_path):
    with reading(engine) as conn:
        january = statement(conn, "P001", date(2026, 1, 1), date(2026, 1, 31))
        cash = statement(conn, "P001", date(2026, 2, 1), date(2026, 2, 28))
    text = pdf_text(statement_pdf([january, cash], CANTEEN, gettext_for("fr"), issued_on=ISSUED), tmp_path)
    sections = text.split("\f")[:-1]  # each statement starts a page
    assert len(sections) == 2
    for section in sections:
        assert section.startswith("Réfectoire de l'École du Bourg\nRue de l'Église 3\n1700 Fribourg\n"
                                  "026 000 00 00 · cantine@example.ch\n")
    for french in ("Virement bancaire", "Paiement en ligne", "Recharge en espèces à la cantine", "Repas"):
        assert french in text  # the portal's names of the entries, already in the catalogue
    assert "Léa Müller" in text and "Page 2 sur 2" in text


def test_a_family_statement_has_a_section_per_child_in_one_pdf(engine, tmp_path):
    with reading(engine) as conn:
        children = family_pupil_ids(conn, "F01")
        both = statements(conn, children, date(2026, 1, 1), date(2026, 12, 31))
    assert children == ["P001", "P003"]  # Léa, Zoé
    text = pdf_text(statement_pdf(both, CANTEEN, gettext_for("en"), issued_on=ISSUED), tmp_path)
    pages = text.split("\f")
    lea = next(n for n, page in enumerate(pages) if "Léa Müller, class 5A" in page)
    zoe = next(n for n, page in enumerate(pages) if "Zoé Rochat, class 5A" in page)
    assert lea < zoe and re.search(r"Balance at the end of 31\.12\.2026\s+22\.50$", pages[zoe], re.M)
    assert re.search(rf"Balance at the end of 31\.12\.2026\s+{re.escape(money(both[0].closing_cents))}$",
                     "\n".join(pages[lea:zoe]), re.M)
    assert f"Page {len(pages) - 1} of {len(pages) - 1}" in text  # the text ends with a form feed


def test_the_tax_statement_pdf_gives_the_years_figures_between_the_two_balances(engine, tmp_path):
    with reading(engine) as conn:
        years = tax_years(conn, family_pupil_ids(conn, "F01"), 2026)
    text = pdf_text(tax_statement_pdf(years, CANTEEN, gettext_for("en"), issued_on=ISSUED), tmp_path)
    lea_page = text.split("\f")[0]
    figures = year_figures(LEA, 2026)
    assert "Yearly statement 2026 for the tax return" in lea_page and "Léa Müller, class 5A" in lea_page
    for label, shown in (("Balance on 01.01.2026", f"CHF {money(balance_before(LEA, date(2026, 1, 1)))}"),
                         (r"Top-ups \(cash, bank transfer, online payment\)", f"+ CHF {money(figures['topups'])}"),
                         ("Meals paid", f"- CHF {money(figures['meals'])}"),
                         ("Refunds", f"- CHF {money(figures['refunds'])}"),
                         ("Adjustments by the canteen", f"+ CHF {money(figures['adjustments'])}"),
                         ("Balance at the end of 31.12.2026", f"CHF {money(balance_before(LEA, date(2027, 1, 1)))}")):
        assert re.search(rf"^\s*{label}\s+{re.escape(shown)}$", lea_page, re.M), label
    assert "Meals paid in 2026: CHF 37.50" in lea_page and "CHF 1'530.00" in lea_page
    assert "Issued on 15.01.2027 by Réfectoire de l'École du Bourg." in lea_page and "Rue de l'Église 3" in lea_page
    assert "Zoé Rochat" in text.split("\f")[1] and "Meals paid in 2026: CHF 7.50" in text.split("\f")[1]
    assert "is not over" not in text


def test_a_tax_statement_of_the_year_still_running_says_its_figures_go_up_to_today(engine, tmp_path):
    with reading(engine) as conn:
        years = tax_years(conn, ["P001"], 2026)
    text = pdf_text(tax_statement_pdf(years, CANTEEN, gettext_for("en"), issued_on=date(2026, 12, 8)), tmp_path)
    flat = " ".join(text.split())
    assert ("The year 2026 is not over: these figures go up to 08.12.2026. Ask for this statement again in January"
            " for the whole year.") in flat
    assert "Balance on 08.12.2026" in flat and "31.12.2026" not in flat
