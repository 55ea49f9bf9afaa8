"""The local API for the association's own operators: JSON over HTTP, bearer token.

It is how the CLI (and later the web pages) act on the node. It never speaks
for peers: federation endpoints stay signature-only, under /fed/v1.
"""

from __future__ import annotations

import hmac
import json
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from protocol import RECORD_TYPES, InvalidMessage, ProtocolError, TooLarge, fingerprint, is_node_id, open_envelope
from protocol.schema import parse

from storage import log, peers, records, session

from . import agreements_api, audit_api, campaigns_api, catalogue, federations_api, fund_api
from .availability_search import check_free
from .clock import now_ms
from .config import ConfigError, Seed
from .federation import read_body
from .openapi import OPENAPI
from .runtime import NODE
from .wire import wire_form

API_PREFIX = "/api/v1"
MAX_JSON_BYTES = 256 * 1024
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _error(error: ProtocolError) -> web.Response:
    return _json(error.to_wire(), status=error.http_status)


@web.middleware
async def api_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Bearer-token check and typed JSON errors for every API route."""
    if request.path != f"{API_PREFIX}/openapi.json":
        node = request.config_dict[NODE]
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {node.token}".encode()):
            return _json({"code": "forbidden", "message": "missing or wrong API token"}, status=401)
    try:
        return await handler(request)
    except ProtocolError as exc:
        return _error(exc)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await read_body(request, MAX_JSON_BYTES)
    try:
        data = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidMessage("body must be a JSON object")
    return data


def _record_json(row: Any) -> dict[str, Any]:
    body = records.body_of(row.envelope)
    return {
        "author": row.author,
        "id": row.record_id,
        "type": row.rtype,
        "issued_at": row.issued_at,
        "message_id": row.message_id.hex(),
        "public": row.public,
        "scope": row.scope,  # public | federation | private
        "federations": list(body.get("federations", ())),  # who may hold it, when scope is federation
        "body": body,
    }


async def node_info(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]

    def read() -> dict[str, Any]:
        with session(node.engine) as s:
            own = len(records.list_by_author(s, node.node_id))
            return {"records": records.count(s), "own_records": own, "peers": len(peers.list_all(s))}

    counts = await node.run(read)
    return _json(
        {
            "node_id": node.node_id,
            "fingerprint": fingerprint(node.node_id),
            "name": node.config.name,
            "url": node.config.advertised_url,
            **counts,
        }
    )


async def list_peers(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]

    def read() -> list[dict[str, Any]]:
        with session(node.engine) as s:
            forked = {e.origin for e in log.equivocations(s)}
            return [_peer_json(p, equivocated=p.node_id in forked) for p in peers.list_all(s)]

    return _json({"peers": await node.run(read)})


def _peer_json(p: peers.PeerView, *, equivocated: bool) -> dict[str, Any]:
    view = {field: getattr(p, field) for field in p.__slots__}  # type: ignore[attr-defined]
    # equivocated: the peer signed two checkpoints of its log that cannot both be true
    return {**view, "fingerprint": fingerprint(p.node_id), "equivocated": equivocated}


async def log_status(request: web.Request) -> web.Response:
    """Our transparency log: size, latest checkpoint and its witnesses, forks caught, recovery needed."""
    node = request.config_dict[NODE]

    def read() -> dict[str, Any]:
        with session(node.engine) as s:
            latest = log.latest_checkpoint(s, node.node_id)
            out: dict[str, Any] = {"size": log.size(s), "checkpoint": None}
            if latest is not None:
                witnesses = [open_envelope(raw).issuer for raw in log.cosignatures(s, latest.message_id)]
                out["checkpoint"] = {"size": latest.size, "root": latest.root.hex(), "issued_ms": latest.issued_ms,
                                     "witnesses": witnesses}
            out["equivocations"] = [
                {"origin": e.origin, "found_ms": e.found_ms, "reported_by": e.reported_by} for e in log.equivocations(s)
            ]
        recovery = node.log_recovery
        out["recovery"] = None if recovery is None else {
            "witnessed_size": recovery.witnessed_size, "local_size": recovery.local_size, "witness": recovery.witness}
        return out

    return _json(await node.run(read))


async def add_peer(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    data = await _json_body(request)
    try:
        seed = Seed.parse(str(data.get("seed", "")))
    except ConfigError as exc:
        raise InvalidMessage(str(exc)) from None

    def commit() -> None:
        with session(node.engine) as s, s.begin():
            peers.upsert(s, seed.node_id, addresses=[seed.url], source="seed", now_ms=now_ms())

    await node.run(commit)
    node.sync_now.set()
    return _json({"added": str(seed)}, status=201)


async def get_denylist(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    return _json({"denied": [{"node_id": n, "since": since} for n, since in sorted(node.denied.items())]})


async def deny_node(request: web.Request) -> web.Response:
    """Put a node on our signed deny-list: its messages and new records are refused from now on."""
    node = request.config_dict[NODE]
    data = await _json_body(request)
    node_id, reason = data.get("node_id"), data.get("reason")
    if not isinstance(node_id, str) or not is_node_id(node_id):
        raise InvalidMessage('"node_id" must be a node id')
    if reason is not None and not isinstance(reason, str):
        raise InvalidMessage('"reason" must be text')
    node.denied = await node.run(catalogue.set_denied, node.engine, node.key, node_id, True, reason)
    return await get_denylist(request)


async def allow_node(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    node_id = request.match_info["node_id"]
    if node_id not in node.denied:
        raise InvalidMessage(f"{node_id} is not on our deny-list")
    node.denied = await node.run(catalogue.set_denied, node.engine, node.key, node_id, False)
    return await get_denylist(request)


async def sync_now(request: web.Request) -> web.Response:
    """Run one sync round now and report it (the background loop keeps its own pace)."""
    report = await request.config_dict[NODE].sync_round()
    return _json(
        {
            "contacted": report.contacted,
            "failed": report.failed,
            "refused": report.refused,
            "received": report.received,
            "stored": report.stored,
            "reconciled": report.reconciled,
            "errors": report.errors,
        }
    )


async def list_records(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    author = request.query.get("author", node.node_id)
    rtype = request.query.get("type")

    def read() -> list[dict[str, Any]]:
        with session(node.engine) as s:
            return [_record_json(r) for r in records.list_by_author(s, author) if rtype in (None, r.rtype)]

    return _json({"records": await node.run(read)})


async def create_record(request: web.Request) -> web.Response:
    """Publish a resource, offer or need: {"type": "resource", "body": {...}} (id optional)."""
    node = request.config_dict[NODE]
    data = await _json_body(request)
    rtype = data.get("type", "resource")
    if rtype not in catalogue.PUBLISHABLE_TYPES:
        raise InvalidMessage(f"type must be one of {', '.join(catalogue.PUBLISHABLE_TYPES)}")
    body = data.get("body")
    if not isinstance(body, dict):
        raise InvalidMessage('"body" must be an object')
    body = {"id": body.get("id") or f"r-{secrets.token_hex(6)}", **{k: v for k, v in body.items() if k != "id"}}
    parse(RECORD_TYPES[rtype], wire_form(body))  # a clear error before anything is signed
    record = await node.run(catalogue.publish, node.engine, node.key, rtype, body)
    request.config_dict[NODE].push_soon([record])
    return _json(_created(record), status=201)


def _created(record: Any) -> dict[str, Any]:
    return {
        "author": record.author,
        "id": record.record_id,
        "type": record.type,
        "issued_at": record.envelope.issued_at,
        "message_id": record.envelope.message_id.hex(),
    }


async def delete_record(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    record = await node.run(catalogue.delete, node.engine, node.key, request.match_info["record_id"])
    request.config_dict[NODE].push_soon([record])
    return _json(_created(record))


async def import_inventory(request: web.Request) -> web.Response:
    """Import an inventory CSV: good rows are published, each bad row is reported with its line."""
    from .inventory import parse_inventory

    node = request.config_dict[NODE]
    data = await read_body(request, MAX_IMPORT_BYTES)
    result = parse_inventory(data)
    batch = await node.run(catalogue.publish_many, node.engine, node.key, "resource", result.bodies)
    node.push_soon(batch.published)
    errors = [{"line": e.line, "reason": e.reason} for e in result.errors]
    errors += [{"line": result.lines[index], "reason": reason} for index, reason in batch.refused]
    return _json(
        {
            "published": len(batch.published),
            "unchanged": len(batch.unchanged),
            "ids": [r.record_id for r in batch.published],
            "errors": sorted(errors, key=lambda e: e["line"]),
        }
    )


def parse_near(text: str) -> tuple[int, int]:
    """"45.76,4.83" (decimal degrees) → micro-degrees, exactly (no float)."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = (int((Decimal(v.strip()) * 1_000_000).to_integral_value()) for v in (lat_text, lon_text))
    except (ValueError, InvalidOperation):
        raise InvalidMessage("near must be LAT,LON in decimal degrees, e.g. 45.76,4.83") from None
    if not (-90_000_000 <= lat <= 90_000_000 and -180_000_000 <= lon <= 180_000_000):
        raise InvalidMessage("near is outside the globe")
    return lat, lon


async def search(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    query = request.query.get("q", "")
    kind = request.query.get("kind") or None
    near = parse_near(request.query["near"]) if request.query.get("near") else None
    try:
        km = float(request.query["km"]) if request.query.get("km") else None
        limit = min(int(request.query.get("limit", "50")), 500)
    except ValueError:
        raise InvalidMessage("km and limit must be numbers") from None
    if km is not None and near is None:
        raise InvalidMessage("km needs near=LAT,LON")
    if len(query) > 200:
        raise TooLarge("query longer than 200 characters")
    free = _free_period(request)

    results = await node.run(catalogue.search, node.engine, node.node_id, query, kind, near, km, limit)
    if free is not None:
        results = await _only_free(node, results, *free)
    return _json({"results": results})


def _free_period(request: web.Request) -> tuple[int, int, int] | None:
    """``free_from``/``free_to`` (ms, end excluded) and ``quantity``: search only what is free then."""
    if not request.query.get("free_from") and not request.query.get("free_to"):
        return None
    try:
        start, end = int(request.query["free_from"]), int(request.query["free_to"])
        quantity = int(request.query.get("quantity", "1"))
    except (KeyError, ValueError):
        raise InvalidMessage("free_from and free_to are both needed, in ms since the epoch; quantity a number") from None
    if not 0 <= start < end < 2**53 or quantity < 1:
        raise InvalidMessage("free_from must come before free_to, and quantity be at least 1")
    return start, end, quantity


async def _only_free(node: Any, results: list[dict[str, Any]], start: int, end: int, quantity: int) -> list[dict[str, Any]]:
    """Keep the resources their owners say are free (or could not tell us: marked, not dropped)."""
    resources = [r for r in results if r["type"] == "resource"]
    answers = await check_free(node, [(r["author"], r["id"]) for r in resources], start, end, quantity)
    kept = []
    for hit in resources:
        reasons = answers.get((hit["author"], hit["id"]))
        if reasons:
            continue
        kept.append({**hit, "available": None if reasons is None else True})
    return kept


async def openapi(request: web.Request) -> web.Response:
    return _json(OPENAPI)


def create_app() -> web.Application:
    app = web.Application(middlewares=[api_guard])
    app.add_routes(
        [
            web.get("/openapi.json", openapi),
            web.get("/node", node_info),
            web.get("/peers", list_peers),
            web.get("/log", log_status),
            web.post("/peers", add_peer),
            web.post("/sync", sync_now),
            web.get("/denylist", get_denylist),
            web.post("/denylist", deny_node),
            web.delete("/denylist/{node_id}", allow_node),
            web.get("/records", list_records),
            web.post("/records", create_record),
            web.delete("/records/{record_id}", delete_record),
            web.post("/import", import_inventory),
            web.get("/search", search),
            *agreements_api.ROUTES,
            *campaigns_api.ROUTES,
            *audit_api.ROUTES,
            *fund_api.ROUTES,
            *federations_api.ROUTES,
        ]
    )
    return app

