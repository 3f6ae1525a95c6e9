"""An online payment the provider settled for more than a top-up may bring is not credited, even
by the manager's "credit what was settled": against the Datatrans stand-in, on SQLite and
PostgreSQL."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from refectory.payment_standin import PaymentStandIn
from sync_server import documents, families, managers
from sync_server.tables import entries, online_payments

from .conftest import MONDAY_NOON
from .live_server import Clock, start_school_server
from .portal_client import School, text_of


@pytest.fixture
def standin():
    provider = PaymentStandIn().start()
    yield provider
    provider.stop()


@pytest.fixture
def school(database_url, tmp_path, standin):
    clock = Clock()
    live = start_school_server(database_url, tmp_path / "instance", clock=clock)
    terms = tmp_path / "conditions.pdf"
    terms.write_bytes(b"%PDF-1.4 conditions\n")
    school = School(live, clock)
    with live.write() as conn:
        school.letters["F01"] = families.issue_login(conn, "F01", MONDAY_NOON)
        document = documents.add(conn, tmp_path / "instance" / "documents", terms, "Online payment terms", MONDAY_NOON)
        school.manager_password = managers.set_manager(conn, "sandra", "Sandra Morel", MONDAY_NOON)
    live.app.config.update(PORTAL_URL=live.url + "/", PAYMENT_TERMS_DOCUMENT=document.document_id, **standin.config())
    yield school
    live.stop()


def test_a_settled_amount_above_the_top_up_maximum_is_not_credited_even_by_the_manager(school, standin):
    standin.amount_override = 92233720368547758_07  # what a misbehaving provider might settle
    browser = school.logged_in("F01")
    opened = browser.submit("/children/P001/pay", {"amount": "50", "method": "TWI", "terms": "y"})
    assert opened.status_code == 303, text_of(opened)
    back = requests.post(opened.headers["Location"], data={"action": "pay"}, allow_redirects=False, timeout=30)
    parts = urlsplit(back.headers["Location"])
    browser.get(f"{parts.path}?{parts.query}")
    with school.live.write() as conn:
        assert conn.execute(select(online_payments.c.status)).scalar_one() == "review"

    office = school.browser()
    office.submit("/manage/login", {"login": "sandra", "password": school.manager_password})
    reference = standin.last().body["refno"]
    refused = office.submit(f"/manage/payments/{reference}/credit-settled", {}, form_page="/manage/payments")
    assert refused.status_code == 302
    assert ("Datatrans a encaissé CHF 92'233'720'368'547'758.07 : Le montant maximum est de CHF 500.00. Réglez-le"
            " dans le tableau de bord de Datatrans.") in text_of(office.get("/manage/payments"))
    with school.live.write() as conn:
        assert conn.execute(select(entries.c.id)).all() == []
        assert conn.execute(select(online_payments.c.status)).scalar_one() == "review"
    assert school.live.balance("P001") == 0
