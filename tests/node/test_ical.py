"""iCalendar feeds (node/ical.py), read back with vobject rather than the icalendar library that wrote them.

vobject resolves TZID through the feed's own VTIMEZONE (dateutil's tzical),
so the instants checked here also prove that the VTIMEZONE carries the DST rules.
Expected instants are written in UTC by hand, not derived through zoneinfo.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
import vobject

from node.ical import CalendarEntry, render_feed


def ms(*args: int) -> int:
    """UTC milliseconds of a UTC wall time."""
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1000  # type: ignore[misc]


def entry(**changes: Any) -> CalendarEntry:
    base = CalendarEntry(
        uid_seed=bytes.fromhex("0badc0ffee") + bytes(11),
        resource_id="minibus-9",
        title="Minibus 9 places",
        start_ms=ms(2027, 5, 12, 7, 30),  # 09:30 in Paris (CEST)
        end_ms=ms(2027, 5, 12, 16),
        quantity=1,
        state="sealed",
        counterpart_name="Banque alimentaire",
        role="owner",
        pickup_place=None,
        updated_ms=ms(2027, 4, 1, 12),
        sequence=4,
    )
    return dataclasses.replace(base, **changes)


def parse(feed: bytes) -> Any:
    return vobject.readOne(feed.decode("utf-8"))


def events(feed: bytes) -> dict[str, Any]:
    """VEVENTs by UID."""
    return {ev.uid.value: ev for ev in parse(feed).contents.get("vevent", [])}


def unfold(feed: bytes) -> bytes:
    """Undo line folding (RFC 5545 3.1) to search the raw text."""
    return feed.replace(b"\r\n ", b"")


def instant(value: datetime) -> datetime:
    assert isinstance(value, datetime) and value.tzinfo is not None, value
    return value.astimezone(UTC)


def render(*entries: CalendarEntry, **kwargs: Any) -> bytes:
    return render_feed(entries, calendar_name=kwargs.pop("calendar_name", "Prêts du Club sportif"), **kwargs)


# ---- the calendar --------------------------------------------------------------------------------


def test_calendar_properties() -> None:
    cal = parse(render(entry()))
    assert cal.prodid.value == "-//Maillage//Maillage//FR"
    assert cal.version.value == "2.0"
    assert cal.calscale.value == "GREGORIAN"
    assert cal.method.value == "PUBLISH"
    assert cal.contents["x-wr-calname"][0].value == "Prêts du Club sportif"
    assert cal.contents["x-wr-timezone"][0].value == "Europe/Paris"
    (vtz,) = cal.contents["vtimezone"]
    assert vtz.tzid.value == "Europe/Paris"
    # Both observances, so the offset changes across the year.
    assert {"standard", "daylight"} <= set(vtz.contents)


def test_empty_feed_is_a_valid_calendar() -> None:
    feed = render()
    assert feed.startswith(b"BEGIN:VCALENDAR\r\n") and feed.endswith(b"END:VCALENDAR\r\n")
    cal = parse(feed)
    assert cal.name == "VCALENDAR"
    assert "vevent" not in cal.contents
    assert cal.prodid.value == "-//Maillage//Maillage//FR"
    assert cal.contents["vtimezone"], "RFC 5545 wants at least one component"


def test_lines_are_crlf_and_folded_at_75_octets() -> None:
    long_title = "Barnum pliant 3 × 6 m avec lestage, bâches latérales et éclairage " * 3
    feed = render(entry(title=long_title, quantity=2, pickup_place="Hangar municipal, allée des Érables"))
    assert feed.endswith(b"\r\n")
    assert b"\n" not in feed.replace(b"\r\n", b"")
    lines = feed.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines), "the long summary must have been folded"
    (ev,) = events(feed).values()
    assert ev.summary.value == f"Prêt : 2 × {long_title} → Banque alimentaire"


# ---- events --------------------------------------------------------------------------------------


def test_owner_event() -> None:
    e = entry(pickup_place="12 rue de la République, Lyon", state="in_custody")
    feed = render(e)
    ev = events(feed)["0badc0ffee0000000000000000000000@maillage"]
    assert ev.summary.value == "Prêt : Minibus 9 places → Banque alimentaire"
    assert instant(ev.dtstart.value) == datetime(2027, 5, 12, 7, 30, tzinfo=UTC)
    assert instant(ev.dtend.value) == datetime(2027, 5, 12, 16, tzinfo=UTC)
    # Local wall time with the zone, not UTC: apps then show it right whatever their own zone.
    assert b"\r\nDTSTART;TZID=Europe/Paris:20270512T093000\r\n" in unfold(feed)
    assert ev.status.value == "CONFIRMED"
    assert ev.transp.value == "OPAQUE"
    assert ev.sequence.value == "4"
    assert ev.location.value == "12 rue de la République, Lyon"
    assert instant(ev.dtstamp.value) == datetime(2027, 4, 1, 12, tzinfo=UTC)
    assert "remise" in ev.description.value


def test_borrower_event_with_quantity() -> None:
    e = entry(role="borrower", title="Chaises", quantity=40, counterpart_name="Club sportif", state="offered")
    (ev,) = events(render(e)).values()
    assert ev.summary.value == "Emprunt : 40 × Chaises ← Club sportif"
    assert ev.status.value == "TENTATIVE"
    assert "location" not in ev.contents
    assert "attente" in ev.description.value


def test_statuses_by_state() -> None:
    feed = render(
        entry(uid_seed=b"\x01", state="offered"),
        entry(uid_seed=b"\x02", state="sealed"),
        entry(uid_seed=b"\x03", state="in_custody"),
    )
    statuses = {uid: ev.status.value for uid, ev in events(feed).items()}
    assert statuses == {"01@maillage": "TENTATIVE", "02@maillage": "CONFIRMED", "03@maillage": "CONFIRMED"}


def test_english() -> None:
    feed = render(
        entry(uid_seed=b"\x01"),
        entry(uid_seed=b"\x02", role="borrower", title="Chairs", quantity=40, counterpart_name="Sports club", state="offered"),
        lang="en",
    )
    evs = events(feed)
    assert evs["01@maillage"].summary.value == "Loan: Minibus 9 places → Banque alimentaire"
    assert evs["02@maillage"].summary.value == "Borrowing: 40 × Chairs ← Sports club"
    assert "Offer" in evs["02@maillage"].description.value


def test_accents_survive() -> None:
    e = entry(title="Équipement sono « été »", counterpart_name="Association Élan – Lœuilly", pickup_place="Salle des fêtes, Môle")
    feed = render(e, calendar_name="Prêts de l'Amicale Œcuménique")
    assert "Équipement".encode() in unfold(feed)
    cal = parse(feed)
    assert cal.contents["x-wr-calname"][0].value == "Prêts de l'Amicale Œcuménique"
    (ev,) = cal.vevent_list
    assert ev.summary.value == "Prêt : Équipement sono « été » → Association Élan – Lœuilly"
    assert ev.location.value == "Salle des fêtes, Môle"


def test_no_personal_data_beyond_given_fields() -> None:
    """The event says only what the entry gives: association names, place, states."""
    feed = render(entry(counterpart_name="Banque alimentaire"))
    (ev,) = events(feed).values()
    assert not {"organizer", "attendee", "contact"} & set(ev.contents)


# ---- all-day events ------------------------------------------------------------------------------


def test_whole_days_become_all_day_events() -> None:
    # Friday 26 to Sunday 28 March 2027 included in Paris: midnight CET to midnight CEST.
    e = entry(start_ms=ms(2027, 3, 25, 23), end_ms=ms(2027, 3, 28, 22))
    feed = render(e)
    (ev,) = events(feed).values()
    assert type(ev.dtstart.value) is date and type(ev.dtend.value) is date
    assert ev.dtstart.value == date(2027, 3, 26)
    assert ev.dtend.value == date(2027, 3, 29)  # exclusive: the loan covers 26, 27 and 28
    assert b"\r\nDTSTART;VALUE=DATE:20270326\r\n" in unfold(feed)
    assert b"\r\nDTEND;VALUE=DATE:20270329\r\n" in unfold(feed)


def test_midnight_in_another_zone_is_not_all_day() -> None:
    # Midnight to midnight UTC is 01:00 to 01:00 (or 02:00) in Paris: timed, not all-day.
    e = entry(start_ms=ms(2027, 1, 10), end_ms=ms(2027, 1, 12))
    (ev,) = events(render(e)).values()
    assert instant(ev.dtstart.value) == datetime(2027, 1, 10, tzinfo=UTC)
    assert instant(ev.dtend.value) == datetime(2027, 1, 12, tzinfo=UTC)
    # ... but it is all-day when the feed's zone is UTC.
    (ev,) = events(render(e, timezone="UTC")).values()
    assert (ev.dtstart.value, ev.dtend.value) == (date(2027, 1, 10), date(2027, 1, 12))


def test_one_end_at_midnight_is_not_enough() -> None:
    e = entry(start_ms=ms(2027, 6, 9, 22), end_ms=ms(2027, 6, 10, 16))  # midnight to 18:00 in Paris
    (ev,) = events(render(e)).values()
    assert isinstance(ev.dtstart.value, datetime)
    assert instant(ev.dtstart.value) == datetime(2027, 6, 9, 22, tzinfo=UTC)


# ---- daylight saving time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # The spring-forward Sunday: 10:00–12:00 CEST is 08:00–10:00 UTC; the day before is CET.
        ((2027, 3, 28, 8), (2027, 3, 28, 10)),
        ((2027, 3, 27, 9), (2027, 3, 27, 11)),
        # Across the jump itself: Saturday 22:00 CET to Sunday 04:00 CEST.
        ((2027, 3, 27, 21), (2027, 3, 28, 2)),
        # The fall-back Sunday: 10:00 CET is 09:00 UTC; the day before is still CEST.
        ((2027, 10, 31, 9), (2027, 10, 31, 11)),
        ((2027, 10, 30, 8), (2027, 10, 30, 10)),
        # Over the repeated hour: 01:30 CEST to 02:30 CET, the second 02:30 of the night.
        ((2027, 10, 30, 23, 30), (2027, 10, 31, 1, 30)),
        # Inside the repeated hour, first pass (CEST) then second pass (CET).
        ((2027, 10, 31, 0, 15), (2027, 10, 31, 0, 45)),
        ((2027, 10, 31, 1, 15), (2027, 10, 31, 1, 45)),
    ],
)
def test_dst_weekends_keep_the_instant(start: tuple[int, ...], end: tuple[int, ...]) -> None:
    e = entry(start_ms=ms(*start), end_ms=ms(*end))
    (ev,) = events(render(e)).values()
    assert instant(ev.dtstart.value) == datetime(*start, tzinfo=UTC)  # type: ignore[misc]
    assert instant(ev.dtend.value) == datetime(*end, tzinfo=UTC)  # type: ignore[misc]


def test_spring_forward_wall_time() -> None:
    feed = render(entry(start_ms=ms(2027, 3, 28, 8), end_ms=ms(2027, 3, 28, 10)))
    assert b"\r\nDTSTART;TZID=Europe/Paris:20270328T100000\r\n" in unfold(feed)
    assert b"\r\nDTEND;TZID=Europe/Paris:20270328T120000\r\n" in unfold(feed)


def test_other_zone() -> None:
    # New York changes on other dates (2027-03-14): 10:00 EDT is 14:00 UTC.
    e = entry(start_ms=ms(2027, 3, 20, 14), end_ms=ms(2027, 3, 20, 15))
    cal = parse(render(e, timezone="America/New_York"))
    assert cal.contents["vtimezone"][0].tzid.value == "America/New_York"
    (ev,) = cal.vevent_list
    assert ev.dtstart.value.replace(tzinfo=None) == datetime(2027, 3, 20, 10)
    assert instant(ev.dtstart.value) == datetime(2027, 3, 20, 14, tzinfo=UTC)


# ---- UIDs ----------------------------------------------------------------------------------------


def test_uids_are_stable_and_follow_the_agreement_id() -> None:
    a = entry(uid_seed=bytes.fromhex("aa" * 16))
    b = entry(uid_seed=bytes.fromhex("bb" * 16), start_ms=ms(2027, 5, 20, 8), end_ms=ms(2027, 5, 20, 9))
    first, second = render(a, b), render(b, a)
    assert set(events(first)) == {"aa" * 16 + "@maillage", "bb" * 16 + "@maillage"}
    assert first == second  # same feed whatever the input order
    # The agreement moves on (offered -> sealed, new seq): same UID, higher SEQUENCE, so apps update it.
    later = dataclasses.replace(a, state="sealed", sequence=7, updated_ms=ms(2027, 4, 2))
    (ev,) = events(render(later)).values()
    assert ev.uid.value == "aa" * 16 + "@maillage"
    assert ev.sequence.value == "7"


def test_identical_loans_of_distinct_agreements_keep_distinct_uids() -> None:
    feed = render(entry(uid_seed=b"\x01" * 16), entry(uid_seed=b"\x02" * 16))
    assert len(events(feed)) == 2


def test_one_agreement_twice_is_refused() -> None:
    with pytest.raises(ValueError):
        render(entry(), entry(start_ms=ms(2027, 6, 1), end_ms=ms(2027, 6, 2)))


# ---- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"state": "declined"},
        {"role": "lender"},
        {"quantity": 0},
        {"end_ms": ms(2027, 5, 12, 7, 30)},
        {"uid_seed": b""},
    ],
)
def test_invalid_entries(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        entry(**changes)


def test_unknown_language() -> None:
    with pytest.raises(ValueError):
        render(entry(), lang="de")
