"""Our catalogue (/catalogue): resources, offers and needs; add, edit, delete; CSV import; calendar feeds.

Readers see it; members and administrators change it. Publishing goes
through node/catalogue.py exactly as the local API does (same checks, same signing).
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from protocol import RECORD_TYPES, ProtocolError
from protocol.schema import parse

from storage import records, session

from .. import catalogue
from ..api import MAX_IMPORT_BYTES
from ..calendar_feeds import feed_urls
from ..runtime import NODE, Node
from ..wire import plain, wire_form
from . import auth
from .render import N_, TYPE_LABELS, bad_request, not_found, redirect, render, translator

KINDS = ("equipment", "vehicle", "space", "skill", "other")
DAYS = (N_("lundi"), N_("mardi"), N_("mercredi"), N_("jeudi"), N_("vendredi"), N_("samedi"), N_("dimanche"))
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


class FormError(ValueError):
    """A field the form cannot accept: ``message`` is a French msgid, translated when shown."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.values = values


def own_records(node: Node) -> list[dict[str, Any]]:
    with session(node.engine) as s:
        rows = [r for r in records.list_by_author(s, node.node_id) if r.rtype in catalogue.PUBLISHABLE_TYPES]
    return [{"id": r.record_id, "type": r.rtype, "public": r.public, "scope": r.scope, "issued_at": r.issued_at,
             "body": plain(records.body_of(r.envelope))} for r in rows]


def own_record(node: Node, record_id: str) -> dict[str, Any] | None:
    with session(node.engine) as s:
        row = records.get(s, node.node_id, record_id)
    if row is None or row.rtype not in catalogue.PUBLISHABLE_TYPES:
        return None
    return {"id": row.record_id, "type": row.rtype, "body": plain(records.body_of(row.envelope))}


async def catalogue_page(request: web.Request) -> web.Response:
    await auth.require(request, auth.READER)
    return await _listing(request)


async def _listing(request: web.Request, **extra: Any) -> web.Response:
    node = request.config_dict[NODE]
    items = await node.run(own_records, node)
    feeds = feed_urls(node, [i["id"] for i in items if i["type"] == "resource"])
    _ = translator(request)
    notice = {"added": _("Publié."), "saved": _("Enregistré."), "deleted": _("Supprimé.")}.get(
        request.query.get("fait", ""))
    values: dict[str, Any] = {"items": items, "feeds": feeds, "notice": notice, "import_result": None,
                              "can_edit": auth.has_role(request.get(auth.USER_KEY), auth.MEMBER), **extra}
    return render(request, "catalogue.html", **values)


# ---- the record form --------------------------------------------------------------------------


def _blank(rtype: str) -> dict[str, Any]:
    return {"id": "", "type": rtype, "body": {"kind": "equipment", "title": ""}}


def form_fields(item: dict[str, Any]) -> dict[str, Any]:
    """What the form's inputs show for a record."""
    body = item["body"]
    rules = body.get("availability") or {}
    hours = {day: ("", "") for day in range(1, 8)}
    for interval in rules.get("opening") or ():
        hours.setdefault(interval["day"], ("", ""))
        if hours[interval["day"]] == ("", ""):  # the form shows one interval a day
            hours[interval["day"]] = (interval["opens"], interval["closes"])
    location = body.get("location")
    return {
        "type": item["type"],
        "kind": body.get("kind", "other"),
        "title": body.get("title", ""),
        "description": body.get("description", ""),
        "quantity": body.get("quantity", ""),
        "unit": body.get("unit", ""),
        "lat": "" if not location else str(Decimal(location["lat"]).scaleb(-6).normalize()),
        "lon": "" if not location else str(Decimal(location["lon"]).scaleb(-6).normalize()),
        "private": body.get("visibility") == "private",
        "booking": rules.get("unit", ""),
        "stock": rules.get("stock", ""),
        "buffer": rules.get("buffer_minutes", ""),
        "hours": hours,
        "more_hours": sum(1 for _ in rules.get("opening") or ()) > sum(1 for h in hours.values() if h != ("", "")),
    }


def _text(data: MultiDictProxy[Any], name: str) -> str:
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _int(data: MultiDictProxy[Any], name: str, label: str, low: int, high: int) -> int | None:
    text = _text(data, name)
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise FormError(N_("%(field)s : un nombre entier est attendu."), field=label) from None
    if not low <= value <= high:
        raise FormError(N_("%(field)s : entre %(low)s et %(high)s."), field=label, low=low, high=high)
    return value


def _degrees(text: str, limit: int, label: str) -> int:
    try:
        value = int((Decimal(text.replace(",", ".")) * 1_000_000).to_integral_value())
    except InvalidOperation:
        raise FormError(N_("%(field)s : un nombre décimal est attendu (ex. 45,76)."), field=label) from None
    if not -limit <= value <= limit:
        raise FormError(N_("%(field)s : hors du globe."), field=label)
    return value


def body_from_form(data: MultiDictProxy[Any], rtype: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The record body the form describes; fields the form does not show are kept from ``previous``."""
    body: dict[str, Any] = dict(previous or {})
    for managed in ("kind", "title", "description", "quantity", "unit", "location", "visibility"):
        body.pop(managed, None)
    kind = _text(data, "kind")
    if kind not in KINDS:
        raise FormError(N_("Choisissez une catégorie."))
    body["kind"] = kind
    title = _text(data, "title")
    if not title:
        raise FormError(N_("Le titre est obligatoire."))
    if len(title) > 200:
        raise FormError(N_("%(field)s : %(max)s caractères au plus."), field=N_("Titre"), max=200)
    body["title"] = title
    description = _text(data, "description")
    if description:
        body["description"] = description
    quantity = _int(data, "quantity", N_("Quantité"), 1, 1_000_000_000)
    if quantity is not None:
        body["quantity"] = quantity
    unit = _text(data, "unit")
    if unit:
        body["unit"] = unit[:32]
    lat, lon = _text(data, "lat"), _text(data, "lon")
    if lat or lon:
        if not (lat and lon):
            raise FormError(N_("Donnez la latitude et la longitude, ou aucune des deux."))
        body["location"] = {"lat": _degrees(lat, 90_000_000, N_("Latitude")),
                            "lon": _degrees(lon, 180_000_000, N_("Longitude"))}
    if data.get("private"):
        body["visibility"] = "private"
        body.pop("federations", None)
    elif "federations" in body:  # the form does not edit federation scopes: the record keeps its own
        body["visibility"] = "federation"
    if rtype == "resource":
        availability = _availability(data, (previous or {}).get("availability"))
        body.pop("availability", None)
        if availability is not None:
            body["availability"] = availability
    return body


def _availability(data: MultiDictProxy[Any], previous: dict[str, Any] | None) -> dict[str, Any] | None:
    booking = _text(data, "booking")
    if booking not in ("day", "hour"):
        return None  # not bookable through agreements' calendar
    rules: dict[str, Any] = dict(previous or {})
    for managed in ("unit", "stock", "buffer_minutes", "opening"):
        rules.pop(managed, None)
    rules["unit"] = booking
    stock = _int(data, "stock", N_("Stock"), 1, 1_000_000_000)
    if stock is not None:
        rules["stock"] = stock
    buffer = _int(data, "buffer", N_("Battement entre deux prêts"), 0, 7 * 24 * 60)
    if buffer:
        rules["buffer_minutes"] = buffer
    opening = []
    for day in range(1, 8):
        opens, closes = _text(data, f"opens_{day}"), _text(data, f"closes_{day}")
        if not opens and not closes:
            continue
        if not (_TIME.match(opens) and _TIME.match(closes)) or opens == "24:00" or opens >= closes:
            raise FormError(N_("Horaires du %(day)s : ouverture et fermeture HH:MM, l'ouverture avant la fermeture."),
                            day=DAYS[day - 1])
        opening.append({"day": day, "opens": opens, "closes": closes})
    previous_opening = (previous or {}).get("opening") or []
    shown = {o["day"] for o in opening}
    if data.get("keep_more_hours"):  # extra intervals the simple form cannot show: kept as they were
        opening += [o for o in previous_opening if o["day"] in shown and o not in opening]
    if opening:
        rules["opening"] = sorted(opening, key=lambda o: (o["day"], o["opens"]))
    return rules


def _form_page(request: web.Request, item: dict[str, Any], fields: dict[str, Any], *, error: Any = None,
               status: int = 200) -> web.Response:
    what = translator(request)(TYPE_LABELS[item["type"]])
    return render(request, "record_form.html", item=item, f=fields, kinds=KINDS, days=DAYS, error=error,
                  what=what, status=status)


async def new_record(request: web.Request) -> web.Response:
    await auth.require(request, auth.MEMBER)
    rtype = request.query.get("type", "resource")
    if rtype not in catalogue.PUBLISHABLE_TYPES:
        rtype = "resource"
    item = _blank(rtype)
    return _form_page(request, item, form_fields(item))


def _unknown_record(request: web.Request) -> web.HTTPException:
    """The styled 404 page for a record that is not one of ours."""
    _ = translator(request)
    return not_found(request, _("Cette fiche n'existe pas dans notre catalogue."))


async def edit_record(request: web.Request) -> web.Response:
    await auth.require(request, auth.MEMBER)
    node = request.config_dict[NODE]
    item = await node.run(own_record, node, request.match_info["record_id"])
    if item is None:
        raise _unknown_record(request)
    return _form_page(request, item, form_fields(item))


async def save_record(request: web.Request) -> web.Response:
    """POST /catalogue (new) or /catalogue/{record_id}/modifier (new version of one of ours)."""
    await auth.require(request, auth.MEMBER)
    data = await auth.form(request)
    node = request.config_dict[NODE]
    record_id = request.match_info.get("record_id")
    if record_id is None:
        rtype = _text(data, "type")
        if rtype not in catalogue.PUBLISHABLE_TYPES:
            _ = translator(request)
            raise bad_request(request, _("Type de fiche inconnu."))
        item: dict[str, Any] = {"id": "", "type": rtype, "body": {}}
    else:
        found = await node.run(own_record, node, record_id)
        if found is None:
            raise _unknown_record(request)
        item = found
    _ = translator(request)
    try:
        body = body_from_form(data, item["type"], item["body"] or None)
        body = {"id": record_id or f"r-{secrets.token_hex(6)}", **{k: v for k, v in body.items() if k != "id"}}
        parse(RECORD_TYPES[item["type"]], wire_form(body))
        record = await node.run(catalogue.publish, node.engine, node.key, item["type"], body)
    except FormError as exc:
        error = _(exc.message, **{k: _(v) if isinstance(v, str) else v for k, v in exc.values.items()})
        return _form_page(request, item, _echo(data, item), error=error, status=400)
    except ProtocolError as exc:
        error = _("Refusé : %(reason)s", reason=exc.message)
        return _form_page(request, item, _echo(data, item), error=error, status=400)
    node.push_soon([record])
    raise redirect("/catalogue?fait=" + ("saved" if record_id else "added"))


def _echo(data: MultiDictProxy[Any], item: dict[str, Any]) -> dict[str, Any]:
    """The form as it was sent, to show it again with its error."""
    fields = form_fields(item)
    for name in ("kind", "title", "description", "quantity", "unit", "lat", "lon", "booking", "stock", "buffer"):
        fields[name] = _text(data, name)
    fields["private"] = bool(data.get("private"))
    fields["hours"] = {day: (_text(data, f"opens_{day}"), _text(data, f"closes_{day}")) for day in range(1, 8)}
    return fields


async def delete_record(request: web.Request) -> web.Response:
    await auth.require(request, auth.MEMBER)
    await auth.form(request)
    node = request.config_dict[NODE]
    try:
        record = await node.run(catalogue.delete, node.engine, node.key, request.match_info["record_id"])
    except ProtocolError:
        raise _unknown_record(request) from None
    node.push_soon([record])
    raise redirect("/catalogue?fait=deleted")


async def import_csv(request: web.Request) -> web.Response:
    """Publish an inventory spreadsheet; every refused row is listed with its line number."""
    from ..inventory import parse_inventory

    await auth.require(request, auth.MEMBER)
    data = await auth.form(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    upload = data.get("file")
    content = upload.file.read(MAX_IMPORT_BYTES + 1) if isinstance(upload, web.FileField) else b""
    if not content:
        return await _listing(request, import_result={"error": _("Choisissez un fichier CSV.")}, status=400)
    result = parse_inventory(content)
    batch = await node.run(catalogue.publish_many, node.engine, node.key, "resource", result.bodies)
    node.push_soon(batch.published)
    errors = [{"line": e.line, "reason": e.reason} for e in result.errors]
    errors += [{"line": result.lines[index], "reason": reason} for index, reason in batch.refused]
    summary = {"published": len(batch.published), "unchanged": len(batch.unchanged),
               "errors": sorted(errors, key=lambda e: e["line"]), "error": None}
    return await _listing(request, import_result=summary, status=400 if errors and not batch.published else 200)


ROUTES: list[web.RouteDef] = [
    web.get("/catalogue", catalogue_page),
    web.post("/catalogue", save_record),
    web.get("/catalogue/nouveau", new_record),
    web.post("/catalogue/import", import_csv),
    web.get("/catalogue/{record_id}/modifier", edit_record),
    web.post("/catalogue/{record_id}/modifier", save_record),
    web.post("/catalogue/{record_id}/supprimer", delete_record),
]
