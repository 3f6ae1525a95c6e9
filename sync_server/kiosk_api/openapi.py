"""The kiosk API described as OpenAPI 3.1; the server validates requests against these very
schemas, and the tests validate responses against them, so the document cannot drift."""

from __future__ import annotations

from domain.cash_report import COUNTED_MAX_CENTS
from domain.entries import EntryKind
from domain.sync import (
    MAX_ID_LENGTH,
    MAX_REASON_LENGTH,
    MAX_TEXT_LENGTH,
    PULL_LIMIT_MAX,
    PULL_WAIT_MAX,
    PUSH_BATCH_MAX,
    AckStatus,
    ChangeType,
)

IDENTIFIER = {"type": "string", "pattern": "^[A-Za-z0-9_\\-]{1,32}$"}
INSTANT = {"type": "string", "format": "date-time", "maxLength": 40,
           "description": "With its offset; from 2000-01-01 to 2099-12-31 in UTC, other instants are 422."}
GENERATION = {"type": "string", "minLength": 1, "maxLength": 64,
              "description": "The server ledger's generation, replaced by every restore of the server: a kiosk"
                             " that sees a new one sends all its entries again and pulls from cursor 0."}
INT32_MAX = 2**31 - 1  # counts stored in an INTEGER column: 32 bits on PostgreSQL


def _nullable(schema: dict) -> dict:
    """`schema` or null; string keywords (maxLength, format) apply only to strings."""
    return {**schema, "type": [schema["type"], "null"]}


SCHEMAS: dict = {
    "Problem": {
        "type": "object", "required": ["title", "status"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"},
                       "errors": {"type": "array", "items": {"type": "string"}}},
    },
    "Entry": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "account_id", "amount_cents", "kind", "occurred_at", "origin"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "maxLength": MAX_ID_LENGTH},
            "account_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
            "amount_cents": {"type": "integer", "minimum": -10_000_00, "maximum": 10_000_00},
            "kind": {"enum": [str(k) for k in EntryKind]},
            "occurred_at": INSTANT,
            "origin": IDENTIFIER,
            "operator": _nullable({"type": "string", "maxLength": MAX_ID_LENGTH}),
            "reference": _nullable({"type": "string", "maxLength": MAX_ID_LENGTH}),
            "service_date": _nullable({"type": "string", "format": "date", "maxLength": 10}),
            "note": _nullable({"type": "string", "maxLength": MAX_TEXT_LENGTH}),
        },
    },
    "CashCount": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "origin", "day", "counted_cents", "counted_at"],
        "description": "The cash counted in the kiosk's drawer for a day; a recount is a new record.",
        "properties": {
            "id": {"type": "string", "format": "uuid", "maxLength": MAX_ID_LENGTH},
            "origin": IDENTIFIER,
            "day": {"type": "string", "format": "date", "maxLength": 10},
            "counted_cents": {"type": "integer", "minimum": 0, "maximum": COUNTED_MAX_CENTS},
            "counted_at": INSTANT,
            "counted_by": _nullable(IDENTIFIER),
        },
    },
    "BadgeBlock": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "origin", "uid", "pupil_id", "reason", "blocked_at", "blocked_by"],
        "description": "A pupil's badge a cashier blocked as lost at the kiosk: the server marks it lost"
                       " (as the back office does), and every kiosk refuses it from its next pull.",
        "properties": {
            "id": {"type": "string", "format": "uuid", "maxLength": MAX_ID_LENGTH},
            "origin": IDENTIFIER,
            "uid": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
            "pupil_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
            "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON_LENGTH},
            "blocked_at": INSTANT,
            "blocked_by": IDENTIFIER,
        },
    },
    "EnrollRequest": {
        "type": "object", "additionalProperties": False, "required": ["code", "kiosk_id"],
        "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 64}, "kiosk_id": IDENTIFIER},
    },
    "EnrollResponse": {
        "type": "object", "required": ["kiosk_id", "token"],
        "properties": {"kiosk_id": IDENTIFIER, "token": {"type": "string"}},
    },
    "PushRequest": {
        "type": "object", "additionalProperties": False, "required": ["records"],
        "properties": {"records": {"type": "array", "maxItems": PUSH_BATCH_MAX,
                                   "items": {"$ref": "#/components/schemas/Entry"}},
                       "cash_counts": {"type": "array", "maxItems": PUSH_BATCH_MAX,
                                       "items": {"$ref": "#/components/schemas/CashCount"}},
                       "badge_blocks": {"type": "array", "maxItems": PUSH_BATCH_MAX,
                                        "items": {"$ref": "#/components/schemas/BadgeBlock"}}},
    },
    "Ack": {
        "type": "object", "required": ["id", "status"],
        "properties": {"id": {"type": "string"}, "status": {"enum": [str(s) for s in AckStatus]},
                       "reason": {"type": "string"}},
    },
    "PushResponse": {
        "type": "object", "required": ["acks", "generation"],
        "properties": {"acks": {"type": "array", "items": {"$ref": "#/components/schemas/Ack"}},
                       "cash_count_acks": {"type": "array", "items": {"$ref": "#/components/schemas/Ack"},
                                           "description": "One per cash count sent, in order; only when some were."},
                       "badge_block_acks": {"type": "array", "items": {"$ref": "#/components/schemas/Ack"},
                                            "description": "One per badge block sent, in order; only when some"
                                                           " were (duplicate: the badge was blocked already)."},
                       "generation": GENERATION},
    },
    "Change": {
        "type": "object", "required": ["seq", "type", "key", "record"],
        "properties": {"seq": {"type": "integer"}, "type": {"enum": [str(t) for t in ChangeType]},
                       "key": {"type": "string"}, "record": {"type": ["object", "null"]}},
    },
    "PullResponse": {
        "type": "object", "required": ["changes", "next", "more", "server_time", "generation"],
        "properties": {"changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                       "next": {"type": "string"}, "more": {"type": "boolean"}, "server_time": INSTANT,
                       "generation": GENERATION},
    },
    "HeartbeatRequest": {
        "type": "object", "additionalProperties": False, "required": ["cursor", "pending", "clock", "version"],
        "properties": {"cursor": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                       "pending": {"type": "integer", "minimum": 0, "maximum": INT32_MAX}, "clock": INSTANT,
                       "version": {"type": "string", "maxLength": 40},
                       "last_error": _nullable({"type": "string", "maxLength": MAX_TEXT_LENGTH,
                                                "description": "Why the kiosk's last sync round failed, if it did."}),
                       "last_error_code": _nullable({
                           "type": "string", "pattern": "^[a-z_]{1,32}$",
                           "description": "Why it failed, in a word: unreachable, timeout, rejected, server_error or"
                                          " bad_answer (a kiosk from before codes sends none; an unknown one is"
                                          " kept, and its text shown)."}),
                       "last_error_at": _nullable(INSTANT)},
    },
    "HeartbeatResponse": {
        "type": "object", "required": ["server_time", "clock_skew_seconds", "generation"],
        "properties": {"server_time": INSTANT, "clock_skew_seconds": {"type": "integer"},
                       "generation": GENERATION},
    },
}


def _json(schema: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


_AUTH_PROBLEMS = {"401": _problem("No token, or an unknown or revoked one."),
                  "422": _problem("The request does not match its schema.")}
_BODY_PROBLEMS = {"400": _problem("The body is not JSON, or nests deeper than any request of this API."),
                  "413": _problem("A body over the size limit.")}
_BUSY = {"503": {**_problem("No database connection came free in time (a rush): send the request again after"
                            " `Retry-After` seconds or later (a record sent twice is booked once)."),
                 "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}}}

DOCUMENT: dict = {
    "openapi": "3.1.0",
    "info": {"title": "Refectory kiosk API", "version": "1"},
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"kioskToken": {"type": "http", "scheme": "bearer"}},
    },
    "paths": {
        "/api/v1/kiosks/enroll": {"post": {
            "summary": "Exchange a one-time enrollment code for the kiosk's token.",
            "requestBody": {"required": True, **_json("EnrollRequest")},
            "responses": {"200": {"description": "Enrolled.", **_json("EnrollResponse")},
                          **_BODY_PROBLEMS,
                          "403": _problem("The code is unknown, used, expired or for another kiosk."),
                          "422": _problem("The request does not match its schema."), **_BUSY}}},
        "/api/v1/sync/push": {"post": {
            "summary": "Send entries made on this kiosk, counts of its drawer and badges blocked there; each"
                       " is acknowledged (one transaction).",
            "security": [{"kioskToken": []}],
            "requestBody": {"required": True, **_json("PushRequest")},
            "responses": {"200": {"description": "Every record acknowledged, in order.", **_json("PushResponse")},
                          **_BODY_PROBLEMS,
                          "403": _problem("A record claims another kiosk as its origin."),
                          "413": _problem(f"More than {PUSH_BATCH_MAX} records, or a body over the size limit."),
                          **_AUTH_PROBLEMS, **_BUSY}}},
        "/api/v1/sync/pull": {"get": {
            "summary": "Changes after a cursor, in server sequence order, paged.",
            "security": [{"kioskToken": []}],
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": PULL_LIMIT_MAX}},
                {"name": "wait", "in": "query",
                 "description": "Seconds to hold the request (a long-poll) while nothing urgent after `since`"
                                " is pullable: the answer comes as soon as an urgent change is (money booked"
                                " on the server or at another kiosk's desk, a hold, a badge, a pupil, a"
                                " cashier), else after that long with what is pullable (reservations, menus,"
                                " settings, other kiosks' meals), or nothing. 0, the default, answers at once.",
                 "schema": {"type": "integer", "minimum": 0, "maximum": PULL_WAIT_MAX, "default": 0}}],
            "responses": {"200": {"description": "A page of changes.", **_json("PullResponse")},
                          **_AUTH_PROBLEMS, **_BUSY}}},
        "/api/v1/kiosks/heartbeat": {"post": {
            "summary": "Report cursor, pending records, clock and version.",
            "security": [{"kioskToken": []}],
            "requestBody": {"required": True, **_json("HeartbeatRequest")},
            "responses": {"200": {"description": "Recorded.", **_json("HeartbeatResponse")},
                          **_BODY_PROBLEMS, **_AUTH_PROBLEMS, **_BUSY}}},
    },
}
