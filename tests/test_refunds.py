"""Refund requests in the server core, on SQLite and PostgreSQL: what a family may ask, the hold
and its fence point, the payout for the balance of that moment, paid, closed or refused, a mail
at each step; and the pain.001 file, read back and validated against ISO's schemas."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from domain.entries import EntryKind, LedgerEntry, new_entry_id
from domain.roster import parse_csv
from domain.sync import ChangeType
from sync_server.admin import roster_import
from sync_server.db import make_engine, reading, writing
from sync_server.families import accounts
from sync_server.money import pain001, refund_fence, refunds
from sync_server.sync import kiosks, ledger
from sync_server.sync.changes import latest_seq, page_after
from sync_server.tables import entries, mail_outbox

from .conftest import MONDAY_NOON
from .live_server import SERVER_ROSTER

CANTEEN = {"name": "Réfectoire", "phone": "079 000 00 00", "email": "cantine@example.ch"}
URL = "https://portal.test/"
IBAN = "CH93 0076 2011 6238 5295 7"
XSD = Path(__file__).parent / "iso20022"
pytestmark = pytest.mark.on_each_database

DEBTOR = {"REFUND_DEBTOR_IBAN": "CH56 0483 5012 3456 7800 9", "REFUND_DEBTOR_NAME": "Restaurant scolaire"}


@pytest.mark.parametrize("text, compact", [
    ("ch93 0076 2011 6238 5295 7", "CH9300762011623852957"),
    ("LI21 0881 0000 2324 013A A", "LI21088100002324013AA"),
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
])
def test_an_iban_from_switzerland_liechtenstein_or_the_sepa_area_is_kept_in_electronic_form(text, compact):
    assert refunds.normalise_iban(text) == compact


@pytest.mark.parametrize("text, says", [
    ("", "Enter the IBAN"),
    ("CH93 0076 2011 6238 5295 8", "not valid"),  # one digit off
    ("CH93 0076 2011", "not valid"),
    ("BR18 0036 0305 0000 1000 9795 493C 1", "an IBAN from BR cannot be used"),
    ("SA03 8000 0000 6080 1016 7519", "an IBAN from SA cannot be used"),
    ("CH44 3199 9123 0008 8901 2", "QR-IBAN, which only receives QR-bill payments"),  # the bank rejects a payment to it
])
def test_a_wrong_or_foreign_iban_is_refused_in_words(text, says):
    with pytest.raises(refunds.RefundError, match=says):
        refunds.normalise_iban(text)


@pytest.mark.parametrize("text, says", [("", "Enter the name"), ("  ", "Enter the name"), ("A" * 71, "70 characters"),
                                        ("Anna\x07Müller", "cannot be used")])
def test_the_account_holder_is_required_and_short(text, says):
    with pytest.raises(refunds.RefundError, match=says):
        refunds.check_holder(text)


@pytest.fixture
def engine(migrated_database_url):
    engine = make_engine(migrated_database_url)
    with writing(engine) as conn:
        header, rows = parse_csv(SERVER_ROSTER.encode())
        roster_import.import_pupils(conn, header, rows, MONDAY_NOON)
        accounts.set_language(conn, "F01", "en")
        credit(conn, "P001", 40_00)
    yield engine
    engine.dispose()


def credit(conn, pupil_id: str, cents: int) -> None:
    ledger.append(conn, LedgerEntry(new_entry_id(), pupil_id, cents, EntryKind.ONLINE_TOPUP, MONDAY_NOON, "server",
                                    reference=new_entry_id()), MONDAY_NOON)


def meal(conn, pupil_id: str, cents: int) -> None:
    ledger.ingest(conn, "K1", [LedgerEntry(new_entry_id(), pupil_id, -cents, EntryKind.MEAL, MONDAY_NOON, "K1",
                                           service_date=date(2026, 11, 30))], [{}], MONDAY_NOON)


def step(function, conn, *args, at=MONDAY_NOON):
    return function(conn, *args, at, canteen=CANTEEN, portal_url=URL)


def ask(conn, pupil_id: str = "P001", family_id: str = "F01") -> refunds.RefundRequest:
    return step(refunds.ask, conn, family_id, pupil_id, IBAN, "Anna  Müller")


def enrolled_kiosk(conn, kiosk_id: str) -> str:
    """The kiosk's token."""
    return kiosks.enroll(conn, kiosks.issue_code(conn, kiosk_id, MONDAY_NOON), kiosk_id, MONDAY_NOON)


def heartbeat(conn, token: str, cursor: int, pending: int, minutes: int = 5) -> None:
    at = MONDAY_NOON + timedelta(minutes=minutes)
    assert kiosks.heartbeat(conn, token, cursor=cursor, pending=pending, clock=at, version="t", now=at) is not None


def release(conn, minutes: int = 5) -> list[refunds.RefundRequest]:
    return refund_fence.release_due(conn, MONDAY_NOON + timedelta(minutes=minutes), canteen=CANTEEN, portal_url=URL)


def subjects(conn) -> list[str]:
    return list(conn.execute(select(mail_outbox.c.subject).order_by(mail_outbox.c.id)).scalars())


def test_a_family_asks_once_per_child_for_a_positive_balance_of_its_own_child(engine):
    with writing(engine) as conn:
        request = ask(conn)
        assert (request.status, request.iban, request.holder) == (refunds.Status.REQUESTED, "CH9300762011623852957",
                                                                  "Anna Müller")
        with pytest.raises(refunds.RefundError, match="already in progress"):
            ask(conn)
        with pytest.raises(refunds.RefundError, match=r"nothing to refund: the balance of Zoé is CHF 0\.00"):
            ask(conn, "P003")
        with pytest.raises(accounts.NotYoursError):
            ask(conn, "P002")  # Noé is family F02's
        assert subjects(conn) == ["Refund request received for Léa"]


def test_approval_holds_the_account_for_the_kiosks_and_the_payout_waits_for_each_one(engine):
    with writing(engine) as conn:
        k1, k2 = enrolled_kiosk(conn, "K1"), enrolled_kiosk(conn, "K2")
        request = step(refunds.approve, conn, ask(conn).request_id, "sandra")
    with reading(engine) as conn:  # what a kiosk pulls once the approval has committed
        hold = page_after(conn, request.fence_seq - 1, 10).changes
        assert [(c.seq, c.type, c.key, c.record["reason"]) for c in hold] == [
            (request.fence_seq, ChangeType.HOLD, "P001", "refund")]
    with writing(engine) as conn:
        assert release(conn) == []
        fence = request.fence_seq
        heartbeat(conn, k1, fence - 1, 0)  # has not pulled the hold yet
        heartbeat(conn, k2, fence, 2)  # has the hold, but two records made before are not pushed
        assert release(conn) == []
        meal(conn, "P001", 7_50)  # K2's push: a meal served offline before the hold arrived
        heartbeat(conn, k1, fence + 3, 0)
        heartbeat(conn, k2, fence + 1, 0)
        [paid_out] = release(conn)
        assert (paid_out.status, paid_out.amount_cents) == (refunds.Status.TO_PAY, 32_50)
        assert ledger.balance(conn, "P001") == 0 and ledger.verify_balances(conn) == []
    with reading(engine) as conn:
        entry_change, lift = page_after(conn, latest_seq(conn) - 2, 10).changes
        assert entry_change.type is ChangeType.ENTRY and entry_change.record["amount_cents"] == -32_50
        assert entry_change.record["kind"] == "refund" and (lift.type, lift.key, lift.record) == (
            ChangeType.HOLD, "P001", None)
    with writing(engine) as conn:
        paid = step(refunds.mark_paid, conn, request.request_id, "sandra")
        assert paid.status is refunds.Status.PAID and paid.paid_by == "sandra"
        with pytest.raises(refunds.RefundError, match="is paid already"):
            step(refunds.mark_paid, conn, request.request_id, "sandra")
        assert subjects(conn) == ["Refund request received for Léa", "Refund approved for Léa",
                                  "Refund booked for Léa: CHF 32.50", "Refund paid for Léa: CHF 32.50"]
        credit(conn, "P001", 5_00)
        assert ask(conn).status is refunds.Status.REQUESTED  # the next request may come once one is paid


def test_a_heartbeat_from_a_replaced_machine_does_not_move_the_kiosk_past_the_fence(engine):
    """The token is checked before the write lock: the old machine's heartbeat may be written after
    the new machine's enrollment, and must then record nothing."""
    with writing(engine) as conn:
        old = enrolled_kiosk(conn, "K1")
        request = step(refunds.approve, conn, ask(conn).request_id, "sandra")
        new = enrolled_kiosk(conn, "K1")  # a new machine for K1, which has pulled nothing yet
        at = MONDAY_NOON + timedelta(minutes=5)
        assert kiosks.heartbeat(conn, old, cursor=request.fence_seq, pending=0, clock=at, version="t", now=at) is None
        assert release(conn) == []
        heartbeat(conn, new, request.fence_seq, 0)
        assert [r.request_id for r in release(conn)] == [request.request_id]


def test_a_refusal_says_why_and_lifts_the_hold_without_moving_money(engine):
    with writing(engine) as conn:
        k1 = enrolled_kiosk(conn, "K1")
        request = step(refunds.approve, conn, ask(conn).request_id, "sandra")
        with pytest.raises(refunds.RefundError, match="reason"):
            refunds.refuse(conn, request.request_id, "sandra", "  ", MONDAY_NOON, canteen=CANTEEN, portal_url=URL)
        refused = refunds.refuse(conn, request.request_id, "sandra", "Le compte n'est pas au nom du parent.",
                                 MONDAY_NOON, canteen=CANTEEN, portal_url=URL)
        assert refused.status is refunds.Status.REFUSED and refused.refusal_reason.startswith("Le compte")
    with reading(engine) as conn:
        [lift] = page_after(conn, latest_seq(conn) - 1, 10).changes
        assert (lift.type, lift.key, lift.record) == (ChangeType.HOLD, "P001", None)
        cursor = latest_seq(conn)
    with writing(engine) as conn:
        assert ledger.balance(conn, "P001") == 40_00
        heartbeat(conn, k1, cursor, 0)
        assert release(conn) == []
        body = conn.execute(select(mail_outbox.c.body).order_by(mail_outbox.c.id.desc())).scalar()
        assert "Reason: Le compte n'est pas au nom du parent." in body
        assert ask(conn).status is refunds.Status.REQUESTED


def test_with_no_kiosk_the_payout_follows_the_approval_and_a_nil_balance_closes_the_request(engine):
    with writing(engine) as conn:
        request = ask(conn)
        meal(conn, "P001", 40_00)  # spent before the manager got to it
        step(refunds.approve, conn, request.request_id, "sandra")
        [closed] = release(conn)
        assert (closed.status, closed.amount_cents, closed.entry_id) == (refunds.Status.CLOSED, 0, None)
        refunds_made = conn.execute(select(entries.c.id).where(entries.c.kind == "refund")).all()
        assert refunds_made == [] and ledger.balance(conn, "P001") == 0 and ledger.verify_balances(conn) == []
        assert subjects(conn)[-1] == "Refund closed for Léa"


def test_the_payment_file_pays_every_refund_to_pay_once_marked_exported(engine):
    with writing(engine) as conn:
        credit(conn, "P003", 12_35)
        for pupil_id in ("P001", "P003"):
            step(refunds.approve, conn, ask(conn, pupil_id).request_id, "sandra")
        release(conn)
        document, due = refunds.payment_file(conn, DEBTOR, MONDAY_NOON)
        assert {r.pupil_id for r in due} == {"P001", "P003"}
        assert all(r.exported_at for r in refunds.with_status(conn, refunds.Status.TO_PAY))
    paid = read_payments(document, "09")
    assert paid["transfers"] == {("REFUND-1", "40.00", "CH9300762011623852957", "Anna Müller"),
                                 ("REFUND-2", "12.35", "CH9300762011623852957", "Anna Müller")}
    assert paid["count"] == "2" and paid["control_sum"] == "52.35"
    assert paid["debtor"] == "CH5604835012345678009"
    assert "Léa Müller" in etree.fromstring(document).findtext(".//{*}RmtInf/{*}Ustrd")


def test_a_refund_goes_into_one_payment_file_only(engine):
    with writing(engine) as conn:
        step(refunds.approve, conn, ask(conn, "P001").request_id, "sandra")
        release(conn)
        first, _due = refunds.payment_file(conn, DEBTOR, MONDAY_NOON)
        with pytest.raises(refunds.RefundError, match="in a payment file already"):
            refunds.payment_file(conn, DEBTOR, MONDAY_NOON)
        credit(conn, "P003", 12_35)
        step(refunds.approve, conn, ask(conn, "P003").request_id, "sandra")
        release(conn)
        second, due = refunds.payment_file(conn, DEBTOR, MONDAY_NOON)
    assert [r.pupil_id for r in due] == ["P003"]
    assert {t[0] for t in read_payments(first, "09")["transfers"]} == {"REFUND-1"}
    assert read_payments(second, "09")["transfers"] == {("REFUND-2", "12.35", "CH9300762011623852957", "Anna Müller")}


def read_payments(document: bytes, version: str) -> dict:
    """The file validated against ISO's schema, then what a bank would read in it."""
    root = etree.fromstring(document)
    schema = etree.XMLSchema(etree.parse(str(XSD / f"pain.001.001.{version}.xsd")))
    assert schema.validate(root), schema.error_log
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:pain.001.001.{version}"}
    transfers = {(tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns), tx.findtext("p:Amt/p:InstdAmt", namespaces=ns),
                  tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=ns), tx.findtext("p:Cdtr/p:Nm", namespaces=ns))
                 for tx in root.iterfind(".//p:CdtTrfTxInf", ns)}
    groups = root.findall(".//p:PmtInf", ns)
    for group in groups:  # each group's own count and sum add up too
        amounts = [Decimal(a.text) for a in group.iterfind(".//p:InstdAmt", ns)]
        assert group.findtext("p:NbOfTxs", namespaces=ns) == str(len(amounts))
        assert Decimal(group.findtext("p:CtrlSum", namespaces=ns)) == sum(amounts)
    assert all(a.get("Ccy") == "CHF" for a in root.iterfind(".//p:InstdAmt", ns))
    return {"transfers": transfers, "groups": len(groups),
            "count": root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=ns),
            "control_sum": root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns),
            "debtor": root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=ns)}


@pytest.mark.parametrize("version", pain001.VERSIONS)
def test_a_payment_file_for_accounts_at_home_and_abroad_validates_in_both_swiss_versions(version):
    transfers = [pain001.Transfer("REFUND-7", 12_50, "CH9300762011623852957", "Anna Müller", "Remboursement Léa"),
                 pain001.Transfer("REFUND-8", 30_05, "DE89370400440532013000", "Hans Beispiel", "Remboursement"),
                 pain001.Transfer("REFUND-9", 5, "LI21088100002324013AA", "Zoé Rochat", "Remboursement")]
    document = pain001.credit_transfer(transfers, pain001.Debtor.from_config(DEBTOR), message_id="REFECTORY-1",
                                       created_at=MONDAY_NOON, execution_date=date(2026, 12, 1), version=version)
    paid = read_payments(document, version)
    assert paid["transfers"] == {("REFUND-7", "12.50", "CH9300762011623852957", "Anna Müller"),
                                 ("REFUND-8", "30.05", "DE89370400440532013000", "Hans Beispiel"),
                                 ("REFUND-9", "0.05", "LI21088100002324013AA", "Zoé Rochat")}
    assert (paid["count"], paid["control_sum"], paid["groups"]) == ("3", "42.60", 2)  # at home, abroad


@pytest.mark.parametrize("config, says", [
    ({}, "REFUND_DEBTOR_IBAN"),
    ({"QRBILL_IBAN": "CH44 3199 9123 0008 8901 2", "QRBILL_NAME": "Cantine"}, "QR-IBAN"),
    ({"REFUND_DEBTOR_IBAN": "CH56 0483 5012 3456 7800 8", "REFUND_DEBTOR_NAME": "Cantine"}, "not a valid IBAN"),
])
def test_the_canteen_account_the_refunds_are_paid_from_must_be_a_plain_iban(config, says):
    with pytest.raises(pain001.Pain001Error, match=says):
        pain001.Debtor.from_config(config)
