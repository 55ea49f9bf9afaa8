"""Range-based set reconciliation: convergence, frame bounds, round trips, and hostile input."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from protocol.encoding import encode
from protocol.errors import InvalidMessage, LocalProtocolError, NonCanonical, RemoteProtocolError, TooLarge
from protocol.reconcile import (
    DIFF,
    FINGERPRINT,
    IDS,
    MAX_LIST,
    MIN_FRAME,
    SKIP,
    Item,
    ReconcileError,
    SortedItems,
    fingerprint,
    initiate,
    parse_message,
    respond,
)

YEAR_MS = 365 * 24 * 3600 * 1000
T0 = 1_764_140_000_000


@dataclass
class Side:
    items: SortedItems
    have: set[bytes] = field(default_factory=set)
    need: set[bytes] = field(default_factory=set)


@dataclass
class Exchange:
    messages: list[bytes]
    initiator: Side
    responder: Side

    @property
    def round_trips(self) -> int:
        # The initiator sends the odd messages; an odd count ends with its message and an empty reply.
        return math.ceil(len(self.messages) / 2)


def run_exchange(a: list[Item], b: list[Item], *, max_messages: int = 200, **params: int) -> Exchange:
    sides = (Side(SortedItems(a)), Side(SortedItems(b)))
    message: bytes | None = initiate(sides[0].items, **params)
    messages: list[bytes] = []
    turn = 1
    while message is not None:
        messages.append(message)
        assert len(messages) <= max_messages, "the exchange does not terminate"
        side = sides[turn]
        message, have, need = respond(side.items, message, **params)
        side.have |= have
        side.need |= need
        turn ^= 1
    return Exchange(messages, *sides)


def key(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


def random_items(rng: random.Random, n: int, start: int = 0) -> list[Item]:
    return [Item(T0 + rng.randrange(YEAR_MS), key(start + i)) for i in range(n)]


def assert_converged(ex: Exchange, a: list[Item], b: list[Item]) -> None:
    keys_a = {i.key for i in a}
    keys_b = {i.key for i in b}
    assert ex.initiator.have == keys_a - keys_b
    assert ex.initiator.need == keys_b - keys_a
    assert ex.responder.have == keys_b - keys_a
    assert ex.responder.need == keys_a - keys_b


# --- fingerprints -------------------------------------------------------------


def test_fingerprint_reference_vector() -> None:
    keys = [bytes([1]) + bytes(31), bytes([2]) + bytes(31)]
    expected = hashlib.sha256((3).to_bytes(32, "little") + (2).to_bytes(8, "big")).digest()[:16]
    assert fingerprint(keys) == expected
    assert fingerprint([]) == hashlib.sha256(bytes(40)).digest()[:16]
    # The sum wraps modulo 2**256.
    top = [b"\xff" * 32, bytes([1]) + bytes(31)]
    assert fingerprint(top) == hashlib.sha256(bytes(32) + (2).to_bytes(8, "big")).digest()[:16]


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.binary(min_size=32, max_size=32)), max_size=60),
    st.data(),
)
def test_prefix_sum_fingerprints_match_the_definition(pairs: list[tuple[int, bytes]], data: st.DataObject) -> None:
    items = SortedItems(Item(t, k) for t, k in pairs)
    ordered = sorted(set(pairs))
    lo = data.draw(st.integers(0, len(ordered)))
    hi = data.draw(st.integers(lo, len(ordered)))
    assert items.fingerprint(lo, hi) == fingerprint(k for _, k in ordered[lo:hi])
    for i in range(1, len(ordered)):
        bound = items.bound_before(i)
        assert ordered[i - 1] < bound <= ordered[i]
        assert items.index(bound) == i


def test_item_is_validated() -> None:
    with pytest.raises(LocalProtocolError):
        Item(-1, bytes(32))
    with pytest.raises(LocalProtocolError):
        Item(2**53, bytes(32))
    with pytest.raises(LocalProtocolError):
        Item(0, bytes(31))


# --- convergence --------------------------------------------------------------

times = st.one_of(st.integers(0, 3), st.integers(0, 2**53 - 1))
keys = st.one_of(
    st.binary(min_size=32, max_size=32),
    # Keys sharing a long prefix force long bound prefixes.
    st.binary(min_size=1, max_size=3).map(lambda tail: bytes(32 - len(tail)) + tail),
)
pool = st.lists(st.tuples(times, keys), max_size=300, unique_by=lambda p: p[1])
params = st.fixed_dictionaries(
    {
        "branching": st.sampled_from([2, 3, 12, 16]),
        "id_threshold": st.sampled_from([1, 2, 12, MAX_LIST]),
        "frame_limit": st.sampled_from([MIN_FRAME, 60_000]),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool, st.data(), params)
@example(pairs=[], data=None, kw={})  # both empty
def test_exchange_finds_exactly_the_difference(pairs: list[tuple[int, bytes]], data: st.DataObject | None, kw: dict[str, int]) -> None:
    # Each item goes to A only, B only, or both: covers empty, identical, disjoint and subsets.
    placement = data.draw(st.sampled_from(["mixed", "same", "disjoint", "a-subset", "b-subset"])) if data else "same"
    a: list[Item] = []
    b: list[Item] = []
    for i, (t, k) in enumerate(pairs):
        item = Item(t, k)
        where = {
            "same": 2,
            "disjoint": i % 2,
            "a-subset": 1 if i % 3 == 0 else 2,
            "b-subset": 0 if i % 3 == 0 else 2,
        }.get(placement)
        if where is None:
            where = data.draw(st.integers(0, 2)) if data else 2
        if where in (0, 2):
            a.append(item)
        if where in (1, 2):
            b.append(item)
    ex = run_exchange(a, b, max_messages=60, **kw)
    assert_converged(ex, a, b)
    limit = kw.get("frame_limit", 60_000)
    for message in ex.messages:
        assert len(message) <= limit
        parse_message(message)  # every message we produce is one we accept


def test_identical_sets_finish_in_one_round_trip_with_a_tiny_message() -> None:
    items = random_items(random.Random(1), 10_000)
    ex = run_exchange(items, list(reversed(items)))
    assert len(ex.messages) == 1  # the responder's fingerprints all match: it has nothing to say
    assert ex.round_trips == 1
    assert len(ex.messages[0]) < 400
    assert_converged(ex, items, items)


def test_small_sets_are_listed_at_once() -> None:
    items = random_items(random.Random(2), 5)
    only_b = random_items(random.Random(3), 2, start=100)
    ex = run_exchange(items, items + only_b)
    modes = [r.mode for r in parse_message(ex.messages[0])]
    assert modes == [IDS]
    assert [r.mode for r in parse_message(ex.messages[1])] == [DIFF]
    assert len(ex.messages) == 2
    assert_converged(ex, items, items + only_b)


def test_ten_thousand_with_ten_differences_in_at_most_four_round_trips() -> None:
    rng = random.Random(10)
    common = random_items(rng, 9_995)
    only_a = random_items(rng, 5, start=20_000)
    only_b = random_items(rng, 5, start=30_000)
    ex = run_exchange(common + only_a, common + only_b)
    assert_converged(ex, common + only_a, common + only_b)
    assert ex.round_trips <= 4
    assert sum(map(len, ex.messages)) < 20_000  # far below a full listing (10 000 × 34 bytes)


def test_one_side_empty_streams_the_other_side_within_the_frame_limit() -> None:
    items = random_items(random.Random(4), 2_000)
    for a, b in ((items, []), ([], items)):
        ex = run_exchange(a, b, frame_limit=MIN_FRAME)
        assert_converged(ex, a, b)
        assert all(len(m) <= MIN_FRAME for m in ex.messages)
        assert len(ex.messages) > 2  # 2 000 keys cannot fit in one 8 KiB frame


def test_many_differences_overflow_and_continue() -> None:
    rng = random.Random(5)
    common = random_items(rng, 3_000)
    only_a = random_items(rng, 300, start=10_000)
    only_b = random_items(rng, 300, start=20_000)
    ex = run_exchange(common + only_a, common + only_b, frame_limit=MIN_FRAME)
    assert_converged(ex, common + only_a, common + only_b)
    assert max(map(len, ex.messages)) <= MIN_FRAME


def test_equal_times_use_key_prefixes() -> None:
    rng = random.Random(6)
    a = [Item(7, key(i)) for i in range(500)]
    b = a[:-3] + [Item(7, key(1000 + i)) for i in range(3)]
    rng.shuffle(b)
    ex = run_exchange(a, b)
    assert_converged(ex, a, b)
    prefixes = [r.upper[1] for m in ex.messages for r in parse_message(m)]
    assert any(prefixes)


def test_bad_parameters_are_refused() -> None:
    local = SortedItems([])
    with pytest.raises(LocalProtocolError):
        initiate(local, frame_limit=MIN_FRAME - 1)
    with pytest.raises(LocalProtocolError):
        initiate(local, branching=1)
    with pytest.raises(LocalProtocolError):
        initiate(local, id_threshold=MAX_LIST + 1)
    with pytest.raises(LocalProtocolError):
        initiate(local, id_threshold=0)


# --- hostile input ------------------------------------------------------------

LOCAL = SortedItems(random_items(random.Random(7), 300))
TYPED = (InvalidMessage, NonCanonical, TooLarge)


def msg(ranges: list[list[object]], **extra: object) -> bytes:
    return encode({"r": ranges, "v": 1, **extra})


FP = bytes(16)
K1, K2 = sorted([key(1), key(2)])


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"", InvalidMessage),
        (b"\xc1", InvalidMessage),
        (encode([1, 2]), ReconcileError),
        (encode({"r": [], "v": 2}), ReconcileError),
        (encode({"r": [], "v": 1, "x": 0}), TooLarge),  # a third key exceeds the map limit
        (encode({"r": [], "x": 0}), ReconcileError),
        (msg([[5, b"", 9]]), ReconcileError),  # unknown mode
        (msg([[5, b"", FINGERPRINT]]), ReconcileError),  # missing fingerprint
        (msg([[5, b"", FINGERPRINT, bytes(15)]]), ReconcileError),
        (msg([[5, b"", FINGERPRINT, FP], [0, b"", FINGERPRINT, FP]]), ReconcileError),  # not increasing
        (msg([[5, b"\x02", FINGERPRINT, FP], [0, b"\x01", FINGERPRINT, FP]]), ReconcileError),
        (msg([[-1, b"", FINGERPRINT, FP]]), ReconcileError),
        (msg([[2**53, b"", FINGERPRINT, FP]]), ReconcileError),  # beyond the time range
        (msg([[None, b"", FINGERPRINT, FP], [1, b"", FINGERPRINT, FP]]), ReconcileError),  # infinity not last
        (msg([[None, b"\x01", FINGERPRINT, FP]]), ReconcileError),
        (msg([[5, b"\x01\x00", FINGERPRINT, FP]]), NonCanonical),  # trailing zero in a prefix
        (msg([[5, b"", SKIP], [1, b"", SKIP], [None, b"", FINGERPRINT, FP]]), NonCanonical),
        (msg([[5, b"", FINGERPRINT, FP], [1, b"", SKIP]]), NonCanonical),  # trailing skip
        (msg([[5, b"", IDS, [K2, K1]]]), ReconcileError),  # unsorted ids
        (msg([[5, b"", IDS, [K1, K1]]]), ReconcileError),  # duplicate ids
        (msg([[5, b"", IDS, [K1[:31]]]]), ReconcileError),
        (msg([[5, b"", IDS, [key(i) for i in range(MAX_LIST + 1)]]]), TooLarge),  # too many is checked first
        (msg([[5, b"", IDS, sorted(key(i) for i in range(MAX_LIST + 1))]]), TooLarge),
        (msg([[5, b"", DIFF, [], []]]), NonCanonical),
        (msg([[5, bytes(33), FINGERPRINT, FP]]), TooLarge),
        (msg([[i + 1, b"", FINGERPRINT, FP] for i in range(10_001)]), TooLarge),
        (b"\x82\xa1r\x91\x94\x05\xc4\x00\x01\xcb" + bytes(8) + b"\xa1v\x01", NonCanonical),  # a float
        (encode({"r": [], "v": 1}) + b"\x00", InvalidMessage),  # trailing bytes
        (bytes(2_000_000), TooLarge),
    ],
)
def test_malformed_messages_raise_typed_errors(message: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        respond(LOCAL, message)


def test_unsorted_bounds_generated_by_a_peer_are_refused() -> None:
    good = initiate(LOCAL, branching=4, id_threshold=1)
    ranges = list(msgpack.unpackb(good)["r"])
    ranges[0], ranges[1] = ranges[1], ranges[0]
    ranges[1][0] = 0  # the second bound now equals the first
    with pytest.raises(ReconcileError):
        respond(LOCAL, msg(ranges))


def test_non_canonical_encoding_is_refused() -> None:
    # A fixint written in a longer form.
    loose = b"\x82\xa1r\x90\xa1v\xcc\x01"
    with pytest.raises(NonCanonical):
        respond(LOCAL, loose)


def test_a_diff_must_agree_with_our_own_range() -> None:
    ours = list(LOCAL)
    held = ours[0].key
    # A diff claiming we lack a key we hold.
    with pytest.raises(ReconcileError):
        respond(LOCAL, msg([[None, b"", DIFF, [held], []]]))
    # A diff for a range far larger than any we would list.
    with pytest.raises(ReconcileError):
        respond(LOCAL, msg([[None, b"", DIFF, [key(10**6)], []]]))
    # A diff saying the peer lacks a key of ours that is not in the range.
    first = ours[0]
    with pytest.raises(ReconcileError):
        respond(LOCAL, msg([[first.time + 1, b"", DIFF, [], [key(10**6)]]]))


def test_empty_message_ends_the_exchange() -> None:
    assert respond(LOCAL, msg([])) == (None, set(), set())


@settings(max_examples=1000)
@given(st.binary(max_size=300))
def test_garbage_raises_only_typed_errors(data: bytes) -> None:
    try:
        respond(LOCAL, data)
    except TYPED:
        pass


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_messages_raise_only_typed_errors(data: st.DataObject) -> None:
    a = random_items(random.Random(8), 100)
    b = a[:90] + random_items(random.Random(9), 10, start=500)
    ex = run_exchange(a, b, branching=4, id_threshold=4)
    message = bytearray(data.draw(st.sampled_from(ex.messages)))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(message) - 1))
        message[position] = data.draw(st.integers(0, 255))
    try:
        reply, _, _ = respond(LOCAL, bytes(message))
    except TYPED:
        return
    if reply is not None:
        assert len(reply) <= 60_000


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.binary(max_size=4).filter(lambda p: not p.endswith(b"\x00")),
            st.sampled_from([SKIP, FINGERPRINT, IDS, DIFF]),
            st.lists(st.sampled_from(sorted(i.key for i in LOCAL)[:20] + [key(10**6 + i) for i in range(20)]), max_size=5),
        ),
        max_size=40,
    )
)
def test_structured_fuzz_raises_only_typed_errors(specs: list[tuple[int, bytes, int, list[bytes]]]) -> None:
    ranges: list[list[object]] = []
    for delta, prefix, mode, ids in specs:
        ids = sorted(set(ids))
        payload: list[object] = {SKIP: [], FINGERPRINT: [bytes(16)], IDS: [ids], DIFF: [ids, []]}[mode]
        ranges.append([delta, prefix, mode, *payload])
    try:
        reply, _, _ = respond(LOCAL, msg(ranges), frame_limit=MIN_FRAME)
    except RemoteProtocolError as exc:
        assert isinstance(exc, TYPED)
        return
    if reply is not None:
        assert len(reply) <= MIN_FRAME
        parse_message(reply)
