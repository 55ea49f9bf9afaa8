"""Merkle log (protocol/merkle.py): proof sizes, proof and verification times, append rate.

Every figure comes with a baseline measured in the same run, on one core:
- appends: hashlib.sha256 of the same leaf data, one call per leaf;
- verification: the bare SHA-256 calls a proof of that length needs;
- proofs from a node table (one hash per perfect subtree, as the store keeps
  it) against proofs from the leaf hashes alone (O(n) hashing per proof);
- the whole-log audit: hashlib.sha256 of every leaf's data.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import best_rate
from protocol.merkle import (
    CompactRange,
    Subtree,
    consistency_proof,
    consistency_subtrees,
    inclusion_proof,
    inclusion_subtrees,
    leaf_hash,
    root,
    root_at,
    verify_consistency,
    verify_inclusion,
)

LEAF_BYTES = 400  # about a signed agreement event
SIZES = [10**3, 10**4, 10**5, 10**6]
SAMPLES = 2000  # proofs per size
AUDIT_SIZE = 10**5


def leaf_data(n: int) -> list[bytes]:
    block = os.urandom(LEAF_BYTES + n)  # distinct leaves without n calls to urandom
    return [block[i : i + LEAF_BYTES] for i in range(n)]


def node_levels(hashes: list[bytes]) -> list[list[bytes]]:
    """The store's node table, as lists by level (a dict of 2n tuple keys would not fit a small box)."""
    levels = [hashes]
    acc = CompactRange()
    for h in hashes:
        for (level, _index), value in acc.append(h):
            if level == len(levels):
                levels.append([])
            levels[level].append(value)  # completed in index order within a level
    return levels


def per_call_us(fn: Callable[[], int]) -> float:
    rate, _ = best_rate(fn, repeats=3)
    return 1e6 / rate


def bench_size(n: int, rng: random.Random) -> None:
    hashes = [leaf_hash(d) for d in leaf_data(n)]
    levels = node_levels(hashes)
    nodes: Callable[[Subtree], bytes] = lambda s: levels[s[0]][s[1]]
    top = root(hashes)
    indexes = [rng.randrange(n) for _ in range(SAMPLES)]
    olds = [rng.randrange(1, n) for _ in range(SAMPLES)]
    old_roots = {m: _root_from_nodes(levels, m) for m in olds}
    inclusions = [inclusion_proof(nodes, i, n) for i in indexes]
    consistencies = [consistency_proof(nodes, m, n) for m in olds]
    inc_len = sum(map(len, inclusions)) / SAMPLES
    con_len = sum(map(len, consistencies)) / SAMPLES

    def gen_inclusion() -> int:
        for i in indexes:
            inclusion_proof(nodes, i, n)
        return SAMPLES

    def gen_consistency() -> int:
        for m in olds:
            consistency_proof(nodes, m, n)
        return SAMPLES

    def ver_inclusion() -> int:
        for i, p in zip(indexes, inclusions, strict=True):
            if not verify_inclusion(hashes[i], i, n, p, top):
                raise AssertionError("a good proof failed")
        return SAMPLES

    def ver_consistency() -> int:
        for m, p in zip(olds, consistencies, strict=True):
            if not verify_consistency(m, n, old_roots[m], top, p):
                raise AssertionError("a good proof failed")
        return SAMPLES

    def bare_hashes(count: float) -> Callable[[], int]:
        k = round(count)
        block = b"\x01" + bytes(64)

        def run() -> int:
            sha = hashlib.sha256
            for _ in range(SAMPLES):
                for _ in range(k):
                    sha(block).digest()
            return SAMPLES

        return run

    # From leaf hashes alone a proof reads every leaf: time one.
    start = time.perf_counter()
    slow = inclusion_proof(hashes, indexes[0], n)
    from_leaves_ms = (time.perf_counter() - start) * 1e3
    assert slow == inclusions[0]

    inc_gen, con_gen = per_call_us(gen_inclusion), per_call_us(gen_consistency)
    inc_ver, con_ver = per_call_us(ver_inclusion), per_call_us(ver_consistency)
    inc_base, con_base = per_call_us(bare_hashes(inc_len)), per_call_us(bare_hashes(con_len + 1))
    lookups = sum(len(inclusion_subtrees(i, n)) for i in indexes[:200]) / 200
    con_lookups = sum(len(consistency_subtrees(m, n)) for m in olds[:200]) / 200
    print(f"\nlog of {n:>9,} leaves ({len(levels)} levels)")
    print(
        f"  inclusion   proof {inc_len:5.1f} hashes = {32 * inc_len:5.0f} B (max {32 * max(map(len, inclusions))} B)"
        f"   verify {inc_ver:6.1f} µs  ({inc_ver / inc_base:.2f} × its {inc_len:.1f} bare SHA-256 = {inc_base:.1f} µs)"
    )
    print(
        f"  consistency proof {con_len:5.1f} hashes = {32 * con_len:5.0f} B (max {32 * max(map(len, consistencies))} B)"
        f"   verify {con_ver:6.1f} µs  ({con_ver / con_base:.2f} × its {con_len + 1:.1f} bare SHA-256 = {con_base:.1f} µs)"
    )
    print(
        f"  make a proof from the node table: inclusion {inc_gen:6.1f} µs ({lookups:.1f} look-ups),"
        f" consistency {con_gen:6.1f} µs ({con_lookups:.1f} look-ups);"
        f" from leaf hashes alone: {from_leaves_ms:8.1f} ms  ({from_leaves_ms * 1e3 / inc_gen:,.0f} × slower)"
    )


def _root_from_nodes(levels: list[list[bytes]], size: int) -> bytes:
    return root_at(lambda s: levels[s[0]][s[1]], size)


def bench_appends() -> None:
    n = 10**5
    data = leaf_data(n)

    def raw() -> int:
        sha = hashlib.sha256
        for d in data:
            sha(d).digest()
        return n

    def appends() -> int:
        acc = CompactRange()
        for d in data:
            acc.append(leaf_hash(d))
        acc.root()
        return n

    hashes = [leaf_hash(d) for d in data]

    def appends_prehashed() -> int:
        acc = CompactRange()
        for h in hashes:
            acc.append(h)
        return n

    results: dict[str, list[float]] = {"raw": [], "append": [], "prehashed": []}
    for _ in range(3):  # interleaved so drift hits all three
        results["raw"].append(best_rate(raw, repeats=3)[0])
        results["append"].append(best_rate(appends, repeats=3)[0])
        results["prehashed"].append(best_rate(appends_prehashed, repeats=3)[0])
    r, a, p = (max(results[k]) for k in ("raw", "append", "prehashed"))
    print(f"appends: {n:,} leaves of {LEAF_BYTES} bytes, one core")
    print(f"  raw hashlib.sha256 per leaf          {r:10,.0f} /s")
    print(f"  leaf_hash + CompactRange.append      {a:10,.0f} /s   ratio {a / r:.3f}")
    print(f"  CompactRange.append (leaf hash given){p:10,.0f} /s   ratio {p / r:.3f}")


def bench_audit() -> None:
    """An auditor fetches a whole log, recomputes every leaf hash and the root, and checks the checkpoint."""
    data = leaf_data(AUDIT_SIZE)
    expected = root([leaf_hash(d) for d in data])

    def raw() -> int:
        sha = hashlib.sha256
        for d in data:
            sha(d).digest()
        return 1

    def audit() -> int:
        if root([leaf_hash(d) for d in data]) != expected:
            raise AssertionError("root mismatch")
        return 1

    raw_s = min(1 / best_rate(raw, repeats=3)[0] for _ in range(2))
    audit_s = min(1 / best_rate(audit, repeats=3)[0] for _ in range(2))
    print(f"\nwhole-log audit of {AUDIT_SIZE:,} leaves of {LEAF_BYTES} bytes")
    print(f"  raw hashlib.sha256 of every leaf    {raw_s * 1e3:7.1f} ms")
    print(f"  leaf hashes + root + compare        {audit_s * 1e3:7.1f} ms   ({audit_s / raw_s:.2f} × raw)")


def main() -> None:
    rng = random.Random(2026)
    bench_appends()
    bench_audit()
    for n in SIZES:
        bench_size(n, rng)


if __name__ == "__main__":
    main()
