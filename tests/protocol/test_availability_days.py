"""``day_uses``: how each local day of a resource is taken, as the month calendar shows it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocol import InvalidMessage
from protocol.availability import (
    AvailabilityRules,
    Booking,
    Period,
    day_period,
    day_uses,
    local_period,
    refusal_reasons,
    rules_from_wire,
)

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3_600_000
WEEKDAYS = tuple({"day": d, "opens": "09:00", "closes": "18:00"} for d in range(1, 6))


def rules(**fields: object) -> AvailabilityRules:
    return rules_from_wire({"unit": "day", **fields})


def booked(first: date, last: date, quantity: int = 1) -> Booking:
    return Booking(day_period(first, last, "Europe/Paris"), quantity, f"{first}-{last}")


def statuses(found: list) -> dict[date, str]:
    return {use.day: use.status for use in found}


@pytest.mark.parametrize("change", [date(2027, 3, 28), date(2027, 10, 31)])
def test_a_dst_day_is_booked_whole_and_its_neighbours_stay_free(change: date) -> None:
    days = day_uses(rules(), [booked(change, change)], change - timedelta(days=2), change + timedelta(days=2))
    assert statuses(days) == {change - timedelta(days=2): "free", change - timedelta(days=1): "free", change: "full",
                              change + timedelta(days=1): "free", change + timedelta(days=2): "free"}
    use = next(u for u in days if u.day == change)
    assert use.end - use.start == (23 if change.month == 3 else 25) * HOUR
    assert use.start == int(datetime(change.year, change.month, change.day, tzinfo=PARIS).timestamp()) * 1000


def test_a_loan_across_the_spring_change_covers_exactly_its_local_days() -> None:
    found = statuses(day_uses(rules(), [booked(date(2027, 3, 27), date(2027, 3, 29))],
                              date(2027, 3, 25), date(2027, 3, 31)))
    assert [d.day for d, s in sorted(found.items()) if s == "full"] == [27, 28, 29]


def test_stock_left_and_partly_booked_days() -> None:
    chairs = rules(stock=120)
    found = day_uses(chairs, [booked(date(2027, 5, 3), date(2027, 5, 4), 80), booked(date(2027, 5, 4), date(2027, 5, 4), 40)],
                     date(2027, 5, 2), date(2027, 5, 5))
    assert [(u.status, u.peak) for u in found] == [("free", 0), ("partly", 80), ("full", 120), ("free", 0)]


def test_closed_days_from_opening_hours_and_blocked_periods() -> None:
    blocked = day_period(date(2027, 5, 5), date(2027, 5, 5), "Europe/Paris")
    half_day = local_period(datetime(2027, 5, 6, 12), datetime(2027, 5, 6, 13), "Europe/Paris")
    daily = rules(opening=WEEKDAYS, blocked=(blocked.to_wire(), half_day.to_wire()))
    found = statuses(day_uses(daily, [], date(2027, 5, 3), date(2027, 5, 9)))  # Monday to Sunday
    # By the day, a day blocked for one hour cannot be booked either: the engine agrees.
    assert found == {date(2027, 5, 3): "free", date(2027, 5, 4): "free", date(2027, 5, 5): "closed",
                     date(2027, 5, 6): "closed", date(2027, 5, 7): "free", date(2027, 5, 8): "closed",
                     date(2027, 5, 9): "closed"}
    for day, status in found.items():
        reasons = refusal_reasons(daily, [], day_period(day, day, "Europe/Paris"), 1, 0)
        assert bool({"closed", "blocked"} & set(reasons)) == (status == "closed"), day


def test_hourly_rooms_are_partly_booked_by_hours_and_full_when_no_hour_is_left() -> None:
    room = rules_from_wire({"unit": "hour", "opening": WEEKDAYS, "buffer_minutes": 30})
    evening = Booking(local_period(datetime(2027, 5, 4, 14), datetime(2027, 5, 4, 16), "Europe/Paris"), 1, "a")
    all_day = Booking(local_period(datetime(2027, 5, 5, 9), datetime(2027, 5, 5, 18), "Europe/Paris"), 1, "b")
    found = day_uses(room, [evening, all_day], date(2027, 5, 3), date(2027, 5, 9))
    assert [u.status for u in found] == ["free", "partly", "full", "free", "free", "closed", "closed"]
    tuesday = found[1]
    assert tuesday.open_ms == 9 * HOUR and tuesday.held_ms == 3 * HOUR  # two hours and the buffers around them
    blocked = local_period(datetime(2027, 5, 6, 9), datetime(2027, 5, 6, 12), "Europe/Paris")
    with_block = room.model_copy(update={"blocked": (blocked,)})
    assert day_uses(with_block, [], date(2027, 5, 6), date(2027, 5, 6))[0].status == "partly"


def test_opening_hours_that_vanish_in_the_spring_gap_close_the_day() -> None:
    night = rules_from_wire({"unit": "hour", "opening": ({"day": 7, "opens": "02:00", "closes": "03:00"},)})
    found = day_uses(night, [], date(2027, 3, 21), date(2027, 3, 28))
    assert (found[0].status, found[-1].status) == ("free", "closed")


@pytest.mark.parametrize("first,last", [(date(2027, 5, 2), date(2027, 5, 1)), (date(1969, 12, 31), date(1970, 1, 2)),
                                        (date(2027, 1, 1), date(2028, 3, 1))])
def test_bad_ranges_are_invalid(first: date, last: date) -> None:
    with pytest.raises(InvalidMessage):
        day_uses(rules(), [], first, last)


def test_bookings_outside_the_range_count_only_through_their_buffer() -> None:
    buffered = rules(buffer_minutes=60)
    before = booked(date(2027, 5, 1), date(2027, 5, 1))
    found = day_uses(buffered, [before], date(2027, 5, 2), date(2027, 5, 3))
    # The hour after the loan is kept free: the next day cannot be lent, as a request would be told.
    assert [u.status for u in found] == ["full", "free"]
    assert "stock" in refusal_reasons(buffered, [before], day_period(date(2027, 5, 2), date(2027, 5, 2), "Europe/Paris"), 1, 0)
    assert isinstance(found[0].start, int) and Period.between(found[0].start, found[0].end)
