"""Calendar feeds served to calendar applications: the node's loans as iCalendar, by secret URL.

Calendar applications subscribe by URL and cannot send our API token, so a
feed URL carries its own secret, derived from the API token: anyone given the
URL can read the calendar, and replacing the API token revokes every feed URL.
The API (GET /api/v1/calendars, with the token) tells operators the URLs.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from aiohttp import web

from protocol.agreements import effective_state
from protocol.agreements.loan import HOLDING_STATES, OWNER

from storage import agreements as stored
from storage import records, session

from .agreements import load_state
from .clock import now_ms
from .runtime import NODE, Node

if TYPE_CHECKING:
    from .ical import CalendarEntry

FEED_PREFIX = "/ical"
CONTENT_TYPE = "text/calendar"


def feed_secret(api_token: str) -> str:
    return hmac.new(api_token.encode(), b"maillage calendar feed", hashlib.sha256).hexdigest()[:32]


def feed_urls(node: Node, resources: list[str]) -> dict[str, Any]:
    base = f"{node.config.advertised_url}{FEED_PREFIX}/{feed_secret(node.token)}"
    return {"node": f"{base}/calendar.ics", "resources": {r: f"{base}/resources/{r}.ics" for r in resources}}


def entries(node: Node, resource: str | None = None) -> list[CalendarEntry]:
    """Our loans that hold a slot now: offers awaiting an answer, sealed and ongoing loans."""
    from .ical import CalendarEntry  # icalendar is loaded when a calendar is first asked for, not at start

    now = now_ms()
    found: list[CalendarEntry] = []
    with session(node.engine) as s:
        rows = [r for r in stored.listing(s, limit=5000) if r.state in HOLDING_STATES]
        names = records.author_names(s, [r.counterpart for r in rows])
        for row in rows:
            state = load_state(s, row.id)
            if state is None or effective_state(state, now) not in HOLDING_STATES or state.terms is None:
                continue
            terms = state.terms
            if resource is not None and (row.our_role != OWNER or terms.resource != resource):
                continue
            found.append(
                CalendarEntry(
                    uid_seed=row.id,
                    resource_id=terms.resource,
                    title=row.title or terms.resource,
                    start_ms=terms.period.start,
                    end_ms=terms.period.end,
                    quantity=terms.quantity,
                    state=state.name,
                    counterpart_name=names.get(row.counterpart, row.counterpart[:8]),
                    role=row.our_role,
                    pickup_place=terms.pickup.place if terms.pickup is not None else None,
                    updated_ms=row.updated_ms,
                    sequence=state.seq,
                )
            )
    return found


async def _feed(request: web.Request, resource: str | None) -> web.Response:
    node = request.config_dict[NODE]
    if not hmac.compare_digest(request.match_info["secret"], feed_secret(node.token)):
        raise web.HTTPNotFound()
    name = node.config.name or node.node_id[:8]
    found = await node.run(entries, node, resource)
    title = name if resource is None else f"{name} — {resource}"
    from .ical import render_feed

    body = render_feed(found, calendar_name=title)
    return web.Response(body=body, content_type=CONTENT_TYPE, charset="utf-8")


async def node_feed(request: web.Request) -> web.Response:
    return await _feed(request, None)


async def resource_feed(request: web.Request) -> web.Response:
    return await _feed(request, request.match_info["resource"])


ROUTES = [
    web.get(FEED_PREFIX + "/{secret}/calendar.ics", node_feed),
    web.get(FEED_PREFIX + "/{secret}/resources/{resource}.ics", resource_feed),
]
