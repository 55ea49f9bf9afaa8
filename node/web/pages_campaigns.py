"""Co-funding campaign pages: the list (/campagnes), a new campaign, and one campaign with its pledges.

Reading needs any account; pledging, paying, confirming and organising need a
member. Every step goes through node/campaigns.py — the same functions as the
local API: a statement is signed here and embedded by the organiser's node,
which commits before it answers; a refusal comes back typed and is shown on
the page with what was typed, and nothing changed anywhere. The totals shown
are the tally of the signed pledges (protocol/agreements/campaign.py), and the
chain's signatures are checked again before the page says « signatures vérifiées ».
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from aiohttp import web

from protocol import InvalidMessage, ProtocolError
from protocol.agreements.campaign import (
    BENEFICIARY,
    CO_ORGANISER,
    CONTRIBUTOR,
    INVITED,
    ORGANISER,
    may_pledge,
)
from storage import agreements as stored
from storage import session

from .. import campaigns, convened, federations
from ..clock import now_ms
from ..runtime import NODE, Node
from . import collective as c
from .auth import MEMBER, READER, current_user, form, has_role, require
from .pages_agreements import money_input
from .render import N_, not_found, redirect, render, translator

KIND = "campaign"
ACTIONS = ("pledge", "amend", "withdraw", "paid", "received", "cosign", "import", "conclude", "cancel")
LINE_ROWS = 4  # empty budget-line rows on the new-campaign form
GOAL_ROWS = 2
PAYMENT_METHODS = ("transfer", "cheque", "cash", "card", "platform", "in_kind", "other")
MAX_EXPORT_BYTES = 1024 * 1024  # the pages' request limit (aiohttp's default): larger exports go through the CLI


def _unknown(request: web.Request) -> web.HTTPException:
    _ = translator(request)
    return not_found(request, _("Aucune campagne connue de ce nœud ne porte cet identifiant."))


# ---- the list --------------------------------------------------------------------------------------


def _listing(node: Node) -> dict[str, Any]:
    found = campaigns.listing(node)
    held = found["campaigns"]
    names = c.association_names(node, [x["organiser"] for x in held + found["announced"]])
    for item in held:
        item["organiser_name"] = names.get(item["organiser"], "")
        item["progress"] = min(100, 100 * item["counted"] // item["target"]) if item["target"] else 100
    for item in found["announced"]:
        item["organiser_name"] = names.get(item["organiser"], "")
    return {
        "ours": [x for x in held if x["role"] in (ORGANISER, CO_ORGANISER)],
        "pledged": [x for x in held if x["role"] == CONTRIBUTOR],
        "invited": [x for x in held if x["role"] in (INVITED, BENEFICIARY)],
        "announced": found["announced"],
    }


async def campaigns_page(request: web.Request) -> web.Response:
    user = await require(request, READER)
    node = request.config_dict[NODE]
    listing = await node.run(_listing, node)
    return render(request, "campaigns.html", can_act=has_role(user, MEMBER), **listing)


def waiting(node: Node) -> list[dict[str, Any]]:
    """What campaigns wait from us, for the home page: an invitation to pledge, a co-signature,
    payments to confirm as received, our own bound pledge still to pay."""
    from protocol.agreements.campaign import tally

    us = node.node_id
    found: list[dict[str, Any]] = []
    with session(node.engine) as s:
        # Only campaigns that can still wait for something: closed, lapsed and cancelled ones cannot.
        rows = campaigns.campaign_rows(s, ("draft", "open", "succeeded"))
        states = [campaigns.held_state(s, row.id) for row in rows]
    for state in states:
        if state is None:
            continue
        base = {
            "id": state.id.hex(),
            "title": state.terms.title,
            "organiser": state.parties[ORGANISER],
            "currency": state.terms.currency,
            "deadline": state.terms.deadline,
        }
        role = state.role_of(us)
        if state.name == "open" and role == INVITED and us not in state.facts.get("pledges", {}):
            found.append({**base, "what": "invited"})
        elif state.name == "draft" and role == CO_ORGANISER and us not in state.facts.get("cosigned", ()):
            found.append({**base, "what": "cosign"})
        if state.name != "succeeded":
            continue
        if role == ORGANISER or us in state.terms.beneficiary_nodes():
            unconfirmed = [
                p for pid, p in state.facts.get("payments", {}).items() if pid not in state.facts.get("receipts", {})
            ]
            if unconfirmed:
                found.append(
                    {
                        **base,
                        "what": "received",
                        "count": len(unconfirmed),
                        "amount": sum(p.amount for p in unconfirmed),
                    }
                )
        mine = next((x for x in tally(state).contributions if x.key == us and x.status == "bound"), None)
        if mine is not None and mine.paid < mine.payable:
            found.append({**base, "what": "pay", "amount": mine.payable - mine.paid})
    if found:
        names = c.association_names(node, [x["organiser"] for x in found])
        for item in found:
            item["organiser_name"] = names.get(item["organiser"], "")
    return found


# ---- one campaign ----------------------------------------------------------------------------------


def _detail(node: Node, agreement_id: bytes) -> dict[str, Any] | None:
    """Everything the campaign page shows: terms, tally, pledges, payments, what we may do, the chain."""
    now = now_ms()
    with session(node.engine) as s:
        row = stored.get(s, agreement_id)
        state = campaigns.held_state(s, agreement_id) if row is not None and row.kind == KIND else None
        announced = campaigns.announcement_of(s, agreement_id) if state is None else None
    if state is None:
        return _announced(node, agreement_id, announced, now) if announced else None
    described = campaigns.describe(node, agreement_id)
    if described is None:
        return None
    terms, tally = described["terms"], described["tally"]
    us = node.node_id
    facts = state.facts
    ids = {
        described["organiser"],
        *described["members"],
        *(b.get("node") for b in terms["beneficiaries"] if b.get("node")),
    }
    names = c.association_names(node, [i for i in ids if i])
    verification, events, pending = c.chain_view(node, agreement_id)
    role = state.role_of(us)
    organiser = described["organiser"] == us
    beneficiary = us in state.terms.beneficiary_nodes()
    ours = facts.get("pledges", {}).get(us)
    mine = next((x for x in tally["contributions"] if x["key"] == us), None)
    lines = {line["id"]: line["title"] for line in terms.get("lines") or []}
    pledges = [_pledge_row(x, names, lines) for x in tally["contributions"]]
    pledges += [
        {"key": n, "who": names.get(n, ""), "node": n, "status": "withdrawn", "source": "pledge"}
        for n in described["withdrawn"]
    ]
    payments = [
        {
            **p,
            "who": names.get(p["contributor"], ""),
            "receipt_by_name": names.get(p["receipt"]["by"], "") if p["receipt"] else "",
        }
        for p in described["payments"]
    ]
    open_now = state.name == "open"
    last_change = state.terms.last_change
    can = {
        "pledge": open_now and ours is None and now <= terms["deadline"] and may_pledge(state, us),
        "amend": open_now and ours is not None and now <= last_change,
        "withdraw": open_now and ours is not None and now <= last_change,
        "cosign": state.name == "draft" and role == CO_ORGANISER and us not in described["cosigned"],
        "paid": state.name == "succeeded"
        and mine is not None
        and mine["status"] == "bound"
        and mine["paid"] < mine["payable"],
        "received": state.name == "succeeded"
        and (organiser or beneficiary)
        and any(p["receipt"] is None for p in payments),
        "import": open_now and organiser,
        "conclude": open_now and organiser and now >= terms["deadline"],
        "cancel": organiser and (state.name == "draft" or (open_now and now < terms["deadline"])),
    }
    return {
        "id": agreement_id.hex(),
        "held": True,
        "state": state.name,
        "role": role,
        "organiser": described["organiser"],
        "we_organise": organiser,
        "names": names,
        "terms": terms,
        "last_change": last_change,
        "tally": tally,
        "pledges": pledges,
        "mine": mine,
        "our_pledge": _pledge_inputs(ours),
        "payments": payments,
        "imports": described["imports"],
        "outcome": described["outcome"],
        "ended": described["ended"],
        "co_organisers": [{"node": n, "signed": n in described["cosigned"]} for n in terms.get("co_organisers") or []],
        "can": can,
        "verification": verification,
        "events": events,
        "pending_deliveries": pending,
        "lines": lines,
        "outstanding": (mine["payable"] - mine["paid"]) if mine else 0,
        "now": now,
    }


def _announced(node: Node, agreement_id: bytes, announced: tuple[str, dict[str, Any]], now: int) -> dict[str, Any]:
    """A public campaign we learnt of through its announcement: its words, and the pledge form."""
    organiser, body = announced
    names = c.association_names(node, [organiser])
    deadline = body.get("valid_until")
    return {
        "id": agreement_id.hex(),
        "held": False,
        "organiser": organiser,
        "names": names,
        "title": body.get("title", ""),
        "purpose": body.get("description", ""),
        "deadline": deadline,
        "can": {"pledge": deadline is None or now <= deadline},
        "our_pledge": _pledge_inputs(None),
        "lines": {},
        "now": now,
    }


def _pledge_row(x: Mapping[str, Any], names: Mapping[str, str], lines: Mapping[str, str]) -> dict[str, Any]:
    imported = x["source"] == "import"
    return {
        **x,
        "who": x["key"] if imported else names.get(x["key"], ""),
        "node": None if imported else x["key"],
        "line_title": lines.get(x["line"] or "", ""),
    }


def _pledge_inputs(pledge: Any) -> dict[str, str]:
    """A pledge as the amend form shows it back."""
    if pledge is None:
        return {
            "type": "money",
            "value": "",
            "hours": "",
            "description": "",
            "line": "",
            "if_minimum": "",
            "cap_percent": "",
        }
    return {
        "type": pledge.type,
        "value": money_input({"amount": pledge.value}),
        "hours": str(pledge.hours or ""),
        "description": pledge.description or "",
        "line": pledge.line or "",
        "if_minimum": "1" if pledge.if_minimum else "",
        "cap_percent": str(pledge.cap_percent or ""),
    }


async def campaign_page(request: web.Request) -> web.Response:
    await require(request, READER)
    return await _show(request, c.hex_id(request.match_info["campaign_id"], request, _unknown))


async def _show(
    request: web.Request,
    agreement_id: bytes,
    *,
    error: dict[str, Any] | None = None,
    failed: str | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    node = request.config_dict[NODE]
    detail = await node.run(_detail, node, agreement_id)
    if detail is None:
        raise _unknown(request)
    user = await current_user(request)
    return render(
        request,
        "campaign.html",
        k=detail,
        error=error,
        failed=failed,
        values=dict(values or {}),
        can_act=has_role(user, MEMBER),
        methods=PAYMENT_METHODS,
        status=status,
        money_input=lambda cents: money_input({"amount": cents}) or "0",
        today_input=c.today_input,
    )


# ---- acting on a campaign --------------------------------------------------------------------------


def pledge_body(fields: Mapping[str, str], currency: str, _: Any) -> dict[str, Any]:
    """A pledge or amendment from the form: money, or in-kind work or equipment valued in the campaign's currency."""
    kind = fields.get("type", "money")
    if kind not in ("money", "work", "equipment"):
        raise c.FormProblem(_("Choisissez la nature de la promesse."), "type")
    label = N_("Montant") if kind == "money" else N_("Valeur estimée")
    data: dict[str, Any] = {"type": kind, "value": c.cents_field(fields, "value", label, _, currency=currency)}
    if kind == "work":
        data["hours"] = c.int_field(fields, "hours", N_("Heures"), _, low=1, high=100_000)
    description = c.text_field(fields, "description", N_("Description"), _, required=kind == "equipment")
    if description and kind != "money":
        data["description"] = description
    line = (fields.get("line") or "").strip()
    if line:
        data["line"] = line
    conditions: dict[str, Any] = {}
    if fields.get("if_minimum"):
        conditions["if_minimum"] = True
    cap = c.int_field(fields, "cap_percent", N_("Plafond"), _, low=1, high=100, required=False)
    if cap is not None:
        conditions["cap_percent"] = cap
    if conditions:
        data["conditions"] = conditions
    return campaigns.pledge_data(data)


def _paid_body(fields: Mapping[str, str], currency: str, _: Any) -> dict[str, Any]:
    method = fields.get("method", "transfer")
    if method not in PAYMENT_METHODS:
        raise c.FormProblem(_("Choisissez un moyen de paiement."), "method")
    data: dict[str, Any] = {
        "amount": c.cents_field(fields, "amount", N_("Montant"), _, currency=currency),
        "method": method,
        "date": min(
            now_ms(), c.moment_field(fields, "date", "date_time", N_("Date"), _, default_time=time(12)) or now_ms()
        ),
    }
    reference = c.text_field(fields, "reference", N_("Référence"), _, required=False)
    if reference:
        data["reference"] = reference
    return data


def _received_body(fields: Mapping[str, str], currency: str, _: Any) -> dict[str, Any]:
    payment = (fields.get("payment") or "").strip()
    try:
        payment_id = bytes.fromhex(payment)
    except ValueError:
        payment_id = b""
    if len(payment_id) != 32:
        raise c.FormProblem(_("Ce paiement est inconnu."), "payment")
    return {
        "payment": payment_id,
        "amount": c.cents_field(fields, "amount", N_("Montant"), _, currency=currency),
        "date": now_ms(),
    }


def _reason(fields: Mapping[str, str], _: Any) -> str | None:
    return c.text_field(fields, "reason", N_("Motif"), _, required=False, max_length=5000)


def _currency_of(node: Node, agreement_id: bytes) -> str:
    with session(node.engine) as s:
        state = campaigns.held_state(s, agreement_id)
    return state.terms.currency if state is not None else "EUR"


async def campaign_action(request: web.Request) -> web.StreamResponse:
    """One step from a form (POST, CSRF checked, members only); back to the page, or the page with the refusal."""
    await require(request, MEMBER)
    fields = await form(request)
    agreement_id = c.hex_id(request.match_info["campaign_id"], request, _unknown)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise not_found(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    values = c.values_of(fields)
    anchor = "promesses"
    try:
        currency = await node.run(_currency_of, node, agreement_id)
        if action == "conclude":
            await campaigns.conclude(node, agreement_id)
            anchor = "progression"
        elif action == "cancel":
            await campaigns.cancel(node, agreement_id, _reason(values, _))
            anchor = "progression"
        else:
            if action in ("pledge", "amend"):
                data = pledge_body(values, currency, _)
            elif action == "withdraw":
                reason = _reason(values, _)
                data = {"reason": reason} if reason else {}
            elif action == "paid":
                data, anchor = _paid_body(values, currency, _), "paiements"
            elif action == "received":
                data, anchor = _received_body(values, currency, _), "paiements"
            elif action == "cosign":
                data = await node.run(_opening, node, agreement_id)
            else:  # import
                data = _import_data(fields, values, _)
            event = await campaigns.state_to(node, agreement_id, action, data)
            await convened.until_held(node, event)  # the page then shows it
    except ProtocolError as exc:
        return await _show(
            request,
            agreement_id,
            error=c.refusal_view(exc, _),
            failed=action,
            values=values,
            status=c.refusal_status(exc),
        )
    raise redirect(f"/campagnes/{agreement_id.hex()}#{anchor}")


def _opening(node: Node, agreement_id: bytes) -> dict[str, Any]:
    with session(node.engine) as s:
        state = campaigns.held_state(s, agreement_id)
    if state is None:
        raise InvalidMessage("this campaign is unknown here")
    return {"opening": state.facts["opening"]}


def _import_data(fields: Any, values: Mapping[str, str], _: Any) -> dict[str, Any]:
    """A crowdfunding platform's CSV export, totalled (no payer kept), as the organiser's signed import."""
    platform = c.text_field(values, "platform", N_("Plateforme"), _)
    reference = c.text_field(values, "reference", N_("Référence"), _)
    upload = fields.get("file")
    content = upload.file.read(MAX_EXPORT_BYTES + 1) if isinstance(upload, web.FileField) else b""
    if not content:
        raise c.FormProblem(_("Choisissez le fichier CSV exporté de la plateforme."), "file")
    if "/" in (platform or ""):
        raise c.FormProblem(_("« %(field)s » : sans barre oblique.", field=_("Plateforme")), "platform")
    totals = campaigns.aggregate_export(content)
    return totals.import_data(platform or "", reference or "")


# ---- a new campaign --------------------------------------------------------------------------------


def _form_context(node: Node) -> dict[str, Any]:
    states = federations.load_all(node)
    from protocol.agreements import federation as F

    ours = [{"id": s.id.hex(), "name": F.charter_of(s).name} for s in states if node.node_id in F.members_of(s)]
    return {"peers": c.known_associations(node), "federations": ours, "us": node.node_id}


async def new_campaign(request: web.Request) -> web.Response:
    await require(request, MEMBER)
    return await _new_form(request)


async def _new_form(
    request: web.Request,
    *,
    error: dict[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    node = request.config_dict[NODE]
    context = await node.run(_form_context, node)
    defaults = {"mode": "all_or_nothing", "scope": "public", "beneficiary_us": "1"}
    return render(
        request,
        "campaign_form.html",
        error=error,
        values=dict(values or defaults),
        line_rows=LINE_ROWS,
        goal_rows=GOAL_ROWS,
        status=status,
        **context,
    )


def campaign_terms(fields: Any, us: str, _: Any) -> dict[str, Any]:
    """The terms of a new campaign from the form; the protocol checks them again when they are signed."""
    values = c.values_of(fields)
    currency = "EUR"
    terms: dict[str, Any] = {
        "title": c.text_field(values, "title", N_("Titre"), _),
        "purpose": c.text_field(values, "purpose", N_("Objet"), _, max_length=5000),
        "currency": currency,
        "target": c.cents_field(values, "target", N_("Objectif"), _),
        "minimum": c.cents_field(values, "minimum", N_("Minimum"), _, required=False, positive=False) or 0,
        "deadline": c.moment_field(values, "deadline", "deadline_time", N_("Échéance"), _),
        "mode": values.get("mode") if values.get("mode") in ("all_or_nothing", "keep_it_all") else "all_or_nothing",
    }
    beneficiaries: list[dict[str, Any]] = []
    if values.get("beneficiary_us"):
        beneficiaries.append({"node": us})
    for node_id in fields.getall("beneficiary_node", []):
        if isinstance(node_id, str) and node_id and node_id != us:
            beneficiaries.append({"node": node_id})
    for name in (values.get("beneficiary_names") or "").splitlines():
        if name.strip():
            beneficiaries.append({"name": name.strip()[:200]})
    if not beneficiaries:
        raise c.FormProblem(_("Nommez au moins un bénéficiaire."), "beneficiaries")
    terms["beneficiaries"] = beneficiaries
    lines: list[dict[str, Any]] = []
    for n in range(LINE_ROWS):
        title = (values.get(f"line_title_{n}") or "").strip()
        if not title:
            continue
        low = (
            c.cents_field(values, f"line_min_{n}", N_("Minimum"), _, currency=currency, required=False, positive=False)
            or 0
        )
        high = c.cents_field(values, f"line_max_{n}", N_("Maximum"), _, currency=currency)
        lines.append(
            {"id": c.slug(title, [line["id"] for line in lines]), "title": title[:200], "min": low, "max": high}
        )
    if lines:
        terms["lines"] = lines
    goals = []
    for n in range(GOAL_ROWS):
        title = (values.get(f"goal_title_{n}") or "").strip()
        if title:
            goals.append(
                {
                    "amount": c.cents_field(values, f"goal_amount_{n}", N_("Montant"), _, currency=currency),
                    "title": title[:200],
                }
            )
    if goals:
        terms["stretch_goals"] = sorted(goals, key=lambda g: g["amount"])
    scope = values.get("scope", "public")
    if scope == "federations":
        chosen = [f for f in fields.getall("federation", []) if isinstance(f, str) and f]
        if not chosen:
            raise c.FormProblem(_("Choisissez au moins une fédération."), "eligibility")
        terms["eligibility"] = {"scope": "federations", "federations": chosen}
    elif scope == "nodes":
        chosen = [n for n in fields.getall("node", []) if isinstance(n, str) and n and n != us]
        if not chosen:
            raise c.FormProblem(_("Choisissez au moins une association invitée."), "eligibility")
        terms["eligibility"] = {"scope": "nodes", "nodes": chosen}
    else:
        terms["eligibility"] = {"scope": "public"}
    co = [n for n in fields.getall("co_organiser", []) if isinstance(n, str) and n and n != us]
    if co:
        terms["co_organisers"] = co
    until = c.moment_field(
        values, "withdraw_until", "withdraw_until_time", N_("Retrait possible jusqu'au"), _, required=False
    )
    if until is not None:
        terms["withdraw_until"] = until
    return terms


async def create_campaign(request: web.Request) -> web.StreamResponse:
    await require(request, MEMBER)
    fields = await form(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    try:
        progress = await campaigns.create(node, campaign_terms(fields, node.node_id, _))
    except ProtocolError as exc:
        values = {
            **c.values_of(fields),
            **{k: fields.getall(k) for k in ("beneficiary_node", "federation", "node", "co_organiser") if k in fields},
        }
        return await _new_form(request, error=c.refusal_view(exc, _), values=values, status=c.refusal_status(exc))
    raise redirect(f"/campagnes/{progress.state.id.hex()}")


ROUTES = [
    web.get("/campagnes", campaigns_page, name="campaigns"),
    web.get("/campagnes/nouvelle", new_campaign),
    web.post("/campagnes/nouvelle", create_campaign),
    web.get("/campagnes/{campaign_id}", campaign_page, name="campaign"),
    web.post("/campagnes/{campaign_id}/{action}", campaign_action),
]

__all__ = ["ROUTES", "campaign_terms", "pledge_body"]
