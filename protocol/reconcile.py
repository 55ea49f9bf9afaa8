"""Range-based set reconciliation (in the spirit of negentropy, Nostr NIP-77).

Two nodes each hold a set of items ``(time, key)`` — one per record version —
and want to learn, in a few round trips and with bandwidth that grows with the
size of the difference rather than of the sets, which keys each side lacks.

Items are totally ordered by ``(time, key)``. A message is a list of
consecutive ranges over that order, each closed by an upper bound and carrying
a mode: ``SKIP`` (nothing to do), ``FINGERPRINT`` (a 16-byte digest of the
sender's items in the range), ``IDS`` (the sender's keys in the range) or
``DIFF`` (the answer to ``IDS``: the keys the receiver lacks and those of its
list the sender lacks). A side answers every message with ``respond``; an
exchange ends when a side has nothing left to say (``respond`` returns
``None``). See docs/reconciliation.md for the byte-level specification.

Everything here is pure: message bytes in, message bytes out. The local set
must not change during one exchange (take a snapshot).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from .encoding import Limits, decode, encode
from .errors import InvalidMessage, LocalProtocolError, NonCanonical, TooLarge

__all__ = [
    "BRANCHING",
    "DEFAULT_FRAME",
    "ID_THRESHOLD",
    "MAX_FRAME",
    "MAX_LIST",
    "MAX_TIME",
    "MIN_FRAME",
    "RECONCILE_VERSION",
    "Item",
    "ReconcileError",
    "SortedItems",
    "fingerprint",
    "initiate",
    "respond",
]

RECONCILE_VERSION: Final = 1

# Modes of a range on the wire.
SKIP: Final = 0
FINGERPRINT: Final = 1
IDS: Final = 2
DIFF: Final = 3

KEY_BYTES: Final = 32
FINGERPRINT_BYTES: Final = 16
MAX_TIME: Final = 2**53 - 1  # item times are ms in [0, 2**53), like every Millis field
MAX_LIST: Final = 64  # most keys an IDS range may carry (and a side may hold in a range it lists)
MAX_ITEMS: Final = 10_000  # most ranges per message, most keys in one DIFF list (the max_array default)
MIN_FRAME: Final = 8 * 1024
MAX_FRAME: Final = 1 << 20
DEFAULT_FRAME: Final = 60_000
BRANCHING: Final = 12  # sub-ranges a mismatched range is split into
ID_THRESHOLD: Final = 12  # a mismatched range holding at most this many local items is listed

_MOD: Final = 1 << 256
_INF_TIME: Final = MAX_TIME + 1  # time of the bound after every item
_MIN_BOUND: Final = (0, b"")
_INF_BOUND: Final = (_INF_TIME, b"")
# Bytes reserved for the top-level map and array headers and a final fingerprint range.
_RESERVE: Final = 48

_LIMITS: Final = Limits(max_bytes=MAX_FRAME, max_depth=4, max_str=1, max_bin=KEY_BYTES, max_array=MAX_ITEMS, max_map=2)

Bound = tuple[int, bytes]


class ReconcileError(InvalidMessage):
    """A reconciliation message that is well-formed msgpack but breaks the protocol."""


@dataclass(frozen=True, slots=True, order=True)
class Item:
    """One record version: its version time (ms) and its 32-byte key."""

    time: int
    key: bytes

    def __post_init__(self) -> None:
        if type(self.time) is not int or not 0 <= self.time <= MAX_TIME:
            raise LocalProtocolError(f"item time must be an integer in [0, 2**53): {self.time!r}")
        if type(self.key) is not bytes or len(self.key) != KEY_BYTES:
            raise LocalProtocolError("item key must be 32 bytes")


def fingerprint(keys: Iterable[bytes]) -> bytes:
    """The fingerprint of a set of keys, computed directly (the reference definition)."""
    total = 0
    count = 0
    for key in keys:
        total += int.from_bytes(key, "little")
        count += 1
    return _fingerprint(total % _MOD, count)


def _fingerprint(total: int, count: int) -> bytes:
    return hashlib.sha256(total.to_bytes(32, "little") + count.to_bytes(8, "big")).digest()[:FINGERPRINT_BYTES]


class SortedItems:
    """A snapshot of the local set: items sorted by (time, key) with prefix sums of the keys.

    Built once (O(n log n)); then the fingerprint of any range of positions is
    O(1) and locating a bound is O(log n). Duplicate items are kept once.
    """

    __slots__ = ("_items", "_sums")

    def __init__(self, items: Iterable[Item]) -> None:
        pairs = sorted({(item.time, item.key) for item in items})
        sums = [0] * (len(pairs) + 1)
        total = 0
        for i, (_, key) in enumerate(pairs, 1):
            total += int.from_bytes(key, "little")
            sums[i] = total
        self._items: list[tuple[int, bytes]] = pairs
        self._sums = sums

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return (Item(t, k) for t, k in self._items)

    def index(self, bound: Bound) -> int:
        """The number of items below ``bound`` (a ``(time, key prefix)`` pair)."""
        return bisect_left(self._items, bound)

    def fingerprint(self, lo: int, hi: int) -> bytes:
        """The fingerprint of the items at positions ``lo`` to ``hi`` (excluded)."""
        return _fingerprint((self._sums[hi] - self._sums[lo]) % _MOD, hi - lo)

    def keys(self, lo: int, hi: int) -> list[bytes]:
        """The keys at positions ``lo`` to ``hi`` (excluded), sorted by their bytes."""
        return sorted(k for _, k in self._items[lo:hi])

    def bound_before(self, i: int) -> Bound:
        """The shortest bound separating item ``i - 1`` from item ``i`` (0 < i < len)."""
        prev_time, prev_key = self._items[i - 1]
        time, key = self._items[i]
        if time != prev_time:
            return (time, b"")
        common = 0
        while prev_key[common] == key[common]:
            common += 1
        return (time, key[: common + 1])


# --- wire form ---------------------------------------------------------------


def _check_params(frame_limit: int, branching: int, id_threshold: int) -> None:
    if not MIN_FRAME <= frame_limit <= MAX_FRAME:
        raise LocalProtocolError(f"frame_limit must be in [{MIN_FRAME}, {MAX_FRAME}]")
    if not 2 <= branching <= 64:
        raise LocalProtocolError("branching must be in [2, 64]")
    if not 1 <= id_threshold <= MAX_LIST:
        # A range holding one item cannot be split: it must be listed, or the exchange would not end.
        raise LocalProtocolError(f"id_threshold must be in [1, {MAX_LIST}]")


def _check_keys(value: Any, what: str, max_len: int) -> tuple[bytes, ...]:
    if type(value) is not tuple:
        raise ReconcileError(f"{what} must be an array of keys")
    if len(value) > max_len:
        raise TooLarge(f"{what} holds {len(value)} keys, more than {max_len}", limit=max_len)
    previous = b""
    for key in value:
        if type(key) is not bytes or len(key) != KEY_BYTES:
            raise ReconcileError(f"{what}: every key must be 32 bytes")
        if key <= previous:
            raise ReconcileError(f"{what}: keys must be strictly increasing")
        previous = key
    return value


@dataclass(frozen=True, slots=True)
class _Range:
    upper: Bound
    mode: int
    fp: bytes = b""
    ids: tuple[bytes, ...] = ()  # IDS: the sender's keys; DIFF: keys the receiver lacks
    lacking: tuple[bytes, ...] = ()  # DIFF: keys of the receiver's list the sender lacks


def parse_message(message: bytes) -> list[_Range]:
    """Decode and validate a message; raise InvalidMessage, NonCanonical or TooLarge."""
    value = decode(message, _LIMITS)
    if type(value) is not dict:
        raise ReconcileError("a reconciliation message is a map")
    if set(value) != {"r", "v"}:
        raise ReconcileError("a reconciliation message has exactly the keys 'r' and 'v'")
    if value["v"] != RECONCILE_VERSION or type(value["v"]) is not int:
        raise ReconcileError(f"unsupported reconciliation version {value['v']!r}")
    raw_ranges = value["r"]
    if type(raw_ranges) is not tuple:
        raise ReconcileError("'r' must be an array of ranges")
    ranges: list[_Range] = []
    prev_time, prev_prefix = _MIN_BOUND
    prev_mode = -1
    last = len(raw_ranges) - 1
    for i, raw in enumerate(raw_ranges):
        if type(raw) is not tuple or len(raw) < 3:
            raise ReconcileError(f"range {i}: must be an array [delta, prefix, mode, ...]")
        delta, prefix, mode = raw[0], raw[1], raw[2]
        if type(prefix) is not bytes:
            raise ReconcileError(f"range {i}: key prefix must be binary")
        if len(prefix) > KEY_BYTES:
            raise TooLarge(f"range {i}: key prefix longer than 32 bytes")
        if delta is None:
            if i != last or prefix:
                raise ReconcileError(f"range {i}: only the last range may end at infinity, with an empty prefix")
            upper: Bound = _INF_BOUND
        else:
            if type(delta) is not int or delta < 0:
                raise ReconcileError(f"range {i}: time delta must be a non-negative integer")
            time = prev_time + delta
            if time > MAX_TIME:
                raise ReconcileError(f"range {i}: bound time beyond 2**53 - 1")
            if prefix.endswith(b"\x00"):
                raise NonCanonical(f"range {i}: a key prefix never ends with a zero byte")
            if delta == 0 and prefix <= prev_prefix:
                raise ReconcileError(f"range {i}: bounds must be strictly increasing")
            upper = (time, prefix)
        arity = {SKIP: 3, FINGERPRINT: 4, IDS: 4, DIFF: 5}.get(mode) if type(mode) is int else None
        if arity is None:
            raise ReconcileError(f"range {i}: unknown mode {mode!r}")
        if len(raw) != arity:
            raise ReconcileError(f"range {i}: mode {mode} takes {arity} fields, got {len(raw)}")
        if mode == SKIP:
            if prev_mode == SKIP:
                raise NonCanonical(f"range {i}: consecutive skip ranges must be merged")
            if i == last:
                raise NonCanonical("a message never ends with a skip range")
            item = _Range(upper, SKIP)
        elif mode == FINGERPRINT:
            fp = raw[3]
            if type(fp) is not bytes or len(fp) != FINGERPRINT_BYTES:
                raise ReconcileError(f"range {i}: a fingerprint is 16 bytes")
            item = _Range(upper, FINGERPRINT, fp=fp)
        elif mode == IDS:
            item = _Range(upper, IDS, ids=_check_keys(raw[3], f"range {i}: id list", MAX_LIST))
        else:
            ids = _check_keys(raw[3], f"range {i}: keys you lack", MAX_ITEMS)
            lacking = _check_keys(raw[4], f"range {i}: keys I lack", MAX_LIST)
            if not ids and not lacking:
                raise NonCanonical(f"range {i}: an empty diff must be sent as a skip")
            item = _Range(upper, DIFF, ids=ids, lacking=lacking)
        ranges.append(item)
        prev_time, prev_prefix = upper
        prev_mode = mode
    return ranges


class _Writer:
    """Accumulates output ranges, merging skips and tracking the exact encoded size."""

    __slots__ = ("bound", "budget", "ranges", "size", "_skip_from")

    def __init__(self, frame_limit: int) -> None:
        self.budget = frame_limit - _RESERVE
        self.ranges: list[list[Any]] = []
        self.size = 0
        self.bound: Bound = _MIN_BOUND  # upper bound of the last range written
        self._skip_from: Bound | None = None  # lower bound of a trailing skip range, if any

    def _fields(self, lower: Bound, upper: Bound, mode: int, rest: Sequence[Any]) -> list[Any]:
        if upper == _INF_BOUND:
            head: list[Any] = [None, b""]
        else:
            head = [upper[0] - lower[0], upper[1]]
        return [*head, mode, *rest]

    def room(self) -> int:
        return self.budget - self.size

    def full(self) -> bool:
        return len(self.ranges) >= MAX_ITEMS - 2

    def encoded(self, upper: Bound, mode: int, rest: Sequence[Any]) -> tuple[list[Any], int]:
        fields = self._fields(self.bound, upper, mode, rest)
        return fields, len(msgpack.packb(fields, use_bin_type=True))

    def skip(self, upper: Bound) -> bool:
        """Extend the trailing skip range to ``upper`` (or start one); False if it does not fit."""
        if self._skip_from is not None:
            last = self.ranges[-1]
            old = len(msgpack.packb(last, use_bin_type=True))
            fields = self._fields(self._skip_from, upper, SKIP, ())
            new = len(msgpack.packb(fields, use_bin_type=True))
            if new - old > self.room():
                return False
            self.ranges[-1] = fields
            self.size += new - old
        else:
            fields = self._fields(self.bound, upper, SKIP, ())
            new = len(msgpack.packb(fields, use_bin_type=True))
            if new > self.room() or self.full():
                return False
            self._skip_from = self.bound
            self.ranges.append(fields)
            self.size += new
        self.bound = upper
        return True

    def add(self, upper: Bound, mode: int, rest: Sequence[Any], size: int | None = None) -> None:
        """Append a range that is not a skip (the caller checked that it fits)."""
        self._skip_from = None
        fields = self._fields(self.bound, upper, mode, rest)
        self.ranges.append(fields)
        self.size += size if size is not None else len(msgpack.packb(fields, use_bin_type=True))
        self.bound = upper

    def finish(self, frame_limit: int) -> bytes | None:
        if self._skip_from is not None:
            last = self.ranges.pop()
            self.size -= len(msgpack.packb(last, use_bin_type=True))
            self.bound = self._skip_from
        if not self.ranges:
            return None
        data = encode({"r": self.ranges, "v": RECONCILE_VERSION})
        if len(data) > frame_limit:  # pragma: no cover - guarded by the budget
            raise LocalProtocolError(f"reconciliation frame of {len(data)} bytes exceeds {frame_limit}")
        return data


def _split(local: SortedItems, lo: int, hi: int, upper: Bound, branching: int, id_threshold: int) -> list[tuple[Bound, int, list[Any]]]:
    """Our answer for a range whose fingerprints differ: our id list, or sub-ranges with fingerprints."""
    count = hi - lo
    if count <= id_threshold:
        return [(upper, IDS, [local.keys(lo, hi)])]
    parts = min(branching, count)
    out: list[tuple[Bound, int, list[Any]]] = []
    start = lo
    for b in range(1, parts + 1):
        end = lo + count * b // parts if b < parts else hi
        bound = local.bound_before(end) if b < parts else upper
        out.append((bound, FINGERPRINT, [local.fingerprint(start, end)]))
        start = end
    return out


def initiate(
    local: SortedItems,
    *,
    frame_limit: int = DEFAULT_FRAME,
    branching: int = BRANCHING,
    id_threshold: int = ID_THRESHOLD,
) -> bytes:
    """The first message of an exchange: our whole set, listed if small, else split into fingerprints."""
    _check_params(frame_limit, branching, id_threshold)
    writer = _Writer(frame_limit)
    for upper, mode, rest in _split(local, 0, len(local), _INF_BOUND, branching, id_threshold):
        writer.add(upper, mode, rest)
    data = writer.finish(frame_limit)
    assert data is not None
    return data


def respond(
    local: SortedItems,
    message: bytes,
    *,
    frame_limit: int = DEFAULT_FRAME,
    branching: int = BRANCHING,
    id_threshold: int = ID_THRESHOLD,
) -> tuple[bytes | None, set[bytes], set[bytes]]:
    """Answer a peer's message.

    Returns ``(reply, have, need)``: the reply to send (``None`` when the
    exchange is over), the keys we hold that the peer lacks, and the keys the
    peer holds that we lack, as learnt from this message. Accumulate ``have``
    and ``need`` over the exchange.
    """
    _check_params(frame_limit, branching, id_threshold)
    ranges = parse_message(message)
    writer = _Writer(frame_limit)
    have: set[bytes] = set()
    need: set[bytes] = set()
    lower: Bound = _MIN_BOUND
    lo = 0
    stopped_at: Bound | None = None  # where the frame filled
    position = 0
    for rng in ranges:
        hi = local.index(rng.upper)
        if rng.mode == DIFF:
            # Learn from every diff, even past a full frame: it is the answer to our own id list.
            _learn_diff(local, lo, hi, rng, have, need)
            done = stopped_at is not None or writer.skip(rng.upper)
        elif stopped_at is not None:
            done = True
        elif rng.mode == SKIP:
            done = writer.skip(rng.upper)
        elif rng.mode == FINGERPRINT:
            if local.fingerprint(lo, hi) == rng.fp:
                done = writer.skip(rng.upper)
            else:
                done = _emit(writer, _split(local, lo, hi, rng.upper, branching, id_threshold))
        else:  # IDS
            done = _answer_ids(local, lo, hi, rng, writer, have, need, branching, id_threshold)
        if not done:
            stopped_at = lower  # the frame is full: the rest is carried by one fingerprint range
            position = lo
        lower, lo = rng.upper, hi
    if stopped_at is not None:
        writer.add(_INF_BOUND, FINGERPRINT, [local.fingerprint(position, len(local))])
    return writer.finish(frame_limit), have, need


def _emit(writer: _Writer, parts: list[tuple[Bound, int, list[Any]]]) -> bool:
    """Write ``parts`` if they all fit in the frame; report whether they did."""
    bound = writer.bound
    total = 0
    sized = []
    for upper, mode, rest in parts:
        fields = writer._fields(bound, upper, mode, rest)
        size = len(msgpack.packb(fields, use_bin_type=True))
        sized.append(size)
        total += size
        bound = upper
    if total > writer.room() or len(writer.ranges) + len(parts) >= MAX_ITEMS - 2:
        return False
    for (upper, mode, rest), size in zip(parts, sized, strict=True):
        writer.add(upper, mode, rest, size)
    return True


def _learn_diff(local: SortedItems, lo: int, hi: int, rng: _Range, have: set[bytes], need: set[bytes]) -> None:
    """Take in the answer to an id list we sent: check it against our range, then learn from it."""
    if hi - lo > MAX_LIST:
        raise ReconcileError("diff for a range we never listed (it holds too many of our items)")
    ours = {k for k in local.keys(lo, hi)}
    if not ours.isdisjoint(rng.ids):
        raise ReconcileError("diff says we lack a key we hold in that range")
    if not ours.issuperset(rng.lacking):
        raise ReconcileError("diff says the peer lacks a key we never listed")
    need.update(rng.ids)
    have.update(rng.lacking)


def _answer_ids(
    local: SortedItems,
    lo: int,
    hi: int,
    rng: _Range,
    writer: _Writer,
    have: set[bytes],
    need: set[bytes],
    branching: int,
    id_threshold: int,
) -> bool:
    """Answer the peer's id list with a diff, or by splitting the range if the diff cannot fit."""
    count = hi - lo
    theirs = rng.ids
    # Every one of our keys the peer did not list goes into the diff: skip the work when it cannot fit.
    if count - len(theirs) <= min(MAX_ITEMS, writer.room() // (KEY_BYTES + 2)):
        ours = local.keys(lo, hi)
        their_set = set(theirs)
        our_set = set(ours)
        you_lack = [k for k in ours if k not in their_set]
        i_lack = [k for k in theirs if k not in our_set]
        if not you_lack and not i_lack:
            return writer.skip(rng.upper)
        _, size = writer.encoded(rng.upper, DIFF, [you_lack, i_lack])
        if size <= writer.room() and len(you_lack) <= MAX_ITEMS:
            writer.add(rng.upper, DIFF, [you_lack, i_lack], size)
            have.update(you_lack)
            need.update(i_lack)
            return True
    if count > id_threshold:
        return _emit(writer, _split(local, lo, hi, rng.upper, branching, id_threshold))
    return False
