"""A city's data on PostgreSQL, bulk-loaded with COPY: the data set benchmarks/scale.py runs on.

The canteen's settings, its cashier and the menus go through the server's own functions (a handful
of rows, and their changes for the kiosks exactly as the server writes them); the bulk (families,
pupils, badges, their changes, the kiosks, a history of entries and the balances they sum to, the
entries' changes) goes through COPY and INSERT ... SELECT in the same shapes as the server's code
writes them (`roster_import.apply_plan`, `pupil_badges.set_badge`, `ledger._insert`,
`changes.record_change`, `kiosks.enroll`). `check` then asks the server's own checks:
`ledger.verify_balances` finds every balance equal to its entries' sum.

Each family has two children in the same school; a school's pupils are consecutive, and so are
each of its kiosks' (a kiosk's taps are its own pupils'); every change about a pupil carries the
pupil's school, as the server writes it, so each kiosk follows its school's feed. Each pupil's
history holds one top-up for every ten entries and meals on the rest of 200 past school days,
so every balance stays positive. The first `logins` families have a portal login, all with one
password (its argon2 hash is made once). A pending online payment per kiosk (one of its pupils)
waits for the benchmark's webhooks.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

from sqlalchemy import text

from domain.clock import service_date, to_text
from domain.roster import parse_csv
from sync_server.admin import canteen_settings, cashiers, menu_import
from sync_server.admin.passwords import hash_password
from sync_server.db import make_engine, upgrade, writing
from sync_server.families.accounts import LOGIN_ALPHABET
from sync_server.sync import ledger
from sync_server.sync.changes import REBASE_OFFSET
from sync_server.sync.kiosks import digest

ZURICH = ZoneInfo("Europe/Zurich")
PRICE_CENTS = 700  # price.primary, the canteen's default
HISTORY_DAYS = 200  # school days of history before today
PASSWORD = "Bench-parents-2026"
COPY_CHUNK = 1 << 20  # characters handed to COPY at a time


@dataclass(frozen=True)
class Size:
    pupils: int = 20_000
    families: int = 10_000
    logins: int = 2_000
    kiosks: int = 400
    entries: int = 2_000_000
    schools: int = 100

    def school_of(self, pupil_number: int) -> str:
        """A school is whole kiosks: each kiosk serves one slice of its school's pupils."""
        kiosk = pupil_number // -(-self.pupils // self.kiosks)
        return f"S{kiosk // -(-self.kiosks // self.schools):03d}"


@dataclass
class City:
    """What the load needs to know of the data, handed to the Locust process as JSON."""

    password: str
    logins: list[tuple[str, str]]  # (login, first child's pupil_id), one per family with a login
    kiosks: list[tuple[str, str, list[str]]]  # (kiosk_id, token, its pupils' ids)
    payments: list[tuple[str, str, str, int]]  # (reference, transaction_id, pupil_id, amount_cents)
    cursor: int  # the feed's last seq when the kiosks start: each kiosk has pulled up to it
    merchant_id: str = "1100000001"
    hmac_key: str = field(default_factory=lambda: secrets.token_hex(32))

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, data: str) -> City:
        return cls(**json.loads(data))


def login_of(number: int) -> str:
    """A login in the letters' form (`abcd-efgh`), from the family's number."""
    letters = []
    for _ in range(8):
        number, digit = divmod(number, len(LOGIN_ALPHABET))
        letters.append(LOGIN_ALPHABET[digit])
    return f"{''.join(letters[:4])}-{''.join(letters[4:])}"


def school_days(before: date, count: int) -> list[date]:
    """The last `count` weekdays before `before`, oldest first."""
    days, day = [], before
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days[::-1]


def at_zurich(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), ZURICH).astimezone(UTC)


def build(url: str, size: Size, now: datetime) -> City:
    """Migrate the empty database at `url` and fill it; returns what the load needs."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with writing(engine) as conn:
            _canteen(conn, now)
        with engine.begin() as conn:
            copy = _Copier(conn)
            # Bulk rows take consecutive positions, as if written before the feed had transaction ids;
            # the feed's offset then puts every later change above them (as migration 0020 does).
            copy.sql("CREATE SEQUENCE bulk_positions")
            copy.sql("ALTER TABLE changes ALTER COLUMN seq SET DEFAULT nextval('bulk_positions')")
            _roster(copy, size, now)
            _history(copy, size, now)
            city = _kiosks_and_payments(copy, conn, size, now)
            copy.sql("ALTER TABLE changes ALTER COLUMN seq DROP DEFAULT")
            copy.sql("DROP SEQUENCE bulk_positions")
            copy.sql(REBASE_OFFSET)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return city


def check(url: str) -> None:
    """The server's own check: every kept balance is the sum of its entries."""
    engine = make_engine(url)
    try:
        with writing(engine) as conn:
            drifted = ledger.verify_balances(conn)
    finally:
        engine.dispose()
    if drifted:
        raise SystemExit(f"the data set's balances differ from their entries: {drifted[:5]}")


# -- parts --------------------------------------------------------------------------------------------

class _Copier:
    """COPY ... FROM STDIN in text format, through the SQLAlchemy connection's psycopg connection."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.cursor = conn.connection.driver_connection.cursor()

    def rows(self, table: str, columns: str, rows) -> None:
        buffer = StringIO()
        with self.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                buffer.write("\t".join(r"\N" if value is None else str(value) for value in row))
                buffer.write("\n")
                if buffer.tell() > COPY_CHUNK:
                    copy.write(buffer.getvalue())
                    buffer = StringIO()
            copy.write(buffer.getvalue())

    def sql(self, statement: str, **params) -> None:
        self.conn.execute(text(statement), params)


def _canteen(conn, now: datetime) -> None:
    canteen_settings.set_setting(conn, "price.primary", f"{PRICE_CENTS / 100:.2f}", now)
    cashiers.add_cashier(conn, "anne", "Anne Roch", "1234", now)
    today = service_date(now)
    monday = today - timedelta(days=today.weekday())
    rows = ["date,course,dish,allergens,labels"]
    for week in range(-1, 3):  # last week to the week after next: what the agenda shows in the rush
        for weekday in range(5):
            day = (monday + timedelta(weeks=week, days=weekday)).isoformat()
            rows += [f"{day},Entrée,Soupe de légumes {weekday},celery,",
                     f'{day},Plat,Plat du jour {week}-{weekday},"milk,gluten",vegetarian',
                     f"{day},Dessert,Fruit de saison,,"]
    menu_import.import_menus(conn, *parse_csv("\n".join(rows).encode()), now)
    conn.execute(text("INSERT INTO documents (title, filename, stored_name, content_type, size_bytes, published_at) "
                      "VALUES ('Conditions', 'conditions.pdf', 'bench-terms.pdf', 'application/pdf', 1, :at)"),
                 {"at": to_text(now)})


def pupil_id(number: int) -> str:
    return f"P{number:06d}"


def _roster(copy: _Copier, size: Size, now: datetime) -> None:
    at = to_text(now)
    password_hash = hash_password(PASSWORD)
    copy.rows("families", "family_id, email, login, password_hash, password_changed_at, language",
              ((f"F{n:06d}", f"parent{n}@example.ch", *((login_of(n), password_hash, at) if n < size.logins
                                                         else (None, None, None)), "fr")
               for n in range(size.families)))
    per_family = size.pupils // size.families
    pupils = [(pupil_id(n), f"F{n // per_family:06d}", f"Enfant{n % 97}", f"Nom{n}", f"{n % 8 + 1}P")
              for n in range(size.pupils)]
    copy.rows("pupils", "pupil_id, family_id, first_name, last_name, class_name, category, diet, active, school",
              ((pid, family, first, last, klass, "primary", "", "true", size.school_of(n))
               for n, (pid, family, first, last, klass) in enumerate(pupils)))
    copy.rows("badges", "uid, pupil_id, status, since",
              ((_uid(n), pupil_id(n), "active", at) for n in range(size.pupils)))
    copy.rows("badge_history", "uid, pupil_id, status, at",
              ((_uid(n), pupil_id(n), "active", at) for n in range(size.pupils)))
    copy.rows("changes", "type, key, record, at, school", (
        ("pupil", pid, _json({"pupil_id": pid, "first_name": first, "last_name": last, "class_name": klass,
                              "category": "primary", "diet": "", "active": True, "family_id": family}), at,
         size.school_of(n))
        for n, (pid, family, first, last, klass) in enumerate(pupils)))
    copy.rows("changes", "type, key, record, at, school", (
        ("badge", _uid(n), _json({"uid": _uid(n), "pupil_id": pupil_id(n), "status": "active", "since": at}), at,
         size.school_of(n))
        for n in range(size.pupils)))


def _uid(number: int) -> str:
    return f"04{number:08X}"


def _json(record: dict) -> str:
    """JSON as the server stores it, escaped for COPY's text format (no tab, newline or backslash
    can occur in these records)."""
    return json.dumps(record, ensure_ascii=False)


def kiosk_id(number: int) -> str:
    return f"K{number:03d}"


def _history(copy: _Copier, size: Size, now: datetime) -> None:
    """Entries in the order they were received, then their changes in the same order, then the
    balances they sum to (`ledger._insert` keeps both in one transaction; here the sums are made
    once from the entries)."""
    each = max(1, size.entries // size.pupils)
    topups = max(1, each // 10)
    meals = min(each - topups, HISTORY_DAYS)
    topup_cents = -(-meals * PRICE_CENTS // topups) + 5_000  # the balance stays CHF 50 per top-up above nil
    per_kiosk = -(-size.pupils // size.kiosks)
    days = school_days(service_date(now), HISTORY_DAYS)
    random = secrets.SystemRandom()

    def rows():
        for index, day in enumerate(days):
            morning, noon = at_zurich(day, 7, 30), at_zurich(day, 11, 45)
            for n in range(size.pupils):
                kiosk = kiosk_id(n // per_kiosk)
                if (3 * index + n) % HISTORY_DAYS < topups:
                    occurred = morning + timedelta(seconds=n % 3600)
                    yield _entry(occurred, pupil_id(n), topup_cents, "cash_topup", kiosk, "anne",
                                 f"R{index:03d}{n:06d}", None, random)
                if (7 * index + n) % HISTORY_DAYS < meals:
                    occurred = noon + timedelta(seconds=(n * 7) % 5400)
                    yield _entry(occurred, pupil_id(n), -PRICE_CENTS, "meal", kiosk, None, None, day.isoformat(),
                                 random)
    copy.rows("entries", "id, account_id, amount_cents, kind, occurred_at, origin, operator, reference, "
                         "service_date, note, received_at", rows())
    copy.sql("INSERT INTO changes (type, key, record, at, school) SELECT 'entry', e.id, NULL, e.received_at, p.school"
             " FROM entries e JOIN pupils p ON p.pupil_id = e.account_id ORDER BY e.seq")
    copy.sql("INSERT INTO account_balances (account_id, balance_cents) "
             "SELECT account_id, sum(amount_cents) FROM entries GROUP BY account_id")


def _entry(occurred: datetime, account: str, amount: int, kind: str, origin: str, operator: str | None,
           reference: str | None, day: str | None, random) -> tuple:
    millis = int(occurred.timestamp() * 1000)
    value = (millis << 80 | random.getrandbits(80)) & ~(0xF << 76 | 0x3 << 62) | (0x7 << 76 | 0x2 << 62)
    digits = f"{value:032x}"
    entry_id = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    return (entry_id, account, amount, kind, to_text(occurred), origin, operator, reference, day, None,
            to_text(occurred + timedelta(minutes=2)))


def _kiosks_and_payments(copy: _Copier, conn, size: Size, now: datetime) -> City:
    at = to_text(now)
    cursor = conn.execute(text("SELECT max(seq) FROM changes")).scalar_one()
    tokens = [secrets.token_urlsafe(32) for _ in range(size.kiosks)]
    per_kiosk = -(-size.pupils // size.kiosks)
    copy.rows("kiosks", "kiosk_id, token_hash, enrolled_at, last_heartbeat, cursor, pending, clock_skew_seconds, "
                        "version, school", ((kiosk_id(n), digest(token), at, at, cursor, 0, 0, "bench",
                                             size.school_of(min(n * per_kiosk, size.pupils - 1)))
                                            for n, token in enumerate(tokens)))
    per_family = size.pupils // size.families
    school = [[pupil_id(p) for p in range(n * per_kiosk, min(size.pupils, (n + 1) * per_kiosk))]
              for n in range(size.kiosks)]
    document = conn.execute(text("SELECT max(document_id) FROM documents")).scalar_one()
    payments = [(f"OPBENCH{n:06d}", f"9{n:09d}", school[n][0], 2_000) for n in range(size.kiosks) if school[n]]
    copy.rows("online_payments", "reference, transaction_id, family_id, pupil_id, amount_cents, method, "
                                 "terms_document_id, status, provider_status, created_at, updated_at",
              ((reference, transaction, f"F{int(pupil[1:]) // per_family:06d}", pupil, amount, "TWI", document,
                "pending", "initialized", at, at) for reference, transaction, pupil, amount in payments))
    logins = [(login_of(n), pupil_id(n * per_family)) for n in range(size.logins)]
    return City(PASSWORD, logins, [(kiosk_id(n), tokens[n], school[n]) for n in range(size.kiosks)], payments,
                cursor)
