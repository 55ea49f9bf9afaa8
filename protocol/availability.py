"""Availability of a lendable resource: does a loan or booking request fit?

Pure: no I/O and no clock; the owner's node passes ``now_ms`` and the
bookings it has committed. Instants are integer milliseconds since the Unix
epoch (UTC); periods are half-open ``[start, end)``.

The rules (``AvailabilityRules``, embedded in a resource record) say:

* **unit** - ``"day"``: a period starts and ends at a local midnight of the
  resource's time zone (a local day lasts 23 or 25 hours on DST days).
  ``"hour"``: a period starts and ends on a quarter hour (a multiple of
  15 minutes since the epoch, which is a local quarter hour in every zone in
  use today): finer than whole hours, because rooms are booked 18:30-20:00.
* **stock** - how many units may be out at once. For every instant of a
  request, the quantities of the bookings whose period, *widened by
  ``buffer_minutes`` on both sides*, covers that instant, plus the requested
  quantity, must not exceed the stock. Blocked periods and closed hours get
  no buffer.
* **opening** - weekly wall-clock intervals (``"HH:MM"`` local; ``closes``
  may be ``"24:00"``). Intervals of one day may neither overlap nor touch
  (write 09:00-18:00, not 09:00-12:00 + 12:00-18:00), so a booking lying
  inside one interval of each day it touches is a booking inside the opening
  time. A booking crossing midnight fits only when that evening's interval
  closes at 24:00 and the next morning's opens at 00:00. With unit ``"day"``
  every day a booking covers must have an opening entry. Wall times are read
  as zoneinfo does with fold=0: a time in the spring-forward gap with the
  offset before the change (02:30 becomes 03:30), an ambiguous autumn time as
  its first occurrence.
* **notice** - a request may not start before now (``in-past``) nor before
  now + ``min_notice_minutes`` (``notice``). With unit ``"day"`` both instants
  are rounded down to their local day, so the current day may still be asked
  for (the borrower comes by during the day).
* **durations** - ``min/max_duration_minutes``; with unit ``"day"`` a period
  of n local days counts as n * 1440 minutes whatever DST does.

A refused request raises ``Conflict`` with ``reasons`` (codes from
``REASONS``) and ``free``: up to three slots of the same length and quantity,
nearest to the requested start first, not overlapping each other, searched
forwards (starting at or after it) and backwards (starting before it) within
``SEARCH_HORIZON_MS`` and never before the notice allows. Checking is a sweep
over the bookings' boundaries (O(n log n)); the search walks the merged busy
spans (over capacity, blocked or closed), jumping past each one.

Weekly series repeat the first occurrence at the same local wall-clock time
(so their UTC instants move with DST); every occurrence is checked, those
that fit count against the later ones, and those that do not are listed with
their reasons. Bounds keep the work small: requests of at most 400 days,
series of at most ``MAX_OCCURRENCES``, instants before the year 9000.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from .errors import Conflict, InvalidMessage
from .schema import Body, Millis, NilFree, parse

MINUTE_MS = 60_000
QUARTER_MS = 15 * MINUTE_MS
DAY_MS = 24 * 60 * MINUTE_MS
MAX_MINUTES = 366 * 24 * 60  # notice and durations: a year at most
MAX_BUFFER_MINUTES = 7 * 24 * 60
MAX_STOCK = 1_000_000_000
MAX_PERIOD_MS = 400 * DAY_MS  # longer requests are malformed: it also bounds the work per request
SEARCH_HORIZON_MS = 90 * DAY_MS
MAX_OCCURRENCES = 106  # two years of weekly meetings

# Stable codes, in the order a refusal lists them.
REASONS = (
    "in-past",
    "notice",
    "not-aligned",
    "too-short",
    "too-long",
    "quantity-exceeds-stock",
    "blocked",
    "closed",
    "stock",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_YEAR = 8999  # instants are read as local dates, and datetime stops at year 9999
LAST_INSTANT_MS = (datetime(_LAST_YEAR + 1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # files in zoneinfo dirs that name no place


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone name") from None
    if value in _NOT_ZONES:
        raise ValueError("not an IANA time zone name")
    return value


TimeZoneName = Annotated[
    str, Field(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"), AfterValidator(_zone_name)
]
HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
ClosingTime = Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
Minutes = Annotated[int, Field(ge=0, le=MAX_MINUTES)]


def _minute_of_day(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class Period(Body):
    """A half-open interval of instants ``[start, end)``, in ms since the epoch."""

    start: Millis
    end: Millis

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    @classmethod
    def between(cls, start: int, end: int) -> Period:
        """A period, or InvalidMessage when it is not one."""
        return parse(cls, {"start": start, "end": end})

    @property
    def duration_ms(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end


class OpeningHours(Body):
    """One weekly opening interval, in local wall-clock time (day: ISO weekday, 1 = Monday)."""

    day: Annotated[int, Field(ge=1, le=7)]
    opens: HourMinute
    closes: ClosingTime

    @model_validator(mode="after")
    def _ordered(self) -> OpeningHours:
        if _minute_of_day(self.opens) >= _minute_of_day(self.closes):
            raise ValueError("opens must be before closes")
        return self


class AvailabilityRules(NilFree):
    """How a resource may be booked (see the module docstring for the meaning of each field)."""

    unit: Annotated[str, Field(pattern=r"^(day|hour)$")]
    stock: Annotated[int, Field(ge=1, le=MAX_STOCK)] = 1
    timezone: TimeZoneName = "Europe/Paris"
    opening: Annotated[tuple[OpeningHours, ...], Field(min_length=1, max_length=28)] | None = None
    blocked: Annotated[tuple[Period, ...], Field(min_length=1, max_length=1000)] | None = None
    min_notice_minutes: Minutes | None = None
    min_duration_minutes: Minutes | None = None
    max_duration_minutes: Minutes | None = None
    buffer_minutes: Annotated[int, Field(ge=0, le=MAX_BUFFER_MINUTES)] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> AvailabilityRules:
        low, high = self.min_duration_minutes, self.max_duration_minutes
        if low is not None and high is not None and low > high:
            raise ValueError("min_duration_minutes exceeds max_duration_minutes")
        spans = sorted((o.day, _minute_of_day(o.opens), _minute_of_day(o.closes)) for o in self.opening or ())
        for (day, _, closes), (next_day, opens, _) in itertools.pairwise(spans):
            if day == next_day and opens <= closes:
                raise ValueError("opening intervals of one day must neither overlap nor touch")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Booking(NamedTuple):
    """A committed booking of ``quantity`` units; ``ref`` is the caller's handle on the agreement."""

    period: Period
    quantity: int
    ref: bytes | str


@dataclass(frozen=True, slots=True)
class RecurringPlan:
    """A weekly series split into occurrences that fit and those that do not (with their reasons)."""

    fits: tuple[Period, ...]
    conflicts: tuple[tuple[Period, tuple[str, ...]], ...]


# ---------------------------------------------------------------------------
# local time


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact integer arithmetic, no float


def _local(ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone)


def _wall_ms(day: date, minute: int, zone: ZoneInfo) -> int:
    """The instant of a wall-clock time (fold=0); minute 1440 is the next midnight."""
    day, minute = day + timedelta(days=minute // 1440), minute % 1440
    return _to_ms(datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone))


def _day_start(day: date, zone: ZoneInfo) -> int:
    return _wall_ms(day, 0, zone)


def _day_floor(ms: int, zone: ZoneInfo) -> int:
    return _day_start(_local(ms, zone).date(), zone)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(_zone_name(name))
    except ValueError:
        raise InvalidMessage(f"unknown time zone {name!r}") from None


# ---------------------------------------------------------------------------
# slots: aligned periods of one length


@dataclass(frozen=True, slots=True)
class _Slots:
    """Quarter-hour slots of ``length`` ms (zone None) or local-day slots of ``length`` days."""

    length: int
    zone: ZoneInfo | None = None

    @property
    def nominal_ms(self) -> int:
        return self.length * DAY_MS if self.zone is not None else self.length

    def floor(self, t: int) -> int:
        """The latest aligned instant at or before ``t``."""
        return t - t % QUARTER_MS if self.zone is None else _day_floor(t, self.zone)

    def ceil(self, t: int) -> int:
        down = self.floor(t)
        return down if down == t else self.shift(down, 1)

    def shift(self, aligned: int, steps: int) -> int:
        if self.zone is None:
            return aligned + steps * QUARTER_MS
        return _day_start(_local(aligned, self.zone).date() + timedelta(days=steps), self.zone)

    def end(self, start: int) -> int:
        return start + self.length if self.zone is None else self.shift(start, self.length)

    def latest_start_ending_by(self, t: int) -> int:
        down = self.floor(t)
        return down - self.length if self.zone is None else self.shift(down, -self.length)


def _slots_for(rules: AvailabilityRules, duration_ms: int) -> _Slots:
    if rules.unit == "day":
        return _Slots(max(1, (duration_ms + DAY_MS // 2) // DAY_MS), rules.zone)
    return _Slots(-(-duration_ms // QUARTER_MS) * QUARTER_MS)  # round up to the grid


# ---------------------------------------------------------------------------
# intervals


Span = tuple[int, int]


def _merge(spans: list[Span]) -> list[Span]:
    """Sorted, disjoint spans; touching spans are joined (opening 24:00 meets 00:00)."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _load_steps(bookings: Sequence[Booking], buffer_ms: int, lo: int, hi: int) -> list[Span]:
    """Sweep line: the booked quantity (buffers included) as steps ``(from, load)`` over [lo, hi)."""
    deltas: dict[int, int] = {}
    for booking in bookings:
        start = max(booking.period.start - buffer_ms, lo)
        end = min(booking.period.end + buffer_ms, hi)
        if start < end:
            deltas[start] = deltas.get(start, 0) + booking.quantity
            deltas[end] = deltas.get(end, 0) - booking.quantity
    steps, load = [], 0
    for instant in sorted(deltas):
        load += deltas[instant]
        steps.append((instant, load))
    return steps


def _open_spans(rules: AvailabilityRules, lo: int, hi: int) -> list[Span]:
    """Opening time as merged instants, for every local day touching [lo, hi)."""
    zone = rules.zone
    day, last = _local(lo, zone).date() - timedelta(days=1), _local(hi, zone).date() + timedelta(days=1)
    spans: list[Span] = []
    while day <= last:
        entries = [o for o in rules.opening or () if o.day == day.isoweekday()]
        if rules.unit == "day" and entries:
            spans.append((_day_start(day, zone), _day_start(day + timedelta(days=1), zone)))
        elif rules.unit == "hour":
            for entry in entries:
                start = _wall_ms(day, _minute_of_day(entry.opens), zone)
                end = _wall_ms(day, _minute_of_day(entry.closes), zone)
                if start < end:  # an interval inside the spring-forward gap vanishes
                    spans.append((start, end))
        day += timedelta(days=1)
    return _merge(spans)


def _complement(spans: list[Span], lo: int, hi: int) -> list[Span]:
    gaps, cursor = [], lo
    for start, end in spans:
        if start > cursor:
            gaps.append((cursor, min(start, hi)))
        cursor = max(cursor, end)
    if cursor < hi:
        gaps.append((cursor, hi))
    return [(a, b) for a, b in gaps if a < b]


def _buffer_ms(rules: AvailabilityRules) -> int:
    return (rules.buffer_minutes or 0) * MINUTE_MS


def _earliest(rules: AvailabilityRules, now_ms: int) -> Span:
    """(first start that is not in the past, first start the notice allows)."""
    notice = now_ms + (rules.min_notice_minutes or 0) * MINUTE_MS
    if rules.unit == "day":
        return _day_floor(now_ms, rules.zone), _day_floor(notice, rules.zone)
    return now_ms, notice


# ---------------------------------------------------------------------------
# checking a request


def _check_quantity(quantity: int) -> None:
    if type(quantity) is not int or not 1 <= quantity <= MAX_STOCK:
        raise InvalidMessage(f"quantity must be an integer from 1 to {MAX_STOCK}")


def _check_instants(*instants: int) -> None:
    if not all(type(t) is int and 0 <= t <= LAST_INSTANT_MS for t in instants):
        raise InvalidMessage(f"instants must be integer ms from 1970 to the year {_LAST_YEAR}")


def refusal_reasons(
    rules: AvailabilityRules, bookings: Sequence[Booking], period: Period, quantity: int, now_ms: int
) -> list[str]:
    """Why a request does not fit (codes in REASONS order); empty when it fits. InvalidMessage if malformed."""
    _check_quantity(quantity)
    _check_instants(period.start, period.end, now_ms)
    if not period.start < period.end <= period.start + MAX_PERIOD_MS:
        raise InvalidMessage("a requested period must have start < end and last at most 400 days")
    found: set[str] = set()
    past, notice = _earliest(rules, now_ms)
    if period.start < past:
        found.add("in-past")
    elif period.start < notice:
        found.add("notice")
    zone = rules.zone if rules.unit == "day" else None
    grid = _Slots(1, zone)
    aligned = grid.floor(period.start) == period.start and grid.floor(period.end) == period.end
    if not aligned:
        found.add("not-aligned")
    nominal = period.duration_ms
    if aligned and zone is not None:
        nominal = (_local(period.end, zone).date() - _local(period.start, zone).date()).days * DAY_MS
    if rules.min_duration_minutes is not None and nominal < rules.min_duration_minutes * MINUTE_MS:
        found.add("too-short")
    if rules.max_duration_minutes is not None and nominal > rules.max_duration_minutes * MINUTE_MS:
        found.add("too-long")
    if quantity > rules.stock:
        found.add("quantity-exceeds-stock")
    if any(period.overlaps(b) for b in rules.blocked or ()):
        found.add("blocked")
    if rules.opening and not any(
        a <= period.start and period.end <= b for a, b in _open_spans(rules, period.start, period.end)
    ):
        found.add("closed")
    if quantity <= rules.stock:
        steps = _load_steps(bookings, _buffer_ms(rules), period.start, period.end)
        if max((load for _, load in steps), default=0) + quantity > rules.stock:
            found.add("stock")
    return [r for r in REASONS if r in found]


def check_request(
    rules: AvailabilityRules, bookings: Sequence[Booking], period: Period, quantity: int, now_ms: int
) -> None:
    """Accept silently, or raise Conflict with ``reasons`` and ``free`` slots (InvalidMessage if malformed)."""
    reasons = refusal_reasons(rules, bookings, period, quantity, now_ms)
    if reasons:
        free = free_slots(rules, bookings, period.duration_ms, quantity, period.start, now_ms)
        raise Conflict(
            f"the requested period does not fit: {', '.join(reasons)}",
            reasons=reasons,
            free=[slot.to_wire() for slot in free],
        )


# ---------------------------------------------------------------------------
# searching free slots


def free_slots(
    rules: AvailabilityRules,
    bookings: Sequence[Booking],
    duration_ms: int,
    quantity: int,
    around_ms: int,
    now_ms: int,
    limit: int = 3,
) -> list[Period]:
    """Up to ``limit`` free, non-overlapping slots nearest to ``around_ms`` (nearest first).

    ``duration_ms`` is rounded up to a quarter hour (unit "hour") or to the
    nearest whole number of days (unit "day").
    """
    _check_quantity(quantity)
    _check_instants(around_ms, now_ms)
    if not 0 < duration_ms <= MAX_PERIOD_MS:
        raise InvalidMessage("a duration must be positive and at most 400 days")
    slots = _slots_for(rules, duration_ms)
    low, high = rules.min_duration_minutes, rules.max_duration_minutes
    if (
        limit < 1
        or quantity > rules.stock
        or slots.nominal_ms > MAX_MINUTES * MINUTE_MS
        or (low is not None and slots.nominal_ms < low * MINUTE_MS)
        or (high is not None and slots.nominal_ms > high * MINUTE_MS)
    ):
        return []
    lo = around_ms - SEARCH_HORIZON_MS - 2 * DAY_MS
    hi = around_ms + SEARCH_HORIZON_MS + slots.nominal_ms + 2 * DAY_MS
    bad = _busy(rules, bookings, quantity, lo, hi)
    _, earliest = _earliest(rules, now_ms)
    after = _forward(slots, bad, max(around_ms, earliest), around_ms + SEARCH_HORIZON_MS, limit)
    before = _backward(slots, bad, around_ms, max(earliest, around_ms - SEARCH_HORIZON_MS), limit)
    chosen: list[Period] = []
    for slot in sorted(after + before, key=lambda p: (abs(p.start - around_ms), p.start)):
        if len(chosen) < limit and not any(slot.overlaps(c) for c in chosen):
            chosen.append(slot)
    return chosen


def _busy(rules: AvailabilityRules, bookings: Sequence[Booking], quantity: int, lo: int, hi: int) -> list[Span]:
    """Where no slot may be: over capacity for ``quantity``, blocked, or closed."""
    steps = _load_steps(bookings, _buffer_ms(rules), lo, hi)
    spans = [(t, nxt) for (t, load), (nxt, _) in itertools.pairwise(steps) if load + quantity > rules.stock]
    spans += [(p.start, p.end) for p in rules.blocked or ()]
    if rules.opening:
        spans += _complement(_open_spans(rules, lo, hi), lo, hi)
    return _merge(spans)


def _forward(slots: _Slots, busy: list[Span], start: int, stop: int, limit: int) -> list[Period]:
    ends = [end for _, end in busy]
    found: list[Period] = []
    candidate = slots.ceil(start)
    while candidate <= stop and len(found) < limit:
        end = slots.end(candidate)
        i = bisect_right(ends, candidate)  # the first busy span ending after the candidate starts
        if i < len(busy) and busy[i][0] < end:
            candidate = slots.ceil(busy[i][1])  # every start before its end would meet it too
            continue
        found.append(Period(start=candidate, end=end))
        candidate = end
    return found


def _backward(slots: _Slots, busy: list[Span], before: int, floor: int, limit: int) -> list[Period]:
    starts = [start for start, _ in busy]
    found: list[Period] = []
    candidate = slots.floor(before - 1)
    while candidate >= floor and len(found) < limit:
        end = slots.end(candidate)
        i = bisect_left(starts, end) - 1  # the last busy span starting before the candidate ends
        if i >= 0 and busy[i][1] > candidate:
            candidate = slots.latest_start_ending_by(busy[i][0])
            continue
        found.append(Period(start=candidate, end=end))
        candidate = slots.latest_start_ending_by(candidate)
    return found


# ---------------------------------------------------------------------------
# recurring bookings


def weekly_occurrences(first: Period, until_ms: int, timezone: str) -> list[Period]:
    """``first`` and its weekly repeats starting before ``until_ms``, at the same local wall-clock times.

    Repeats are read with fold=0 (see the module docstring); at most
    MAX_OCCURRENCES, and occurrences may not overlap (InvalidMessage otherwise).
    """
    zone = _zone(timezone)
    _check_instants(first.end, until_ms)
    if until_ms <= first.start:
        raise InvalidMessage("a series must end after its first occurrence starts")
    start = _local(first.start, zone).replace(tzinfo=None, fold=0)
    end = _local(first.end, zone).replace(tzinfo=None, fold=0)
    occurrences = [first]
    for week in range(1, MAX_OCCURRENCES + 1):
        shift = timedelta(weeks=week)
        begins = _to_ms((start + shift).replace(tzinfo=zone))
        if begins >= until_ms:
            return occurrences
        if week == MAX_OCCURRENCES:
            break
        occurrence = Period.between(begins, _to_ms((end + shift).replace(tzinfo=zone)))
        if occurrence.start < occurrences[-1].end:
            raise InvalidMessage("a weekly occurrence must end before the next one starts")
        occurrences.append(occurrence)
    raise InvalidMessage(f"a series has at most {MAX_OCCURRENCES} occurrences")


def plan_recurring(
    rules: AvailabilityRules,
    bookings: Sequence[Booking],
    first: Period,
    until_ms: int,
    quantity: int,
    now_ms: int,
) -> RecurringPlan:
    """Check every occurrence; earlier occurrences that fit count against later ones (buffers too)."""
    taken = list(bookings)
    fits: list[Period] = []
    conflicts: list[tuple[Period, tuple[str, ...]]] = []
    for occurrence in weekly_occurrences(first, until_ms, rules.timezone):
        reasons = refusal_reasons(rules, taken, occurrence, quantity, now_ms)
        if reasons:
            conflicts.append((occurrence, tuple(reasons)))
        else:
            fits.append(occurrence)
            taken.append(Booking(occurrence, quantity, "series"))
    return RecurringPlan(tuple(fits), tuple(conflicts))


# ---------------------------------------------------------------------------
# days at a glance (a month calendar)

MAX_CALENDAR_DAYS = 400


class DayUse(NamedTuple):
    """How one local day of a resource is taken, judged as a one-unit request would be.

    ``start``/``end`` are its local midnights (23 or 25 hours apart on DST
    days). ``open_ms`` is its opening time; ``bookable_ms`` what blocked
    periods leave of it (with unit "day" all of the day or nothing, since a
    day is booked whole); ``held_ms`` the bookable time where some unit is
    held and ``full_ms`` where none is left (buffers included); ``peak`` the
    most units held at once during the bookable time.
    """

    day: date
    start: int
    end: int
    open_ms: int
    bookable_ms: int
    held_ms: int
    full_ms: int
    peak: int

    @property
    def status(self) -> str:
        """``"closed"``, ``"full"``, ``"partly"`` (some stock or some opening hours taken) or ``"free"``."""
        if self.bookable_ms == 0:
            return "closed"
        if self.full_ms >= self.bookable_ms:
            return "full"
        if self.held_ms or self.bookable_ms < self.open_ms:
            return "partly"
        return "free"


def day_uses(rules: AvailabilityRules, bookings: Sequence[Booking], first: date, last: date) -> list[DayUse]:
    """Every local day from ``first`` to ``last`` inclusive (at most MAX_CALENDAR_DAYS): how it is taken."""
    if last < first or (last - first).days >= MAX_CALENDAR_DAYS or first.year < 1970 or last.year > _LAST_YEAR:
        raise InvalidMessage(f"a calendar covers 1 to {MAX_CALENDAR_DAYS} days, from 1970 to the year {_LAST_YEAR}")
    zone = rules.zone
    lo, hi = _day_start(first, zone), _day_start(last + timedelta(days=1), zone)
    steps = _load_steps(bookings, _buffer_ms(rules), lo, hi)
    opening = _open_spans(rules, lo, hi) if rules.opening else [(lo, hi)]
    blocked = _merge([(p.start, p.end) for p in rules.blocked or ()])
    uses: list[DayUse] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        start, end = _day_start(day, zone), _day_start(day + timedelta(days=1), zone)
        opened = [(max(a, start), min(b, end)) for a, b in opening if a < end and start < b]
        bookable = [gap for a, b in opened for gap in _complement(blocked, a, b)]
        if rules.unit == "day" and bookable != [(start, end)]:
            bookable = []  # a day booking needs the whole day open and unblocked
        held, full, peak = _measure(steps, bookable, rules.stock)
        size = sum(b - a for a, b in bookable)
        if rules.unit == "day" and peak >= rules.stock:
            full = size  # one full instant leaves no unit for the whole day
        uses.append(DayUse(day, start, end, sum(b - a for a, b in opened), size, held, full, peak))
    return uses


def _measure(steps: list[Span], spans: list[Span], stock: int) -> tuple[int, int, int]:
    """(time with some unit held, time with none left, peak load) of the load steps over ``spans``."""
    held = full = peak = 0
    for (t, load), (nxt, _) in itertools.pairwise(steps):
        if load <= 0:
            continue
        for a, b in spans:
            overlap = min(b, nxt) - max(a, t)
            if overlap > 0:
                held += overlap
                full += overlap if load >= stock else 0
                peak = max(peak, load)
    return held, full, peak


# ---------------------------------------------------------------------------
# periods from human input


def day_period(first_day: date, last_day: date, timezone: str) -> Period:
    """The local days ``first_day`` to ``last_day`` inclusive, midnight to midnight."""
    if last_day < first_day or last_day.year > _LAST_YEAR:
        raise InvalidMessage(f"the last day must not come before the first, nor after the year {_LAST_YEAR}")
    zone = _zone(timezone)
    return Period.between(_day_start(first_day, zone), _day_start(last_day + timedelta(days=1), zone))


def local_period(start: datetime, end: datetime, timezone: str) -> Period:
    """A period from naive local times: a time in the spring-forward gap is refused;
    an ambiguous autumn time is its first occurrence (fold=0, still summer time)."""
    zone = _zone(timezone)
    return Period.between(_from_wall(start, zone), _from_wall(end, zone))


def _from_wall(moment: datetime, zone: ZoneInfo) -> int:
    if moment.tzinfo is not None or not 1970 <= moment.year <= _LAST_YEAR:
        raise InvalidMessage(f"expected a local time without a time zone, from 1970 to the year {_LAST_YEAR}")
    moment = moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000, fold=0)
    ms = _to_ms(moment.replace(tzinfo=zone))
    if _local(ms, zone).replace(tzinfo=None) != moment:
        raise InvalidMessage(f"{moment.isoformat(sep=' ')} does not exist in {zone.key}: clocks jump forward then")
    return ms


def rules_from_wire(data: Any) -> AvailabilityRules:
    """Validate a decoded map as rules (InvalidMessage naming the field on failure)."""
    return parse(AvailabilityRules, data)


__all__ = [
    "MAX_OCCURRENCES",
    "REASONS",
    "SEARCH_HORIZON_MS",
    "AvailabilityRules",
    "Booking",
    "DayUse",
    "OpeningHours",
    "Period",
    "RecurringPlan",
    "check_request",
    "day_period",
    "day_uses",
    "free_slots",
    "local_period",
    "plan_recurring",
    "refusal_reasons",
    "rules_from_wire",
    "weekly_occurrences",
]
