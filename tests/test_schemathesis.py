"""Schemathesis against the kiosk API on a live server, on SQLite and PostgreSQL, as the enrolled
kiosk, with no token and with another kiosk's token: every generated request, valid or not, gets
an answer the OpenAPI document describes (status, content type, body; a 405 names the methods
allowed), none is a server error, and a request without a valid token is refused.

The seed is fixed and the examples bounded, so a run is repeatable and quick. The requests sent
per run (database, caller) are printed when the module ends: `pytest -n 0 -s tests/test_schemathesis.py`.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis

from sync_server.kiosk_api.openapi import DOCUMENT
from sync_server.sync import kiosks

from .conftest import MONDAY_NOON
from .live_server import LiveServer, start_school_server

SEED = 20261130
CALLERS = ["enrolled-kiosk", "no-token", "other-kiosk"]


def _without_waits(document: dict) -> dict:
    """The document with the pull's `wait` at 0 at most: a generated cursor past the feed's end would
    otherwise hold its request up to 30 s (tests/test_long_poll.py covers the waits)."""
    document = copy.deepcopy(document)
    for parameter in document["paths"]["/api/v1/sync/pull"]["get"]["parameters"]:
        if parameter["name"] == "wait":
            parameter["schema"]["maximum"] = 0
    return document


WITHOUT_WAITS = _without_waits(DOCUMENT)


def kiosk_api_schema(max_examples: int, *, coverage: bool):
    """The served document, with a fixed seed and every check but two: our schema cannot say
    everything the server refuses (a meal of the wrong sign, an instant outside 2000-2099: 422
    for a schema-valid request), and a query parameter the API does not know is ignored, not
    refused; both are answered as documented, which the other checks verify."""
    return schemathesis.openapi.from_dict(WITHOUT_WAITS, config=schemathesis.Config.from_dict({
        "seed": SEED,
        "suppress-health-check": ["too_slow"],  # generation time on a busy machine is no finding
        "phases": {"coverage": {"enabled": coverage}},
        "generation": {"max-examples": max_examples, "mode": "all", "database": "none"},
        "checks": {"positive_data_acceptance": {"enabled": False}, "negative_data_rejection": {"enabled": False}},
    }))


# The enrolled kiosk reaches every check behind the token: it gets the boundary values of every
# field (the coverage phase) as well as random ones. Without a token, or with another kiosk's, the
# answer turns on the token and the records' origin, which random requests reach as well.
AS_THE_KIOSK = kiosk_api_schema(20, coverage=True)
AS_SOMEONE_ELSE = kiosk_api_schema(15, coverage=False)


@dataclass
class LiveApi:
    live: LiveServer
    headers: dict[str, dict]
    sent: Counter = field(default_factory=Counter)


def enroll(live: LiveServer, kiosk_id: str) -> str:
    with live.write() as conn:
        code = kiosks.issue_code(conn, kiosk_id, MONDAY_NOON)
    response = requests.post(f"{live.url}/api/v1/kiosks/enroll", json={"code": code, "kiosk_id": kiosk_id},
                             timeout=30)
    return response.json()["token"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_api(request, tmp_path_factory):
    """The test school's server with kiosks K1 and K2 enrolled, and each caller's headers."""
    folder = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'server.db'}"
    else:
        database_url = request.getfixturevalue("postgres").create_database(f"t_{uuid.uuid4().hex[:12]}")
    live = start_school_server(database_url, folder / "instance")
    k1, k2 = enroll(live, "K1"), enroll(live, "K2")
    api = LiveApi(live, {"enrolled-kiosk": {"Authorization": f"Bearer {k1}"}, "no-token": {},
                         "other-kiosk": {"Authorization": f"Bearer {k2}"}})
    yield api
    live.stop()
    for caller in CALLERS:
        print(f"\nSchemathesis on {request.param}, {caller}: {api.sent[caller]} requests")


def call_and_check(case, live_api: LiveApi, caller: str) -> None:
    response = case.call(base_url=live_api.live.url, headers=live_api.headers[caller])
    live_api.sent[caller] += 1
    case.validate_response(response)


@AS_THE_KIOSK.parametrize()
def test_every_request_of_the_enrolled_kiosk_gets_a_documented_answer(case, live_api):
    call_and_check(case, live_api, "enrolled-kiosk")


# On SQLite only: the answer turns on the token, read the same way on either database.
@pytest.mark.parametrize("live_api", ["sqlite"], indirect=True)
@pytest.mark.parametrize("caller", ["no-token", "other-kiosk"])
@AS_SOMEONE_ELSE.parametrize()
def test_every_request_without_the_kiosks_token_gets_a_documented_answer(case, live_api, caller):
    call_and_check(case, live_api, caller)
