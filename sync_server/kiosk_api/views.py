"""The kiosk API (`/api/v1/`): enroll, push, pull, heartbeat. JSON in, JSON out; every error is
`application/problem+json` with a title that says what is wrong, and nothing is written."""

from __future__ import annotations

import functools
import itertools
import json
import re
from datetime import datetime

import jsonschema_rs
from flask import Blueprint, g, jsonify, request

from domain.cash_report import CashCount
from domain.clock import from_text, to_text
from domain.entries import LedgerEntry, lowered
from domain.sync import PULL_LIMIT_DEFAULT, PULL_LIMIT_MAX, PULL_WAIT_MAX, PUSH_BATCH_MAX, BadgeBlock
from sync_server.admin import audit, pupil_badges
from sync_server.db import reading, writing
from sync_server.families import balance_alerts
from sync_server.kiosk_api.openapi import DOCUMENT, SCHEMAS
from sync_server.kiosk_api.problems import Problem
from sync_server.money import automatic_topups, cash_counts, refund_fence, sibling_transfers
from sync_server.sync import feed_wait, generation, kiosks, ledger
from sync_server.sync.changes import Page, page_after
from sync_server.web.request_services import engine, mail_details
from sync_server.web.request_services import now as _now  # `now` is the push's and heartbeat's local

bp = Blueprint("kiosk_api", __name__, url_prefix="/api/v1")


def _inline(node):
    """The schema with its `$ref`s replaced by what they point to (our schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(SCHEMAS[node["$ref"].rsplit("/", 1)[1]])
        return {key: _inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value) for value in node]
    return node


# Request bodies are checked against the OpenAPI document's own schemas by jsonschema-rs (compiled:
# a push's 500 records are not walked in Python, as fastjsonschema's generated code did). Formats are
# not checked: instants, dates and ids are parsed by `LedgerEntry.from_record` and its kind, which
# refuse what does not parse, so they are not checked twice.
# An error names the value's place, not the value ("records/1/note: value is longer than 500
# characters"): a 501-character note quoted in full would push the limit out of the message.
REQUEST_VALIDATORS = {
    name: jsonschema_rs.Draft202012Validator(_inline(SCHEMAS[name]), validate_formats=False, mask="value")
    for name in ("EnrollRequest", "PushRequest", "HeartbeatRequest")
}
# How many of a body's schema errors a 422 names.
ERRORS_SHOWN = 20


# ASCII digits only: str.isdigit() also takes "²" or "①", which int() refuses, and "١٢", which it reads as 12.
_CURSOR = re.compile(r"[0-9]{1,18}")
_PAGE_SIZE = re.compile(r"[0-9]{1,9}")
# Where a lone surrogate can come from: a \udXXX escape, or the bytes of one, which json decodes
# too ("surrogatepass"). A body without either, nearly every one, need not be walked. Two patterns,
# each starting with a fixed byte the search can skip to, rather than one alternation tried at
# every byte of a 130 KB push.
_SURROGATE_SOURCES = (re.compile(rb"\\u[dD][89a-fA-F]"), re.compile(rb"\xed[\xa0-\xbf]"))


def request_json():
    """The body parsed as JSON, or a 400: not JSON, or nested deeper than the parser goes (our
    requests nest three levels; a thousand would otherwise end in a RecursionError)."""
    if not request.is_json:
        raise Problem(400, "The request body is not JSON", "Send a JSON object with Content-Type application/json.")
    try:
        return json.loads(request.get_data(cache=True))
    except RecursionError:
        raise _nested_too_deeply() from None
    except ValueError:  # malformed JSON, or bytes that are not UTF-8, -16 or -32
        raise Problem(400, "The request body is not JSON", "Send a JSON object with Content-Type application/json.") \
            from None


def _nested_too_deeply() -> Problem:
    return Problem(400, "The request body is nested too deeply",
                   "A kiosk request nests three levels at most; send the documented shape.")


def json_body(schema: str) -> dict:
    return checked(schema, request_json())


def checked(schema: str, body) -> dict:
    """`body` checked against its schema, with every text encodable (a lone surrogate such as
    "\\ud800" is valid JSON but no database column can store it, nor can the schema's checker read it)."""
    raw = request.get_data(cache=True)
    if any(source.search(raw) for source in _SURROGATE_SOURCES):
        unencodable = [f"{path}: text that is not valid Unicode (a lone surrogate)"
                       for path in _unencodable_texts(body)]
        if unencodable:
            raise Problem(422, "The request does not match its schema", errors=unencodable[:ERRORS_SHOWN])
    validator = REQUEST_VALIDATORS[schema]
    try:
        if not validator.is_valid(body):
            raise Problem(422, "The request does not match its schema", errors=[
                f"{'/'.join(map(str, error.instance_path)) or 'body'}: {error.message}"[:300]
                for error in itertools.islice(validator.iter_errors(body), ERRORS_SHOWN)])
    except ValueError:  # a value nested deeper than jsonschema-rs converts (lone surrogates are refused above)
        raise _nested_too_deeply() from None
    return body


def _unencodable_texts(body) -> list[str]:
    """Where `body`, whatever its shape, holds strings that UTF-8 cannot encode."""
    found, pending = [], [("", body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if not _encodable(value):
                found.append(path.lstrip("/"))  # as the schema's errors name it: records/1/note
        elif isinstance(value, dict):
            pending.extend((f"{path}/{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}/{index}", item) for index, item in enumerate(value))
    return sorted(found)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def kiosk_token_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "No kiosk token", "Send Authorization: Bearer <token> (refectory kiosk enroll).")
        with reading(engine()) as conn:
            kiosk = kiosks.kiosk_for_token(conn, token.strip())
        if kiosk is None:
            raise Problem(401, "Unknown or revoked kiosk token", "Enroll the kiosk again with a new code.")
        g.kiosk_id, g.kiosk_school, g.kiosk_token = kiosk.kiosk_id, kiosk.school, token.strip()
        return view(*args, **kwargs)

    return wrapper


@bp.get("/openapi.json")
def openapi():
    return jsonify(DOCUMENT)


@bp.post("/kiosks/enroll")
def enroll():
    body = json_body("EnrollRequest")
    with writing(engine()) as conn:
        kiosks.hold(conn, body["kiosk_id"])  # before the clock is read: see kiosks.hold
        try:
            token = kiosks.enroll(conn, body["code"], body["kiosk_id"], _now())
        except kiosks.EnrollmentError as error:
            raise Problem(403, "Enrollment refused", error.render()) from None
    return {"kiosk_id": body["kiosk_id"], "token": token}


@bp.post("/sync/push")
@kiosk_token_required
def push():
    body = request_json()
    if isinstance(body, dict) and isinstance(body.get("records"), list) and len(body["records"]) > PUSH_BATCH_MAX:
        raise Problem(413, "Too many records in one push",
                      f"{len(body['records'])} records; send at most {PUSH_BATCH_MAX} per request.")
    checked("PushRequest", body)
    records, counted, blocked = body["records"], body.get("cash_counts"), body.get("badge_blocks")
    if not records and not counted and not blocked:
        with reading(engine()) as conn:
            ledger_generation = generation.current(conn)
        return {"acks": [], **({} if counted is None else {"cash_count_acks": []}),
                **({} if blocked is None else {"badge_block_acks": []}), "generation": ledger_generation}
    foreign = sorted({r["origin"] for r in [*records, *(counted or []), *(blocked or [])]} - {g.kiosk_id})
    if foreign:
        raise Problem(403, "Records claim another kiosk's origin",
                      f"kiosk {g.kiosk_id} may push only its own entries, not those of {', '.join(foreign)}.")
    batch = _parsed(records, LedgerEntry.from_record, "records")
    counts = _parsed(counted or [], CashCount.from_record, "cash_counts")
    blocks = _parsed(blocked or [], BadgeBlock.from_record, "badge_blocks")
    now = _now()
    with writing(engine()) as conn:
        ledger.one_push_at_a_time(conn, g.kiosk_id)  # a retry sent while the first is still booking waits for it
        acks = []
        if batch:
            ingested = ledger.ingest(conn, g.kiosk_id, batch, records, now)
            brought = lowered(ingested.booked)  # the accounts the push took down, and by how much
            balance_alerts.alert_fallen(conn, brought, ingested.balances, now, **mail_details())
            # Only queued here: the provider is asked later, outside the push (automatic_charges).
            automatic_topups.queue_fallen(conn, brought, ingested.balances, now)
            acks = ingested.acks
            audit.record_counter_exceptions(conn, ingested.booked, now)
        count_acks = cash_counts.ingest(conn, g.kiosk_id, counts, now)
        block_acks = pupil_badges.ingest_blocks(conn, g.kiosk_id, blocks, now)
        ledger_generation = generation.current(conn)
    answer = {"acks": [ack.to_record() for ack in acks], "generation": ledger_generation}
    if counted is not None:
        answer["cash_count_acks"] = [ack.to_record() for ack in count_acks]
    if blocked is not None:
        answer["badge_block_acks"] = [ack.to_record() for ack in block_acks]
    return answer


def _parsed(records: list[dict], parse, field: str) -> list:
    """Each record parsed, or a 422 naming those that do not parse (nothing is written)."""
    parsed, errors = [], []
    for index, record in enumerate(records):
        try:
            parsed.append(parse(record))
        except (ValueError, TypeError) as error:
            errors.append(f"{field}/{index}: {error}"[:300])
    if errors:
        titles = {"records": "Invalid ledger entries", "cash_counts": "Invalid cash counts",
                  "badge_blocks": "Invalid badge blocks"}
        raise Problem(422, titles[field], errors=errors[:20])
    return parsed


@bp.get("/sync/pull")
@kiosk_token_required
def pull():
    since_text = request.args.get("since", "0")
    limit_text = request.args.get("limit", str(PULL_LIMIT_DEFAULT))
    wait_text = request.args.get("wait", "0")
    if not _CURSOR.fullmatch(since_text):
        raise Problem(422, "Bad cursor", f"since={since_text[:40]!r} is not a cursor this server gave.")
    if not _PAGE_SIZE.fullmatch(limit_text) or not 1 <= int(limit_text) <= PULL_LIMIT_MAX:
        raise Problem(422, "Bad page size", f"limit must be 1 to {PULL_LIMIT_MAX}.")
    if not _PAGE_SIZE.fullmatch(wait_text) or int(wait_text) > PULL_WAIT_MAX:
        raise Problem(422, "Bad wait", f"wait must be 0 to {PULL_WAIT_MAX} seconds.")
    since, limit, wait = int(since_text), int(limit_text), int(wait_text)

    school = g.kiosk_school

    def fetch() -> tuple[Page, str]:
        with reading(engine()) as conn:  # given back before any wait: a waiting pull holds no connection
            return page_after(conn, since, limit, school), generation.current(conn)  # the page's generation

    if wait:
        page, ledger_generation = feed_wait.watcher(engine()).wait_until(
            fetch, lambda found: found[0].more or feed_wait.worth_answering(found[0].changes), wait,
            key=(since, limit, school), school=school)
        with reading(engine()) as conn:  # revoked (or enrolled again elsewhere) while it waited: nothing more
            if kiosks.kiosk_for_token(conn, g.kiosk_token) is None:
                raise Problem(401, "Unknown or revoked kiosk token", "Enroll the kiosk again with a new code.")
    else:
        page, ledger_generation = fetch()
    return {"changes": [c.to_record() for c in page.changes], "next": str(page.next), "more": page.more,
            "server_time": to_text(_now()), "generation": ledger_generation}


@bp.post("/kiosks/heartbeat")
@kiosk_token_required
def heartbeat():
    body = json_body("HeartbeatRequest")
    clock = _instant(body, "clock")
    error_at = _instant(body, "last_error_at") if body.get("last_error_at") else clock
    last_error = kiosks.LastError(body["last_error"], error_at, body.get("last_error_code")) \
        if body.get("last_error") else None
    with writing(engine()) as conn:
        kiosks.hold(conn, g.kiosk_id)
        now = _now()  # with the kiosk's row held: after any enrollment that committed before it
        skew = kiosks.heartbeat(conn, g.kiosk_token, cursor=int(body["cursor"]), pending=body["pending"],
                                clock=clock, version=body["version"], now=now, last_error=last_error)
        if skew is None:
            raise Problem(401, "Unknown or revoked kiosk token", "Enroll the kiosk again with a new code.")
        # The heartbeat is what moves a kiosk past a refund's fence: pay out what now can be.
        refund_fence.release_after_heartbeat(conn, g.kiosk_id, now, **mail_details())
        ledger_generation = generation.current(conn)
        transfers_waiting = sibling_transfers.any_waiting(conn)
    if transfers_waiting:
        # And past a transfer's set-aside: book what now can be, in a transaction of its own, which
        # takes its balances' locks before the change log's, as a family asking a transfer at that
        # moment does (after a refund's payout had taken the change log's, the two waited on each other).
        with writing(engine()) as conn:
            sibling_transfers.release_after_heartbeat(conn, g.kiosk_id, now, **mail_details())
    return {"server_time": to_text(now), "clock_skew_seconds": skew, "generation": ledger_generation}


def _instant(body: dict, name: str) -> datetime:
    try:
        return from_text(body[name])
    except ValueError as error:
        raise Problem(422, "The request does not match its schema", errors=[f"{name}: {error}"[:300]]) from None
