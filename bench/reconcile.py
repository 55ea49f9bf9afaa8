"""Set reconciliation: 100 000 items against 100 000 with 100 changed.

Targets (issue 3, item 4): bytes on the wire <= 3 x the size of the changed
records + 4 kB, and <= 4 round trips. Compared in the same run with a naive
full listing of the 100 000 (time, key) pairs. Record size: 460 bytes, the
mean signed record measured by bench/envelope_verify.py.

    .venv/bin/python bench/reconcile.py [--sweep]
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocol.encoding import encode  # noqa: E402
from protocol.reconcile import BRANCHING, DEFAULT_FRAME, ID_THRESHOLD, Item, SortedItems, initiate, respond  # noqa: E402

N = 100_000
CHANGED = 100
RECORD_BYTES = 460
YEAR_MS = 365 * 24 * 3600 * 1000
T0 = 1_764_140_000_000


def make_sets(seed: int = 1) -> tuple[list[Item], list[Item], set[bytes], set[bytes]]:
    rng = random.Random(seed)

    def item(n: int) -> Item:
        return Item(T0 + rng.randrange(YEAR_MS), hashlib.sha256(b"record-version-%d" % n).digest())

    common = [item(i) for i in range(N - CHANGED // 2)]
    only_a = [item(10**7 + i) for i in range(CHANGED // 2)]
    only_b = [item(2 * 10**7 + i) for i in range(CHANGED // 2)]
    return common + only_a, common + only_b, {i.key for i in only_a}, {i.key for i in only_b}


def exchange(a: SortedItems, b: SortedItems, **params: int) -> tuple[list[int], list[set[bytes]], float]:
    start = time.perf_counter()
    sizes = []
    learnt = [set(), set(), set(), set()]  # initiator have, need; responder have, need
    message: bytes | None = initiate(a, **params)
    turn = 1
    while message is not None:
        sizes.append(len(message))
        message, have, need = respond((a, b)[turn], message, **params)
        learnt[2 * turn] |= have
        learnt[2 * turn + 1] |= need
        turn ^= 1
    return sizes, learnt, time.perf_counter() - start


def naive(a: list[Item], b: list[Item]) -> tuple[int, float]:
    """A sends every (time, key) pair; B answers with the keys A lacks."""
    start = time.perf_counter()
    listing = encode([[i.time, i.key] for i in sorted(a, key=lambda i: (i.time, i.key))])
    keys_a = {i.key for i in a}
    reply = encode([i.key for i in b if i.key not in keys_a])
    return len(listing) + len(reply), time.perf_counter() - start


def main() -> None:
    list_a, list_b, only_a, only_b = make_sets()
    start = time.perf_counter()
    a, b = SortedItems(list_a), SortedItems(list_b)
    build = time.perf_counter() - start

    sizes, learnt, elapsed = exchange(a, b)
    assert learnt == [only_a, only_b, only_b, only_a], "reconciliation did not find the difference"
    total = sum(sizes)
    round_trips = math.ceil(len(sizes) / 2)
    changed_bytes = CHANGED * RECORD_BYTES
    target = 3 * changed_bytes + 4096
    naive_bytes, naive_time = naive(list_a, list_b)

    print(f"set reconciliation, {N:,} vs {N:,} items, {CHANGED} changed (50 only-A, 50 only-B), times over a year")
    print(f"  parameters: branching {BRANCHING}, id-list threshold {ID_THRESHOLD}, frame limit {DEFAULT_FRAME:,} B")
    print(f"  build both snapshots (sort + prefix sums): {build * 1000:.0f} ms")
    print(f"  messages: {len(sizes)} ({', '.join(f'{s:,}' for s in sizes)} B)")
    print(f"  round trips: {round_trips} (target <= 4)")
    print(f"  bytes on the wire: {total:,} B = {total / changed_bytes:.2f} x the {CHANGED} changed records "
          f"({changed_bytes:,} B); target <= {target:,} B (3x + 4 kB): {'met' if total <= target else 'MISSED'}")
    print(f"  time (both sides, one process): {elapsed * 1000:.0f} ms")
    print(f"naive full listing: {naive_bytes:,} B = {naive_bytes / changed_bytes:.1f} x the changed records, "
          f"{naive_bytes / total:.0f} x reconciliation; encode time {naive_time * 1000:.0f} ms "
          f"(1 round trip if frames were unbounded; {math.ceil(naive_bytes / (1 << 20))} x 1 MiB frames)")

    if "--sweep" in sys.argv:
        print("sweep (branching, threshold): messages, bytes")
        for branching in (8, 10, 12, 14, 16, 20):
            for threshold in (8, 12, 16, 24):
                sizes, learnt, _ = exchange(a, b, branching=branching, id_threshold=threshold)
                assert learnt == [only_a, only_b, only_b, only_a]
                print(f"  B={branching:2d} T={threshold:2d}: {len(sizes)} messages, {math.ceil(len(sizes) / 2)} RT, "
                      f"{sum(sizes):,} B, largest {max(sizes):,} B")


if __name__ == "__main__":
    main()
