"""Upgrades with data in them: every kiosk schema the project released, and every server revision
from 0001, brought to the current one with rows in every table, which keep their meaning after it.

The old databases are built by the migrations themselves (`kiosk.schema.MIGRATIONS` up to the old
version, Alembic up to the old revision), never by copies of old schemas that could drift."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text as sa_text
from sqlalchemy.exc import IntegrityError

from domain.agenda import ClosedDayError, day_in_words
from domain.clock import to_text
from domain.entries import new_entry_id
from domain.meals import HoldReason, Refusal
from domain.messages import N_
from kiosk import schema
from kiosk.pins import hash_pin
from kiosk.service import KioskService, Reversal, TopUp
from kiosk.store import Store
from kiosk.sync_agent import SyncAgent
from sync_server.admin.passwords import hash_password
from sync_server.db import MIGRATIONS, alembic_config, make_engine, writing
from sync_server.sync import kiosks, ledger
from sync_server.tables import entries as server_entries

from .conftest import MONDAY_NOON
from .live_server import Clock, start_server
from .portal_client import Browser, text_of


def at(minutes: int) -> str:
    """An instant as the databases store it, `minutes` after Monday noon."""
    return to_text(MONDAY_NOON + timedelta(minutes=minutes))


# -- the kiosk ----------------------------------------------------------------------------------

KIOSK_ID = "K1"
SYNC_SINCE = 2  # the first kiosk schema that could enroll with a server
ENTRY_COLUMNS = ("id", "account_id", "amount_cents", "kind", "occurred_at", "origin", "operator", "reference",
                 "service_date", "note", "reverses")


def kiosk_database_at(folder: Path, version: int) -> sqlite3.Connection:
    """A kiosk database made by migrations 1..`version` only, as that release left it."""
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "kiosk.db", isolation_level=None)
    for number, script in enumerate(schema.MIGRATIONS[:version], start=1):
        if callable(script):  # a step SQL alone cannot say
            script(conn)
        else:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {number}")
    return conn


class KioskRows:
    """What a kiosk at one old version holds: a row in every table of that version, entries of
    every kind (a cancelled meal and a cancelled top-up among them), some pushed, some waiting."""

    def __init__(self) -> None:
        ids = iter(new_entry_id() for _ in range(11))
        day, next_day = "2026-11-30", "2026-12-01"
        self.topup, self.bank, self.online, self.meal, self.cancelled_meal, self.meal_reversal, \
            self.adjustment, self.refund, self.late_topup, self.topup_reversal, self.next_day_meal = ids
        self.entries = [  # in seq order
            (self.topup, "P001", 20_00, "cash_topup", at(-60), KIOSK_ID, "anne", "K1/1", None, None, None),
            (self.bank, "P002", 50_00, "bank_topup", at(-50), "server", None, "RF18539007547034", None, None, None),
            (self.online, "P003", 30_00, "online_topup", at(-40), "server", None, "pay-1", None, None, None),
            (self.meal, "P001", -7_50, "meal", at(0), KIOSK_ID, None, "04A1B2C3", day, None, None),
            (self.cancelled_meal, "P003", -7_50, "meal", at(1), KIOSK_ID, None, "0A0B0C0D", day, None, None),
            (self.meal_reversal, "P003", 7_50, "reversal", at(2), KIOSK_ID, "anne", self.cancelled_meal, None, "erreur",
             self.cancelled_meal),
            (self.adjustment, "P002", -2_00, "adjustment", at(3), "server", "sandra", None, None, "correction", None),
            (self.refund, "P002", -10_00, "refund", at(4), "server", "sandra", "refund-1", None, None, None),
            (self.late_topup, "P003", 10_00, "cash_topup", at(5), KIOSK_ID, "anne", "K1/2", None, None, None),
            (self.topup_reversal, "P003", -10_00, "reversal", at(6), KIOSK_ID, "anne", self.late_topup, None,
             "mauvais élève", self.late_topup),
            (self.next_day_meal, "P001", -7_50, "meal", at(24 * 60), KIOSK_ID, None, "04A1B2C3", next_day, None,
             None),
        ]
        self.pushed_seq = 6  # the server has the first six; the kiosk's own above that wait
        self.waiting = [self.late_topup, self.topup_reversal, self.next_day_meal]

    def balances(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for _id, account, amount, *_rest in self.entries:
            totals[account] = totals.get(account, 0) + amount
        return totals

    def write(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO kiosk VALUES (1, ?, ?)", (KIOSK_ID, at(-600)))
        conn.executemany("INSERT INTO settings VALUES (?, ?, ?)", [
            ("price.primary", "7.50", at(-600)), ("price.secondary", "9.00", at(-600)),
            ("service.start", "11:30", at(-600)), ("service.end", "13:30", at(-600))])
        conn.executemany("INSERT INTO pupils VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            ("P001", "Léa", "Müller", "5A", "primary", "", "F01", 1),
            ("P002", "Noé", "Favre", "9B", "secondary", "Sans gluten", "F02", 1),
            ("P003", "Zoé", "Rochat", "5A", "primary", "", "F01", 1),
            ("S001", "Anne", "Berset", "Staff", "staff", "", None, 0)])
        conn.executemany("INSERT INTO badges VALUES (?, ?, ?, ?)", [
            ("04A1B2C3", "P001", "active", at(-600)), ("04112233445566", "P002", "active", at(-600)),
            ("0A0B0C0D", "P003", "lost", at(-30)), ("0A0B0C0E", "P003", "active", at(-30))])
        conn.execute("INSERT INTO holds (pupil_id, reason, since) VALUES ('P002', 'refund', ?)", (at(-10),))
        conn.executemany("INSERT INTO cashiers (cashier_id, name, pin_hash, active) VALUES (?, ?, ?, ?)", [
            ("anne", "Anne Roch", hash_pin("1234"), 1), ("bob", "Bob Pillet", hash_pin("9876"), 0)])
        conn.executemany(f"INSERT INTO entries ({', '.join(ENTRY_COLUMNS)}) VALUES ({', '.join('?' * 11)})",
                         self.entries)
        conn.executemany("INSERT INTO receipts VALUES (?, ?, ?)", [
            (1, self.topup, at(-60)), (2, self.late_topup, at(5)), (3, self.topup_reversal, at(6))])
        conn.executemany("INSERT INTO reservations VALUES (?, ?, ?, ?)", [
            ("P001", "2026-12-01", "normal", at(-100)), ("P002", "2026-12-02", "special", at(-90))])
        conn.execute("UPDATE sync_state SET pushed_seq = ?, pulled_cursor = '42'", (self.pushed_seq,))
        if version >= 2:
            conn.execute("UPDATE sync_state SET server_url = 'https://refectory.example.ch', token = 'token-K1',"
                         " last_sync_at = ?, last_attempt_at = ?, last_error = 'Serveur injoignable.',"
                         " clock_skew_seconds = 2", (at(-20), at(7)))
            conn.executemany("INSERT INTO menus VALUES (?, ?, ?, ?, ?, ?)", [
                ("2026-11-30", 0, "main", "Lasagnes", "gluten,milk", "vegetarian"),
                ("2026-11-30", 1, "dessert", "Pomme", "", "")])
        if version >= 3:
            conn.execute("UPDATE cashiers SET badge_uid = 'CAFEBABE' WHERE cashier_id = 'anne'")
        if version >= 4:  # a drawer count, already pushed
            conn.execute("INSERT INTO cash_counts VALUES (1, ?, '2026-11-30', 2000, ?, 'anne')",
                         (new_entry_id(), at(8)))
            conn.execute("UPDATE sync_state SET pushed_count_seq = 1")
        if version >= 5:
            conn.execute("UPDATE sync_state SET server_generation = 'generation-1'")
        if version >= 6:
            conn.execute("UPDATE holds SET note = 'Remboursement demandé'")
        if version >= 7:
            conn.execute("UPDATE sync_state SET last_error_code = 'unreachable'")
        if version >= 8:  # a badge blocked at the counter, already pushed
            conn.execute("INSERT INTO badge_blocks VALUES (1, ?, '0A0B0C0D', 'P003', 'Perdu', ?, 'anne')",
                         (new_entry_id(), at(-30)))
            conn.execute("UPDATE sync_state SET pushed_block_seq = 1")
        if version >= 9:  # money set aside for a transfer between siblings the server has not booked yet
            conn.execute("INSERT INTO set_aside VALUES ('transfer-1', 'P002', 500)")
        conn.execute("COMMIT")


def kiosk_contents(conn: sqlite3.Connection, columns: dict[str, list[str]] | None = None) -> dict:
    """Every row of every table and view, as {name: (columns, sorted rows)}; with `columns`, only
    those tables and columns (what an older version had)."""
    if columns is None:
        names = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
        columns = {name: [c[1] for c in conn.execute(f"PRAGMA table_info({name})")] for name in names}
    return {name: (cols, sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall(), key=repr))
            for name, cols in columns.items()}


@pytest.mark.parametrize("version", range(1, schema.LATEST))
def test_every_released_kiosk_schema_upgrades_with_its_rows_keeping_their_meaning(tmp_path, version):
    rows = KioskRows()
    conn = kiosk_database_at(tmp_path / "kiosk", version)
    rows.write(conn, version)
    before = kiosk_contents(conn)
    for name, (cols, content) in before.items():  # the test fills what that version had, all of it
        assert content, f"v{version}: no row in {name}"
        for i, column in enumerate(cols):
            assert any(row[i] is not None for row in content), f"v{version}: {name}.{column} is never set"
    conn.close()

    with Store.open(tmp_path / "kiosk") as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
        assert kiosk_contents(store.conn, {name: cols for name, (cols, _) in before.items()}) == before
        assert store.verify_balances() == []
        spendable = {**rows.balances(), **({"P002": rows.balances()["P002"] - 5_00} if version >= 9 else {})}
        assert {pupil: store.balance(pupil) for pupil in ("P001", "P002", "P003")} == spendable  # less set aside
        assert {row[0] for row in store.conn.execute("SELECT entry_id FROM served")} == {rows.meal,
                                                                                        rows.next_day_meal}
        assert store.pending_push() == len(rows.waiting)
        assert [entry_id for _seq, entry_id, _record in store.outbox(100)] == rows.waiting
        assert store.hold("P002") is HoldReason.REFUND
        service = KioskService(store, clock=lambda: MONDAY_NOON + timedelta(minutes=10))
        first, cancelled = service.receipt(1), service.receipt(3)
        assert isinstance(first.operation, TopUp) and first.operation.entry.id == rows.topup
        assert (first.operation.balance_cents, first.cashier_name) == (20_00, "Anne Roch")
        assert isinstance(cancelled.operation, Reversal) and cancelled.operation.original.id == rows.late_topup
        service.login("anne", "1234")  # the PIN hashed by the old release still opens cashier mode
        assert service.tap("04A1B2C3").verdict.reason is Refusal.ALREADY_SERVED  # Léa ate today
        assert service.tap("0A0B0C0D").verdict.reason is Refusal.BADGE_DISABLED  # Zoé's lost badge
        served = service.tap("0A0B0C0E")  # her new one: her cancelled meal does not count
        assert served.verdict.served and served.verdict.balance_cents == rows.balances()["P003"] - 7_50


def test_a_kiosk_upgraded_with_unsynced_entries_still_pushes_them(tmp_path, server):
    with server.write() as conn:
        token = kiosks.enroll(conn, kiosks.issue_code(conn, KIOSK_ID, server.clock()), KIOSK_ID, server.clock())
    conn = kiosk_database_at(tmp_path / "old", SYNC_SINCE)
    rows = KioskRows()
    rows.write(conn, SYNC_SINCE)
    # Only the kiosk's own entries were ever on this kiosk without the server knowing them; the
    # server's credits came from it, so this kiosk made everything and sent nothing yet.
    conn.execute("BEGIN")
    conn.execute("UPDATE sync_state SET server_url = ?, token = ?, pushed_seq = 0", (server.url, token))
    conn.execute("COMMIT")
    own = [entry for entry in rows.entries if entry[5] == KIOSK_ID]
    conn.close()

    with Store.open(tmp_path / "old") as store:
        assert store.pending_push() == len(own)
        SyncAgent(store, clock=server.clock).run_round()
        assert store.pending_push() == 0
    with server.write() as conn:
        stored = conn.execute(server_entries.select().where(server_entries.c.origin == KIOSK_ID)
                              .order_by(server_entries.c.seq)).mappings().all()
    assert [tuple(row[c] for c in ENTRY_COLUMNS if c != "reverses") for row in stored] == [e[:10] for e in own]
    kiosk_sums = {pupil: sum(e[2] for e in own if e[1] == pupil) for pupil in ("P001", "P003")}
    assert {pupil: server.balance(pupil) for pupil in ("P001", "P003")} == kiosk_sums


# -- the server ---------------------------------------------------------------------------------

KIOSK_TOKEN = "kiosk-token-from-before-the-upgrade"
FAMILY_LOGIN, FAMILY_PASSWORD = "muller-leysin", "Tr0ub4dor-lunch"
MANAGER_PASSWORD = "c0rrect-h0rse-b4ttery"


def server_rows_at(revision: str, ids: dict[str, str]) -> list[tuple[str, dict]]:
    """What a server at `revision` would hold of what that revision brought: (SQL, parameters)."""
    t, kiosk_entry = at(0), "INSERT INTO entries (id, account_id, amount_cents, kind, occurred_at, origin," \
        " operator, reference, service_date, note, received_at) VALUES (:id, :account, :amount, :kind, :at," \
        " :origin, :operator, :reference, :day, :note, :at)"

    def entry(name, account, amount, kind, origin="server", operator=None, reference=None, day=None, note=None):
        return kiosk_entry, {"id": ids[name], "account": account, "amount": amount, "kind": kind, "at": t,
                             "origin": origin, "operator": operator, "reference": reference, "day": day,
                             "note": note}

    rows = {
        "0001": [
            ("INSERT INTO families (family_id, email) VALUES ('F01', 'muller@example.ch'), ('F02', NULL)", {}),
            ("INSERT INTO pupils (pupil_id, family_id, first_name, last_name, class_name, category, diet, active)"
             " VALUES ('P001', 'F01', 'Léa', 'Müller', '5A', 'primary', '', :yes),"
             " ('P002', 'F02', 'Noé', 'Favre', '9B', 'secondary', 'Sans gluten', :yes),"
             " ('P003', 'F01', 'Zoé', 'Rochat', '5A', 'primary', '', :no)", {"yes": True, "no": False}),
            ("INSERT INTO badges VALUES ('04A1B2C3', 'P001', 'active', :t)", {"t": t}),
            ("INSERT INTO badge_history (uid, pupil_id, status, at) VALUES ('04A1B2C3', 'P001', 'active', :t)",
             {"t": t}),
            ("INSERT INTO cashiers (cashier_id, name, pin_hash, active) VALUES ('anne', 'Anne Roch', :h, :yes)",
             {"h": hash_pin("1234"), "yes": True}),
            ("INSERT INTO changes (type, key, record, at) VALUES ('setting', 'price.primary',"
             " '{\"key\": \"price.primary\", \"value\": \"7.50\"}', :t)", {"t": t}),
            ("INSERT INTO enrollment_codes VALUES (:code, 'K1', :t, :t)", {"code": kiosks.digest("USEDCODE"), "t": t}),
            ("INSERT INTO kiosks VALUES ('K1', :token, :t, NULL, :t, 1, 0, 0, '0.1.0')",
             {"token": kiosks.digest(KIOSK_TOKEN), "t": t}),
            ("INSERT INTO menus VALUES ('2026-11-30', 0, 'main', 'Lasagnes', 'gluten', 'vegetarian')", {}),
            ("INSERT INTO quarantine (kiosk_id, record_id, record, reason, received_at)"
             " VALUES ('K1', 'x', '{}', 'unknown_account', :t)", {"t": t}),
            ("INSERT INTO settings VALUES ('price.primary', '7.50', :t)", {"t": t}),
            entry("topup", "P001", 20_00, "cash_topup", "K1", "anne", "K1/1"),
            entry("meal", "P001", -7_50, "meal", "K1", reference="04A1B2C3", day="2026-11-30"),
            entry("meal2", "P002", -9_00, "meal", "K1", reference="04112233445566", day="2026-11-30"),
            entry("reversal", "P002", 9_00, "reversal", "K1", "anne", ids["meal2"], note="erreur"),
            entry("adjustment", "P002", 5_00, "adjustment", operator="sandra", note="geste"),
            ("INSERT INTO holds VALUES ('P003', 'manager', :t)", {"t": t}),
            ("INSERT INTO reservations VALUES ('P001', '2026-12-01', 'normal', :t)", {"t": t}),
        ],
        "0002": [("UPDATE cashiers SET badge_uid = 'CAFEBABE'", {})],
        "0003": [
            ("UPDATE families SET login = :login, password_hash = :h, password_changed_at = :t, language = 'fr'"
             " WHERE family_id = 'F01'", {"login": FAMILY_LOGIN, "h": hash_password(FAMILY_PASSWORD), "t": t}),
            ("INSERT INTO closed_days VALUES ('2026-12-08', 'Immaculée Conception')", {}),
            ("INSERT INTO documents (title, filename, stored_name, content_type, size_bytes, published_at)"
             " VALUES ('Règlement', 'reglement.pdf', 'd1.pdf', 'application/pdf', 1234, :t)", {"t": t}),
            ("INSERT INTO mail_outbox (recipient, subject, body, created_at, attempts, next_attempt_at, sent_at,"
             " given_up_at, last_error) VALUES ('muller@example.ch', 'Code', 'Bonjour', :t, 1, :t, :t, :t,"
             " 'none')", {"t": t}),
        ],
        "0004": [
            ("INSERT INTO payment_accounts (pupil_id) VALUES ('P001')", {}),
            entry("bank", "P001", 30_00, "bank_topup", reference="RF18539007547034"),
            ("INSERT INTO bank_credits VALUES ('B-1', 3000, 'CHF', 'RF18539007547034', '2026-11-27', 'A. Müller',"
             " 'repas', :t, :entry)", {"t": t, "entry": ids["bank"]}),
        ],
        "0005": [("INSERT INTO mail_attachments (message_id, filename, content_type, content)"
                  " VALUES (1, 'qr.pdf', 'application/pdf', :pdf)", {"pdf": b"%PDF-1.4 qr"})],
        "0006": [("INSERT INTO managers VALUES ('sandra', 'Sandra Morel', :h, :t)",
                  {"h": hash_password(MANAGER_PASSWORD), "t": t})],
        "0007": [
            entry("online", "P001", 25_00, "online_topup", reference="pay-1"),
            ("INSERT INTO online_payments VALUES ('pay-1', 'tx-1', 'F01', 'P001', 2500, 'TWI', 1, 'paid', 'settled',"
             " :t, :t, :entry)", {"t": t, "entry": ids["online"]}),
        ],
        "0008": [
            entry("refund", "P002", -5_00, "refund", operator="sandra", reference="refund-1"),
            ("INSERT INTO refund_requests (pupil_id, family_id, open_for, iban, holder, status, requested_at,"
             " decided_at, decided_by, fence_seq, released_at, amount_cents, entry_id, exported_at, paid_at,"
             " paid_by, refusal_reason) VALUES ('P002', 'F02', NULL, 'CH9300762011623852957', 'N. Favre',"
             " 'paid', :t, :t, 'sandra', 1, :t, 500, :entry, :t, :t, 'sandra', NULL)",
             {"t": t, "entry": ids["refund"]}),
        ],
        "0009": [("INSERT INTO balance_alerts VALUES ('P001', 1000, :t)", {"t": t})],
        "0010": [("INSERT INTO audit_log (at, actor, action, subject, detail)"
                  " VALUES (:t, 'sandra', 'refund.pay', '1', 'CHF 5.00')", {"t": t})],
        "0011": [("UPDATE quarantine SET waiting_for = 'y', released_at = :t", {"t": t})],
        "0015": [("INSERT INTO cash_counts VALUES ('0190b2c4-0000-7000-8000-000000000001', 'K1', '2026-11-30', 2000,"
                  " :t, 'anne', :t)", {"t": t}),
                 ("UPDATE kiosks SET last_error = 'Serveur injoignable.', last_error_at = :t", {"t": t})],
        "0022": [("INSERT INTO standing_orders VALUES ('P001', '0,2', 'normal', '2026-12-18', '2026-12-13', :t)",
                  {"t": t})],
        "0023": [("UPDATE online_payments SET automatic_threshold_cents = 1000, automatic_amount_cents = 2500", {}),
                 ("INSERT INTO automatic_topups VALUES ('P001', 'F01', 1000, 2500, 'TWI',"
                  " 'AAABcH0Bq92s3kgAESIAAbGj5NIsAHWC', NULL, NULL, NULL, 1, 'pay-1', :t)", {"t": t}),
                 ("INSERT INTO automatic_topup_charges (pupil_id, family_id, day, amount_cents, status, attempts,"
                  " reference, attempt_started_at, next_attempt_at, last_error, created_at, updated_at)"
                  " VALUES ('P001', 'F01', '2026-11-30', 2500, 'declined', 2, 'OP0123456789AB', :t, :t, 'DECLINED',"
                  " :t, :t), ('P001', 'F01', '2026-12-01', 2500, 'due', 0, 'OP0123456789CD', :t, :t, 'HTTP 503',"
                  " :t, :t)", {"t": t})],  # the second, under way at the upgrade, keeps the alias it charges
        "0024": [("INSERT INTO sibling_transfers VALUES ('0190b2c4-0000-7000-8000-000000000002', 'F01', 'P001', 'P003',"
                  " 500, 'booked', :t, 7, :t, :debit, :credit)",
                  {"t": t, "debit": ids["meal"], "credit": ids["topup"]})],
        "0026": [("UPDATE standing_orders SET last_booked_day = '2026-12-08', last_skipped_day = '2026-12-10',"
                  " last_skip_reason = :reason", {"reason": json.dumps(ClosedDayError(
                      N_("The canteen is closed on {day} ({reason})."), day=day_in_words(date(2026, 12, 10)),
                      reason="Fête").message.as_data())})],
        "0028": [("INSERT INTO ended_sessions VALUES ('a-session-logged-out', :t)", {"t": t})],
    }
    return rows.get(revision, [])


def server_contents(conn, columns: dict[str, list[str]] | None = None) -> dict:
    """Every row of every table but Alembic's, as {table: (columns, sorted rows)}; with `columns`,
    only those tables and columns (what the previous revision had)."""
    if columns is None:
        inspector = sa_inspect(conn)
        columns = {name: [c["name"] for c in inspector.get_columns(name)]
                   for name in inspector.get_table_names() if name != "alembic_version"}
    return {name: (cols, sorted((tuple(row) for row in conn.execute(
        sa_text(f"SELECT {', '.join(cols)} FROM {name}"))), key=repr)) for name, cols in columns.items()}


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_every_server_revision_upgrades_to_head_with_its_rows_and_the_app_serves_them(database_url, tmp_path):
    config, engine = alembic_config(database_url), make_engine(database_url)
    ids = {name: new_entry_id() for name in ("topup", "meal", "meal2", "reversal", "adjustment", "bank", "online",
                                             "refund")}
    contents: dict = {}
    try:
        for revision in revisions():
            command.upgrade(config, revision)
            with writing(engine) as conn:
                assert server_contents(conn, {n: cols for n, (cols, _) in contents.items()}) == contents, revision
                for sql, params in server_rows_at(revision, ids):
                    conn.execute(sa_text(sql), params)
                contents = server_contents(conn)
        with writing(engine) as conn:
            for name, (_cols, content) in contents.items():
                assert content, f"no row in {name}: the test should fill what every revision brought"
            balances = {pupil: ledger.balance(conn, pupil) for pupil in ("P001", "P002", "P003")}
            kept = dict(conn.execute(sa_text("SELECT reference, alias FROM automatic_topup_charges")).all())
    finally:
        engine.dispose()
    assert balances == {"P001": 20_00 - 7_50 + 30_00 + 25_00, "P002": 5_00 - 5_00, "P003": 0}
    assert kept == {"OP0123456789AB": None, "OP0123456789CD": "AAABcH0Bq92s3kgAESIAAbGj5NIsAHWC"}

    live = start_server(database_url, tmp_path / "instance", clock=Clock(), migrate=False)
    try:
        family = Browser(live.app.test_client())
        assert family.submit("/login", {"login": FAMILY_LOGIN, "password": FAMILY_PASSWORD}).status_code == 302
        home = family.get("/").text
        assert "Léa" in home and "CHF 67.50" in home
        manager = Browser(live.app.test_client())
        assert manager.submit("/manage/login", {"login": "sandra", "password": MANAGER_PASSWORD}).status_code == 302
        assert "pay-1" in manager.get("/manage/payments").text
        orders = text_of(manager.get("/manage/standing-orders"))  # made by F01 before 0026 knew who made it
        assert "Müller Léa 5A lundis et mercredis vendredi 18 décembre 2026 F01" in orders
        assert "jeudi 10 décembre La cantine est fermée le jeudi 10 décembre (Fête)." in orders
        pull = requests.get(f"{live.url}/api/v1/sync/pull", params={"since": 0, "limit": 10},
                            headers={"Authorization": f"Bearer {KIOSK_TOKEN}"}, timeout=30)
        assert pull.status_code == 200, pull.text  # the kiosk enrolled before the upgrade still syncs
    finally:
        live.stop()


FAILING_REVISION = '''"""A later revision that fails on the data it finds: one class per pupil cannot be unique

Revision ID: 9001
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = '9001'
down_revision = '{head}'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('half_done', sa.Column('id', sa.Integer(), primary_key=True))
    with op.batch_alter_table('pupils') as batch_op:
        batch_op.add_column(sa.Column('nickname', sa.Text(), nullable=True))
    op.create_index('one_pupil_per_class', 'pupils', ['class_name'], unique=True)
'''


@pytest.mark.on_each_database
def test_a_migration_that_fails_on_the_data_leaves_the_previous_revision_whole(school_database, tmp_path):
    """The revision runs in one transaction on both databases: what it did before failing is undone."""
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "9001_failing.py").write_text(FAILING_REVISION.format(head=revisions()[-1]))
    config = alembic_config(school_database.url)
    config.set_main_option("script_location", str(migrations))
    engine = make_engine(school_database.url)
    try:
        with writing(engine) as conn:
            before = server_contents(conn)
        with pytest.raises(IntegrityError):
            command.upgrade(config, "head")
        with writing(engine) as conn:
            version = conn.execute(sa_text("SELECT version_num FROM alembic_version")).scalar()
            half_done = ("half_done" in sa_inspect(conn).get_table_names()
                         or "nickname" in {c["name"] for c in sa_inspect(conn).get_columns("pupils")})
            after = server_contents(conn, {name: cols for name, (cols, _) in before.items()})
    finally:
        engine.dispose()
    assert version == revisions()[-1] and after == before and not half_done
