"""The home page: what waits for our answer, the loans coming up, what is new in the federation."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import col, select

from protocol.agreements.loan import BORROWER, OWNER

from storage import agreements as stored
from storage import records, session
from storage.models import CatalogueRecord

from ..agreements import load_state, summary
from ..clock import now_ms
from ..runtime import NODE, Node
from . import auth, pages_campaigns, pages_federations
from .pages_agreements import period_view
from .render import render

NEWS = 12
UPCOMING_STATES = ("sealed", "in_custody")


def our_turn(item: dict[str, Any]) -> bool:
    """An agreement waiting for us: a request made to us, or an offer made to our request."""
    return (item["state"] == "requested" and item["role"] == OWNER) or (
        item["state"] == "offered" and item["role"] == BORROWER)


def overview(node: Node) -> dict[str, Any]:
    now = now_ms()
    with session(node.engine) as s:
        rows = stored.listing(s)
        items = [summary(row, load_state(s, row.id), now) for row in rows]
        news = list(s.exec(
            select(CatalogueRecord)
            .where(CatalogueRecord.author != node.node_id,
                   col(CatalogueRecord.rtype).in_(("resource", "offer", "need")))
            .order_by(col(CatalogueRecord.seq).desc())
            .limit(NEWS)
        ))
        names = records.author_names(s, [i["counterpart"] for i in items] + [r.author for r in news])
    for item in items:
        item["counterpart_name"] = names.get(item["counterpart"], item["counterpart"][:8])
        period = (item.get("terms") or {}).get("period") or {}
        item["start"], item["end"] = period.get("start"), period.get("end")
        item["period_view"] = period_view(period)  # whole days read "du 1 au 2 déc.", not midnight to midnight
    upcoming = sorted(
        (i for i in items if i["state"] in UPCOMING_STATES and i["end"] is not None and i["end"] > now),
        key=lambda i: i["start"] or 0,
    )
    fresh = [
        {"author": r.author, "association": names.get(r.author, r.author[:8]), "id": r.record_id, "type": r.rtype,
         "kind": r.kind, "title": r.title, "received_ms": r.received_ms}
        for r in news
    ]
    return {"waiting": [i for i in items if our_turn(i)], "upcoming": upcoming, "news": fresh,
            "campaigns_waiting": pages_campaigns.waiting(node), "federations_waiting": pages_federations.waiting(node)}


async def home(request: web.Request) -> web.Response:
    await auth.require(request, auth.READER)
    node = request.config_dict[NODE]
    data = await node.run(overview, node)
    return render(request, "home.html", association=node.config.name, **data)


ROUTES: list[web.RouteDef] = [web.get("/", home)]
