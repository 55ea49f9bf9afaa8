"""iCalendar (RFC 5545) feeds of our loans, for calendar applications that subscribe by URL.

Nextcloud, Thunderbird or Google Calendar poll the feed and show each loan
holding one of our resources, or something we borrow, as an event. The
format is produced by the ``icalendar`` library; this module only decides
what goes in it. Pure functions: the caller reads the bookings and
agreements and hands over ``CalendarEntry`` values.

Only association names appear, never people's names: a subscribed
calendar is often shared far beyond the association's board.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from protocol.agreements.loan import HOLDING_STATES

PRODID = "-//Maillage//Maillage//FR"
UID_DOMAIN = "maillage"
STATES = HOLDING_STATES  # what a calendar shows: the loans that hold a slot
ROLES = frozenset({"owner", "borrower"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY_SPAN = (1970, 2037)  # icalendar's own default span

# lang -> texts, French first.
_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "owner": "Prêt : {what} → {counterpart}",
        "borrower": "Emprunt : {what} ← {counterpart}",
        "quantity": "{quantity} × {title}",
        "offered": "Proposition en attente de réponse : créneau retenu provisoirement.",
        "sealed": "Accord conclu.",
        "in_custody": "Accord conclu, ressource remise.",
        "with": "Association : {counterpart}",
        "count": "Quantité : {quantity}",
        "pickup": "Retrait : {place}",
    },
    "en": {
        "owner": "Loan: {what} → {counterpart}",
        "borrower": "Borrowing: {what} ← {counterpart}",
        "quantity": "{quantity} × {title}",
        "offered": "Offer awaiting an answer: slot held tentatively.",
        "sealed": "Agreement sealed.",
        "in_custody": "Agreement sealed, resource handed over.",
        "with": "Association: {counterpart}",
        "count": "Quantity: {quantity}",
        "pickup": "Pickup: {place}",
    },
}


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """One loan as a calendar shows it; times are UTC ms, the period half-open."""

    uid_seed: bytes  # the agreement id: the UID must survive every re-rendering
    resource_id: str
    title: str
    start_ms: int
    end_ms: int
    quantity: int
    state: str  # "offered", "sealed" or "in_custody"
    counterpart_name: str
    role: str  # "owner" (we lend) or "borrower" (we borrow)
    pickup_place: str | None
    updated_ms: int
    sequence: int

    def __post_init__(self) -> None:
        if not self.uid_seed:
            raise ValueError("an entry needs its agreement id")
        if self.start_ms >= self.end_ms:
            raise ValueError("a period starts before it ends")
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")
        if self.state not in STATES:
            raise ValueError(f"no calendar event for state {self.state!r}")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def uid(self) -> str:
        return f"{self.uid_seed.hex()}@{UID_DOMAIN}"


def render_feed(
    entries: Sequence[CalendarEntry],
    *,
    calendar_name: str,
    timezone: str = "Europe/Paris",
    lang: str = "fr",
) -> bytes:
    """The whole feed: one VEVENT per entry, times in ``timezone``; CRLF lines folded at 75 octets."""
    texts = _texts(lang)  # fail early on an unknown language
    zone = ZoneInfo(timezone)
    uids = [entry.uid for entry in entries]
    if len(set(uids)) != len(uids):
        # Two events with one UID would be read as one event being rescheduled.
        raise ValueError("each agreement may appear only once in a feed")

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", timezone)
    # Always present, even with no events: RFC 5545 wants at least one component.
    cal.add_component(_vtimezone(timezone, *_year_span(entries, zone)))
    for entry in sorted(entries, key=lambda e: (e.start_ms, e.uid)):
        cal.add_component(_event(entry, zone, lang, texts))
    return cal.to_ical()


def summary(entry: CalendarEntry, lang: str = "fr") -> str:
    """The event title, e.g. "Prêt : 40 × Chaises → Banque alimentaire"."""
    texts = _texts(lang)
    what = entry.title if entry.quantity == 1 else texts["quantity"].format(quantity=entry.quantity, title=entry.title)
    return texts[entry.role].format(what=what, counterpart=entry.counterpart_name)


def _texts(lang: str) -> dict[str, str]:
    try:
        return _TEXTS[lang]
    except KeyError:
        raise ValueError(f"unsupported language {lang!r} (expected one of {sorted(_TEXTS)})") from None


def _event(entry: CalendarEntry, zone: ZoneInfo, lang: str, texts: dict[str, str]) -> Event:
    event = Event()
    event.add("uid", entry.uid)
    event.add("dtstamp", _utc(entry.updated_ms))
    event.add("last-modified", _utc(entry.updated_ms))
    start, end = _bounds(entry.start_ms, entry.end_ms, zone)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary(entry, lang))
    event.add("description", _description(entry, texts))
    if entry.pickup_place:
        event.add("location", entry.pickup_place)
    # An offer may still be declined or lapse: apps show TENTATIVE events as such.
    event.add("status", "TENTATIVE" if entry.state == "offered" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("sequence", entry.sequence)
    return event


def _description(entry: CalendarEntry, texts: dict[str, str]) -> str:
    lines = [texts[entry.state], texts["with"].format(counterpart=entry.counterpart_name)]
    if entry.quantity > 1:
        lines.append(texts["count"].format(quantity=entry.quantity))
    if entry.pickup_place:
        lines.append(texts["pickup"].format(place=entry.pickup_place))
    return "\n".join(lines)


def _bounds(start_ms: int, end_ms: int, zone: ZoneInfo) -> tuple[date, date] | tuple[datetime, datetime]:
    """All-day dates when both ends fall on local midnight, else local (or UTC) date-times."""
    start, end = _local(start_ms, zone), _local(end_ms, zone)
    if start.timetz().replace(tzinfo=None) == time() and end.timetz().replace(tzinfo=None) == time():
        return start.date(), end.date()  # DTEND;VALUE=DATE is exclusive, like our periods
    if _ambiguous(start) or _ambiguous(end):
        # A wall time with TZID means its first occurrence (RFC 5545 3.3.5): the repeated
        # autumn hour can only be said in UTC.
        return _utc(start_ms), _utc(end_ms)
    return start, end


def _ambiguous(moment: datetime) -> bool:
    return moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset()


def _local(ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone)


def _utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _year_span(entries: Sequence[CalendarEntry], zone: ZoneInfo) -> tuple[int, int]:
    """The years the VTIMEZONE must cover; a fixed span for an empty feed, so output stays pure."""
    if not entries:
        return _EMPTY_SPAN
    first = min(_local(e.start_ms, zone).year for e in entries)
    last = max(_local(e.end_ms, zone).year for e in entries)
    return first, last


@lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """The zone's offsets and DST transitions over whole years, from the zoneinfo database.

    Cached because it is computed by scanning the zone; the component is only
    ever read after this (never mutated), so sharing it between feeds is safe.
    """
    return Timezone.from_tzinfo(
        ZoneInfo(tzid), tzid=tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
