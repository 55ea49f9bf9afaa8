"""Local API routes for loans and agreements (mounted by node/api.py under /api/v1).

Operators ask for a loan, answer one and record what happened; every step is
signed and committed by node/agreements.py before the answer says it was
done, then delivered to the other party by the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from protocol import InvalidMessage, is_node_id
from protocol.agreements import kind_of, replay
from protocol.envelope import stored_envelope
from protocol.availability import Period, weekly_occurrences

from storage import agreements as stored
from storage import records, session

from . import agreements
from .calendar_feeds import feed_urls
from .clock import now_ms
from .runtime import NODE, Node
from .wire import agreement_id_from_hex, plain

DAY_MS = 86_400_000
DEFAULT_EXPIRY_MS = 7 * DAY_MS  # an unanswered request or offer lapses after a week (or at the period's start)
DELIVERY_WAIT_S = 2.0  # how long a request waits for the owner's answer before saying "queued"
ZERO_EUR = {"amount": 0, "currency": "EUR"}


def _agreement_id(request: web.Request) -> bytes:
    return agreement_id_from_hex(request.match_info["agreement_id"])


def _describe(node: Node, agreement_id: bytes, *, with_chain: bool) -> dict[str, Any] | None:
    now = now_ms()
    with session(node.engine) as s:
        row = stored.get(s, agreement_id)
        if row is None:
            return None
        raws = stored.chain(s, agreement_id)
        pending = stored.pending_count(s, agreement_id)
    chain = agreements.open_chain(raws)
    state = replay(chain, open_statement=stored_envelope)
    out = agreements.summary(row, state, now)
    out["pending_deliveries"] = pending
    if with_chain:
        out["parties"] = dict(state.parties)
        out["facts"] = plain(state.facts)
        out["events"] = [
            {
                "seq": e.body["seq"],
                "action": e.body["action"],
                "issuer": e.issuer,
                "issued_at": e.issued_at,
                "message_id": e.message_id.hex(),
                "data": plain(e.body["data"]),
            }
            for e in chain
        ]
        if state.sealed is not None:
            out["sealed"] = plain(state.sealed.to_wire())
    return out


async def list_agreements(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]

    def read() -> list[dict[str, Any]]:
        now = now_ms()
        with session(node.engine) as s:
            rows = stored.listing(s)
            states = {row.id: agreements.load_state(s, row.id) for row in rows}
        return [agreements.summary(row, states[row.id], now) for row in rows]

    return web.json_response({"agreements": await node.run(read)})


async def get_agreement(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    found = await node.run(lambda: _describe(node, _agreement_id(request), with_chain=True))
    if found is None:
        return web.json_response({"code": "invalid", "message": "no such agreement here"}, status=404)
    return web.json_response(found)


async def request_loan(request: web.Request) -> web.Response:
    """Ask another association for one of its resources; waits briefly for its answer."""
    node = request.config_dict[NODE]
    body = await _body(request)
    owner = body.get("owner")
    if not isinstance(owner, str) or not is_node_id(owner):
        raise InvalidMessage("owner: the lending association's node id")
    now = now_ms()
    period = body.get("period") or {}
    start = period.get("start") if isinstance(period, Mapping) else None
    terms: dict[str, Any] = {
        "resource": body.get("resource"),
        "period": period,
        "quantity": body.get("quantity", 1),
        "fee": body.get("fee", ZERO_EUR),
        "deposit": body.get("deposit", ZERO_EUR),
        "expires": body.get("expires") or _default_expiry(now, start),
    }
    for optional in ("purpose", "conditions", "pickup", "cancellation"):
        if body.get(optional) is not None:
            terms[optional] = body[optional]
    if body.get("weekly_until") is not None:
        return web.json_response(await _request_series(node, owner, terms, body["weekly_until"]), status=201)
    progress = await agreements.open_loan(node, owner, terms)
    return web.json_response(await after_delivery(node, progress.state.id), status=201)


async def _request_series(node: Node, owner: str, terms: dict[str, Any], until: Any) -> dict[str, Any]:
    """A weekly series (same local hours every week, across DST changes), one request per occurrence.

    The owner judges each occurrence on its own; those that do not fit are
    listed with the owner's reasons and free slots, never silently dropped.
    """
    period = terms["period"] if isinstance(terms["period"], Mapping) else {}
    if type(until) is not int:
        raise InvalidMessage("weekly_until: the end of the series, in ms since the epoch")
    first = Period.between(period.get("start"), period.get("end"))  # type: ignore[arg-type]
    zone = await node.run(_resource_timezone, node, owner, str(terms["resource"]))
    now = now_ms()
    opened = []
    for occurrence in weekly_occurrences(first, until, zone):
        each = {**terms, "period": occurrence.to_wire(), "expires": _default_expiry(now, occurrence.start)}
        opened.append((await agreements.open_loan(node, owner, each)).state.id)
    series = await _after_deliveries(node, opened)
    conflicts = [{"period": a["terms"]["period"], "refusal": a["refusal"]} for a in series if "refusal" in a]
    return {"series": series, "conflicts": conflicts}


def _resource_timezone(node: Node, owner: str, resource: str) -> str:
    """The owner's time zone for the resource (from its replicated record), Paris when it states none."""
    with session(node.engine) as s:
        held = records.get(s, owner, resource)
    if held is None or held.rtype != "resource":
        return "Europe/Paris"
    rules = records.body_of(held.envelope).get("availability") or {}
    return str(rules.get("timezone", "Europe/Paris"))


def _default_expiry(now: int, start: Any) -> int:
    if isinstance(start, int) and start > now + 60_000:
        return min(now + DEFAULT_EXPIRY_MS, start)
    return now + DEFAULT_EXPIRY_MS


async def take_step(request: web.Request) -> web.Response:
    """One step on an agreement: offer, counter, accept, decline, withdraw, handover, return, incident, cancel, close."""
    node = request.config_dict[NODE]
    agreement_id = _agreement_id(request)
    action = request.match_info["action"]
    body = await _body(request)
    data = await node.run(_step_data, node, agreement_id, action, body)
    await agreements.take_step(node, agreement_id, action, data)
    return web.json_response(await after_delivery(node, agreement_id))


def _step_data(node: Node, agreement_id: bytes, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """The event data for ``action``: proposals start from the terms on the table, with the operator's changes."""
    with session(node.engine) as s:
        state = agreements.load_state(s, agreement_id)
    if state is None:
        raise InvalidMessage("no such agreement here", agreement=agreement_id.hex())
    kind = kind_of(state.kind)
    if action not in kind.steps:
        raise InvalidMessage(f"unknown action {action!r}", known=sorted(kind.steps))
    step = kind.steps[action].value
    if step == "accept":
        return {}
    if step == "propose":
        terms = {**state.terms.to_wire(), **dict(body.get("terms") or {})}
        if "expires" not in (body.get("terms") or {}):
            terms["expires"] = _default_expiry(now_ms(), terms["period"]["start"])
        return {"terms": terms}
    data = dict(body)
    if action in ("handover", "return"):
        data.setdefault("at", now_ms())
        photos = data.get("photos")
        if isinstance(photos, list):  # JSON has no bytes: each photo's SHA-256 comes as 64 hex characters
            try:
                data["photos"] = [bytes.fromhex(p) if isinstance(p, str) and len(p) == 64 else p for p in photos]
            except ValueError:
                raise InvalidMessage("photos: each one is a SHA-256 in 64 hexadecimal characters") from None
    return data


async def after_delivery(node: Node, agreement_id: bytes) -> dict[str, Any]:
    """The agreement once the outbox had a short chance to deliver (answers may come back at once)."""
    (found,) = await _after_deliveries(node, [agreement_id])
    return found


async def _after_deliveries(node: Node, agreement_ids: list[bytes]) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + DELIVERY_WAIT_S

    def describe() -> list[dict[str, Any]]:
        return [d for d in (_describe(node, i, with_chain=False) for i in agreement_ids) if d is not None]

    if node.outbox is not None:
        while True:
            await node.outbox.deliver_due()
            found = await node.run(describe)
            if all(d["pending_deliveries"] == 0 for d in found) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
    return await node.run(describe)


async def _body(request: web.Request) -> dict[str, Any]:
    from .api import _json_body

    return await _json_body(request)


async def calendars(request: web.Request) -> web.Response:
    """The secret URLs calendar applications subscribe to: the node's loans, and each resource's."""
    node = request.config_dict[NODE]

    def own_resources() -> list[str]:
        with session(node.engine) as s:
            return [r.record_id for r in records.list_by_author(s, node.node_id) if r.rtype == "resource"]

    return web.json_response(feed_urls(node, await node.run(own_resources)))


ROUTES = [
    web.get("/calendars", calendars),
    web.get("/agreements", list_agreements),
    web.get("/agreements/{agreement_id}", get_agreement),
    web.post("/agreements/{agreement_id}/{action}", take_step),
    web.post("/loans", request_loan),
]

__all__ = ["ROUTES"]
