"""Federation pages: the list (/federations), founding one, a federation's charter and members, its proposals.

Reading needs any account. Founding a federation and adhering to one commit the
association: administrators only. Proposing, asking, answering, objecting,
amending and voting need a member. Every step is a statement signed here and
judged by the secretariat's node (node/federations.py), which commits before it
answers; a refusal is the protocol's typed error, shown on the page, and nothing
changed anywhere. Tallies are computed from the signed statements
(protocol/governance/decisions.py), the same on every node.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from aiohttp import web

from protocol import ProtocolError
from protocol.agreements import AgreementState
from protocol.agreements import federation as F
from protocol.governance import fund as fund_rules
from protocol.governance.decisions import phase

from .. import federations
from ..agreements_api import after_delivery
from ..clock import now_ms
from ..federations_api import derived_id, federation_summary, proposal_json
from ..runtime import NODE, Node
from ..wire import wire_form
from . import collective as c
from .auth import ADMIN, MEMBER, READER, current_user, form, has_role, require
from .pages_agreements import money_input
from .render import N_, not_found, redirect, render, translator

DAY_MS = 86_400_000
COLLEGE_ROWS = 4
CRITERIA_ROWS = 4
STEPS = ("ask", "answer", "object", "withdraw_objection", "amend", "vote", "close")
CHOICES = ("for", "against", "abstain")


def _unknown(request: web.Request) -> web.HTTPException:
    _ = translator(request)
    return not_found(request, _("Aucune fédération connue de ce nœud ne porte cet identifiant."))


def _unknown_proposal(request: web.Request) -> web.HTTPException:
    _ = translator(request)
    return not_found(request, _("Cette fédération n'a pas de proposition qui porte cet identifiant."))


def load(node: Node, federation_id: bytes) -> AgreementState | None:
    try:
        return federations.load(node, federation_id)
    except ProtocolError:
        return None


# ---- the list and what waits for us -----------------------------------------------------------------


def _listing(node: Node) -> dict[str, Any]:
    states = federations.load_all(node)
    items = [federation_summary(node, s) for s in states]
    names = c.association_names(node, [i["secretariat"] for i in items])
    for item in items:
        item["secretariat_name"] = names.get(item["secretariat"], "")
    return {"federations": items}


async def federations_page(request: web.Request) -> web.Response:
    user = await require(request, READER)
    node = request.config_dict[NODE]
    listing = await node.run(_listing, node)
    return render(request, "federations.html", can_found=has_role(user, ADMIN), **listing)


def waiting(node: Node) -> list[dict[str, Any]]:
    """What federations wait from us, for the home page: invitations to adhere, open proposals we have
    not answered yet (not voted on a ballot, not objected in a consent round), proposals to close."""
    now = now_ms()
    us = node.node_id
    found: list[dict[str, Any]] = []
    for state in federations.load_all(node):
        name = F.charter_of(state).name
        base = {"federation": state.id.hex(), "federation_name": name}
        if us in F.invitations_of(state):
            found.append({**base, "what": "adhere"})
            continue
        if us not in F.members_of(state):
            continue
        secretariat = state.parties[F.SECRETARIAT] == us
        for record in F.proposals_of(state).values():
            if record.status != "open":
                continue
            item = {**base, "proposal": record.id, "title": record.title, "closes": record.window.closes}
            now_phase = phase(record.rule, record.window, now)
            if now_phase == "ended":
                if secretariat:
                    found.append({**item, "what": "close"})
                continue
            if record.proposer == us:
                if any(q.answer is None for q in record.questions):
                    found.append({**item, "what": "answer"})
                continue
            if record.rule.method == "ballot":
                if us in record.electorate and us not in record.ballots:
                    found.append({**item, "what": "vote"})
            elif not any(o.by == us and o.version == record.version for o in record.objections):
                found.append({**item, "what": "consent", "phase": now_phase})
    return found


# ---- one federation ----------------------------------------------------------------------------------


def _detail(node: Node, federation_id: bytes) -> dict[str, Any] | None:
    state = load(node, federation_id)
    if state is None:
        return None
    now = now_ms()
    charter = F.charter_of(state)
    members, invitations = F.members_of(state), F.invitations_of(state)
    links = state.facts.get("links") or {}
    ids = {
        state.parties[F.SECRETARIAT],
        *members,
        *invitations,
        *charter.founders,
        *(link.secretariat for link in links.values()),
    }
    names = c.association_names(node, ids)
    verification, events, pending = c.chain_view(node, federation_id)
    summary = federation_summary(node, state)
    colleges = [
        {
            "id": college.id,
            "title": college.title,
            "weight": college.weight_percent,
            "members": sorted((n for n, cid in members.items() if cid == college.id), key=lambda n: names.get(n, n)),
            "invited": sorted(n for n, cid in invitations.items() if cid == college.id),
        }
        for college in charter.colleges
    ]
    proposals = sorted(
        (proposal_json(state, p, now) for p in F.proposals_of(state).values()),
        key=lambda p: (p["status"] != "open", -p["window"]["opens"]),
    )
    return {
        "id": federation_id.hex(),
        "summary": summary,
        "role": summary["our_role"],
        "charter": charter.to_wire(),
        "digest": F.charter_digest(charter).hex(),
        "colleges": colleges,
        "rules": sorted(charter.rules.items()),
        "links": [
            {"federation": link.federation, "name": link.name, "secretariat": link.secretariat, "since": link.since}
            for link in links.values()
        ],
        "proposals": proposals,
        "kinds": [k for k in F.DECISION_KINDS if k in charter.rules],
        "names": names,
        "verification": verification,
        "events": events,
        "pending_deliveries": pending,
        "has_fund": bool(
            fund_rules.fund_of(state).entries
            or fund_rules.fund_of(state).contributions
            or charter.currency
            or "fund_criteria" in charter.rules
        ),
    }


async def federation_page(request: web.Request) -> web.Response:
    await require(request, READER)
    return await _show(request, c.hex_id(request.match_info["federation_id"], request, _unknown))


async def _show(
    request: web.Request, federation_id: bytes, *, error: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    node = request.config_dict[NODE]
    detail = await node.run(_detail, node, federation_id)
    if detail is None:
        raise _unknown(request)
    user = await current_user(request)
    return render(
        request,
        "federation.html",
        f=detail,
        error=error,
        status=status,
        can_act=has_role(user, MEMBER),
        is_admin=has_role(user, ADMIN),
    )


async def adhere(request: web.Request) -> web.StreamResponse:
    """Adhere to the charter in force (signed by our node): administrators only."""
    await require(request, ADMIN)
    await form(request)
    federation_id = c.hex_id(request.match_info["federation_id"], request, _unknown)
    node = request.config_dict[NODE]
    try:
        await federations.adhere(node, federation_id)
    except ProtocolError as exc:
        return await _show(
            request, federation_id, error=c.refusal_view(exc, translator(request)), status=c.refusal_status(exc)
        )
    raise redirect(f"/federations/{federation_id.hex()}")


# ---- founding -----------------------------------------------------------------------------------------


def _found_context(node: Node) -> dict[str, Any]:
    return {"peers": c.known_associations(node), "us": node.node_id}


async def new_federation(request: web.Request) -> web.Response:
    await require(request, ADMIN)
    return await _found_form(request)


async def _found_form(
    request: web.Request,
    *,
    error: dict[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    node = request.config_dict[NODE]
    context = await node.run(_found_context, node)
    defaults = {
        "college_title_0": "Associations",
        "founder_us": "0",
        "questions_days": "3",
        "objections_days": "7",
        "voting_days": "14",
        "quorum": "50",
        "majority": "50",
        "review_months": "12",
        "fund": "1",
    }
    return render(
        request,
        "federation_form.html",
        error=error,
        values=dict(values or defaults),
        college_rows=COLLEGE_ROWS,
        status=status,
        **context,
    )


def rules_from(values: Mapping[str, str], weighted: bool, _: Any) -> dict[str, Any]:
    """Consent for the federation's life, ballots for the fund's money (docs/governance.md's defaults),
    with the windows and thresholds the form gives."""
    consent = {
        "method": "consent",
        "questions_ms": (c.int_field(values, "questions_days", N_("Jours de questions"), _, low=0, high=90) or 0)
        * DAY_MS,
        "objections_ms": (c.int_field(values, "objections_days", N_("Jours d'objections"), _, low=1, high=90) or 0)
        * DAY_MS,
        "review_months": c.int_field(values, "review_months", N_("Révision après (mois)"), _, low=1, high=120),
    }
    ballot: dict[str, Any] = {
        "method": "ballot",
        "voting_ms": (c.int_field(values, "voting_days", N_("Jours de vote"), _, low=1, high=90) or 0) * DAY_MS,
        "quorum_percent": c.int_field(values, "quorum", N_("Quorum"), _, low=0, high=100),
        "majority_percent": c.int_field(values, "majority", N_("Majorité"), _, low=50, high=100),
    }
    if weighted:
        ballot["weighted"] = True
    rules: dict[str, Any] = {kind: dict(consent) for kind in ("admit", "remove", "amend_charter", "link", "general")}
    rules.update({kind: dict(ballot) for kind in ("fund_criteria", "fund_allocation")})
    return rules


def charter_from(values: Mapping[str, str], peers: list[str], us: str, _: Any) -> dict[str, Any]:
    """A charter from the founding form: colleges by row, founders by the row of their college."""
    colleges: list[dict[str, Any]] = []
    rows: dict[str, str] = {}  # form row -> college id
    for n in range(COLLEGE_ROWS):
        title = (values.get(f"college_title_{n}") or "").strip()
        if not title:
            continue
        college: dict[str, Any] = {"id": c.slug(title, [x["id"] for x in colleges])[:32], "title": title[:200]}
        weight = c.int_field(values, f"college_weight_{n}", N_("Poids"), _, low=1, high=100, required=False)
        if weight is not None:
            college["weight_percent"] = weight
        rows[str(n)] = college["id"]
        colleges.append(college)
    if not colleges:
        raise c.FormProblem(_("Nommez au moins un collège."), "colleges")
    founders: dict[str, str] = {}
    for node_id, field in [(us, "founder_us"), *((p, f"founder_{p}") for p in peers)]:
        row = values.get(field, "")
        if row in rows:
            founders[node_id] = rows[row]
    if us not in founders:
        raise c.FormProblem(
            _("Notre association, secrétariat, est membre fondatrice : choisissez son collège."), "founders"
        )
    charter: dict[str, Any] = {
        "name": c.text_field(values, "name", N_("Nom"), _),
        "territory": c.text_field(values, "territory", N_("Territoire"), _),
        "purpose": c.text_field(values, "purpose", N_("Objet"), _, max_length=5000),
        "colleges": colleges,
        "founders": founders,
        "rules": rules_from(values, any("weight_percent" in x for x in colleges), _),
    }
    if values.get("scic"):
        charter["scic"] = True
    if values.get("fund"):
        charter["currency"] = "EUR"
    return charter


async def found_federation(request: web.Request) -> web.StreamResponse:
    await require(request, ADMIN)
    fields = await form(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    values = c.values_of(fields)
    try:
        peers = [p["node_id"] for p in await node.run(c.known_associations, node)]
        progress = await federations.found(node, charter_from(values, peers, node.node_id, _))
    except ProtocolError as exc:
        return await _found_form(request, error=c.refusal_view(exc, _), values=values, status=c.refusal_status(exc))
    await after_delivery(node, progress.state.id)  # the founders receive the charter
    raise redirect(f"/federations/{progress.state.id.hex()}")


# ---- proposing ----------------------------------------------------------------------------------------


def _proposal_form_context(node: Node, federation_id: bytes, kind: str, call: str | None) -> dict[str, Any] | None:
    state = load(node, federation_id)
    if state is None:
        return None
    charter = F.charter_of(state)
    members, invitations = F.members_of(state), F.invitations_of(state)
    names = c.association_names(node, {*members, *invitations})
    fund = fund_rules.fund_of(state)
    outsiders = [
        p for p in c.known_associations(node) if p["node_id"] not in members and p["node_id"] not in invitations
    ]
    calls = [
        {"id": x.id, "title": x.title, "budget": x.budget.amount, "deadline": x.deadline, "closed": x.closed_at}
        for x in fund.calls.values()
    ]
    applications = [
        {
            "id": a.id,
            "title": a.title,
            "applicant": a.applicant,
            "requested": a.requested.amount,
            "granted": fund.granted.get(a.id, 0),
        }
        for a in fund.applications.values()
        if a.call == call
    ]
    return {
        "federation": {"id": federation_id.hex(), "name": charter.name},
        "kind": kind,
        "kinds": [k for k in F.DECISION_KINDS if k in charter.rules],
        "rule": charter.rules[kind].to_wire() if kind in charter.rules else None,
        "colleges": [{"id": x.id, "title": x.title} for x in charter.colleges],
        "members": sorted(members, key=lambda n: names.get(n, n)),
        "outsiders": outsiders,
        "names": names,
        "charter": charter.to_wire(),
        "calls": calls,
        "call": call,
        "applications": applications,
        "currency": fund_rules.currency_of(state) or "EUR",
        "is_member": node.node_id in members,
    }


async def new_proposal(request: web.Request) -> web.Response:
    await require(request, MEMBER)
    federation_id = c.hex_id(request.match_info["federation_id"], request, _unknown)
    return await _proposal_form(
        request, federation_id, request.query.get("nature", "general"), request.query.get("appel")
    )


async def _proposal_form(
    request: web.Request,
    federation_id: bytes,
    kind: str,
    call: str | None,
    *,
    error: dict[str, Any] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    node = request.config_dict[NODE]
    context = await node.run(_proposal_form_context, node, federation_id, kind, call)
    if context is None:
        raise _unknown(request)
    if kind not in context["kinds"]:
        raise not_found(request, translator(request)("La charte ne prévoit pas ce type de décision."))
    return render(
        request,
        "proposal_form.html",
        error=error,
        values=dict(values or {}),
        status=status,
        money_input=lambda cents: money_input({"amount": cents}) or "0",
        **context,
    )


def payload_from(
    kind: str, values: Mapping[str, str], charter: Mapping[str, Any], currency: str, _: Any
) -> dict[str, Any] | None:
    """A decision's payload from the proposal form (the protocol checks it again when it is signed)."""
    if kind == "admit":
        node = (values.get("node") or values.get("node_id") or "").strip()
        if not node:
            raise c.FormProblem(_("Choisissez l'association à admettre."), "node")
        return {"node": node, "college": values.get("college", "")}
    if kind == "remove":
        node = (values.get("node") or "").strip()
        if not node:
            raise c.FormProblem(_("Choisissez l'association à retirer."), "node")
        return {"node": node}
    if kind == "link":
        return {
            "federation": (values.get("federation") or "").strip().lower(),
            "name": c.text_field(values, "link_name", N_("Nom"), _),
            "secretariat": (values.get("secretariat") or "").strip(),
        }
    if kind == "amend_charter":
        change = {}
        for field, label in (("name", N_("Nom")), ("territory", N_("Territoire")), ("purpose", N_("Objet"))):
            value = c.text_field(values, f"charter_{field}", label, _, required=False, max_length=5000)
            if value and value != charter.get(field):
                change[field] = value
        if not change:
            raise c.FormProblem(_("L'amendement change au moins le nom, le territoire ou l'objet."), "charter_name")
        return change
    if kind == "fund_criteria":
        criteria = []
        for n in range(CRITERIA_ROWS):
            title = (values.get(f"criterion_title_{n}") or "").strip()
            if title:
                weight = c.int_field(values, f"criterion_weight_{n}", N_("Poids"), _, low=1, high=1000)
                criteria.append(
                    {"id": c.slug(title, [x["id"] for x in criteria]), "title": title[:200], "weight": weight}
                )
        if not criteria:
            raise c.FormProblem(_("Donnez au moins un critère."), "criteria")
        return {
            "criteria": criteria,
            "eligibility": c.text_field(values, "eligibility", N_("Qui peut candidater"), _, max_length=5000),
        }
    if kind == "fund_allocation":
        call = (values.get("call") or "").strip()
        grants = []
        for key, value in values.items():
            if key.startswith("grant_") and value.strip():
                application = key.removeprefix("grant_")
                cents = c.cents_field(values, key, N_("Montant"), _, currency=currency, positive=False)
                grant: dict[str, Any] = {"application": application, "amount": {"amount": cents, "currency": currency}}
                score = c.int_field(
                    values, f"score_{application}", N_("Note"), _, low=0, high=1_000_000, required=False
                )
                if score is not None:
                    grant["score"] = score
                grants.append(grant)
        if not grants:
            raise c.FormProblem(_("Donnez un montant à au moins une candidature (0 si rien)."), "allocations")
        return {"call": call, "allocations": grants}
    return None


def _charter_of(node: Node, federation_id: bytes) -> tuple[dict[str, Any], str]:
    state = federations.load(node, federation_id)
    return F.charter_of(state).to_wire(), fund_rules.currency_of(state) or "EUR"


async def propose(request: web.Request) -> web.StreamResponse:
    await require(request, MEMBER)
    fields = await form(request)
    federation_id = c.hex_id(request.match_info["federation_id"], request, _unknown)
    node = request.config_dict[NODE]
    _ = translator(request)
    values = c.values_of(fields)
    kind = values.get("kind", "general")
    try:
        charter, currency = await node.run(_charter_of, node, federation_id)
        data: dict[str, Any] = {
            "kind": kind,
            "title": c.text_field(values, "title", N_("Titre"), _),
            "text": c.text_field(values, "text", N_("Texte"), _, max_length=5000),
        }
        payload = payload_from(kind, values, charter, currency, _)
        if payload is not None:
            data["payload"] = payload
        review = c.moment_field(
            values, "review", "review_time", N_("Date de révision"), _, required=False, default_time=time(12)
        )
        if review is not None:
            data["review_at"] = review
        _state, event = await federations.speak_event(node, federation_id, "propose", wire_form(data))
    except ProtocolError as exc:
        return await _proposal_form(
            request,
            federation_id,
            kind,
            values.get("call"),
            error=c.refusal_view(exc, _),
            values=values,
            status=c.refusal_status(exc),
        )
    federations.wake(node)
    raise redirect(f"/federations/{federation_id.hex()}/propositions/{derived_id(event)}")


# ---- one proposal --------------------------------------------------------------------------------------


def _proposal_detail(node: Node, federation_id: bytes, proposal_id: str) -> dict[str, Any] | None:
    state = load(node, federation_id)
    if state is None:
        return None
    record = F.proposals_of(state).get(proposal_id)
    if record is None:
        return {"missing": True}
    now = now_ms()
    us = node.node_id
    view = proposal_json(state, record, now)
    charter = F.charter_of(state)
    names = c.association_names(
        node,
        {
            record.proposer,
            *record.electorate,
            *(o.by for o in record.objections),
            *(q.by for q in record.questions),
            *F.members_of(state),
        },
    )
    member = us in F.members_of(state)
    now_phase = view["phase"]
    open_now = record.status == "open"
    running = open_now and now_phase != "ended"
    consent = record.rule.method == "consent"
    ours = [o for o in record.objections if o.by == us and o.status == "open"]
    can = {
        "ask": member and running and consent and now_phase == "questions",
        "answer": open_now and record.proposer == us and any(q.answer is None for q in record.questions),
        "object": member and running and consent and now_phase == "objections" and record.proposer != us,
        "withdraw_objection": running and bool(ours),
        "amend": running and record.proposer == us,
        "vote": running and not consent and us in record.electorate and us not in record.ballots,
        "close": open_now and now_phase == "ended" and state.parties[F.SECRETARIAT] == us,
    }
    colleges = {x.id: x.title for x in charter.colleges}
    return {
        "federation": {"id": federation_id.hex(), "name": charter.name},
        "p": view,
        "can": can,
        "our_objections": [o.number for o in ours],
        "our_ballot": record.ballots.get(us),
        "names": names,
        "colleges": colleges,
        "member": member,
        "now": now,
    }


async def proposal_page(request: web.Request) -> web.Response:
    await require(request, READER)
    federation_id = c.hex_id(request.match_info["federation_id"], request, _unknown)
    return await _show_proposal(request, federation_id, request.match_info["proposal_id"])


async def _show_proposal(
    request: web.Request,
    federation_id: bytes,
    proposal_id: str,
    *,
    error: dict[str, Any] | None = None,
    failed: str | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    node = request.config_dict[NODE]
    detail = await node.run(_proposal_detail, node, federation_id, proposal_id)
    if detail is None:
        raise _unknown(request)
    if detail.get("missing"):
        raise _unknown_proposal(request)
    user = await current_user(request)
    return render(
        request,
        "proposal.html",
        error=error,
        failed=failed,
        values=dict(values or {}),
        status=status,
        can_act=has_role(user, MEMBER),
        **detail,
    )


def step_data(action: str, values: Mapping[str, str], _: Any) -> dict[str, Any]:
    """A proposal step's statement from its form."""
    if action == "ask":
        return {"text": c.text_field(values, "text", N_("Question"), _, max_length=5000)}
    if action == "answer":
        return {
            "question": c.int_field(values, "question", N_("Question"), _, low=1, high=1_000_000),
            "text": c.text_field(values, "text", N_("Réponse"), _, max_length=5000),
        }
    if action == "object":
        return {
            "reason": c.text_field(values, "reason", N_("Motif"), _, max_length=2000),
            "aim": c.text_field(values, "aim", N_("Raison d'être protégée"), _, max_length=2000),
        }
    if action == "withdraw_objection":
        return {"objection": c.int_field(values, "objection", N_("Objection"), _, low=1, high=1_000_000)}
    if action == "amend":
        data = {
            "title": c.text_field(values, "title", N_("Titre"), _, required=False),
            "text": c.text_field(values, "text", N_("Texte"), _, required=False, max_length=5000),
        }
        data = {k: v for k, v in data.items() if v}
        if not data:
            raise c.FormProblem(_("L'amendement change le titre ou le texte."), "text")
        return data
    if action == "vote":
        choice = values.get("choice", "")
        if choice not in CHOICES:
            raise c.FormProblem(_("Choisissez pour, contre ou abstention."), "choice")
        return {"choice": choice}
    return {}


async def proposal_step(request: web.Request) -> web.StreamResponse:
    await require(request, MEMBER)
    fields = await form(request)
    federation_id = c.hex_id(request.match_info["federation_id"], request, _unknown)
    proposal_id = request.match_info["proposal_id"]
    action = request.match_info["action"]
    if action not in STEPS:
        raise not_found(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    values = c.values_of(fields)
    try:
        if action == "close":
            await federations.close_now(node, federation_id, proposal_id)
        else:
            await federations.speak(
                node, federation_id, action, {**step_data(action, values, _), "proposal": proposal_id}
            )
            if action == "amend":
                federations.wake(node)
    except ProtocolError as exc:
        return await _show_proposal(
            request,
            federation_id,
            proposal_id,
            error=c.refusal_view(exc, _),
            failed=action,
            values=values,
            status=c.refusal_status(exc),
        )
    raise redirect(f"/federations/{federation_id.hex()}/propositions/{proposal_id}#decompte")


ROUTES = [
    web.get("/federations", federations_page, name="federations"),
    web.get("/federations/nouvelle", new_federation),
    web.post("/federations/nouvelle", found_federation),
    web.get("/federations/{federation_id}", federation_page, name="federation"),
    web.post("/federations/{federation_id}/adherer", adhere),
    web.get("/federations/{federation_id}/propositions/nouvelle", new_proposal),
    web.post("/federations/{federation_id}/propositions", propose),
    web.get("/federations/{federation_id}/propositions/{proposal_id}", proposal_page, name="proposal"),
    web.post("/federations/{federation_id}/propositions/{proposal_id}/{action}", proposal_step),
]

__all__ = ["ROUTES", "charter_from", "payload_from", "step_data", "waiting"]
