"""Availability engine: what an association lending chairs, a minibus or a room relies on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import Conflict, InvalidMessage, decode, encode
from protocol.availability import (
    MAX_OCCURRENCES,
    SEARCH_HORIZON_MS,
    AvailabilityRules,
    Booking,
    Period,
    check_request,
    day_period,
    free_slots,
    local_period,
    plan_recurring,
    refusal_reasons,
    rules_from_wire,
    weekly_occurrences,
)

PARIS = ZoneInfo("Europe/Paris")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
QUARTER = 15 * MIN


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    """A Paris wall-clock time as ms (fold=0)."""
    return (datetime(y, mo, d, h, mi, tzinfo=PARIS) - EPOCH) // timedelta(milliseconds=1)


def paris(ms: int) -> datetime:
    return (EPOCH + timedelta(milliseconds=ms)).astimezone(PARIS)


def span(start: int, end: int) -> Period:
    return Period(start=start, end=end)


def refusal(rules: AvailabilityRules, bookings: list[Booking], period: Period, quantity: int, now: int) -> Conflict:
    with pytest.raises(Conflict) as info:
        check_request(rules, bookings, period, quantity, now)
    return info.value


def assert_free_slots_fit(conflict: Conflict, rules, bookings, quantity: int, now: int) -> list[Period]:
    slots = [Period.between(f["start"], f["end"]) for f in conflict.details["free"]]
    for slot in slots:
        check_request(rules, bookings, slot, quantity, now)
    return slots


NOW = at(2026, 5, 1, 9)  # a Friday


# ---------------------------------------------------------------------------
# the rules as a wire value


def test_rules_round_trip_through_canonical_encoding() -> None:
    rules = rules_from_wire(
        {
            "unit": "hour",
            "stock": 2,
            "opening": (
                {"day": 1, "opens": "09:00", "closes": "12:00"},
                {"day": 6, "opens": "20:00", "closes": "24:00"},
            ),
            "blocked": ({"start": at(2026, 8, 1), "end": at(2026, 8, 15)},),
            "buffer_minutes": 30,
        }
    )
    wire = rules.to_wire()
    assert wire["timezone"] == "Europe/Paris" and "min_notice_minutes" not in wire
    assert rules_from_wire(decode(encode(wire))) == rules


@pytest.mark.parametrize(
    "bad",
    [
        {"unit": "week"},
        {"unit": "day", "stock": 0},
        {"unit": "day", "stock": 1.0},
        {"unit": "day", "stock": "3"},
        {"unit": "day", "timezone": "Europe/Lutece"},
        {"unit": "day", "timezone": "localtime"},
        {"unit": "day", "timezone": "../etc/passwd"},
        {"unit": "day", "buffer_minutes": None},
        {"unit": "day", "blocked": ()},
        {"unit": "day", "blocked": ({"start": 10, "end": 10},)},
        {"unit": "hour", "min_duration_minutes": 120, "max_duration_minutes": 60},
        {"unit": "hour", "buffer_minutes": 7 * 24 * 60 + 1},
        {"unit": "hour", "opening": ({"day": 8, "opens": "09:00", "closes": "10:00"},)},
        {"unit": "hour", "opening": ({"day": 1, "opens": "24:00", "closes": "24:00"},)},
        {"unit": "hour", "opening": ({"day": 1, "opens": "10:00", "closes": "09:00"},)},
        {"unit": "hour", "opening": ({"day": 1, "opens": "9:00", "closes": "10:00"},)},
        # one day's intervals may not overlap nor touch (so "inside one interval" is unambiguous)
        {
            "unit": "hour",
            "opening": (
                {"day": 2, "opens": "09:00", "closes": "12:00"},
                {"day": 2, "opens": "12:00", "closes": "18:00"},
            ),
        },
        {
            "unit": "hour",
            "opening": (
                {"day": 2, "opens": "09:00", "closes": "12:00"},
                {"day": 2, "opens": "11:00", "closes": "13:00"},
            ),
        },
        {"unit": "hour", "surprise": 1},
    ],
)
def test_bad_rules_are_refused_as_invalid(bad: dict) -> None:
    with pytest.raises(InvalidMessage):
        rules_from_wire(bad)


def test_period_is_half_open() -> None:
    with pytest.raises(InvalidMessage):
        Period.between(10, 10)
    with pytest.raises(InvalidMessage):
        Period.between(-1, 10)
    assert span(0, 10).duration_ms == 10
    assert not span(0, 10).overlaps(span(10, 20))
    assert span(0, 11).overlaps(span(10, 20))


def test_malformed_requests_are_invalid_not_conflicts() -> None:
    rules = AvailabilityRules(unit="hour")
    period = span(at(2026, 5, 5, 10), at(2026, 5, 5, 12))
    for quantity in (0, -1, True, 2.0):
        with pytest.raises(InvalidMessage):
            check_request(rules, [], period, quantity, NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage):
        check_request(rules, [], span(0, 500 * DAY), 1, 0)
    with pytest.raises(InvalidMessage):
        free_slots(rules, [], 0, 1, period.start, NOW)
    # instants datetime cannot read as local dates are refused, not a crash
    far = span(2**52, 2**52 + HOUR)
    with pytest.raises(InvalidMessage):
        check_request(AvailabilityRules(unit="day"), [], far, 1, NOW)
    with pytest.raises(InvalidMessage):
        free_slots(rules, [], HOUR, 1, far.start, NOW)
    with pytest.raises(InvalidMessage):
        weekly_occurrences(far, far.end + 30 * DAY, "Europe/Paris")
    with pytest.raises(InvalidMessage):
        day_period(date(9999, 12, 30), date(9999, 12, 31), "Europe/Paris")
    with pytest.raises(InvalidMessage):
        local_period(datetime(9999, 12, 31, 22), datetime(9999, 12, 31, 23), "Pacific/Kiritimati")


# ---------------------------------------------------------------------------
# stock: 120 chairs


CHAIRS = AvailabilityRules(unit="day", stock=120)
FETE = day_period(date(2026, 6, 20), date(2026, 6, 21), "Europe/Paris")


def test_forty_chairs_fit_while_eighty_are_out() -> None:
    bookings = [Booking(FETE, 80, "fete-de-quartier")]
    check_request(CHAIRS, bookings, FETE, 40, NOW)


def test_forty_one_chairs_conflict_and_the_proposed_days_really_are_free() -> None:
    bookings = [
        Booking(FETE, 80, "fete-de-quartier"),
        Booking(day_period(date(2026, 6, 22), date(2026, 6, 22), "Europe/Paris"), 100, "x"),
    ]
    conflict = refusal(CHAIRS, bookings, FETE, 41, NOW)
    assert conflict.details["reasons"] == ["stock"]
    slots = assert_free_slots_fit(conflict, CHAIRS, bookings, 41, NOW)
    # nearest first: the two days just before (2 days away), after the busy 22nd (3 days), further back (4 days)
    assert [(paris(s.start).date(), paris(s.end).date()) for s in slots] == [
        (date(2026, 6, 18), date(2026, 6, 20)),
        (date(2026, 6, 23), date(2026, 6, 25)),
        (date(2026, 6, 16), date(2026, 6, 18)),
    ]
    assert conflict.to_wire()["code"] == "conflict"
    assert decode(encode(conflict.to_wire())) == conflict.to_wire() | {
        "details": {"reasons": ("stock",), "free": tuple(conflict.details["free"])}
    }


def test_loans_that_do_not_overlap_do_not_add_up() -> None:
    rules = AvailabilityRules(unit="hour", stock=120)
    morning, afternoon = span(at(2026, 6, 20, 8), at(2026, 6, 20, 12)), span(at(2026, 6, 20, 12), at(2026, 6, 20, 18))
    bookings = [Booking(morning, 80, "a"), Booking(afternoon, 80, "b")]
    check_request(rules, bookings, span(morning.start, afternoon.end), 40, NOW)
    assert refusal_reasons(rules, bookings, span(morning.start, afternoon.end), 41, NOW) == ["stock"]


def test_asking_for_more_than_the_stock_proposes_nothing() -> None:
    conflict = refusal(CHAIRS, [], FETE, 121, NOW)
    assert conflict.details == {"reasons": ["quantity-exceeds-stock"], "free": []}


# ---------------------------------------------------------------------------
# buffers: one minibus, an hour to refuel and clean between loans

MINIBUS = AvailabilityRules(unit="hour", buffer_minutes=60)
LOAN = Booking(span(at(2026, 5, 5, 9), at(2026, 5, 5, 12)), 1, "loan-1")


@pytest.mark.parametrize(
    ("start", "end", "fits"),
    [
        ((12, 0), (15, 0), False),  # back at noon, cannot leave at noon
        ((12, 45), (15, 0), False),
        ((13, 0), (16, 0), True),
        ((6, 0), (8, 0), True),  # back an hour before the next departure
        ((6, 0), (8, 15), False),
    ],
)
def test_buffer_keeps_time_free_around_each_loan(start: tuple, end: tuple, fits: bool) -> None:
    period = span(at(2026, 5, 5, *start), at(2026, 5, 5, *end))
    assert refusal_reasons(MINIBUS, [LOAN], period, 1, NOW) == ([] if fits else ["stock"])


def test_minibus_proposals_leave_the_buffer_free() -> None:
    request = span(at(2026, 5, 5, 11), at(2026, 5, 5, 14))
    conflict = refusal(MINIBUS, [LOAN], request, 1, NOW)
    slots = assert_free_slots_fit(conflict, MINIBUS, [LOAN], 1, NOW)
    assert slots == [
        span(at(2026, 5, 5, 13), at(2026, 5, 5, 16)),
        span(at(2026, 5, 5, 16), at(2026, 5, 5, 19)),
        span(at(2026, 5, 5, 5), at(2026, 5, 5, 8)),
    ]


# ---------------------------------------------------------------------------
# a meeting room with opening hours

ROOM = AvailabilityRules(
    unit="hour",
    opening=(
        *({"day": d, "opens": "09:00", "closes": "22:00"} for d in range(1, 6)),
        {"day": 6, "opens": "10:00", "closes": "24:00"},
        {"day": 7, "opens": "00:00", "closes": "02:00"},
    ),
)


@pytest.mark.parametrize(
    ("start", "end", "fits"),
    [
        ((2026, 5, 5, 20), (2026, 5, 5, 22), True),  # Tuesday evening, until closing
        ((2026, 5, 5, 21), (2026, 5, 5, 23), False),  # past closing
        ((2026, 5, 5, 8), (2026, 5, 5, 10), False),  # before opening
        ((2026, 5, 10, 10), (2026, 5, 10, 12), False),  # Sunday: open only until 2:00
        ((2026, 5, 9, 23), (2026, 5, 10, 1), True),  # Saturday night into Sunday: 24:00 meets 00:00
        ((2026, 5, 9, 23), (2026, 5, 10, 3), False),
        ((2026, 5, 8, 21), (2026, 5, 9, 11), False),  # Friday closes at 22:00
    ],
)
def test_room_bookings_must_lie_in_opening_hours(start: tuple, end: tuple, fits: bool) -> None:
    period = span(at(*start), at(*end))
    assert refusal_reasons(ROOM, [], period, 1, NOW) == ([] if fits else ["closed"])


def test_room_proposals_are_inside_opening_hours_nearest_first() -> None:
    request = span(at(2026, 5, 5, 21), at(2026, 5, 5, 23))
    conflict = refusal(ROOM, [], request, 1, NOW)
    assert assert_free_slots_fit(conflict, ROOM, [], 1, NOW) == [
        span(at(2026, 5, 5, 20), at(2026, 5, 5, 22)),
        span(at(2026, 5, 5, 18), at(2026, 5, 5, 20)),
        span(at(2026, 5, 5, 16), at(2026, 5, 5, 18)),
    ]
    # on a Sunday (open only until 2:00): Sunday night first, then Saturday evening, before Monday 9:00
    conflict = refusal(ROOM, [], span(at(2026, 5, 10, 10), at(2026, 5, 10, 12)), 1, NOW)
    assert assert_free_slots_fit(conflict, ROOM, [], 1, NOW) == [
        span(at(2026, 5, 10, 0), at(2026, 5, 10, 2)),
        span(at(2026, 5, 9, 22), at(2026, 5, 10, 0)),
        span(at(2026, 5, 9, 20), at(2026, 5, 9, 22)),
    ]


def test_daily_unit_with_opening_days() -> None:
    weekdays = AvailabilityRules(
        unit="day", opening=tuple({"day": d, "opens": "09:00", "closes": "17:00"} for d in range(1, 6))
    )
    assert refusal_reasons(weekdays, [], day_period(date(2026, 5, 4), date(2026, 5, 8), "Europe/Paris"), 1, NOW) == []
    assert refusal_reasons(weekdays, [], day_period(date(2026, 5, 8), date(2026, 5, 9), "Europe/Paris"), 1, NOW) == [
        "closed"
    ]


# ---------------------------------------------------------------------------
# blocked periods, notice, durations


def test_blocked_periods() -> None:
    maintenance = span(at(2026, 5, 10), at(2026, 5, 13))
    rules = AvailabilityRules(unit="day", blocked=(maintenance,))
    assert refusal_reasons(rules, [], day_period(date(2026, 5, 12), date(2026, 5, 14), "Europe/Paris"), 1, NOW) == [
        "blocked"
    ]
    assert refusal_reasons(rules, [], day_period(date(2026, 5, 8), date(2026, 5, 9), "Europe/Paris"), 1, NOW) == []
    assert refusal_reasons(rules, [], day_period(date(2026, 5, 13), date(2026, 5, 13), "Europe/Paris"), 1, NOW) == []
    conflict = refusal(rules, [], day_period(date(2026, 5, 11), date(2026, 5, 11), "Europe/Paris"), 1, NOW)
    for slot in assert_free_slots_fit(conflict, rules, [], 1, NOW):
        assert not slot.overlaps(maintenance)


def test_notice_and_durations() -> None:
    rules = AvailabilityRules(
        unit="hour", min_notice_minutes=48 * 60, min_duration_minutes=60, max_duration_minutes=240
    )
    assert refusal_reasons(rules, [], span(NOW + 3 * DAY, NOW + 3 * DAY + 2 * HOUR), 1, NOW) == []
    assert refusal_reasons(rules, [], span(NOW + DAY, NOW + DAY + 2 * HOUR), 1, NOW) == ["notice"]
    assert refusal_reasons(rules, [], span(NOW - HOUR, NOW + HOUR), 1, NOW) == ["in-past"]
    assert refusal_reasons(rules, [], span(NOW + 3 * DAY, NOW + 3 * DAY + 30 * MIN), 1, NOW) == ["too-short"]
    assert refusal_reasons(rules, [], span(NOW + 3 * DAY, NOW + 3 * DAY + 5 * HOUR), 1, NOW) == ["too-long"]
    assert refusal_reasons(rules, [], span(NOW + 3 * DAY + 5 * MIN, NOW + 3 * DAY + 2 * HOUR), 1, NOW) == [
        "not-aligned"
    ]
    assert refusal_reasons(rules, [], span(NOW + DAY, NOW + DAY + 5 * HOUR), 2, NOW) == [
        "notice",
        "too-long",
        "quantity-exceeds-stock",
    ]
    # what is proposed instead of a too-early request respects the notice
    conflict = refusal(rules, [], span(NOW + DAY, NOW + DAY + 2 * HOUR), 1, NOW)
    slots = assert_free_slots_fit(conflict, rules, [], 1, NOW)
    assert slots[0] == span(NOW + 2 * DAY, NOW + 2 * DAY + 2 * HOUR)
    assert all(s.start >= NOW + 2 * DAY for s in slots)


def test_daily_loans_may_start_today_but_not_yesterday() -> None:
    rules = AvailabilityRules(unit="day")
    today = day_period(date(2026, 5, 1), date(2026, 5, 1), "Europe/Paris")
    assert refusal_reasons(rules, [], today, 1, NOW) == []
    assert refusal_reasons(rules, [], day_period(date(2026, 4, 30), date(2026, 5, 1), "Europe/Paris"), 1, NOW) == [
        "in-past"
    ]
    with_notice = AvailabilityRules(unit="day", min_notice_minutes=24 * 60)
    assert refusal_reasons(with_notice, [], today, 1, NOW) == ["notice"]
    assert (
        refusal_reasons(with_notice, [], day_period(date(2026, 5, 2), date(2026, 5, 2), "Europe/Paris"), 1, NOW) == []
    )


# ---------------------------------------------------------------------------
# daily alignment in Europe/Paris across DST


def test_dst_days_last_23_and_25_hours() -> None:
    assert day_period(date(2026, 3, 29), date(2026, 3, 29), "Europe/Paris").duration_ms == 23 * HOUR
    assert day_period(date(2026, 10, 25), date(2026, 10, 25), "Europe/Paris").duration_ms == 25 * HOUR
    assert day_period(date(2026, 5, 1), date(2026, 5, 3), "Europe/Paris").duration_ms == 3 * DAY


def test_daily_units_count_local_days_across_dst() -> None:
    rules = AvailabilityRules(unit="day", min_duration_minutes=2 * 1440, max_duration_minutes=2 * 1440)
    spring = day_period(date(2026, 3, 28), date(2026, 3, 29), "Europe/Paris")  # 47 hours
    autumn = day_period(date(2026, 10, 24), date(2026, 10, 25), "Europe/Paris")  # 49 hours
    assert refusal_reasons(rules, [], spring, 1, 0) == []
    assert refusal_reasons(rules, [], autumn, 1, 0) == []
    # 48 hours from the local midnight of the 28th end at 01:00 local on the 30th: not a day boundary
    assert refusal_reasons(rules, [], span(spring.start, spring.start + 2 * DAY), 1, 0) == ["not-aligned"]
    # a UTC midnight is not a Paris midnight
    utc_day = (datetime(2026, 5, 5, tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)
    assert "not-aligned" in refusal_reasons(rules, [], span(utc_day, utc_day + 2 * DAY), 1, 0)


def test_daily_proposals_are_whole_local_days_across_spring_forward() -> None:
    rules = AvailabilityRules(unit="day")
    taken = [Booking(day_period(date(2026, 3, 28), date(2026, 3, 30), "Europe/Paris"), 1, "trip")]
    request = day_period(date(2026, 3, 29), date(2026, 3, 29), "Europe/Paris")
    conflict = refusal(rules, taken, request, 1, 0)
    slots = assert_free_slots_fit(conflict, rules, taken, 1, 0)
    # the 31st starts 47 h after the requested midnight, the 27th 48 h before: DST decides
    assert [paris(s.start).date() for s in slots] == [date(2026, 3, 31), date(2026, 3, 27), date(2026, 4, 1)]
    assert all(paris(s.start).hour == 0 and paris(s.end).hour == 0 for s in slots)


# ---------------------------------------------------------------------------
# weekly series keep local wall-clock time


@pytest.mark.parametrize(
    ("first_day", "until", "utc_hours"),
    [
        (date(2026, 3, 17), date(2026, 4, 8), [17, 17, 16, 16]),  # last Sunday of March
        (date(2026, 10, 13), date(2026, 11, 4), [16, 16, 17, 17]),  # last Sunday of October
    ],
)
def test_weekly_series_keep_18h_local_across_dst(first_day: date, until: date, utc_hours: list[int]) -> None:
    first = local_period(
        datetime.combine(first_day, datetime.min.time()).replace(hour=18),
        datetime.combine(first_day, datetime.min.time()).replace(hour=20),
        "Europe/Paris",
    )
    series = weekly_occurrences(first, at(until.year, until.month, until.day), "Europe/Paris")
    assert [paris(p.start).strftime("%a %H:%M") for p in series] == ["Tue 18:00"] * 4
    assert [paris(p.end).strftime("%H:%M") for p in series] == ["20:00"] * 4
    assert [(EPOCH + timedelta(milliseconds=p.start)).hour for p in series] == utc_hours


def test_weekly_series_bounds() -> None:
    first = span(at(2026, 1, 6, 18), at(2026, 1, 6, 20))
    assert len(weekly_occurrences(first, first.start + 1, "Europe/Paris")) == 1
    assert (
        len(weekly_occurrences(first, first.start + (MAX_OCCURRENCES - 1) * 7 * DAY + 1, "Europe/Paris"))
        == MAX_OCCURRENCES
    )
    with pytest.raises(InvalidMessage):
        weekly_occurrences(first, first.start + MAX_OCCURRENCES * 7 * DAY + DAY, "Europe/Paris")
    with pytest.raises(InvalidMessage):
        weekly_occurrences(first, first.start, "Europe/Paris")
    with pytest.raises(InvalidMessage):
        weekly_occurrences(span(first.start, first.start + 7 * DAY + HOUR), first.start + 30 * DAY, "Europe/Paris")
    with pytest.raises(InvalidMessage):
        weekly_occurrences(first, first.start + 30 * DAY, "Mars/Olympus")


def test_recurring_series_lists_exactly_the_conflicting_occurrences() -> None:
    room = AvailabilityRules(unit="hour")
    first = span(at(2026, 3, 3, 18), at(2026, 3, 3, 20))
    series = weekly_occurrences(first, at(2026, 4, 22), "Europe/Paris")
    assert len(series) == 8
    taken = [
        Booking(span(at(2026, 3, 17, 19), at(2026, 3, 17, 23)), 1, "concert"),
        Booking(span(at(2026, 4, 7, 17), at(2026, 4, 7, 18, 15)), 1, "assemblee"),
        Booking(span(at(2026, 4, 14, 20), at(2026, 4, 14, 22)), 1, "after"),  # starts as ours ends: fits
    ]
    plan = plan_recurring(room, taken, first, at(2026, 4, 22), 1, at(2026, 3, 1))
    assert plan.conflicts == ((series[2], ("stock",)), (series[5], ("stock",)))
    assert plan.fits == tuple(p for i, p in enumerate(series) if i not in (2, 5))


def test_recurring_occurrences_count_against_each_other_with_buffers() -> None:
    # a week of buffer around each booking: every other Tuesday only
    rules = AvailabilityRules(unit="hour", buffer_minutes=7 * 24 * 60)
    first = span(at(2026, 3, 3, 18), at(2026, 3, 3, 20))
    plan = plan_recurring(rules, [], first, at(2026, 4, 1), 1, at(2026, 3, 1))
    series = weekly_occurrences(first, at(2026, 4, 1), "Europe/Paris")
    assert plan.fits == tuple(series[::2])
    assert [p for p, _ in plan.conflicts] == series[1::2]
    with pytest.raises(InvalidMessage):
        plan_recurring(rules, [], first, at(2026, 4, 1), 0, at(2026, 3, 1))


# ---------------------------------------------------------------------------
# periods from human input


def test_local_period_refuses_the_spring_gap_and_takes_summer_time_when_ambiguous() -> None:
    with pytest.raises(InvalidMessage, match="does not exist"):
        local_period(datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 4), "Europe/Paris")
    autumn = local_period(datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 4), "Europe/Paris")
    assert paris(autumn.start).utcoffset() == timedelta(hours=2)  # first 02:30, still CEST
    assert autumn.duration_ms == 150 * MIN
    with pytest.raises(InvalidMessage):
        local_period(datetime(2026, 5, 5, 10, tzinfo=PARIS), datetime(2026, 5, 5, 12), "Europe/Paris")
    with pytest.raises(InvalidMessage):
        local_period(datetime(2026, 5, 5, 12), datetime(2026, 5, 5, 10), "Europe/Paris")
    with pytest.raises(InvalidMessage):
        day_period(date(2026, 5, 5), date(2026, 5, 4), "Europe/Paris")


# ---------------------------------------------------------------------------
# properties

BASE = at(2026, 3, 23)  # the week of the spring change
BASES = (BASE, at(2026, 10, 19))  # and of the autumn one


def periods(lo: int = BASE - 2 * DAY, hi: int = BASE + 9 * DAY) -> st.SearchStrategy[Period]:
    return st.builds(
        lambda start, length: Period(start=start, end=start + length),
        st.one_of(st.integers(lo // QUARTER, hi // QUARTER).map(lambda q: q * QUARTER), st.integers(lo, hi)),
        st.one_of(st.integers(1, 12).map(lambda q: q * QUARTER), st.integers(1, 2 * DAY)),
    )


OPENINGS = [
    None,
    (
        {"day": 1, "opens": "09:00", "closes": "22:00"},
        {"day": 3, "opens": "08:30", "closes": "12:00"},
        {"day": 3, "opens": "14:00", "closes": "24:00"},
        {"day": 4, "opens": "00:00", "closes": "03:00"},
    ),
    tuple({"day": d, "opens": "01:45", "closes": "24:00"} for d in range(1, 8)),  # 02:00-03:00 on DST nights
    ({"day": 7, "opens": "00:00", "closes": "24:00"}, {"day": 1, "opens": "00:00", "closes": "12:00"}),
]


class Scenario(NamedTuple):
    rules: AvailabilityRules
    bookings: list[Booking]
    around: int
    now: int


@st.composite
def scenarios(draw: st.DrawFn, unit: str) -> Scenario:
    base = draw(st.sampled_from(BASES))
    stock = draw(st.integers(1, 4))
    fields: dict = {"unit": unit, "stock": stock}
    if (opening := draw(st.sampled_from(OPENINGS))) is not None:
        fields["opening"] = opening
    for name, top in (("buffer_minutes", 180), ("min_notice_minutes", 3000)):
        if draw(st.booleans()):
            fields[name] = draw(st.integers(0, top))
    window = periods(base - 2 * DAY, base + 9 * DAY)
    if draw(st.booleans()):
        fields["blocked"] = tuple(draw(st.lists(window, min_size=1, max_size=3)))
    if draw(st.booleans()):
        fields["max_duration_minutes"] = draw(st.integers(1, 4 * 1440))
    bookings = draw(st.lists(st.builds(Booking, window, st.integers(1, stock), st.just("b")), max_size=12))
    around = draw(st.integers(base, base + 7 * DAY))
    now = draw(st.integers(base - 3 * DAY, base + 3 * DAY))
    return Scenario(rules_from_wire(fields), bookings, around, now)


def _check_slots(rules, bookings, duration, quantity, around, now) -> list[Period]:
    slots = free_slots(rules, bookings, duration, quantity, around, now)
    assert len(slots) <= 3
    for i, slot in enumerate(slots):
        check_request(rules, bookings, slot, quantity, now)
        assert abs(slot.start - around) <= SEARCH_HORIZON_MS
        assert not any(slot.overlaps(other) for other in slots[i + 1 :])
    assert [abs(s.start - around) for s in slots] == sorted(abs(s.start - around) for s in slots)
    return slots


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios("hour"), st.integers(1, 16).map(lambda q: q * QUARTER) | st.integers(1, 6 * HOUR), st.integers(1, 3))
def test_every_proposed_hourly_slot_is_accepted_and_is_the_nearest(
    scenario: Scenario, duration: int, quantity: int
) -> None:
    rules, bookings, around, now = scenario
    slots = _check_slots(rules, bookings, duration, quantity, around, now)
    # brute force over the quarter-hour grid within two days of the requested start
    length = -(-duration // QUARTER) * QUARTER
    grid = range(around - around % QUARTER - 2 * DAY, around + 2 * DAY, QUARTER)
    fitting = [s for s in grid if s >= 0 and refusal_reasons(rules, bookings, span(s, s + length), quantity, now) == []]
    nearest = min(fitting, key=lambda s: (abs(s - around), s), default=None)
    if nearest is not None and abs(nearest - around) < 2 * DAY:
        assert slots and slots[0] == span(nearest, nearest + length)
    else:
        assert not slots or abs(slots[0].start - around) >= 2 * DAY - QUARTER


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios("day"), st.integers(1, 4), st.integers(1, 2))
def test_every_proposed_daily_slot_is_accepted(scenario: Scenario, days: int, quantity: int) -> None:
    rules, bookings, around, now = scenario
    for slot in _check_slots(rules, bookings, days * DAY, quantity, around, now):
        assert paris(slot.start).time() == paris(slot.end).time() == datetime.min.time()
        assert (paris(slot.end).date() - paris(slot.start).date()).days == days


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(0, 120),
    st.lists(st.tuples(periods(BASE, BASE + DAY), st.integers(1, 5)), max_size=30),
    periods(BASE + 6 * HOUR, BASE + 12 * HOUR),
    st.integers(1, 5),
)
def test_capacity_rule_matches_a_brute_force_check_at_every_boundary(stock, buffer, raw, request, quantity) -> None:
    rules = AvailabilityRules(unit="hour", stock=stock, buffer_minutes=buffer)
    bookings = [Booking(p, min(q, stock), "b") for p, q in raw]
    pad = buffer * MIN
    boundaries = {request.start} | {
        t for b in bookings for t in (b.period.start - pad, b.period.end + pad) if request.start <= t < request.end
    }
    holds = quantity <= stock and all(
        sum(b.quantity for b in bookings if b.period.start - pad <= t < b.period.end + pad) + quantity <= stock
        for t in boundaries
    )
    reasons = refusal_reasons(rules, bookings, request, quantity, 0)
    assert ("stock" in reasons or "quantity-exceeds-stock" in reasons) == (not holds)
    if not reasons:
        check_request(rules, bookings, request, quantity, 0)
