"""Agreement pages: the list (/accords) and one agreement (/accords/{id}) with its signed timeline.

Reading needs any account; acting (offer, accept, handover …) needs a member.
Every step goes through the same node functions as the local API
(node/agreements.py, node/agreements_api.py): signed, committed, then handed
to the outbox. The page replays the chain from the database and checks every
signature again, with the key each event was valid under, before it says
« signatures vérifiées ».
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from protocol import InvalidMessage, ProtocolError, open_envelope
from protocol.envelope import stored_envelope
from protocol.agreements import AgreementState, kind_of, replay
from protocol.agreements.loan import BORROWER, OWNER
from protocol.agreements.machine import Step
from protocol.availability import day_period, local_period
from storage import agreements as stored
from storage import records, session

from .. import agreements
from ..agreements_api import (
    after_delivery,
    _default_expiry,
    _resource_timezone,
    _step_data,
)
from ..clock import now_ms
from ..runtime import NODE, Node
from ..wire import agreement_id_from_hex, plain
from .auth import MEMBER, READER, current_user, form, has_role, require
from .render import not_found, redirect, render, translator

PARIS = "Europe/Paris"
# The order actions are offered on a page (the machine's table decides which are allowed now).
ACTION_ORDER = ("accept", "offer", "counter", "decline", "withdraw", "handover", "return", "incident", "cancel", "close")
PENDING = ("requested", "offered")


# ---- small parsers shared with the search page ---------------------------------------------------


def parse_money(text: str, currency: str = "EUR", *, field: str) -> dict[str, Any]:
    """« 12,50 » or « 12.5 » (units) → {"amount": 1250, "currency": "EUR"}; empty is zero."""
    text = (text or "").strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    text = text.removesuffix("€")
    if not text:
        return {"amount": 0, "currency": currency}
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidMessage(f"{field}: an amount such as 12,50", field=field) from None
    cents = value * 100
    if not value.is_finite() or value < 0 or cents != cents.to_integral_value() or cents > 10**15:
        raise InvalidMessage(f"{field}: a positive amount with at most two decimals", field=field)
    return {"amount": int(cents), "currency": currency}


def money_input(money: Mapping[str, Any] | None) -> str:
    """Cents as the text an input shows back (« 12,50 », « 0 »)."""
    if not money:
        return ""
    units, cents = divmod(int(money.get("amount", 0)), 100)
    return f"{units},{cents:02d}" if cents else str(units)


def parse_date(text: str, *, field: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidMessage(f"{field}: a date (YYYY-MM-DD)", field=field) from None


def parse_time(text: str, *, field: str) -> time | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidMessage(f"{field}: a time (HH:MM)", field=field) from None


def period_from_form(data: Mapping[str, str], timezone: str, *, prefix: str = "") -> dict[str, int]:
    """Dates ``du``/``au`` (whole local days, inclusive) or, with ``heure_du``/``heure_au``, local times."""
    first = parse_date(data.get(f"{prefix}du", ""), field="du")
    last = parse_date(data.get(f"{prefix}au", "") or data.get(f"{prefix}du", ""), field="au")
    start_time = parse_time(data.get(f"{prefix}heure_du", ""), field="heure_du")
    end_time = parse_time(data.get(f"{prefix}heure_au", ""), field="heure_au")
    if start_time is None and end_time is None:
        return day_period(first, last, timezone).to_wire()
    if start_time is None or end_time is None:
        raise InvalidMessage("heure_du, heure_au: give both times, or neither for whole days")
    return local_period(datetime.combine(first, start_time), datetime.combine(last, end_time), timezone).to_wire()


def local_inputs(ms: int, timezone: str) -> tuple[str, str]:
    """(date, time) of an instant in a zone, as date and time inputs show them."""
    moment = datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone))
    return moment.date().isoformat(), moment.strftime("%H:%M")


def period_view(period: Mapping[str, Any] | None, timezone: str = PARIS) -> dict[str, Any] | None:
    """A period as the templates show it: whole days (last day inclusive) or start and end instants."""
    if not period:
        return None
    start, end = int(period["start"]), int(period["end"])
    zone = ZoneInfo(timezone)
    first, last = (datetime.fromtimestamp(v / 1000, zone) for v in (start, end))
    whole_days = first.time() == time(0) and last.time() == time(0)
    last_day_ms = end - 1 if whole_days else end
    return {"start": start, "end": end, "whole_days": whole_days, "last_day": last_day_ms,
            "same_day": datetime.fromtimestamp(last_day_ms / 1000, zone).date() == first.date()}


def error_view(exc: ProtocolError) -> dict[str, Any]:
    """A refusal as the templates show it (its code is translated there; the message stays as said)."""
    details = plain(exc.details) if exc.details else {}
    return {"code": exc.code, "message": exc.message, "details": details}


def names_of(node: Node, s: Any, node_ids: Any) -> dict[str, str]:
    """Association names (ours from the config), from the signed descriptors we hold."""
    names = records.author_names(s, node_ids)
    names[node.node_id] = node.config.name or names.get(node.node_id, "")
    return names


def agreement_id_of(text: str, request: web.Request | None = None) -> bytes:
    try:
        return agreement_id_from_hex(text)
    except InvalidMessage:
        raise (_unknown_agreement(request) if request is not None else web.HTTPNotFound()) from None


def _unknown_agreement(request: web.Request) -> web.HTTPException:
    """The styled 404 page for an agreement this node does not hold."""
    _ = translator(request)
    return not_found(request, _("Aucun accord de ce nœud ne porte cet identifiant."))


# ---- reading -------------------------------------------------------------------------------------


def your_turn(state: AgreementState | None, our_role: str, shown_state: str) -> str | None:
    """``"answer"`` when a proposal awaits our answer, ``"close"`` when the other party closed, else None."""
    if state is None:
        return None
    if shown_state in PENDING and state.proposal is not None and state.proposal.proposer != our_role:
        return "answer"
    if shown_state == "closing" and our_role not in state.facts.get("ratings", {}):
        return "close"
    return None


def _listing(node: Node) -> dict[str, Any]:
    now = now_ms()
    with session(node.engine) as s:
        rows = stored.listing(s)
        states = {row.id: agreements.load_state(s, row.id) for row in rows}
        names = names_of(node, s, [row.counterpart for row in rows])
    items = []
    for row in rows:
        state = states[row.id]
        summary = agreements.summary(row, state, now)
        terms = summary.get("terms") or {}
        items.append({
            **summary,
            "counterpart_name": names.get(row.counterpart, ""),
            "period": period_view(terms.get("period")),
            "quantity": terms.get("quantity"),
            "your_turn": your_turn(state, row.our_role, summary["state"]),
        })
    return {
        "incoming": [i for i in items if i["role"] == OWNER],
        "outgoing": [i for i in items if i["role"] == BORROWER],
        "to_answer": sum(1 for i in items if i["your_turn"]),
    }


@dataclass(frozen=True, slots=True)
class Verification:
    """The chain checked again from the database: every signature, the replay, the seal."""

    ok: bool
    events: int
    sealed: bool
    error: dict[str, Any] | None = None  # {"seq", "code", "message"} of the first thing that does not hold


def verify_chain(node: Node, raws: list[bytes]) -> Verification:
    """Each event's signature with the key valid at its date, the chain through the machine, the seal."""
    opened = []
    for seq, raw in enumerate(raws):
        try:
            opened.append(open_envelope(raw, keys=node.keyring))
        except ProtocolError as exc:
            return Verification(False, len(raws), False, {"seq": seq, "code": exc.code, "message": exc.message})
    try:
        state = replay(opened, open_statement=lambda raw: open_envelope(raw, keys=node.keyring))
    except ProtocolError as exc:
        return Verification(False, len(raws), False, {"seq": None, "code": exc.code, "message": exc.message})
    if state.sealed is not None:
        try:
            document = state.sealed.verify(node.keyring)
        except ProtocolError as exc:
            return Verification(False, len(raws), True, {"seq": None, "code": exc.code, "message": exc.message})
        if document.id != state.id or dict(document.parties) != dict(state.parties):
            message = "the sealed document names another agreement or other parties"
            return Verification(False, len(raws), True, {"seq": None, "code": "bad-seal", "message": message})
    return Verification(True, len(raws), state.sealed is not None)


def allowed_actions(state: AgreementState | None, our_role: str, shown_state: str) -> list[str]:
    """The steps the machine's table lets our role take now (lapsed proposals can only be declined or withdrawn)."""
    if state is None or shown_state == "refused":
        return []
    kind = kind_of(state.kind)
    allowed = set()
    for (name, action), transition in kind.table.items():
        if name != state.name or our_role not in transition.roles:
            continue
        if transition.step is not Step.RECORD and shown_state == "expired":
            continue
        if transition.step is Step.ACCEPT and (state.proposal is None or state.proposal.proposer == our_role):
            continue
        if action == "close" and our_role in state.facts.get("ratings", {}):
            continue
        allowed.add(action)
    return [a for a in ACTION_ORDER if a in allowed]


def _event_view(event: Any, names: Mapping[str, str], parties: Mapping[str, str], node: Node) -> dict[str, Any]:
    body = event.body
    issuer = event.issuer
    role = next((r for r, n in parties.items() if n == issuer), None)
    data = plain(body.get("data") or {})
    terms = data.get("terms") if isinstance(data, dict) else None
    return {
        "seq": body["seq"],
        "action": body["action"],
        "issuer": issuer,
        "issuer_name": names.get(issuer, ""),
        "ours": issuer == node.node_id,
        "role": role,
        "issued_at": event.issued_at,
        "issued_iso": datetime.fromtimestamp(event.issued_at / 1000, UTC).isoformat(timespec="seconds"),
        "message_id": event.message_id.hex(),
        "data": data,
        "terms": _terms_view(terms) if terms else None,
    }


def _terms_view(terms: Mapping[str, Any], timezone: str = PARIS) -> dict[str, Any]:
    view = dict(terms)
    view["period_view"] = period_view(terms.get("period"), timezone)
    return view


def _detail(node: Node, agreement_id: bytes) -> dict[str, Any] | None:
    """Everything the agreement page shows, read in one go."""
    now = now_ms()
    with session(node.engine) as s:
        row = stored.get(s, agreement_id)
        if row is None:
            return None
        raws = stored.chain(s, agreement_id)
        pending = stored.pending_count(s, agreement_id)
        parties: dict[str, str] = json.loads(row.parties)
        names = names_of(node, s, parties.values())
    chain = agreements.open_chain(raws)
    state = replay(chain, open_statement=stored_envelope) if chain else None
    summary = agreements.summary(row, state, now)
    owner = parties.get(OWNER, "")
    timezone = _resource_timezone(node, owner, row.resource) if row.resource else PARIS
    terms = summary.get("terms")
    facts = plain(state.facts) if state is not None else {}
    proposal = None
    if state is not None and state.proposal is not None:
        proposal = {"proposer": state.proposal.proposer, "expires": state.proposal.expires}
    refusal = summary.get("refusal")
    if refusal:
        free = (refusal.get("details") or {}).get("free") or []
        refusal = {**refusal, "free": [period_view(p, timezone) for p in free if isinstance(p, Mapping)]}
    return {
        "id": row.id.hex(),
        "row": summary,
        "state": summary["state"],
        "role": row.our_role,
        "parties": parties,
        "names": names,
        "counterpart": row.counterpart,
        "counterpart_name": names.get(row.counterpart, ""),
        "resource": row.resource,
        "title": row.title,
        "timezone": timezone,
        "terms": _terms_view(terms, timezone) if terms else None,
        "proposal": proposal,
        "sealed": state is not None and state.sealed is not None,
        "facts": facts,
        "ratings": facts.get("ratings") or {},
        "refusal": refusal,
        "pending_deliveries": pending,
        "events": [_event_view(e, names, parties, node) for e in chain],
        "verification": verify_chain(node, raws),
        "actions": allowed_actions(state, row.our_role, summary["state"]),
        "your_turn": your_turn(state, row.our_role, summary["state"]),
        "inputs": _inputs(terms or {}, timezone),
    }


def _inputs(terms: Mapping[str, Any], timezone: str) -> dict[str, str]:
    """The current terms as the offer/counter form shows them."""
    pickup = terms.get("pickup") or {}
    day, hour = local_inputs(int(pickup["at"]), timezone) if pickup.get("at") is not None else ("", "")
    return {
        "fee": money_input(terms.get("fee")),
        "deposit": money_input(terms.get("deposit")),
        "conditions": terms.get("conditions") or "",
        "pickup_place": pickup.get("place") or "",
        "pickup_day": day,
        "pickup_time": hour,
        "currency": (terms.get("deposit") or terms.get("fee") or {}).get("currency", "EUR"),
    }


# ---- acting --------------------------------------------------------------------------------------


def _propose_data(node: Node, agreement_id: bytes, fields: Mapping[str, str]) -> dict[str, Any]:
    """An offer or counter-offer: the terms on the table with the form's fee, deposit, conditions and pickup."""
    with session(node.engine) as s:
        state = agreements.load_state(s, agreement_id)
        row = stored.get(s, agreement_id)
    if state is None or row is None or state.terms is None:
        raise InvalidMessage("no such agreement here", agreement=agreement_id.hex())
    terms = dict(state.terms.to_wire())
    currency = terms["fee"]["currency"]
    terms["fee"] = parse_money(fields.get("fee", ""), currency, field="fee")
    terms["deposit"] = parse_money(fields.get("deposit", ""), terms["deposit"]["currency"], field="deposit")
    conditions = fields.get("conditions", "").strip()
    if conditions:
        terms["conditions"] = conditions
    else:
        terms.pop("conditions", None)
    place = fields.get("pickup_place", "").strip()
    day = fields.get("pickup_day", "").strip()
    if place or day:
        if not (place and day):
            raise InvalidMessage("pickup: give the place and the day (and time)", field="pickup")
        timezone = _resource_timezone(node, state.parties[OWNER], state.terms.resource)
        at = parse_time(fields.get("pickup_time", ""), field="pickup_time") or time(0)
        moment = datetime.combine(parse_date(day, field="pickup_day"), at)
        terms["pickup"] = {"place": place, "at": local_period(moment, moment + timedelta(minutes=1), timezone).start}
    else:
        terms.pop("pickup", None)
    terms["expires"] = _default_expiry(now_ms(), terms["period"]["start"])
    return {"terms": terms}


def form_body(action: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """The event data a step's form asks for (validated by the agreement machine when signed)."""
    text = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    if action in ("decline", "cancel"):
        return {"reason": text.get("reason", "")}
    if action == "withdraw":
        return {"reason": text["reason"]} if text.get("reason") else {}
    if action in ("handover", "return"):
        return {"condition": text.get("condition", "")}
    if action == "incident":
        return {
            "kind": text.get("incident_kind", ""),
            "description": text.get("description", ""),
            "deposit_kept": parse_money(text.get("deposit_kept", ""), text.get("currency") or "EUR", field="deposit_kept"),
            "reason": text.get("reason", ""),
        }
    if action == "close":
        try:
            rating = int(text.get("rating", ""))
        except ValueError:
            raise InvalidMessage("rating: a mark from 1 to 5", field="rating") from None
        body: dict[str, Any] = {"rating": rating}
        if text.get("comment"):
            body["comment"] = text["comment"]
        return body
    return {}


async def agreements_page(request: web.Request) -> web.Response:
    await require(request, READER)
    node = request.config_dict[NODE]
    listing = await node.run(_listing, node)
    return render(request, "agreements.html", **listing)


async def agreement_page(request: web.Request) -> web.Response:
    await require(request, READER)
    return await _show(request, agreement_id_of(request.match_info["agreement_id"], request))


async def _show(request: web.Request, agreement_id: bytes, *, error: dict[str, Any] | None = None,
                failed: str | None = None, values: Mapping[str, str] | None = None, status: int = 200) -> web.Response:
    node = request.config_dict[NODE]
    detail = await node.run(_detail, node, agreement_id)
    if detail is None:
        raise _unknown_agreement(request)
    user = await current_user(request)
    return render(request, "agreement.html", a=detail, error=error, failed=failed, values=dict(values or {}),
                  can_act=has_role(user, MEMBER), status=status)


async def take_action(request: web.Request) -> web.StreamResponse:
    """One step from a form (POST, CSRF checked, members only); back to the page, or the page with the refusal."""
    await require(request, MEMBER)
    fields = await form(request)
    agreement_id = agreement_id_of(request.match_info["agreement_id"], request)
    action = request.match_info["action"]
    if action not in ACTION_ORDER:
        raise not_found(request)
    node = request.config_dict[NODE]
    values = {k: v for k, v in fields.items() if k != "csrf_token" and isinstance(v, str)}
    try:
        if kind_of("loan").steps.get(action) is Step.PROPOSE:
            data = await node.run(_propose_data, node, agreement_id, values)
        else:
            data = await node.run(_step_data, node, agreement_id, action, form_body(action, values))
        await agreements.take_step(node, agreement_id, action, data)
    except ProtocolError as exc:
        status = exc.http_status if 400 <= exc.http_status < 500 else 409
        return await _show(request, agreement_id, error=error_view(exc), failed=action, values=values, status=status)
    await after_delivery(node, agreement_id)
    raise redirect(f"/accords/{agreement_id.hex()}#chronologie")


ROUTES = [
    web.get("/accords", agreements_page, name="agreements"),
    web.get("/accords/{agreement_id}", agreement_page, name="agreement"),
    web.post("/accords/{agreement_id}/{action}", take_action),
]

__all__ = ["ROUTES", "allowed_actions", "parse_money", "period_from_form", "verify_chain", "your_turn"]
