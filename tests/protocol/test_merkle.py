"""RFC 9162 Merkle tree maths (protocol/merkle.py).

Checked three ways: the certificate-transparency reference vectors (the eight
test leaves of the Go and C++ suites, with their roots, audit paths and
consistency proofs), pymerkle (an independent library: leaf and node hashing,
roots of every size, inclusion paths), and a deliberately naive recursive
transcription of RFC 9162 §2.1 below (MTH, PATH, PROOF/SUBPROOF), because
pymerkle's consistency proofs are not in the RFC format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from protocol.errors import InvalidMessage
from protocol.merkle import (
    EMPTY_ROOT,
    CompactRange,
    LeafNodes,
    Subtree,
    SubtreeCache,
    consistency_proof,
    consistency_subtrees,
    inclusion_proof,
    inclusion_subtrees,
    iter_completed,
    leaf_hash,
    node_hash,
    root,
    root_at,
    root_subtrees,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

# --- reference vectors (certificate-transparency Go and C++ test suites) --------------

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
LEAF_HASHES = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    )
]
ROOTS = [  # ROOTS[n] is the root of the first n leaves
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def _hexes(*hs: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hs]


# (index, size, path); the upstream tables number leaves from 1, these from 0.
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hexes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hexes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hexes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

CONSISTENCY_VECTORS = [  # (old_size, new_size, proof)
    (1, 1, []),
    (
        1,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hexes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]


# --- a naive reference, transcribed from RFC 9162 §2.1 (recursion and slicing, as written) ---


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Naive:
    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.d = tuple(leaves)  # the input entries D[n]

    @cache  # noqa: B019 - the instance lives for one test
    def mth(self, start: int, end: int) -> bytes:
        """MTH(D[start:end])."""
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + self.d[start]).digest()
        k = _k(n)
        return hashlib.sha256(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end)).digest()

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        """PATH(m, D[start:end]), m relative to start."""
        n = end - start
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return self.path(m, start, start + k) + [self.mth(start + k, end)]
        return self.path(m - k, start + k, end) + [self.mth(start, start + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
        return self.subproof(m, 0, n, True) if 0 < m < n else []

    def subproof(self, m: int, start: int, end: int, b: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if b else [self.mth(start, end)]
        k = _k(n)
        if m <= k:
            return self.subproof(m, start, start + k, b) + [self.mth(start + k, end)]
        return self.subproof(m - k, start + k, end, False) + [self.mth(start, start + k)]


def pymerkle_tree(data: Sequence[bytes]) -> InmemoryTree:
    tree = InmemoryTree()
    for d in data:
        tree.append_entry(d)
    return tree


def node_table(hashes: Sequence[bytes]) -> dict[Subtree, bytes]:
    """What a store keeps: the leaf hashes as level 0, and every subtree the accumulator completed."""
    table: dict[Subtree, bytes] = {(0, i): h for i, h in enumerate(hashes)}
    table.update(iter_completed(hashes))
    return table


def distinct_data(n: int, salt: bytes = b"") -> list[bytes]:
    """Distinct leaves: with repeated leaves some wrong indexes would verify, rightly."""
    return [salt + i.to_bytes(4, "big") for i in range(n)]


# --- corruptions a verifier must reject (after the probes of the CT test suites) ------


def _flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def bad_inclusions(
    leaf: bytes, index: int, size: int, proof: list[bytes], top: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    probes = [
        ("index - 1", (leaf, index - 1, size, proof, top)),
        ("index + 1", (leaf, index + 1, size, proof, top)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, top)),
        ("size * 2", (leaf, index, size * 2, proof, top)),
        ("size // 2", (leaf, index, size // 2, proof, top)),
        ("wrong leaf", (leaf_hash(b"wrong leaf"), index, size, proof, top)),
        ("flipped leaf", (_flip(leaf), index, size, proof, top)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("some root", (leaf, index, size, proof, SOME_HASH)),
        ("flipped root", (leaf, index, size, proof, _flip(top))),
        ("trailing root", (leaf, index, size, [*proof, top], top)),
        ("trailing hash", (leaf, index, size, [*proof, SOME_HASH], top)),
        ("preceding root", (leaf, index, size, [top, *proof], top)),
        ("trailing short hash", (leaf, index, size, [*proof, b""], top)),
    ]
    probes += [(f"proof[{i}] flipped", (leaf, index, size, _mutate(proof, i), top)) for i in range(len(proof))]
    if proof:
        probes.append(("truncated", (leaf, index, size, proof[:-1], top)))
    if len(proof) > 1:
        probes.append(("inserted", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], top)))
        probes.append(("reversed", (leaf, index, size, proof[::-1], top)))
    return probes


def bad_consistencies(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    probes = [
        ("old - 1", (old - 1, new, old_root, new_root, proof)),
        ("old + 1", (old + 1, new, old_root, new_root, proof)),
        ("old ^ 2", (old ^ 2, new, old_root, new_root, proof)),
        ("new * 2", (old, new * 2, old_root, new_root, proof)),
        ("new // 2", (old, new // 2, old_root, new_root, proof)),
        ("flipped old root", (old, new, _flip(old_root), new_root, proof)),
        ("flipped new root", (old, new, old_root, _flip(new_root), proof)),
        ("swapped roots", (old, new, new_root, old_root, proof)),
        ("empty proof", (old, new, old_root, new_root, [])),
        ("trailing old root", (old, new, old_root, new_root, [*proof, old_root])),
        ("trailing new root", (old, new, old_root, new_root, [*proof, new_root])),
        ("trailing hash", (old, new, old_root, new_root, [*proof, SOME_HASH])),
        ("preceding old root", (old, new, old_root, new_root, [old_root, *proof])),
        ("preceding new root", (old, new, old_root, new_root, [new_root, *proof])),
        ("preceding proof[0]", (old, new, old_root, new_root, [proof[0], *proof])),
        ("trailing short hash", (old, new, old_root, new_root, [*proof, b""])),
        ("truncated", (old, new, old_root, new_root, proof[:-1])),
    ]
    probes += [(f"proof[{i}] flipped", (old, new, old_root, new_root, _mutate(proof, i))) for i in range(len(proof))]
    return probes


def _mutate(proof: list[bytes], i: int, bit: int = 4) -> list[bytes]:
    out = list(proof)
    out[i] = _flip(out[i], bit)
    return out


def assert_inclusion_rejects(leaf: bytes, index: int, size: int, proof: list[bytes], top: bytes) -> None:
    accepted = [desc for desc, args in bad_inclusions(leaf, index, size, proof, top) if verify_inclusion(*args)]
    assert not accepted, f"accepted corrupt inclusion proofs of ({index}, {size}): {accepted}"


def assert_consistency_rejects(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    probes = bad_consistencies(old, new, old_root, new_root, proof)
    accepted = [desc for desc, args in probes if verify_consistency(*args)]
    assert not accepted, f"accepted corrupt consistency proofs of ({old}, {new}): {accepted}"


# --- the reference vectors -------------------------------------------------------------


def test_hashing_domain_separation() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    assert [leaf_hash(d) for d in LEAVES] == LEAF_HASHES
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


@pytest.mark.parametrize("size", range(9))
def test_reference_roots(size: int) -> None:
    hashes = LEAF_HASHES[:size]
    assert root(hashes) == ROOTS[size]
    assert subtree_root(LEAF_HASHES, 0, size) == ROOTS[size]
    assert root_at(LEAF_HASHES, size) == ROOTS[size]
    assert root_at(node_table(LEAF_HASHES), size) == ROOTS[size]
    acc = CompactRange()
    acc.extend(hashes)
    assert acc.root() == ROOTS[size]
    assert pymerkle_tree(LEAVES).get_root(size) == ROOTS[size]


def test_reference_node_hashes() -> None:
    """Interior values that appear in the upstream proofs, by the subtree they stand for."""
    table = node_table(LEAF_HASHES)
    assert table[(1, 1)].hex().startswith("5f083f0a")  # MTH(D[2:4])
    assert table[(1, 2)].hex().startswith("0ebc5d34")  # MTH(D[4:6])
    assert table[(1, 3)].hex().startswith("ca854ea1")  # MTH(D[6:8])
    assert table[(2, 1)].hex().startswith("6b47aaf2")  # MTH(D[4:8])
    assert table[(2, 0)] == ROOTS[4] and table[(3, 0)] == ROOTS[8] and table[(1, 0)] == ROOTS[2]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_reference_inclusion(index: int, size: int, expected: list[bytes]) -> None:
    assert inclusion_proof(LEAF_HASHES, index, size) == expected
    assert inclusion_proof(node_table(LEAF_HASHES), index, size) == expected
    assert pymerkle_tree(LEAVES).prove_inclusion(index + 1, size).path[1:] == expected
    assert verify_inclusion(LEAF_HASHES[index], index, size, expected, ROOTS[size])
    assert_inclusion_rejects(LEAF_HASHES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_reference_consistency(old: int, new: int, expected: list[bytes]) -> None:
    assert consistency_proof(LEAF_HASHES, old, new) == expected
    assert consistency_proof(node_table(LEAF_HASHES), old, new) == expected
    assert Naive(LEAVES).proof(old, new) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)
    if expected:
        assert_consistency_rejects(old, new, ROOTS[old], ROOTS[new], expected)


def test_every_bit_of_a_reference_proof_matters() -> None:
    proof = INCLUSION_VECTORS[2][2]
    for i in range(len(proof)):
        for bit in range(256):
            bad = list(proof)
            bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
            assert not verify_inclusion(LEAF_HASHES[5], 5, 8, bad, ROOTS[8])
    for i in range(3):
        for bit in range(256):
            bad = list(CONSISTENCY_VECTORS[2][2])
            bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
            assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], bad)


# --- edges and typed errors --------------------------------------------------------------


def test_consistency_edges() -> None:
    assert consistency_proof(LEAF_HASHES, 0, 8) == []
    assert consistency_proof(LEAF_HASHES, 0, 0) == []
    assert consistency_proof(LEAF_HASHES, 5, 5) == []
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])  # size 0 has one root
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [EMPTY_ROOT])
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])  # same size, two roots: equivocation
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    assert not verify_consistency(8, 5, ROOTS[8], ROOTS[5], [])
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


def test_inclusion_edges() -> None:
    assert verify_inclusion(LEAF_HASHES[0], 0, 1, [], ROOTS[1])
    for index, size in [(0, 0), (1, 1), (2, 1), (-1, 1)]:
        assert not verify_inclusion(LEAF_HASHES[0], index, size, [], ROOTS[1])
        assert not verify_inclusion(LEAF_HASHES[0], index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    "args",
    [
        (b"\x00" * 31, 0, 1, [], ROOTS[1]),  # short leaf
        (LEAF_HASHES[0], 0, 1, [], ROOTS[1][:31]),  # short root
        (LEAF_HASHES[0], True, 2, [LEAF_HASHES[1]], ROOTS[2]),  # bool is not a size
        (LEAF_HASHES[0], 0, 2, [bytearray(LEAF_HASHES[1])], ROOTS[2]),  # not bytes
        (LEAF_HASHES[0], 0, 2, None, ROOTS[2]),
        (LEAF_HASHES[0], 0, 2**64, [LEAF_HASHES[1]], ROOTS[2]),
        ("6e34", 0, 1, [], ROOTS[1]),
    ],
)
def test_malformed_inclusion_input_is_false_not_an_exception(args: tuple) -> None:  # type: ignore[type-arg]
    assert not verify_inclusion(*args)


def test_malformed_consistency_input_is_false() -> None:
    proof = CONSISTENCY_VECTORS[3][2]
    assert verify_consistency(2, 5, ROOTS[2], ROOTS[5], tuple(proof))
    assert not verify_consistency(2, 5, ROOTS[2], ROOTS[5], [p.hex() for p in proof])  # type: ignore[misc]
    assert not verify_consistency(2.0, 5, ROOTS[2], ROOTS[5], proof)  # type: ignore[arg-type]
    assert not verify_consistency(-2, 5, ROOTS[2], ROOTS[5], proof)
    assert not verify_consistency(2, 5, ROOTS[2], ROOTS[5], [*proof] * 50)


@pytest.mark.parametrize(
    "call",
    [
        lambda: inclusion_proof(LEAF_HASHES, 8, 8),
        lambda: inclusion_proof(LEAF_HASHES, 0, 0),
        lambda: inclusion_proof(LEAF_HASHES, -1, 8),
        lambda: inclusion_proof(LEAF_HASHES, 0, 9),  # beyond the log
        lambda: inclusion_proof(LEAF_HASHES, True, 8),
        lambda: inclusion_proof(LEAF_HASHES, 0, 2**64),
        lambda: consistency_proof(LEAF_HASHES, 5, 4),
        lambda: consistency_proof(LEAF_HASHES, 4, 9),
        lambda: consistency_proof(LEAF_HASHES, -1, 4),
        lambda: root_at(LEAF_HASHES, 9),
        lambda: root_at(LEAF_HASHES, -1),
        lambda: root_subtrees(-1),
        lambda: subtree_root(LEAF_HASHES, 3, 2),
        lambda: subtree_root(LEAF_HASHES, 0, 9),
        lambda: inclusion_subtrees(3, 3),
        lambda: consistency_subtrees(4, 3),
        lambda: CompactRange().append(b"short"),
    ],
)
def test_bad_sizes_and_indexes_are_invalid_messages(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidMessage):
        call()


# --- exhaustive agreement with the independent implementations ----------------------------

DATA_70 = distinct_data(70, b"exhaustive")
HASHES_70 = [leaf_hash(d) for d in DATA_70]


def test_every_inclusion_proof_up_to_70_leaves() -> None:
    naive, tree, table = Naive(DATA_70), pymerkle_tree(DATA_70), node_table(HASHES_70)
    for size in range(1, 71):
        top = root(HASHES_70[:size])
        assert top == naive.mth(0, size) == tree.get_root(size) == root_at(table, size)
        for index in range(size):
            proof = inclusion_proof(HASHES_70, index, size)
            assert proof == naive.path(index, 0, size) == tree.prove_inclusion(index + 1, size).path[1:]
            assert proof == inclusion_proof(table, index, size)
            assert verify_inclusion(HASHES_70[index], index, size, proof, top)
            assert len(inclusion_subtrees(index, size)) <= 2 * size.bit_length()


def test_every_consistency_proof_up_to_70_leaves() -> None:
    naive, table = Naive(DATA_70), node_table(HASHES_70)
    roots = [root(HASHES_70[:n]) for n in range(71)]
    for new in range(71):
        for old in range(new + 1):
            proof = consistency_proof(HASHES_70, old, new)
            assert proof == naive.proof(old, new) == consistency_proof(table, old, new)
            assert verify_consistency(old, new, roots[old], roots[new], proof)
            assert len(consistency_subtrees(old, new)) <= 2 * new.bit_length()


def test_corruptions_are_rejected_up_to_40_leaves() -> None:
    hashes = HASHES_70[:40]
    roots = [root(hashes[:n]) for n in range(41)]
    for size in range(1, 41):
        for index in range(size):
            assert_inclusion_rejects(hashes[index], index, size, inclusion_proof(hashes, index, size), roots[size])
        for old in range(1, size):
            assert_consistency_rejects(old, size, roots[old], roots[size], consistency_proof(hashes, old, size))


# --- property tests ------------------------------------------------------------------------

sizes = st.one_of(st.integers(1, 64), st.integers(65, 300))  # hypothesis would mostly draw small ones
salts = st.binary(max_size=8)


@settings(max_examples=25, deadline=None)
@given(size=sizes, salt=salts)
def test_all_inclusion_proofs_of_a_random_log(size: int, salt: bytes) -> None:
    data = distinct_data(size, salt)
    hashes = [leaf_hash(d) for d in data]
    naive, tree, table = Naive(data), pymerkle_tree(data), node_table(hashes)
    top = root(hashes)
    assert top == tree.get_root() == naive.mth(0, size)
    for index in range(size):
        proof = inclusion_proof(table, index, size)
        assert proof == naive.path(index, 0, size) == tree.prove_inclusion(index + 1, size).path[1:]
        assert verify_inclusion(hashes[index], index, size, proof, top)


@settings(max_examples=25, deadline=None)
@given(size=sizes, salt=salts)
def test_all_consistency_proofs_into_a_random_log(size: int, salt: bytes) -> None:
    data = distinct_data(size, salt)
    hashes = [leaf_hash(d) for d in data]
    naive, table = Naive(data), node_table(hashes)
    top = root(hashes)
    for old in range(size + 1):
        proof = consistency_proof(table, old, size)
        assert proof == naive.proof(old, size)
        assert verify_consistency(old, size, naive.mth(0, old), top, proof)


@st.composite
def inclusion_cases(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    size = draw(sizes)
    return [leaf_hash(d) for d in distinct_data(size, draw(salts))], draw(st.integers(0, size - 1)), size


@settings(max_examples=200, deadline=None)
@given(case=inclusion_cases(), where=st.integers(0, 63), bit=st.integers(0, 255))
def test_any_flipped_bit_breaks_an_inclusion_proof(case: tuple[list[bytes], int, int], where: int, bit: int) -> None:
    hashes, index, size = case
    proof, top = inclusion_proof(hashes, index, size), root_at(hashes, size)
    assert verify_inclusion(hashes[index], index, size, proof, top)

    def flip(h: bytes) -> bytes:
        return (int.from_bytes(h, "big") ^ (1 << bit)).to_bytes(32, "big")

    if proof:
        i = where % len(proof)
        assert not verify_inclusion(hashes[index], index, size, [*proof[:i], flip(proof[i]), *proof[i + 1 :]], top)
    assert not verify_inclusion(flip(hashes[index]), index, size, proof, top)
    assert not verify_inclusion(hashes[index], index, size, proof, flip(top))
    assert_inclusion_rejects(hashes[index], index, size, proof, top)


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    size = draw(st.one_of(st.integers(2, 64), st.integers(65, 300)))
    return [leaf_hash(d) for d in distinct_data(size, draw(salts))], draw(st.integers(1, size - 1)), size


@settings(max_examples=200, deadline=None)
@given(case=consistency_cases(), where=st.integers(0, 63), bit=st.integers(0, 255))
def test_any_flipped_bit_breaks_a_consistency_proof(case: tuple[list[bytes], int, int], where: int, bit: int) -> None:
    hashes, old, new = case
    proof = consistency_proof(hashes, old, new)
    old_root, new_root = root_at(hashes, old), root(hashes)
    assert verify_consistency(old, new, old_root, new_root, proof)
    i = where % len(proof)
    bad = [*proof[:i], (int.from_bytes(proof[i], "big") ^ (1 << bit)).to_bytes(32, "big"), *proof[i + 1 :]]
    assert not verify_consistency(old, new, old_root, new_root, bad)
    assert_consistency_rejects(old, new, old_root, new_root, proof)


@settings(max_examples=50, deadline=None)
@given(data=st.one_of(st.lists(st.binary(max_size=20), max_size=40), st.builds(distinct_data, st.integers(0, 300))))
def test_the_accumulator_follows_root_after_every_append(data: list[bytes]) -> None:
    acc, table = CompactRange(), {}
    hashes: list[bytes] = []
    for d in data:
        h = leaf_hash(d)
        hashes.append(h)
        table[(0, len(hashes) - 1)] = h
        for subtree, value in acc.append(h):
            level, index = subtree
            assert (index + 1) << level == len(hashes)  # completed by this very leaf
            assert value == subtree_root(hashes, index << level, (index + 1) << level)
            table[subtree] = value
        assert acc.size == len(hashes)
        assert acc.root() == root(hashes) == root_at(table, acc.size)
        assert dict(zip(acc.subtrees(), acc.hashes)) == {s: table[s] for s in root_subtrees(acc.size)}
        assert CompactRange.from_wire(acc.to_wire()) == acc
    assert len(table) == max(2 * len(data) - len(data).bit_count(), 0)  # n leaves + n - popcount(n) nodes


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 2**64 - 1), seed=st.binary(min_size=32, max_size=32))
def test_wire_round_trip_of_any_size(size: int, seed: bytes) -> None:
    acc = CompactRange(size, [hashlib.sha256(seed + bytes([i])).digest() for i in range(size.bit_count())])
    wire = acc.to_wire()
    assert set(wire) == {"size", "hashes"} and type(wire["size"]) is int and type(wire["hashes"]) is bytes
    assert CompactRange.from_wire(wire) == acc


@pytest.mark.parametrize(
    "wire",
    [
        None,
        {"size": 1},
        {"size": 1, "hashes": b"\x00" * 32, "extra": 0},
        {"size": 1, "hashes": b"\x00" * 31},
        {"size": 3, "hashes": b"\x00" * 32},
        {"size": 0, "hashes": b"\x00" * 32},
        {"size": -1, "hashes": b""},
        {"size": True, "hashes": b"\x00" * 32},
        {"size": 2**64, "hashes": b"\x00" * 32},
        {"size": 1, "hashes": "00" * 32},
    ],
)
def test_bad_wire_is_invalid(wire: object) -> None:
    with pytest.raises(InvalidMessage):
        CompactRange.from_wire(wire)


def test_a_restored_accumulator_goes_on_where_it_stopped() -> None:
    first = CompactRange()
    first.extend(HASHES_70[:37])
    restored = CompactRange.from_wire(first.to_wire())
    restored.extend(HASHES_70[37:])
    assert restored.root() == root(HASHES_70)
    assert len(first.hashes) == (37).bit_count()


def test_proofs_of_a_past_size_need_only_nodes_complete_by_then() -> None:
    """A store's table at size n answers every proof up to n, and nothing it lacks is asked for."""
    for size in range(1, 71):
        table = node_table(HASHES_70[:size])
        for index in range(size):
            assert inclusion_proof(table, index, size) == inclusion_proof(HASHES_70, index, size)
        for old in range(size + 1):
            assert consistency_proof(table, old, size) == consistency_proof(HASHES_70, old, size)


def test_lazy_sources() -> None:
    calls: list[int] = []

    class Lazy(Sequence[bytes]):  # what a DB-backed sequence looks like to us
        def __len__(self) -> int:
            return len(HASHES_70)

        def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
            calls.append(i)
            return HASHES_70[i]

    assert inclusion_proof(Lazy(), 5, 70) == inclusion_proof(HASHES_70, 5, 70)
    assert len(calls) == 69  # from leaves alone, a proof reads every other leaf
    cache = SubtreeCache(LeafNodes(HASHES_70))
    for index in range(70):
        assert inclusion_proof(cache, index, 70) == inclusion_proof(HASHES_70, index, 70)
    assert set(cache.nodes) <= set(node_table(HASHES_70))
