"""A federation's territorial fund (/federations/{id}/fonds): balances, the double-entry ledger, calls,
applications, allocations, distributions and the legal alerts, with the forms each side may use.

Members contribute, apply to a call and confirm a distribution arrived (statements the
secretariat's node judges and embeds); the secretariat confirms money arrived, records
outside funding, opens and closes calls and pays out (its own events). Every step goes
through node/fund.py, like the local API; a refusal is shown on the page with nothing
changed. The ledger's figures are recomputed from the chain (protocol/governance/fund.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from aiohttp import web

from protocol import ProtocolError
from protocol.agreements import federation as F
from protocol.governance import fund as rules

from .. import fund
from ..agreements_api import after_delivery
from ..clock import now_ms
from ..runtime import NODE, Node
from ..wire import wire_form
from . import collective as c
from .auth import MEMBER, READER, current_user, form, has_role, require
from .i18n import language
from .pages_agreements import money_input
from .render import N_, not_found, redirect, render, translator

METHODS = ("transfer", "cheque", "card", "cash", "direct_debit", "platform", "other")
STEPS = (*fund.MEMBER_STEPS, *fund.SECRETARIAT_STEPS)


def _unknown(request: web.Request) -> web.HTTPException:
    _ = translator(request)
    return not_found(request, _("Aucune fédération connue de ce nœud ne porte cet identifiant."))


def _detail(node: Node, federation_id: bytes) -> dict[str, Any] | None:
    from .pages_federations import load

    state = load(node, federation_id)
    if state is None:
        return None
    now = now_ms()
    us = node.node_id
    members = F.members_of(state)
    names = c.association_names(node, {*members, *F.invitations_of(state), state.parties[F.SECRETARIAT]})
    view = fund.view(state, names, now)
    secretariat = state.parties[F.SECRETARIAT] == us
    member = us in members
    active = state.name == F.ACTIVE
    applications = view["applications"]
    view["ledger"] = [
        {**e, "source_name": _account(e["source"], names), "destination_name": _account(e["destination"], names)}
        for e in view["ledger"]
    ]
    for b in view["balances"]:
        b["label"] = _account(b["account"], names)
    calls = {x["id"]: x for x in view["calls"]}
    return {
        "id": federation_id.hex(),
        "name": F.charter_of(state).name,
        "v": view,
        "names": names,
        "currency": view["currency"] or "EUR",
        "secretariat": secretariat,
        "member": member,
        "active": active,
        "our_pledges": [x for x in view["contributions"] if x["node"] == us and x["status"] == "pledged"],
        "pending": [x for x in view["contributions"] if x["status"] == "pledged"],
        "open_calls": [x for x in view["calls"] if x["open"]],
        "payable": [a for a in applications if a["remaining"] > 0],
        "to_confirm": [d for d in view["distributions"] if d["beneficiary"] == us and d["received_at"] is None],
        "calls_by_id": calls,
        "kinds": [k for k in ("fund_criteria", "fund_allocation") if k in F.charter_of(state).rules],
        "now": now,
    }


def _account(account: str, names: Mapping[str, str]) -> dict[str, str]:
    """An account as the ledger shows it: its kind and whom (or what) it names."""
    kind, _, rest = account.partition(":")
    if kind == "fund":
        return {"kind": "fund", "who": ""}
    who = names.get(rest, "") if kind in ("contributor", "beneficiary") else rest
    return {"kind": kind, "who": who, "node": rest if kind in ("contributor", "beneficiary") else ""}


async def fund_page(request: web.Request) -> web.Response:
    await require(request, READER)
    return await _show(request, c.hex_id(request.match_info["federation_id"], request, _unknown))


async def _show(
    request: web.Request,
    federation_id: bytes,
    *,
    error: dict[str, Any] | None = None,
    failed: str | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    node = request.config_dict[NODE]
    detail = await node.run(_detail, node, federation_id)
    if detail is None:
        raise _unknown(request)
    user = await current_user(request)
    lang = language(request)
    alerts = [
        {"code": a["code"], "text": a["message_fr"] if lang == "fr" else a["message_en"]} for a in detail["v"]["alerts"]
    ]
    return render(
        request,
        "fund.html",
        d=detail,
        alerts=alerts,
        error=error,
        failed=failed,
        values=dict(values or {}),
        can_act=has_role(user, MEMBER),
        methods=METHODS,
        status=status,
        money_input=lambda cents: money_input({"amount": cents}) or "0",
        today_input=c.today_input,
    )


def _money(values: Mapping[str, str], name: str, label: str, currency: str, _: Any) -> dict[str, Any]:
    return {"amount": c.cents_field(values, name, label, _, currency=currency), "currency": currency}


def step_body(step: str, values: Mapping[str, str], currency: str, _: Any) -> dict[str, Any]:
    """A fund step's data from its form (the protocol checks it again when it is signed)."""
    body: dict[str, Any]
    if step == "contribute":
        method = values.get("method", "transfer")
        if method not in METHODS:
            raise c.FormProblem(_("Choisissez un moyen de paiement."), "method")
        body = {
            "amount": _money(values, "amount", N_("Montant"), currency, _),
            "method": method,
            "reference": c.text_field(values, "reference", N_("Référence"), _, required=False),
            "note": c.text_field(values, "note", N_("Note"), _, required=False, max_length=2000),
        }
    elif step == "withdraw-contribution":
        body = {
            "contribution": values.get("contribution", ""),
            "reason": c.text_field(values, "reason", N_("Motif"), _, required=False, max_length=2000),
        }
    elif step == "apply":
        body = {
            "call": values.get("call", ""),
            "title": c.text_field(values, "title", N_("Titre"), _),
            "project": c.text_field(values, "project", N_("Projet"), _, max_length=5000),
            "amount": _money(values, "amount", N_("Montant demandé"), currency, _),
        }
    elif step == "received":
        body = {"distribution": values.get("distribution", "")}
    elif step == "receive-contribution":
        amount = c.cents_field(values, "amount", N_("Montant reçu"), _, currency=currency, required=False)
        body = {
            "contribution": values.get("contribution", ""),
            "amount": {"amount": amount, "currency": currency} if amount is not None else None,
            "reference": c.text_field(values, "reference", N_("Référence"), _, required=False),
        }
    elif step == "external":
        country = (values.get("country") or "").strip().upper() or None
        body = {
            "funder": c.text_field(values, "funder", N_("Financeur"), _),
            "amount": _money(values, "amount", N_("Montant"), currency, _),
            "reference": c.text_field(values, "reference", N_("Référence"), _),
            "public": bool(values.get("public")),
            "authorisation": c.text_field(values, "authorisation", N_("Autorisation"), _, required=False),
            "country": None if country == "FR" else country,
        }
    elif step == "open-call":
        title = c.text_field(values, "title", N_("Titre"), _)
        body = {
            "id": (values.get("id") or "").strip() or c.slug(title or "appel"),
            "title": title,
            "budget": _money(values, "budget", N_("Budget"), currency, _),
            "deadline": c.moment_field(
                values, "deadline", "deadline_time", N_("Date limite"), _, default_time=time(23, 59)
            ),
            "description": c.text_field(values, "description", N_("Description"), _, required=False, max_length=5000),
        }
    elif step == "close-call":
        body = {"call": values.get("call", "")}
    elif step == "distribute":
        body = {
            "application": values.get("application", ""),
            "amount": _money(values, "amount", N_("Montant"), currency, _),
            "reference": c.text_field(values, "reference", N_("Référence"), _),
        }
    else:  # release
        body = {
            "application": values.get("application", ""),
            "amount": _money(values, "amount", N_("Montant"), currency, _),
            "reason": c.text_field(values, "reason", N_("Motif"), _, max_length=2000),
        }
    return {k: v for k, v in body.items() if v is not None and v != ""}


def _currency(node: Node, federation_id: bytes) -> str:
    from .pages_federations import load

    state = load(node, federation_id)
    return (rules.currency_of(state) if state is not None else None) or "EUR"


async def fund_step(request: web.Request) -> web.StreamResponse:
    await require(request, MEMBER)
    fields = await form(request)
    federation_id = c.hex_id(request.match_info["federation_id"], request, _unknown)
    step = request.match_info["step"]
    if step not in STEPS:
        raise not_found(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    values = c.values_of(fields)
    try:
        currency = await node.run(_currency, node, federation_id)
        state, _event, _signed = await fund.step(node, federation_id, step, wire_form(step_body(step, values, currency, _)))
        if state.parties[F.SECRETARIAT] == node.node_id:
            await after_delivery(node, federation_id)  # the members hold it sooner
    except ProtocolError as exc:
        return await _show(
            request,
            federation_id,
            error=c.refusal_view(exc, _),
            failed=step,
            values=values,
            status=c.refusal_status(exc),
        )
    raise redirect(f"/federations/{federation_id.hex()}/fonds#grand-livre")


ROUTES = [
    web.get("/federations/{federation_id}/fonds", fund_page, name="fund"),
    web.post("/federations/{federation_id}/fonds/{step}", fund_step),
]

__all__ = ["ROUTES", "step_body"]
