"""The OpenAPI 3.1 description of the local API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, *, ok: int = 200, body: dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"description": "invalid input", "content": {"application/json": {"schema": _ERROR}}},
            "401": {"description": "missing or wrong token", "content": {"application/json": {"schema": _ERROR}}},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if params:
        op["parameters"] = params
    return op


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Maillage node — local API",
        "version": "1",
        "description": "For the association's own operators and tools. Authenticate with "
        "`Authorization: Bearer <token>`; the token is in the node home's `api-token` file.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "enum": [
                            "invalid", "non-canonical", "bad-signature", "stale", "replay", "wrong-audience",
                            "unknown-type", "too-large", "forbidden", "rate-limited", "conflict",
                            "unknown-key", "retired-key", "out-of-order", "not-allowed", "expired",
                        ],
                    },
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            },
            "LoanRequest": {
                "type": "object",
                "required": ["owner", "resource", "period"],
                "properties": {
                    "owner": {"type": "string", "description": "the lending association's node id"},
                    "resource": {"type": "string", "description": "its record id"},
                    "period": {
                        "type": "object",
                        "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
                        "description": "ms since the epoch, UTC, end excluded",
                    },
                    "quantity": {"type": "integer", "minimum": 1},
                    "purpose": {"type": "string"},
                    "fee": {"type": "object", "description": "{amount: cents, currency}"},
                    "deposit": {"type": "object", "description": "{amount: cents, currency}"},
                    "expires": {"type": "integer", "description": "when the request lapses (ms)"},
                    "weekly_until": {
                        "type": "integer",
                        "description": "repeat every week (same local hours) until then (ms): one request per "
                        "occurrence; the reply lists the series and the conflicting occurrences",
                    },
                },
            },
            "NewRecord": {
                "type": "object",
                "required": ["body"],
                "properties": {
                    "type": {"type": "string", "enum": ["resource", "offer", "need"], "default": "resource"},
                    "body": {"type": "object", "description": "The record body (see docs/protocol.md); id optional. "
                             "Scope: visibility public (default), private, or federation with federations: "
                             "1 to 8 federation ids (32 lowercase hex characters) this node is a member of"},
                },
            },
        },
    },
    "paths": {
        "/node": {"get": _op("This node: id, fingerprint, name, URL, counts")},
        "/peers": {
            "get": _op("Known peers with their state, addresses and sync cursor"),
            "post": _op(
                "Add a seed peer",
                ok=201,
                body={"application/json": {"schema": {"type": "object", "required": ["seed"], "properties": {"seed": {"type": "string", "example": "http://192.0.2.1:8470#<node-id>"}}}}},
            ),
        },
        "/sync": {"post": _op("Run one synchronisation round now and report it")},
        "/denylist": {
            "get": _op("Our signed deny-list: node ids and since when"),
            "post": _op(
                "Deny a node: its messages and new records are refused from now on",
                body={"application/json": {"schema": {"type": "object", "required": ["node_id"], "properties": {
                    "node_id": {"type": "string"}, "reason": {"type": "string", "maxLength": 200}}}}},
            ),
        },
        "/denylist/{node_id}": {
            "delete": {
                **_op("Take a node off our deny-list"),
                "parameters": [{"name": "node_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            }
        },
        "/records": {
            "get": _op(
                "Records by an author (default: this node)",
                params=[
                    _query("author", "node id", {"type": "string"}),
                    _query("type", "descriptor, resource, offer or need", {"type": "string"}),
                ],
            ),
            "post": _op("Publish a resource, offer or need", ok=201, body={"application/json": {"schema": {"$ref": "#/components/schemas/NewRecord"}}}),
        },
        "/records/{record_id}": {
            "delete": {
                **_op("Delete one of our records (publishes a tombstone)"),
                "parameters": [{"name": "record_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            }
        },
        "/import": {
            "post": _op(
                "Import an inventory CSV (see docs/inventory-import.md); bad rows are reported by line",
                body={"text/csv": {"schema": {"type": "string"}}},
            )
        },
        "/search": {
            "get": _op(
                "Search own and replicated records (accent-insensitive, ranked)",
                params=[
                    _query("q", "words to find", {"type": "string"}),
                    _query("kind", "equipment, vehicle, space, skill or other", {"type": "string"}),
                    _query("near", "LAT,LON in decimal degrees", {"type": "string"}),
                    _query("km", "radius around near", {"type": "number"}),
                    _query("limit", "at most this many results (≤ 500)", {"type": "integer"}),
                    _query("free_from", "only resources free from (ms since the epoch)", {"type": "integer"}),
                    _query("free_to", "… until (ms, excluded); owners are asked", {"type": "integer"}),
                    _query("quantity", "units needed at once (default 1)", {"type": "integer"}),
                ],
            )
        },
        "/loans": {
            "post": _op(
                "Ask another association for one of its resources (opens a signed loan agreement)",
                ok=201,
                body={"application/json": {"schema": {"$ref": "#/components/schemas/LoanRequest"}}},
            )
        },
        "/agreements": {"get": _op("Agreements this node is a party to, newest first, with their state")},
        "/log": {"get": _op("Our transparency log: size, latest checkpoint and its witnesses, forks caught, recovery")},
        "/calendars": {"get": _op("Secret iCalendar feed URLs (node and each resource) for calendar applications")},
        "/agreements/{agreement_id}": {
            "get": _op("One agreement: parties, terms, facts, its signed event chain and sealed document")
        },
        "/agreements/{agreement_id}/audit": {
            "get": {
                **_op(
                    "An audit bundle of one agreement, built live: its signed events, the parties' descriptors, "
                    "and each party's signed checkpoint, cosignatures and inclusion proofs (the other party's "
                    "asked over the federation). JSON with bytes in hex; see docs/audit.md",
                    params=[_query("format", "json (default) or msgpack (application/vnd.maillage.audit+msgpack)",
                                   {"type": "string", "enum": ["json", "msgpack"]})],
                ),
                "parameters": [{"name": "agreement_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            }
        },
        "/agreements/{agreement_id}/{action}": {
            "post": _op(
                "Take a step: offer, counter, accept, decline, withdraw, handover, return, incident, cancel or close",
                body={"application/json": {"schema": {"type": "object"}}},
            )
        },
    },
}
