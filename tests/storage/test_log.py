"""The transparency log in the database: roots and proofs from stored subtrees equal the RFC maths."""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Engine

from protocol.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from storage import log, session


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_appended_leaves_give_the_rfc_root_and_proofs_from_a_few_lookups(engine: Engine) -> None:
    leaves = _leaves(37)
    for i, leaf in enumerate(leaves):
        with session(engine) as s, s.begin():
            assert log.append(s, leaf, hashlib.sha256(leaf).digest(), now_ms=i) == i
    with session(engine) as s:
        assert log.current_root(s) == (37, root(leaves))
        for size in (1, 2, 5, 16, 17, 37):
            assert log.root_of_size(s, size) == root(leaves[:size])
            for index in (0, size // 2, size - 1):
                proof = log.inclusion(s, index, size)
                assert proof == inclusion_proof(leaves, index, size)
                assert verify_inclusion(leaves[index], index, size, proof, root(leaves[:size]))
            for old in (0, 1, size // 3, size):
                proof = log.consistency(s, old, size)
                assert proof == consistency_proof(leaves, old, size)
                assert verify_consistency(old, size, root(leaves[:old]), root(leaves[:size]), proof)


def test_a_leaf_appended_in_a_transaction_that_fails_leaves_no_trace(engine: Engine) -> None:
    leaves = _leaves(3)
    with session(engine) as s, s.begin():
        log.append(s, leaves[0], b"a" * 32, now_ms=0)
    try:
        with session(engine) as s, s.begin():
            log.append(s, leaves[1], b"b" * 32, now_ms=1)
            raise RuntimeError("the event's transaction fails after the append")
    except RuntimeError:
        pass
    with session(engine) as s, s.begin():
        assert log.append(s, leaves[2], b"c" * 32, now_ms=2) == 1
    with session(engine) as s:
        assert log.current_root(s) == (2, root([leaves[0], leaves[2]]))
