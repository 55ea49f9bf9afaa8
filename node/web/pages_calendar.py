"""A resource's month calendar (/catalogue/{record_id}/calendrier?mois=YYYY-MM): what each day still offers.

Readers see it, like the catalogue. Each day's status comes from the pure
availability engine (``day_uses`` in protocol/availability.py) over the
bookings this node holds as the resource's authority, so the page tells what
a one-unit request for that day would be told: free, partly booked, fully
booked or closed; days before today are past. Days are local days of the
resource's time zone (23 or 25 hours long on DST days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel import dates
from markupsafe import Markup

from protocol.availability import (
    AvailabilityRules,
    Booking,
    DayUse,
    Period,
    day_period,
    day_uses,
    rules_from_wire,
)
from storage import agreements as stored
from storage import records, session

from ..clock import now_ms
from ..runtime import NODE, Node
from . import auth, i18n
from .render import bad_request, not_found, render, translator

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
FIRST_YEAR, LAST_YEAR = 2000, 8999  # no booking predates Maillage; the engine reads dates up to 8999
STATUS_ORDER = ("free", "partly", "full", "closed", "past")


class BadMonth(ValueError):
    """The ``month`` parameter is not a month the calendar can show."""


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    title: str
    public: bool
    declared: bool  # the body states its own availability rules
    rules: AvailabilityRules


def parse_month(text: str) -> date:
    """« 2026-03 » → the first day of that month; BadMonth when it is not one."""
    found = _MONTH.match(text.strip())
    if not found:
        raise BadMonth(text)
    year, month = int(found.group(1)), int(found.group(2))
    if not (1 <= month <= 12 and FIRST_YEAR <= year <= LAST_YEAR):
        raise BadMonth(text)
    return date(year, month, 1)


def shift_month(first: date, months: int) -> date | None:
    """The first day of the month ``months`` away, or None outside the years the calendar shows."""
    index = first.year * 12 + first.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, 1) if FIRST_YEAR <= year <= LAST_YEAR else None


def month_days(first: date) -> tuple[date, date]:
    """(first, last) day of the month starting on ``first``."""
    after = shift_month(first, 1) or date(LAST_YEAR + 1, 1, 1)
    return first, after - timedelta(days=1)


def rules_of(body: dict[str, Any]) -> tuple[AvailabilityRules, bool]:
    """The booking rules as node/agreements.py ``availability_rules`` reads them, and whether the body states them.

    ``body`` is the decoded record (tuples, as the wire gives them): validated when it was published.
    """
    if "availability" in body:
        return rules_from_wire(dict(body["availability"])), True
    return AvailabilityRules(unit="hour", stock=int(body.get("quantity", 1))), False


def load_resource(node: Node, record_id: str) -> Resource | None:
    """One of our resources (a record of another type, or another node's, is not)."""
    with session(node.engine) as s:
        row = records.get(s, node.node_id, record_id)
    if row is None or row.rtype != "resource":
        return None
    body = records.body_of(row.envelope)
    rules, declared = rules_of(body)
    return Resource(row.record_id, str(body.get("title") or row.record_id), bool(row.public), declared, rules)


def month_of_bookings(node: Node, resource: Resource, first: date, last: date, now: int) -> dict[str, Any]:
    """The month's days as the engine judges them, and the bookings held in it (with their agreements)."""
    month = day_period(first, last, resource.rules.timezone)
    lo, hi = month.start, month.end
    margin = (resource.rules.buffer_minutes or 0) * 60_000  # a neighbour's buffer reaches into the month
    with session(node.engine) as s:
        held = stored.bookings(s, resource.id, start_ms=lo - margin, end_ms=hi + margin, now_ms=now)
        shown = [b for b in held if b.end_ms > lo and b.start_ms < hi]
        rows = {b.agreement_id: stored.get(s, b.agreement_id) for b in shown}
        names = records.author_names(s, [r.counterpart for r in rows.values() if r is not None])
    engine_bookings = [Booking(Period(start=b.start_ms, end=b.end_ms), b.quantity, b.agreement_id) for b in held]
    uses = day_uses(resource.rules, engine_bookings, first, last)
    listed = []
    for b in shown:
        row = rows.get(b.agreement_id)
        listed.append({
            "id": b.agreement_id.hex(), "start": b.start_ms, "end": b.end_ms, "quantity": b.quantity,
            "state": row.state if row is not None else b.state,
            "counterpart": names.get(row.counterpart, row.counterpart[:12]) if row is not None else "",
        })
    return {"uses": uses, "bookings": listed}


# ---- what the template shows ----------------------------------------------------------------------


def day_cell(use: DayUse, today: date, stock: int, lang: str) -> dict[str, Any]:
    status = "past" if use.day < today else use.status
    # By the hour, a partly booked day may have an hour with nothing left: its count would mislead.
    left = stock - use.peak if stock > 1 and status in ("free", "partly") and use.peak < stock else None
    return {"number": use.day.day, "iso": use.day.isoformat(), "label": dates.format_date(use.day, "full", locale=lang),
            "status": status, "left": left, "today": use.day == today}


def weeks_of(cells: list[dict[str, Any]], first: date) -> list[list[dict[str, Any] | None]]:
    """Rows of seven cells, Monday first; None pads the days of the neighbouring months."""
    padded: list[dict[str, Any] | None] = [None] * first.weekday() + list(cells)
    padded += [None] * (-len(padded) % 7)
    return [padded[i:i + 7] for i in range(0, len(padded), 7)]


def period_text(start: int, end: int, zone: ZoneInfo, lang: str, _: Any) -> Markup:
    """A booking's period in the resource's zone: whole local days (last day included) or two instants."""
    first, until = (datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone) for ms in (start, end))
    if first.time() == time(0) and until.time() == time(0):
        last = (until - timedelta(days=1)).date()
        if last == first.date():
            return _("le %(day)s", day=dates.format_date(first.date(), "long", locale=lang))  # type: ignore[no-any-return]
        return _("du %(first)s au %(last)s", first=dates.format_date(first.date(), "long", locale=lang),  # type: ignore[no-any-return]
                 last=dates.format_date(last, "long", locale=lang))
    return _("du %(start)s au %(end)s", start=dates.format_datetime(first, "medium", tzinfo=zone, locale=lang),  # type: ignore[no-any-return]
             end=dates.format_datetime(until, "medium", tzinfo=zone, locale=lang))


def month_link(request: web.Request, first: date | None) -> dict[str, str] | None:
    if first is None:
        return None
    lang = i18n.language(request)
    return {"href": f"{request.path}?mois={first:%Y-%m}", "label": dates.format_skeleton("yMMMM", first, locale=lang)}


# ---- the page -------------------------------------------------------------------------------------


async def calendar_page(request: web.Request) -> web.Response:
    await auth.require(request, auth.READER)
    node = request.config_dict[NODE]
    _ = translator(request)
    asked = request.query.get("mois")
    first: date | None = None
    if asked is not None:
        try:
            first = parse_month(asked)
        except BadMonth:
            raise bad_request(request, _("Mois incompris : « %(month)s ». Écrivez l'année et le mois, par exemple "
                                         "%(example)s.", month=asked[:40], example="2026-03")) from None
    resource = await node.run(load_resource, node, request.match_info["record_id"])
    if resource is None:
        raise not_found(request, _("Cette ressource n'existe pas dans notre catalogue."))
    now = now_ms()
    zone = resource.rules.zone
    today = datetime.fromtimestamp(now / 1000, UTC).astimezone(zone).date()
    first = first or today.replace(day=1)
    first, last = month_days(first)
    found = await node.run(month_of_bookings, node, resource, first, last, now)
    lang = i18n.language(request)
    cells = [day_cell(use, today, resource.rules.stock, lang) for use in found["uses"]]
    for booking in found["bookings"]:
        booking["period"] = period_text(booking["start"], booking["end"], zone, lang, _)
    monday = date(2024, 1, 1)  # any Monday: the week's names in the page's language, Monday first
    weekdays = [{"short": dates.format_date(monday + timedelta(days=i), "EEE", locale=lang),
                 "wide": dates.format_date(monday + timedelta(days=i), "EEEE", locale=lang)} for i in range(7)]
    current = today.replace(day=1)
    return render(
        request, "calendar.html", resource=resource, weeks=weeks_of(cells, first), weekdays=weekdays,
        month_label=dates.format_skeleton("yMMMM", first, locale=lang), month_value=f"{first:%Y-%m}",
        previous=month_link(request, shift_month(first, -1)), following=month_link(request, shift_month(first, 1)),
        this_month=None if first == current else month_link(request, current), bookings=found["bookings"],
        statuses=STATUS_ORDER,
        can_edit=auth.has_role(request.get(auth.USER_KEY), auth.MEMBER),
    )


ROUTES: list[web.RouteDef] = [web.get("/catalogue/{record_id}/calendrier", calendar_page, name="resource_calendar")]
