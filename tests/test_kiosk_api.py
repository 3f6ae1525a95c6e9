"""The kiosk API over real HTTP, on SQLite and on PostgreSQL: every answer matches the OpenAPI
document, and every bad request gets its documented status with nothing written."""

from __future__ import annotations

import json

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from sqlalchemy import func, select

from domain.clock import to_text
from domain.entries import new_entry_id
from domain.roster import parse_csv
from domain.sync import PUSH_BATCH_MAX
from sync_server.admin import roster_import
from sync_server.kiosk_api.openapi import DOCUMENT
from sync_server.sync import kiosks
from sync_server.tables import changes, entries, quarantine
from sync_server.tables import kiosks as kiosks_table

from .conftest import MONDAY_NOON
from .live_server import SERVER_ROSTER, start_server

pytestmark = pytest.mark.on_each_database

# Responses are checked with jsonschema against the served document (the server itself compiles
# its request schemas with jsonschema-rs: two implementations, one document).
_REGISTRY = Registry().with_resource("urn:refectory:openapi", Resource.opaque(DOCUMENT))
VALIDATORS = {name: Draft202012Validator({"$ref": f"urn:refectory:openapi#/components/schemas/{name}"},
                                         registry=_REGISTRY, format_checker=FormatChecker())
              for name in DOCUMENT["components"]["schemas"]}


@pytest.fixture
def api(migrated_database_url, tmp_path):
    live = start_server(migrated_database_url, tmp_path / "instance", clock=lambda: MONDAY_NOON, migrate=False)
    with live.write() as conn:
        header, rows = parse_csv(SERVER_ROSTER.encode())
        roster_import.import_pupils(conn, header, rows, MONDAY_NOON)
        code = kiosks.issue_code(conn, "K1", MONDAY_NOON)
    token = requests.post(f"{live.url}/api/v1/kiosks/enroll", json={"code": code, "kiosk_id": "K1"}).json()["token"]
    live.token = token
    yield live
    live.stop()


def call(api, method: str, path: str, *, token: str | None = "kiosk", expect: int, schema: str | None = None,
         **kwargs) -> dict:
    headers = kwargs.pop("headers", {})
    if token == "kiosk":
        headers["Authorization"] = f"Bearer {api.token}"
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.request(method, f"{api.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)
    assert response.status_code == expect, response.text
    body = response.json()
    if expect == 200:
        assert response.headers["Content-Type"] == "application/json"
        VALIDATORS[schema].validate(body)
    else:
        assert response.headers["Content-Type"] == "application/problem+json"
        VALIDATORS["Problem"].validate(body)
        assert body["status"] == expect and body["title"]
    return body


def meal(**changes) -> dict:
    record = {"id": new_entry_id(), "account_id": "P001", "amount_cents": -700, "kind": "meal",
              "occurred_at": to_text(MONDAY_NOON), "origin": "K1", "operator": None, "reference": "04A1B2C3",
              "service_date": "2026-11-30", "note": None}
    record.update(changes)
    return record


def written(api) -> tuple[int, int, int]:
    with api.write() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (entries, changes, quarantine))


def test_the_served_document_is_openapi_3_1_with_valid_schemas(api):
    document = requests.get(f"{api.url}/api/v1/openapi.json", timeout=30).json()
    assert document["openapi"] == "3.1.0" and document == json.loads(json.dumps(DOCUMENT))
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_a_push_is_acknowledged_record_by_record_and_a_repeat_is_a_duplicate(api):
    records = [meal(), meal(account_id="P003", reference="0A0B0C0D")]
    first = call(api, "POST", "/sync/push", json={"records": records}, expect=200, schema="PushResponse")
    assert [a["status"] for a in first["acks"]] == ["accepted", "accepted"]
    again = call(api, "POST", "/sync/push", json={"records": records}, expect=200, schema="PushResponse")
    assert [a["status"] for a in again["acks"]] == ["duplicate", "duplicate"]
    assert written(api)[0] == 2


def test_the_same_id_with_other_content_is_rejected_and_quarantined_never_merged(api):
    record = meal()
    call(api, "POST", "/sync/push", json={"records": [record]}, expect=200, schema="PushResponse")
    changed = {**record, "amount_cents": -800}
    body = call(api, "POST", "/sync/push", json={"records": [changed]}, expect=200, schema="PushResponse")
    assert body["acks"][0]["status"] == "rejected" and "conflict" in body["acks"][0]["reason"]
    assert written(api)[0] == 1 and written(api)[2] == 1


def test_pull_pages_through_the_changes_in_order(api):
    first = call(api, "GET", "/sync/pull", params={"since": "0", "limit": 3}, expect=200, schema="PullResponse")
    assert first["more"] is True and [c["seq"] for c in first["changes"]] == sorted(c["seq"] for c in first["changes"])
    rest = call(api, "GET", "/sync/pull", params={"since": first["next"], "limit": 1000}, expect=200,
                schema="PullResponse")
    assert rest["more"] is False and rest["changes"][0]["seq"] > first["changes"][-1]["seq"]
    assert {c["type"] for c in first["changes"] + rest["changes"]} == {"pupil", "badge"}
    assert rest["server_time"] == to_text(MONDAY_NOON)


def test_a_heartbeat_records_the_kiosk_and_reports_its_clock_skew(api):
    body = call(api, "POST", "/kiosks/heartbeat", json={"cursor": "12", "pending": 3, "version": "0.1.0",
                                                        "clock": to_text(MONDAY_NOON.replace(minute=5))},
                expect=200, schema="HeartbeatResponse")
    assert body["clock_skew_seconds"] == 300


@pytest.mark.parametrize(("path", "body"), [("/sync/push", {"records": []}), ("/kiosks/heartbeat", {})])
@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_no_token_or_a_wrong_one_is_401(api, path, body, token):
    before = written(api)
    call(api, "POST", path, token=token, json=body, expect=401)
    assert written(api) == before


def test_a_revoked_kiosk_token_is_401(api):
    with api.write() as conn:
        kiosks.revoke(conn, "K1", MONDAY_NOON)
    problem = call(api, "POST", "/sync/push", json={"records": [meal()]}, expect=401)
    assert problem["title"] == "Unknown or revoked kiosk token" and written(api)[0] == 0


@pytest.mark.parametrize("path", ["/sync/push", "/kiosks/heartbeat", "/kiosks/enroll"])
def test_a_body_that_is_not_json_is_400(api, path):
    call(api, "POST", path, data=b"{records: [", headers={"Content-Type": "application/json"}, expect=400)


@pytest.mark.parametrize(("record", "says"), [
    (meal(amount_cents="700"), 'records/1/amount_cents: value is not of type "integer"'),
    (meal(kind="gift"), 'records/1/kind: value is not one of "meal"'),
    (meal(note="x" * 501), "records/1/note: value is longer than 500 characters"),
    (meal(account_id="P" * 65), "records/1/account_id: value is longer than 64 characters"),
    (meal(colour="red"), "records/1: Additional properties are not allowed ('colour' was unexpected)"),
    ({k: v for k, v in meal().items() if k != "occurred_at"}, "records/1: \"occurred_at\" is a required property"),
    (meal(amount_cents=700), "records/1: meal entry with amount of the wrong sign"),
    (meal(amount_cents=-700.0), "records/1: entry amount must be non-zero integer centimes"),  # JSON Schema: an integer
    (meal(id="not-a-uuid"), "records/1: entry id must be a UUID in canonical lower-case form"),
    (meal(id="0190F5A2-7C3B-7D4E-8F10-123456789ABC"), "records/1: entry id must be a UUID in canonical lower-case"),
    (meal(occurred_at="yesterday"), "records/1: Invalid isoformat string"),
    (meal(service_date="0001-01-01"), "records/1: a meal's service date is the Zurich day it occurred on"),
])
def test_an_invalid_entry_is_422_and_the_whole_batch_is_refused(api, record, says):
    before = written(api)
    problem = call(api, "POST", "/sync/push", json={"records": [meal(), record]}, expect=422)
    assert any(says in error for error in problem["errors"]), problem
    assert written(api) == before


def test_an_entry_claiming_another_kiosk_is_403(api):
    problem = call(api, "POST", "/sync/push", json={"records": [meal(), meal(origin="K2")]}, expect=403)
    assert "K2" in problem["detail"] and written(api)[0] == 0


def test_more_records_than_a_batch_allows_is_413(api):
    problem = call(api, "POST", "/sync/push", json={"records": [meal() for _ in range(PUSH_BATCH_MAX + 1)]},
                   expect=413)
    assert str(PUSH_BATCH_MAX) in problem["detail"] and written(api)[0] == 0


def test_a_body_over_the_size_limit_is_413_on_every_route_that_takes_one(api):
    for path in ("/sync/push", "/kiosks/heartbeat", "/kiosks/enroll"):
        call(api, "POST", path, data=b"[" + b" " * (3 * 1024 * 1024) + b"]",
             headers={"Content-Type": "application/json"}, expect=413)


@pytest.mark.parametrize("params", [{"since": "-1"}, {"since": "abc"}, {"limit": "0"}, {"limit": "100000"}])
def test_a_bad_pull_cursor_or_page_size_is_422(api, params):
    call(api, "GET", "/sync/pull", params=params, expect=422)


def test_an_unknown_pupil_is_answered_rejected_and_kept_for_the_manager(api):
    body = call(api, "POST", "/sync/push", json={"records": [meal(account_id="NOBODY")]}, expect=200,
                schema="PushResponse")
    assert body["acks"][0] == {"id": body["acks"][0]["id"], "status": "rejected", "reason": "unknown pupil NOBODY"}
    assert written(api)[0] == 0 and written(api)[2] == 1


def test_a_used_enrollment_code_is_403(api):
    with api.write() as conn:
        code = kiosks.issue_code(conn, "K2", MONDAY_NOON)
    call(api, "POST", "/kiosks/enroll", token=None, json={"code": code, "kiosk_id": "K2"}, expect=200,
         schema="EnrollResponse")
    problem = call(api, "POST", "/kiosks/enroll", token=None, json={"code": code, "kiosk_id": "K2"}, expect=403)
    assert problem["title"] == "Enrollment refused"


def heartbeat(**changes) -> dict:
    return {"cursor": "12", "pending": 3, "version": "0.1.0", "clock": to_text(MONDAY_NOON), **changes}


def kiosk_health(api) -> tuple:
    with api.write() as conn:
        return tuple(conn.execute(select(kiosks_table)).all())


def test_an_empty_push_is_answered_with_no_acks(api):
    before = written(api)
    body = call(api, "POST", "/sync/push", json={"records": []}, expect=200, schema="PushResponse")
    assert body["acks"] == [] and body["generation"] and written(api) == before


def test_a_pending_count_larger_than_the_server_stores_is_422(api):
    before = kiosk_health(api)
    for pending in (2**31, 2**63, 10**30):
        problem = call(api, "POST", "/kiosks/heartbeat", data=json.dumps(heartbeat(pending=pending)),
                       headers={"Content-Type": "application/json"}, expect=422)
        assert "pending: value is greater than the maximum of 2147483647" in problem["errors"][0]
    assert kiosk_health(api) == before
    call(api, "POST", "/kiosks/heartbeat", json=heartbeat(pending=2**31 - 1), expect=200, schema="HeartbeatResponse")


FAR_INSTANTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59+00:00",
                "2100-01-01T00:00:00+00:00", "2099-12-31T23:30:00-01:00"]


def test_a_heartbeat_clock_outside_2000_to_2099_is_422(api):
    before = kiosk_health(api)
    for instant in FAR_INSTANTS:
        problem = call(api, "POST", "/kiosks/heartbeat", json=heartbeat(clock=instant), expect=422)
        assert problem["errors"] == [f"clock: instant {instant!r} is outside 2000-2099 (UTC)"]
    assert kiosk_health(api) == before


def test_an_entry_that_occurred_outside_2000_to_2099_is_422(api):
    before = written(api)
    for instant in FAR_INSTANTS:
        problem = call(api, "POST", "/sync/push", json={"records": [meal(), meal(occurred_at=instant)]}, expect=422)
        assert problem["errors"] == [f"records/1: instant {instant!r} is outside 2000-2099 (UTC)"]
    assert written(api) == before


def test_a_kiosk_clock_decades_off_is_recorded_with_its_skew_up_to_68_years(api):
    for instant, skew in [("2000-01-01T00:00:00+00:00", -849_351_600), ("2099-12-31T23:59:59.999999+00:00", 2**31 - 1)]:
        body = call(api, "POST", "/kiosks/heartbeat", json=heartbeat(clock=instant), expect=200,
                    schema="HeartbeatResponse")
        assert body["clock_skew_seconds"] == skew
        with api.write() as conn:
            assert conn.execute(select(kiosks_table.c.clock_skew_seconds)).scalar_one() == skew


def post_json_text(api, path: str, body, *, token: str | None = "kiosk", expect: int) -> dict:
    """`body` sent as it is written (json.dumps keeps lone surrogates as \\ud800 escapes)."""
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    return call(api, "POST", path, token=token, data=text, headers={"Content-Type": "application/json"},
                expect=expect)


def test_a_text_holding_a_lone_surrogate_is_422_whichever_field_it_is_in(api):
    before = written(api), kiosk_health(api)
    for field in ("id", "account_id", "operator", "reference", "note", "service_date", "origin"):
        problem = post_json_text(api, "/sync/push", {"records": [meal(), meal(**{field: "P\ud800"})]}, expect=422)
        assert f"records/1/{field}" in problem["errors"][0]
    for field in ("version", "clock", "cursor"):
        problem = post_json_text(api, "/kiosks/heartbeat", heartbeat(**{field: "1\udfff"}), expect=422)
        assert f"{field}" in problem["errors"][0]
    for field in ("code", "kiosk_id"):
        problem = post_json_text(api, "/kiosks/enroll", {"code": "ABCD-1234", "kiosk_id": "K2", field: "K\ud800"},
                                 token=None, expect=422)
        assert f"{field}" in problem["errors"][0]
    raw = json.dumps(heartbeat(version="0.1.0-VERSION")).encode().replace(b"VERSION", b"\xed\xa0\x80")
    problem = post_json_text(api, "/kiosks/heartbeat", raw, expect=422)  # the bytes of a surrogate, not its escape
    assert problem["errors"] == ["version: text that is not valid Unicode (a lone surrogate)"]
    assert (written(api), kiosk_health(api)) == before


def test_a_cursor_or_page_size_in_other_digits_than_ascii_is_422(api):
    for params in ({"since": "²"}, {"since": "①"}, {"since": "١٢"}, {"limit": "²"}, {"limit": "５"}):
        call(api, "GET", "/sync/pull", params=params, expect=422)


DEEP = "[" * 1000 + "]" * 1000


def test_a_body_nested_a_thousand_levels_deep_is_400(api):
    before = written(api), kiosk_health(api)
    for path, body, token in [("/kiosks/enroll", f'{{"code": {DEEP}, "kiosk_id": "K2"}}', None),
                              ("/sync/push", f'{{"records": {DEEP}}}', "kiosk"),
                              ("/kiosks/heartbeat", f'{{"cursor": {DEEP}}}', "kiosk"),
                              ("/kiosks/heartbeat", "[" * 100_000 + "]" * 100_000, "kiosk")]:
        problem = post_json_text(api, path, body, token=token, expect=400)
        assert problem["title"] == "The request body is nested too deeply"
    assert (written(api), kiosk_health(api)) == before


def test_a_record_carrying_a_value_nested_three_hundred_levels_deep_is_400(api):
    """JSON reads it, the schema check would not name it: it is refused as too deep, not as a 500."""
    before = written(api)
    record = json.dumps(meal()).replace("{", '{"colour": ' + "[" * 300 + "]" * 300 + ", ", 1)
    problem = post_json_text(api, "/sync/push", f'{{"records": [{record}]}}', expect=400)
    assert problem["title"] == "The request body is nested too deeply" and written(api) == before


def test_a_method_the_api_does_not_take_is_405_naming_the_methods_it_does(api):
    response = requests.request("TRACE", f"{api.url}/api/v1/sync/push",
                                headers={"Authorization": f"Bearer {api.token}"}, timeout=30)
    assert response.status_code == 405 and response.headers["Content-Type"] == "application/problem+json"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
