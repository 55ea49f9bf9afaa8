"""Searching the federation (/chercher) and asking for a resource (/chercher/demander).

The search reads the catalogue replicated on this node (records.search, as
the local API does); with dates, each owner is asked whether its resources
are free (node/availability_search.py): an owner that does not answer in time
leaves its resources marked « disponibilité inconnue », never dropped. The map
is a list of places that static/map.js turns into a map when JavaScript runs;
tiles come only from a tile server the operator configured (``tile_url``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from protocol import InvalidMessage, ProtocolError, TooLarge, is_node_id
from storage import records, session

from .. import agreements, catalogue
from ..agreements_api import (
    ZERO_EUR,
    after_delivery,
    _default_expiry,
    _resource_timezone,
)
from ..api import _only_free, parse_near
from ..clock import now_ms
from ..runtime import NODE, Node
from .auth import MEMBER, READER, form, has_role, require
from .pages_agreements import (
    PARIS,
    error_view,
    local_inputs,
    names_of,
    period_from_form,
    period_view,
)
from .render import not_found, redirect, render, translator

KINDS = ("equipment", "vehicle", "space", "skill", "other")
LIMIT = 50
MAX_QUERY = 200


def degrees(micro: int) -> str:
    """Micro-degrees as decimal degrees text, exactly (no float)."""
    return str((Decimal(micro) / 1_000_000).normalize()) if micro else "0"


def _point_text(point: tuple[int, int] | None) -> str:
    return "" if point is None else f"{degrees(point[0])},{degrees(point[1])}"


def tile_url(node: Node) -> str:
    """The operator's tile server (``{z}/{x}/{y}`` template), or "" for a map without tiles."""
    url = node.config.tile_url
    return url if urlsplit(url).scheme in ("https", "http") else ""


# ---- the search ------------------------------------------------------------------------------


def _criteria(node: Node, query: Mapping[str, str]) -> dict[str, Any]:
    """The form's values as typed (to show them back), and what they mean (or InvalidMessage)."""
    shown = {name: query.get(name, "") for name in ("q", "type", "du", "au", "heure_du", "heure_au", "quantite", "km")}
    shown["pres_de"] = query["pres_de"] if "pres_de" in query else _point_text(node.config.location)
    if not shown["quantite"]:
        shown["quantite"] = "1"
    return shown


def _parse(shown: Mapping[str, str]) -> dict[str, Any]:
    text = shown["q"].strip()
    if len(text) > MAX_QUERY:
        raise TooLarge(f"query longer than {MAX_QUERY} characters")
    kind = shown["type"] if shown["type"] in KINDS else None
    near = parse_near(shown["pres_de"]) if shown["pres_de"].strip() else None
    km = None
    if shown["km"].strip():
        try:
            km = float(Decimal(shown["km"].strip().replace(",", ".")))
        except ArithmeticError:
            raise InvalidMessage("km: a distance in kilometres", field="km") from None
        if not 0 < km <= 20_000:
            raise InvalidMessage("km: a distance in kilometres", field="km")
        if near is None:
            raise InvalidMessage("km: give a point to measure from (near)", field="pres_de")
    free = None
    if shown["du"].strip() or shown["au"].strip():
        period = period_from_form(shown, PARIS)
        try:
            quantity = int(shown["quantite"])
        except ValueError:
            raise InvalidMessage("quantity: a whole number", field="quantite") from None
        if quantity < 1:
            raise InvalidMessage("quantity: at least 1", field="quantite")
        free = (period["start"], period["end"], quantity)
    return {"text": text, "kind": kind, "near": near, "km": km, "free": free}


def _result_view(hit: dict[str, Any], asked: bool) -> dict[str, Any]:
    body = hit["body"]
    location = body.get("location") or None
    view = {
        **hit,
        "title": body.get("title") or hit["id"],
        "kind": body.get("kind", ""),
        "description": body.get("description") or "",
        "quantity": body.get("quantity"),
        "availability": ("free" if hit.get("available") else "unknown") if asked else None,
        "distance": None if hit["distance_km"] is None else round(Decimal(hit["distance_km"]), 1),
        "lat": degrees(location["lat"]) if location else None,
        "lon": degrees(location["lon"]) if location else None,
    }
    return view


async def search_page(request: web.Request) -> web.Response:
    user = await require(request, READER)
    node = request.config_dict[NODE]
    shown = _criteria(node, request.query)
    error = None
    results: list[dict[str, Any]] = []
    asked = False
    try:
        wanted = _parse(shown)
        found = await node.run(
            catalogue.search, node.engine, node.node_id, wanted["text"], wanted["kind"], wanted["near"], wanted["km"], LIMIT
        )
        if wanted["free"] is not None:
            asked = True
            found = await _only_free(node, found, *wanted["free"])
        results = [_result_view(hit, asked) for hit in found]
    except ProtocolError as exc:
        error = error_view(exc)
    tiles = tile_url(node)
    points = [
        {"lat": r["lat"], "lon": r["lon"], "title": r["title"], "association": r["association"],
         "href": f"#resultat-{i}"}
        for i, r in enumerate(results, 1) if r["lat"] is not None
    ]
    center = _point_text(node.config.location)
    response = render(
        request,
        "search.html",
        mode="search",
        criteria=shown,
        kinds=KINDS,
        results=results,
        asked=asked,
        error=error,
        searched=bool(request.query),
        points=points,
        points_json=json.dumps(points, ensure_ascii=False),
        center=shown["pres_de"] or center,
        tiles=tiles,
        can_ask=has_role(user, MEMBER),
        status=400 if error else 200,
    )
    if tiles:  # the tiles come from the operator's server: let the page load them
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(tiles))
        policy = response.headers.get("Content-Security-Policy", "default-src 'self'")
        response.headers["Content-Security-Policy"] = f"{policy}; img-src 'self' {origin}"
    return response


# ---- asking for a resource -------------------------------------------------------------------


def _resource(node: Node, owner: str, resource: str) -> dict[str, Any] | None:
    """A resource of another association from our replicated catalogue, with what the form needs."""
    with session(node.engine) as s:
        held = records.get(s, owner, resource)
        if held is None or held.rtype != "resource":
            return None
        body = records.body_of(held.envelope)
        names = names_of(node, s, [owner])
    rules = body.get("availability") or {}
    return {
        "owner": owner,
        "association": names.get(owner, ""),
        "id": resource,
        "title": body.get("title") or resource,
        "description": body.get("description") or "",
        "conditions": body.get("conditions") or "",
        "quantity": body.get("quantity"),
        "stock": rules.get("stock") or body.get("quantity") or 1,
        "unit": rules.get("unit", "day"),
        "timezone": _resource_timezone(node, owner, resource),
        "own": owner == node.node_id,
    }


def _initial_values(query: Mapping[str, str], timezone: str) -> dict[str, str]:
    """The form's first values: dates typed in the search, or a free slot (``debut``/``fin`` in ms)."""
    values = {name: query.get(name, "") for name in ("du", "au", "heure_du", "heure_au", "quantite", "objet")}
    try:
        start, end = int(query.get("debut", "")), int(query.get("fin", ""))
    except ValueError:
        start = end = 0
    if 0 < start < end < 2**53:
        values["du"], values["heure_du"] = local_inputs(start, timezone)
        values["au"], values["heure_au"] = local_inputs(end, timezone)
        view = period_view({"start": start, "end": end}, timezone)
        if view and view["whole_days"]:
            values["au"] = local_inputs(view["last_day"], timezone)[0]
            values["heure_du"] = values["heure_au"] = ""
    values["quantite"] = values["quantite"] or "1"
    return values


async def _load(request: web.Request, owner: str, resource: str) -> dict[str, Any]:
    node = request.config_dict[NODE]
    _ = translator(request)
    unknown = _("Cette ressource n'est pas (ou plus) dans la fédération.")
    if not is_node_id(owner) or not resource or len(resource) > 64:
        raise not_found(request, unknown)
    found = await node.run(_resource, node, owner, resource)
    if found is None:
        raise not_found(request, unknown)
    return found


async def request_form(request: web.Request) -> web.Response:
    user = await require(request, READER)
    found = await _load(request, request.query.get("proprietaire", ""), request.query.get("ressource", ""))
    values = _initial_values(request.query, found["timezone"])
    return render(request, "search.html", mode="request", r=found, values=values, error=None,
                  can_ask=has_role(user, MEMBER))


def _terms(found: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    period = period_from_form(values, found["timezone"])
    try:
        quantity = int(values.get("quantite") or "1")
    except ValueError:
        raise InvalidMessage("quantity: a whole number", field="quantite") from None
    terms: dict[str, Any] = {
        "resource": found["id"],
        "period": period,
        "quantity": quantity,
        "fee": ZERO_EUR,
        "deposit": ZERO_EUR,
        "expires": _default_expiry(now_ms(), period["start"]),
    }
    purpose = values.get("objet", "").strip()
    if purpose:
        terms["purpose"] = purpose
    return terms


async def send_request(request: web.Request) -> web.StreamResponse:
    """Open the loan (signed, queued for the owner), wait briefly for its answer, show the agreement."""
    await require(request, MEMBER)
    fields = await form(request)
    values = {k: v.strip() for k, v in fields.items() if isinstance(v, str) and k != "csrf_token"}
    found = await _load(request, values.get("proprietaire", ""), values.get("ressource", ""))
    node = request.config_dict[NODE]
    try:
        if found["own"]:
            raise InvalidMessage("a node cannot borrow from itself")
        progress = await agreements.open_loan(node, found["owner"], _terms(found, values))
    except ProtocolError as exc:
        status = exc.http_status if 400 <= exc.http_status < 500 else 409
        return render(request, "search.html", mode="request", r=found, values=values, error=error_view(exc),
                      can_ask=True, status=status)
    await after_delivery(node, progress.state.id)
    raise redirect(f"/accords/{progress.state.id.hex()}")


ROUTES = [
    web.get("/chercher", search_page, name="search"),
    web.get("/chercher/demander", request_form, name="search_request"),
    web.post("/chercher/demander", send_request),
]

__all__ = ["ROUTES", "degrees", "tile_url"]
