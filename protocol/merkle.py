"""Merkle tree maths of a node's transparency log, as in RFC 9162 (CT v2), section 2.1.

- Hashing (§2.1.1): a leaf hashes as SHA-256(0x00 ‖ data), an interior node as
  SHA-256(0x01 ‖ left ‖ right), the empty tree as SHA-256(""). The distinct
  prefixes keep a leaf from passing for a node (second preimages).
- The tree of n leaves is MTH(D[n]) (§2.1.1): its left part is the largest
  power of two *smaller* than n. Every node of that tree therefore covers a
  range [start, end) where start is a multiple of the largest power of two
  <= end - start, so the node is a left-to-right row of *perfect* subtrees whose
  sizes are the bits of end - start. A perfect subtree is named here by
  ``(level, index)``: it covers leaves [index << level, (index + 1) << level).
- Inclusion proofs (§2.1.3.1 PATH, verified by the algorithm of §2.1.3.2) and
  consistency proofs (§2.1.4.1 PROOF/SUBPROOF, verified by §2.1.4.2).

Where the hashes come from. Proof generation reads perfect subtrees through a
``NodeSource``: a mapping or callable from ``(level, index)`` to its hash. A
store that keeps every perfect subtree hash (the ``completed`` nodes that
``CompactRange.append`` returns) answers a proof with O(log n) look-ups, and
``inclusion_subtrees``/``consistency_subtrees`` say which ones to fetch in one
query. A plain ``Sequence`` of leaf hashes also works (``LeafNodes``) but then
one proof hashes O(n) leaves; ``SubtreeCache`` memoises either.

Everything here is pure: no I/O, no clock. Bad sizes or indexes given to a
generator raise ``InvalidMessage``; verifiers never raise, they answer False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from .errors import InvalidMessage

HASH_SIZE: Final = 32
MAX_SIZE: Final = 2**64 - 1  # tree sizes are uint64 in RFC 9162
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

Subtree: TypeAlias = tuple[int, int]
"""A perfect subtree ``(level, index)``: leaves [index << level, (index + 1) << level)."""

NodeSource: TypeAlias = Callable[[Subtree], bytes]
LogSource: TypeAlias = Sequence[bytes] | Mapping[Subtree, bytes] | NodeSource

_sha256 = hashlib.sha256


# --- hashing (§2.1.1) -----------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The size of the left part of a tree of n >= 2 leaves: the largest power of two < n."""
    return 1 << ((n - 1).bit_length() - 1)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a row of perfect subtree hashes, largest (leftmost) first: fold from the right."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _mth(hashes: Iterable[bytes]) -> bytes:
    """MTH of a stream of leaf hashes, keeping only the O(log n) right edge in memory."""
    stack: list[bytes] = []
    prefix = NODE_PREFIX
    for count, h in enumerate(hashes):
        while count & 1:  # each trailing 1 of the count so far closes a perfect subtree
            h = _sha256(prefix + stack.pop() + h).digest()
            count >>= 1
        stack.append(h)
    return _fold(stack)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of all the leaf hashes: O(n) hashing, O(log n) extra memory."""
    return _mth(iter(leaf_hashes))


def subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]), the tree of those leaves alone; D[0:size] gives the root of a past size."""
    if not (_is_size(start) and _is_size(end) and start <= end <= len(leaf_hashes)):
        raise InvalidMessage("bad leaf range", start=start, end=end, size=len(leaf_hashes))
    return _mth(map(leaf_hashes.__getitem__, range(start, end)))


# --- which subtrees a proof needs -----------------------------------------------------


def _is_size(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_SIZE


def range_subtrees(start: int, end: int) -> list[Subtree]:
    """The perfect subtrees, left to right, of the node of an RFC 9162 tree covering [start, end).

    Only meaningful for ranges that are nodes of such a tree (which is what the
    proof layouts below produce, and [0, size) always is): start must be a
    multiple of the largest power of two <= end - start.
    """
    width = end - start
    if width <= 0 or start % (1 << (width.bit_length() - 1)):
        raise InvalidMessage("not a node of a Merkle tree", start=start, end=end)
    out = []
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH make up PATH(index, D[size]) (§2.1.3.1), deepest first."""
    if not (_is_size(size) and _is_size(index) and index < size):
        raise InvalidMessage("leaf index out of the tree", index=index, size=size)
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # the recursion appends the sibling after the deeper path
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH make up PROOF(old_size, D[new_size]) (§2.1.4.1), deepest first.

    Empty when old_size is 0 or equals new_size: the empty tree is a prefix of
    every tree, and a tree of itself.
    """
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        raise InvalidMessage("bad sizes for a consistency proof", old_size=old_size, new_size=new_size)
    if old_size in (0, new_size):
        return []
    ranges = []
    start, end, m = 0, new_size, old_size  # SUBPROOF(m, D[start:end], b)
    complete = True  # b: the old tree is still the whole left edge, so the verifier has its root
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def inclusion_subtrees(index: int, size: int) -> list[Subtree]:
    """Every perfect subtree an inclusion proof reads: O(log size) of them, for one batched look-up."""
    return [s for r in inclusion_ranges(index, size) for s in range_subtrees(*r)]


def consistency_subtrees(old_size: int, new_size: int) -> list[Subtree]:
    """Every perfect subtree a consistency proof reads: O(log new_size) of them."""
    return [s for r in consistency_ranges(old_size, new_size) for s in range_subtrees(*r)]


def root_subtrees(size: int) -> list[Subtree]:
    """The perfect subtrees whose fold is the root of the tree of ``size`` leaves (one per bit of size)."""
    if not _is_size(size):
        raise InvalidMessage("bad tree size", size=size)
    return range_subtrees(0, size) if size else []


# --- where subtree hashes come from ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeafNodes:
    """A NodeSource over leaf hashes alone: a perfect subtree of level L costs 2**L leaf reads.

    The sequence may be lazy (backed by a database); only ``len`` and
    ``__getitem__`` are used, and only O(level) hashes are held at a time.
    """

    leaf_hashes: Sequence[bytes]

    def __call__(self, subtree: Subtree) -> bytes:
        level, index = subtree
        return subtree_root(self.leaf_hashes, index << level, (index + 1) << level)


@dataclass(slots=True)
class SubtreeCache:
    """A memo in front of a NodeSource (e.g. LeafNodes): repeated proofs reuse computed subtrees."""

    source: NodeSource
    nodes: dict[Subtree, bytes] = field(default_factory=dict)

    def __call__(self, subtree: Subtree) -> bytes:
        h = self.nodes.get(subtree)
        if h is None:
            h = self.nodes[subtree] = self.source(subtree)
        return h


def _node_source(source: LogSource, size: int) -> NodeSource:
    if isinstance(source, Mapping):
        return source.__getitem__
    if isinstance(source, Sequence):
        if size > len(source):
            raise InvalidMessage("tree size beyond the log", size=size, log_size=len(source))
        return LeafNodes(source)
    return source


def _range_hash(get: NodeSource, start: int, end: int) -> bytes:
    return _fold([get(s) for s in range_subtrees(start, end)])


def root_at(source: LogSource, size: int) -> bytes:
    """The root of the log when it had ``size`` leaves: O(log size) look-ups from a node table."""
    get = _node_source(source, size)
    return _fold([get(s) for s in root_subtrees(size)])


def inclusion_proof(source: LogSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) (§2.1.3.1): the audit path of leaf ``index`` in the tree of ``size`` leaves.

    ``source`` is the leaf hashes (O(size) hashing per proof), or a mapping or
    callable giving perfect subtree hashes (O(log size) look-ups).
    """
    ranges = inclusion_ranges(index, size)
    get = _node_source(source, size)
    return [_range_hash(get, *r) for r in ranges]


def consistency_proof(source: LogSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) (§2.1.4.1); empty for old_size 0 or old_size == new_size."""
    ranges = consistency_ranges(old_size, new_size)
    get = _node_source(source, new_size)
    return [_range_hash(get, *r) for r in ranges]


# --- verification (§2.1.3.2, §2.1.4.2) ------------------------------------------------


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _is_path(proof: object) -> bool:
    return isinstance(proof, (list, tuple)) and len(proof) <= 2 * 64 and all(_is_hash(p) for p in proof)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows leaf ``index`` of the tree of ``size`` leaves, with root ``root``, is ``leaf_hash``.

    The algorithm of RFC 9162 §2.1.3.2, step by step. Never raises.
    """
    if not (_is_size(index) and _is_size(size) and _is_hash(leaf_hash) and _is_hash(root) and _is_path(proof)):
        return False
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # the path is longer than the tree is deep
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:  # fn is the last node of its level: skip the levels where it has no sibling
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2 step by step for 0 < old_size < new_size. It leaves the
    edges to the caller; here equal sizes need equal roots and an empty proof,
    and size 0 needs the empty root and an empty proof. Never raises.
    """
    if not (
        _is_size(old_size)
        and _is_size(new_size)
        and _is_hash(old_root)
        and _is_hash(new_root)
        and _is_path(proof)
    ):
        return False
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False  # step 1
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: the old tree is a perfect left subtree: its root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0  # step 7


# --- the append-only accumulator ------------------------------------------------------


_NO_NODES: Final[tuple[tuple[Subtree, bytes], ...]] = ()


@dataclass(slots=True)
class CompactRange:
    """The right edge of a growing log: the roots of its perfect subtrees, one per bit of ``size``.

    ``hashes`` runs from the largest (leftmost) subtree to the smallest, so it
    holds popcount(size) <= 64 hashes. Appending is O(1) amortised (one node
    hash on average), the root O(log size).
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf_hash: bytes) -> Sequence[tuple[Subtree, bytes]]:
        """Add the next leaf; returns the perfect subtrees of level >= 1 it completed, lowest first.

        A store that keeps those (and the leaf hashes as level 0) can answer any
        proof and any past root with O(log n) look-ups.
        """
        if not _is_hash(leaf_hash):
            raise InvalidMessage("a leaf hash is 32 bytes")
        if self.size >= MAX_SIZE:
            raise InvalidMessage("the log is full", size=self.size)
        size = self.size
        self.size = size + 1
        if not size & 1:  # half the appends complete nothing
            self.hashes.append(leaf_hash)
            return _NO_NODES
        completed = []
        h, level, index = leaf_hash, 0, size
        while size & 1:
            h = node_hash(self.hashes.pop(), h)
            size >>= 1
            level += 1
            index >>= 1
            completed.append(((level, index), h))
        self.hashes.append(h)
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        return _fold(self.hashes)

    def subtrees(self) -> list[Subtree]:
        """The ``(level, index)`` of each hash in ``hashes``."""
        return root_subtrees(self.size)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.hashes))

    def to_wire(self) -> dict[str, Any]:
        """``{"size": int, "hashes": bytes}``, the hashes concatenated, for a row or a message."""
        return {"size": self.size, "hashes": b"".join(self.hashes)}

    @classmethod
    def from_wire(cls, wire: object) -> CompactRange:
        if not isinstance(wire, Mapping) or set(wire) != {"size", "hashes"}:
            raise InvalidMessage("a compact range is {size, hashes}")
        size, blob = wire["size"], wire["hashes"]
        if not _is_size(size) or type(blob) is not bytes:
            raise InvalidMessage("bad compact range")
        if len(blob) != HASH_SIZE * size.bit_count():
            raise InvalidMessage("a compact range holds one hash per bit of its size", size=size, length=len(blob))
        return cls(size, [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])


def iter_completed(leaf_hashes: Iterable[bytes], start: CompactRange | None = None) -> Iterator[tuple[Subtree, bytes]]:
    """Every perfect subtree (level >= 1) completed while appending ``leaf_hashes``: to backfill a node table."""
    acc = start.copy() if start is not None else CompactRange()
    for h in leaf_hashes:
        yield from acc.append(h)
