"""Local API routes for co-funding campaigns (mounted by node/api.py under /api/v1).

    GET  /campaigns                        campaigns we hold, and public ones announced to us
    POST /campaigns                        open a campaign (we organise it)
    GET  /campaigns/{id}                   terms, participants, tally, payments
    POST /campaigns/{id}/pledge            pledge (money, work or equipment), with conditions
    POST /campaigns/{id}/amend             replace our pledge
    POST /campaigns/{id}/withdraw          take our pledge back
    POST /campaigns/{id}/paid              record that we paid (after the campaign succeeded)
    POST /campaigns/{id}/received          confirm a payment (organiser or beneficiary node)
    POST /campaigns/{id}/cosign            co-sign the terms (a co-organiser)
    POST /campaigns/{id}/import            a crowdfunding platform's CSV export, aggregated (organiser)
    POST /campaigns/{id}/conclude          conclude now (organiser, at or after the deadline)
    POST /campaigns/{id}/cancel            cancel (organiser, before the deadline)
    POST /campaigns/{id}/invite            invite more nodes to hold the chain (organiser)

Statements are signed here and embedded by the organiser's node, which
commits before it answers: a refusal comes back typed and nothing changed.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from protocol import InvalidMessage, is_node_id
from storage import session

from . import campaigns, convened
from .clock import now_ms
from .federation import read_body
from .openapi import OPENAPI, _op
from .runtime import NODE, Node



def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


async def _body(request: web.Request) -> dict[str, Any]:
    from .api import _json_body

    return await _json_body(request)


def _id(request: web.Request) -> bytes:
    return campaigns.campaign_id(request.match_info["campaign_id"])


def _organiser(body: dict[str, Any]) -> str | None:
    organiser = body.get("organiser")
    if organiser is not None and (not isinstance(organiser, str) or not is_node_id(organiser)):
        raise InvalidMessage("organiser: the organising association's node id")
    return organiser


async def _shown(node: Node, agreement_id: bytes, status: int = 200) -> web.Response:
    found = await node.run(campaigns.describe, node, agreement_id)
    if found is None:
        return _json({"code": "invalid", "message": "no such campaign here"}, status=404)
    return _json(found, status=status)


async def _after_statement(node: Node, agreement_id: bytes, event: bytes) -> dict[str, Any]:
    """The campaign once the embedding event reached us (a newcomer gets the chain from the organiser)."""
    if not await convened.until_held(node, event):
        return {"event": event.hex(), "campaign": None}
    return {"event": event.hex(), "campaign": await node.run(campaigns.describe, node, agreement_id)}


async def list_campaigns(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    return _json(await node.run(campaigns.listing, node))


async def create_campaign(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    progress = await campaigns.create(node, await _body(request))
    return await _shown(node, progress.state.id, status=201)


async def show_campaign(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    return await _shown(node, _id(request))


def _statement(action: str, shape: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        node = request.config_dict[NODE]
        agreement_id = _id(request)
        body = await _body(request)
        organiser = _organiser(body)
        data = await node.run(shape, node, agreement_id, body)
        event = await campaigns.state_to(node, agreement_id, action, data, organiser)
        return _json(await _after_statement(node, agreement_id, event))

    return handler


def _pledge(node: Node, agreement_id: bytes, body: dict[str, Any]) -> dict[str, Any]:
    return campaigns.pledge_data(body)


def _reason(node: Node, agreement_id: bytes, body: dict[str, Any]) -> dict[str, Any]:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidMessage("reason: text")
    return {"reason": reason} if reason else {}


def _paid(node: Node, agreement_id: bytes, body: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in body.items() if k in ("amount", "method", "reference", "date")}
    data.setdefault("date", now_ms())
    return data


def _received(node: Node, agreement_id: bytes, body: dict[str, Any]) -> dict[str, Any]:
    payment = body.get("payment")
    try:
        payment_id = bytes.fromhex(payment) if isinstance(payment, str) else b""
    except ValueError:
        payment_id = b""
    if len(payment_id) != 32:
        raise InvalidMessage("payment: the id of the contributor's payment (64 hexadecimal characters)")
    return {"payment": payment_id, **{k: v for k, v in body.items() if k in ("amount", "date")}}


def _cosign(node: Node, agreement_id: bytes, body: dict[str, Any]) -> dict[str, Any]:
    with session(node.engine) as s:
        state = campaigns.held_state(s, agreement_id)
    if state is None:
        raise InvalidMessage("no such campaign here: a co-organiser receives it when it opens")
    return {"opening": state.facts["opening"]}


async def import_export(request: web.Request) -> web.Response:
    """A platform's CSV export in the body; ?platform=HelloAsso&reference=…: one aggregated import."""
    node = request.config_dict[NODE]
    agreement_id = _id(request)
    platform = request.query.get("platform", "HelloAsso")
    reference = request.query.get("reference", "")
    if not reference:
        raise InvalidMessage("reference: name the export (a later import with the same reference replaces it)")
    data = await read_body(request, campaigns.MAX_EXPORT_BYTES)
    totals = campaigns.aggregate_export(data, tz=request.query.get("tz", campaigns.DEFAULT_TZ))
    event = await campaigns.state_to(node, agreement_id, "import", totals.import_data(platform, reference))
    found = await _after_statement(node, agreement_id, event)
    found["import"] = {"count": totals.count, "amount": totals.amount, "tips_excluded": totals.tips,
                       "skipped": dict(totals.skipped), "period": {"start": totals.start, "end": totals.end}}
    return _json(found)


async def conclude_campaign(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    agreement_id = _id(request)
    await campaigns.conclude(node, agreement_id)
    return await _shown(node, agreement_id)


async def cancel_campaign(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    agreement_id = _id(request)
    body = await _body(request)
    await campaigns.cancel(node, agreement_id, _reason(node, agreement_id, body).get("reason"))
    return await _shown(node, agreement_id)


async def invite_nodes(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    agreement_id = _id(request)
    nodes = (await _body(request)).get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, str) and is_node_id(n) for n in nodes):
        raise InvalidMessage("nodes: a list of node ids")
    await campaigns.invite(node, agreement_id, nodes)
    return await _shown(node, agreement_id)


ROUTES = [
    web.get("/campaigns", list_campaigns),
    web.post("/campaigns", create_campaign),
    web.get("/campaigns/{campaign_id}", show_campaign),
    web.post("/campaigns/{campaign_id}/pledge", _statement("pledge", _pledge)),
    web.post("/campaigns/{campaign_id}/amend", _statement("amend", _pledge)),
    web.post("/campaigns/{campaign_id}/withdraw", _statement("withdraw", _reason)),
    web.post("/campaigns/{campaign_id}/paid", _statement("paid", _paid)),
    web.post("/campaigns/{campaign_id}/received", _statement("received", _received)),
    web.post("/campaigns/{campaign_id}/cosign", _statement("cosign", _cosign)),
    web.post("/campaigns/{campaign_id}/import", import_export),
    web.post("/campaigns/{campaign_id}/conclude", conclude_campaign),
    web.post("/campaigns/{campaign_id}/cancel", cancel_campaign),
    web.post("/campaigns/{campaign_id}/invite", invite_nodes),
]


def _campaign_op(summary: str, *, ok: int = 200, body: str | None = "application/json") -> dict[str, Any]:
    op = _op(summary, ok=ok, body={body: {"schema": {"type": "object"}}} if body else None)
    op["parameters"] = [{"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return op


OPENAPI_PATHS: dict[str, Any] = {
    "/campaigns": {
        "get": _op("Campaigns this node holds (with their tally) and public campaigns announced to it"),
        "post": _op("Open a co-funding campaign as its organiser (terms: docs/cofunding.md)", ok=201,
                    body={"application/json": {"schema": {"type": "object"}}}),
    },
    "/campaigns/{campaign_id}": {
        "get": {**_campaign_op("One campaign: terms, members, tally, imports, payments", body=None)},
    },
    **{
        f"/campaigns/{{campaign_id}}/{action}": {"post": _campaign_op(summary)}
        for action, summary in (
            ("pledge", "Pledge money, work or equipment (signed here, embedded by the organiser's node)"),
            ("amend", "Replace our pledge"),
            ("withdraw", "Withdraw our pledge"),
            ("paid", "Record a payment we made (after the campaign succeeded)"),
            ("received", "Confirm a payment received (organiser or beneficiary node)"),
            ("cosign", "Co-sign the campaign's terms (a co-organiser)"),
            ("conclude", "Conclude now (organiser, at or after the deadline)"),
            ("cancel", "Cancel (organiser, before the deadline)"),
            ("invite", "Invite nodes to hold the chain (organiser)"),
        )
    },
    "/campaigns/{campaign_id}/import": {
        "post": {
            **_campaign_op("Import a crowdfunding platform's CSV export as one aggregated total (organiser)",
                           body="text/csv"),
            "parameters": [
                {"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "platform", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "reference", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "tz", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
        }
    },
}
OPENAPI["paths"].update(OPENAPI_PATHS)  # served with the routes they describe

__all__ = ["OPENAPI_PATHS", "ROUTES"]
