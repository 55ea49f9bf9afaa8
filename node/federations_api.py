"""Local API routes for federations and their decisions (mounted by node/api.py under /api/v1).

    GET  /federations                                    the federations this node takes part in
    POST /federations                                    found one (the body is the charter); we are its secretariat
    GET  /federations/{federation}                       charter, members by college, proposals, links
    POST /federations/{federation}/adhere                adhere to the charter as it stands
    POST /federations/{federation}/proposals             propose {id?, kind, title, text, payload?, review_at?}
    POST /federations/{federation}/link                  propose a link {federation, name, secretariat, title?, text?}
    GET  /proposals?federation=…&status=open|adopted|rejected
    GET  /proposals/{federation}/{proposal}
    POST /proposals/{federation}/{proposal}/{action}     ask {text} · answer {question, text} ·
         object {reason, aim} · withdraw-objection {objection} · amend {title?, text?, payload?} ·
         vote {choice: for|against|abstain} · close-now (the secretariat, once the window ended)

Every step is a statement the secretariat's node judges and commits before it
answers (node/federations.py); a refusal is the protocol's typed error and
nothing changed anywhere. Proposals are shown with their state computed now:
phase, window, questions, objections, ballots and the tally they give.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from aiohttp import web

from protocol import InvalidMessage
from protocol.agreements import AgreementState
from protocol.agreements import federation as F
from protocol.envelope import stored_envelope
from protocol.governance.decisions import BallotTally, phase
from storage import peers, session

from . import federations
from .agreements_api import after_delivery
from .wire import agreement_id_from_hex, plain
from .clock import now_ms
from .openapi import OPENAPI, _op, _query
from .runtime import NODE, Node

STEPS = {  # API name -> the statement's action
    "ask": "ask",
    "answer": "answer",
    "object": "object",
    "withdraw-objection": "withdraw_objection",
    "amend": "amend",
    "vote": "vote",
}


def _federation_id(request: web.Request) -> bytes:
    return agreement_id_from_hex(request.match_info["federation_id"], "federation")


async def _body(request: web.Request) -> dict[str, Any]:
    from .api import _json_body
    from .wire import wire_form

    return wire_form(await _json_body(request))  # type: ignore[no-any-return]


# ---- what the operator reads ---------------------------------------------------------------------


def ratio(value: Fraction | None) -> dict[str, Any] | None:
    """An exact ratio as JSON: the fraction itself, and a percentage to read (two decimals)."""
    if value is None:
        return None
    percent = (Decimal(value.numerator) * 100 / Decimal(value.denominator)).quantize(Decimal("0.01"))
    return {"fraction": f"{value.numerator}/{value.denominator}", "percent": str(percent)}


def tally_json(record: F.ProposalRecord) -> dict[str, Any]:
    result = F.tally(record)
    if not isinstance(result, BallotTally):
        return {"method": "consent", "outcome": result.outcome, "open_objections": list(result.open_objections)}
    return {
        "method": "ballot",
        "outcome": result.outcome,
        "electorate": result.electorate,
        "voted": result.voted,
        "for": result.votes_for,
        "against": result.against,
        "abstain": result.abstain,
        "participation": ratio(result.participation),
        "quorum_percent": record.rule.quorum_percent,
        "quorum_reached": result.quorum_reached,
        "share": ratio(result.share),
        "majority_percent": record.rule.majority_percent,
        "weighted": bool(record.rule.weighted),
        "colleges": [
            {"college": c.college, "electorate": c.electorate, "for": c.votes_for, "against": c.against,
             "abstain": c.abstain, "weight": ratio(c.weight), "share": ratio(c.share)}
            for c in result.colleges
        ],
    }


def proposal_json(state: AgreementState, record: F.ProposalRecord, now: int) -> dict[str, Any]:
    window = record.window
    return {
        "federation": state.id.hex(),
        "id": record.id,
        "kind": record.kind,
        "title": record.title,
        "text": record.text,
        "payload": plain(record.payload.to_wire()),
        "proposer": record.proposer,
        "method": record.rule.method,
        "rule": record.rule.to_wire(),
        "version": record.version,
        "status": record.status,
        "phase": phase(record.rule, window, now) if record.status == "open" else record.status,
        "window": {"opens": window.opens, "questions_until": window.questions_until, "closes": window.closes},
        "questions": [plain(q) for q in record.questions],
        "objections": [plain(o) for o in record.objections],
        "ballots": dict(record.ballots),  # every ballot is signed in the chain: none is secret
        "electorate": dict(record.electorate),
        "tally": tally_json(record),
        "history": [{"version": v.number, "title": v.title, "text": v.text, "payload": plain(v.payload.to_wire()),
                     "opened_at": v.opened_at} for v in record.history],
        "requested_review_at": record.requested_review_at,
        "closed_at": record.closed_at,
        "review_at": record.review_at,
        "applied": record.applied,
        "note": record.note,
    }


def federation_summary(node: Node, state: AgreementState) -> dict[str, Any]:
    charter = F.charter_of(state)
    proposals = F.proposals_of(state).values()
    return {
        "id": state.id.hex(),
        "name": charter.name,
        "territory": charter.territory,
        "state": state.name,
        "secretariat": state.parties[F.SECRETARIAT],
        "our_role": _our_role(node, state),
        "members": len(F.members_of(state)),
        "invited": len(F.invitations_of(state)),
        "open_proposals": sum(1 for p in proposals if p.status == "open"),
        "seq": state.seq,
    }


def _our_role(node: Node, state: AgreementState) -> str:
    if node.node_id in F.members_of(state):
        return F.SECRETARIAT if state.parties[F.SECRETARIAT] == node.node_id else F.MEMBER
    if node.node_id in F.invitations_of(state):
        return F.INVITED
    return "former"  # removed: our copy of the chain stops where we left


def federation_json(node: Node, state: AgreementState, now: int) -> dict[str, Any]:
    charter = F.charter_of(state)
    members, invitations = F.members_of(state), F.invitations_of(state)
    colleges = [
        {**college.to_wire(),
         "members": sorted(n for n, c in members.items() if c == college.id),
         "invited": sorted(n for n, c in invitations.items() if c == college.id)}
        for college in charter.colleges
    ]
    links = state.facts.get("links") or {}
    return {
        **federation_summary(node, state),
        "purpose": charter.purpose,
        "charter": plain(charter.to_wire()),
        "charter_digest": F.charter_digest(charter).hex(),
        "colleges": colleges,
        "links": [plain(link) for link in links.values()],
        "proposals": [proposal_json(state, p, now) for p in F.proposals_of(state).values()],
        "names": _names(node, {*members, *invitations}),
    }


def _names(node: Node, node_ids: set[str]) -> dict[str, str]:
    """Association names of the nodes we know (peers' descriptors), ours included."""
    with session(node.engine) as s:
        known = {p.node_id: p.name for p in peers.list_all(s) if p.name and p.node_id in node_ids}
    known[node.node_id] = node.config.name
    return {n: name for n, name in known.items() if n in node_ids}


# ---- federations -------------------------------------------------------------------------------------


async def list_federations(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    states = await node.run(federations.load_all, node)
    return web.json_response({"federations": [federation_summary(node, s) for s in states]})


async def found_federation(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    charter = await _body(request)
    progress = await federations.found(node, charter)
    await after_delivery(node, progress.state.id)  # give the founders a short chance to hold it
    return web.json_response(await node.run(_describe, node, progress.state.id), status=201)


def _describe(node: Node, federation_id: bytes) -> dict[str, Any]:
    return federation_json(node, federations.load(node, federation_id), now_ms())


async def show_federation(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    return web.json_response(await node.run(_describe, node, _federation_id(request)))


async def adhere(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    federation_id = _federation_id(request)
    state = await federations.adhere(node, federation_id)
    return web.json_response(await node.run(lambda: federation_json(node, state, now_ms())))


async def propose(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    return await _propose(node, _federation_id(request), await _body(request))


async def link(request: web.Request) -> web.Response:
    """Propose linking to another federation (another territory's): a "link" decision."""
    node = request.config_dict[NODE]
    body = await _body(request)
    payload = {key: body.get(key) for key in ("federation", "name", "secretariat")}
    name = payload.get("name") if isinstance(payload.get("name"), str) else "?"
    data = {
        "kind": "link",
        "title": body.get("title") or f"Lien avec {name}",
        "text": body.get("text") or f"La fédération se lie à « {name} ».",
        "payload": payload,
    }
    if body.get("id") is not None:
        data["id"] = body["id"]
    return await _propose(node, _federation_id(request), data)


async def _propose(node: Node, federation_id: bytes, data: Mapping[str, Any]) -> web.Response:
    data = {k: v for k, v in data.items() if v is not None}
    state, event = await federations.speak_event(node, federation_id, "propose", data)
    federations.wake(node)
    proposal_id = data.get("id") or derived_id(event)
    record = F.proposals_of(state).get(str(proposal_id))
    if record is None:  # our copy of the chain lags behind the secretariat's: say what we know
        return web.json_response({"federation": federation_id.hex(), "id": proposal_id, "status": "open"}, status=201)
    return web.json_response(proposal_json(state, record, now_ms()), status=201)


def derived_id(event: bytes) -> str:
    """The id the protocol gives a proposal made without one: its statement's message id, shortened."""
    statement = stored_envelope(event).body["data"]["statement"]
    return stored_envelope(statement).message_id.hex()[:16]


# ---- proposals -----------------------------------------------------------------------------------------


async def list_proposals(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    wanted = request.query.get("federation")
    status = request.query.get("status")
    if status is not None and status not in ("open", "adopted", "rejected"):
        raise InvalidMessage("status: open, adopted or rejected", status=status[:20])

    def read() -> list[dict[str, Any]]:
        now = now_ms()
        if wanted:
            states = [federations.load(node, agreement_id_from_hex(wanted, "federation"))]
        else:
            states = federations.load_all(node)
        return [
            {**proposal_json(state, p, now), "federation_name": F.charter_of(state).name}
            for state in states
            for p in F.proposals_of(state).values()
            if status is None or p.status == status
        ]

    return web.json_response({"proposals": await node.run(read)})


def _proposal_view(node: Node, federation_id: bytes, proposal_id: str) -> dict[str, Any]:
    state = federations.load(node, federation_id)
    record = F.proposals_of(state).get(proposal_id)
    if record is None:
        raise InvalidMessage(f"no proposal {proposal_id!r} in this federation", proposal=proposal_id[:40])
    names = _names(node, {record.proposer, *record.electorate, *(o.by for o in record.objections)})
    return {**proposal_json(state, record, now_ms()), "federation_name": F.charter_of(state).name, "names": names}


async def show_proposal(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    federation_id, proposal_id = _federation_id(request), request.match_info["proposal_id"]
    return web.json_response(await node.run(_proposal_view, node, federation_id, proposal_id))


async def proposal_step(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    federation_id, proposal_id = _federation_id(request), request.match_info["proposal_id"]
    name = request.match_info["action"]
    body = await _body(request)
    if name == "close-now":
        await federations.close_now(node, federation_id, proposal_id)
        await after_delivery(node, federation_id)
    elif name in STEPS:
        await federations.speak(node, federation_id, STEPS[name], {**body, "proposal": proposal_id})
        if name == "amend":
            federations.wake(node)
    else:
        raise InvalidMessage(f"unknown step {name!r}", known=sorted([*STEPS, "close-now"]))
    return web.json_response(await node.run(_proposal_view, node, federation_id, proposal_id))


ROUTES = [
    web.get("/federations", list_federations),
    web.post("/federations", found_federation),
    web.get("/federations/{federation_id}", show_federation),
    web.post("/federations/{federation_id}/adhere", adhere),
    web.post("/federations/{federation_id}/proposals", propose),
    web.post("/federations/{federation_id}/link", link),
    web.get("/proposals", list_proposals),
    web.get("/proposals/{federation_id}/{proposal_id}", show_proposal),
    web.post("/proposals/{federation_id}/{proposal_id}/{action}", proposal_step),
]


def _path_params(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names]


def _documented(summary: str, *names: str, ok: int = 200, body: bool = False, query: list[Any] | None = None) -> Any:
    op = _op(summary, ok=ok, body={"application/json": {"schema": {"type": "object"}}} if body else None,
             params=[*_path_params(*names), *(query or [])] or None)
    return op


OPENAPI["paths"].update({  # documented beside the routes (as the CLI modules add their messages)
    "/federations": {
        "get": _documented("The federations this node takes part in"),
        "post": _documented("Found a federation (the body is its charter); this node is its secretariat",
                            ok=201, body=True),
    },
    "/federations/{federation_id}": {
        "get": _documented("A federation: charter, members by college, proposals with their tally, links",
                           "federation_id")},
    "/federations/{federation_id}/adhere": {
        "post": _documented("Adhere to the charter as it stands (signed by this node)", "federation_id")},
    "/federations/{federation_id}/proposals": {
        "post": _documented("Propose a decision {id?, kind, title, text, payload?, review_at?}", "federation_id",
                            ok=201, body=True)},
    "/federations/{federation_id}/link": {
        "post": _documented("Propose linking to another federation {federation, name, secretariat}", "federation_id",
                            ok=201, body=True)},
    "/proposals": {
        "get": _documented("Proposals of every federation here, with their state computed now", query=[
            _query("federation", "one federation's id", {"type": "string"}),
            _query("status", "open, adopted or rejected", {"type": "string", "enum": ["open", "adopted", "rejected"]}),
        ])},
    "/proposals/{federation_id}/{proposal_id}": {
        "get": _documented("One proposal: versions, questions, objections, ballots, tally, outcome",
                           "federation_id", "proposal_id")},
    "/proposals/{federation_id}/{proposal_id}/{action}": {
        "post": _documented("ask, answer, object, withdraw-objection, amend, vote, or close-now (secretariat)",
                            "federation_id", "proposal_id", "action", body=True)},
})

__all__ = ["ROUTES", "federation_json", "proposal_json", "tally_json"]
