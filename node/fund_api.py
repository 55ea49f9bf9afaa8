"""Local API routes for a federation's territorial fund (mounted by node/api.py under /api/v1).

    GET  /federations/{federation_id}/fund                 balances, ledger, calls, applications…
    GET  /federations/{federation_id}/fund/report?year=Y   the activity report's figures for year Y
    POST /federations/{federation_id}/fund/{step}          one step (see node/fund.py):
         members:      contribute, withdraw-contribution, apply, received
         secretariat:  receive-contribution, external, open-call, close-call, distribute, release

A step answers once the federation's chain holds it (the secretariat commits
before it answers), with the fund as this node then sees it and the event's
id; a refusal is the typed error (``forbidden``, ``conflict``, ``not-allowed``,
``invalid``…) and nothing changed anywhere.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from protocol import InvalidMessage

from . import fund
from .agreements_api import after_delivery
from .clock import now_ms
from .openapi import OPENAPI, _op, _query
from .runtime import NODE

PREFIX = "/federations/{federation_id}/fund"


async def show(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    state = await fund.federation_state(node, fund.federation_id(request.match_info["federation_id"]))
    names = await node.run(fund.peer_names, node)
    return web.json_response(fund.view(state, names, now_ms()))


async def activity_report(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    state = await fund.federation_state(node, fund.federation_id(request.match_info["federation_id"]))
    text = request.query.get("year") or str(datetime.fromtimestamp(now_ms() / 1000, fund.PARIS).year)
    if not text.isdigit() or not 2000 <= int(text) <= 2200:
        raise InvalidMessage("year: a year such as 2026", year=text[:10])
    names = await node.run(fund.peer_names, node)
    return web.json_response(fund.report_view(state, int(text), names))


async def take_step(request: web.Request) -> web.Response:
    from .api import _json_body

    node = request.config_dict[NODE]
    fid = fund.federation_id(request.match_info["federation_id"])
    name = request.match_info["step"]
    body = await _json_body(request)
    state, event, signed = await fund.step(node, fid, name, body)
    if state.parties[fund.SECRETARIAT] == node.node_id:
        await after_delivery(node, fid)  # give the members a short chance to hold it already
        state = await fund.federation_state(node, fid)
    names = await node.run(fund.peer_names, node)
    return web.json_response(
        {"event": event.hex(), "created": fund.created(state, signed), "fund": fund.view(state, names, now_ms())}
    )


ROUTES = [
    web.get(PREFIX, show),
    web.get(PREFIX + "/report", activity_report),
    web.post(PREFIX + "/{step}", take_step),
]

_FEDERATION = {"name": "federation_id", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "the federation's id (32 hexadecimal characters)"}
_STEPS = ", ".join([*fund.MEMBER_STEPS, *fund.SECRETARIAT_STEPS])
# Documented with the routes they describe; node/openapi.py serves the whole document.
OPENAPI.setdefault("paths", {}).update({
    PREFIX: {
        "get": _op("A federation's territorial fund: balances, ledger, calls, applications, distributions, alerts",
                   params=[_FEDERATION]),
    },
    PREFIX + "/report": {
        "get": _op("The fund's activity-report figures for a year (gifts, grants per beneficiary, legal alerts)",
                   params=[_FEDERATION, _query("year", "the calendar year (Paris time); this year by default",
                                               {"type": "integer"})]),
    },
    PREFIX + "/{step}": {
        "post": _op(f"One step on the fund: {_STEPS} (docs/fund.md)",
                    body={"application/json": {"schema": {"type": "object"}}},
                    params=[_FEDERATION, {"name": "step", "in": "path", "required": True,
                                          "schema": {"type": "string", "enum": [*fund.MEMBER_STEPS,
                                                                                *fund.SECRETARIAT_STEPS]}}]),
    },
})

__all__ = ["ROUTES"]
