"""Checking batches of records received from peers, off the event loop.

Ed25519 dominates the cost. Small batches (a push of a few records) are
checked on a worker thread; large pages go to a pool of worker processes, one
per core, so signature checks and the Python around them run truly in
parallel instead of taking turns on the interpreter lock with the commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from protocol import ProtocolError, decode
from protocol.keys import KeyRing

from storage.rows import RecordRow

from .catalogue import Rejected, verify_records
from .keys import learn_descriptors
from .runtime import Node

log = logging.getLogger(__name__)

PROCESS_THRESHOLD = 128  # below this, process start-up and transfer cost more than they save
CHUNK = 256


async def verify_received(node: Node, raws: Sequence[bytes], now: int) -> tuple[list[RecordRow], list[Rejected]]:
    """Verify records from a peer, in order; returns the good rows and the refusals (with batch indexes).

    Key histories carried by good descriptors join the node's key ring.
    """
    chains = node.keyring.chains
    if len(raws) < PROCESS_THRESHOLD:
        good, bad = await node.run(verify_records, raws, now, node.denied, chains)
    else:
        good, bad = await _verify_in_processes(node, raws, now, chains)
    learn_descriptors(node.keyring, good)
    return good, bad


async def _verify_in_processes(
    node: Node, raws: Sequence[bytes], now: int, chains: Mapping[str, Any]
) -> tuple[list[RecordRow], list[Rejected]]:
    # Chunks are verified independently, so key histories carried by the page's
    # descriptors are gathered first: a record may follow its author's rotation
    # in another chunk. The chains certify themselves; learning them is safe
    # before the descriptors' own signatures are checked.
    chains = _with_page_rotations(chains, raws)
    starts = range(0, len(raws), CHUNK)
    chunks = [list(raws[i : i + CHUNK]) for i in starts]
    results = await asyncio.gather(*(node.compute(verify_records, chunk, now, node.denied, chains) for chunk in chunks))
    good: list[RecordRow] = []
    bad: list[Rejected] = []
    for start, (chunk_good, chunk_bad) in zip(starts, results):
        good.extend(chunk_good)
        bad.extend(Rejected(r.index + start, r.code, r.message) for r in chunk_bad)
    return good, bad


def _with_page_rotations(chains: Mapping[str, Any], raws: Sequence[bytes]) -> Mapping[str, Any]:
    ring: KeyRing | None = None
    for raw in raws:
        if b"descriptor" not in raw:
            continue
        try:
            payload = decode(decode(raw)["p"])
            if payload["t"] == "descriptor" and len(payload["body"]["keys"]) > 1:
                ring = ring or KeyRing(chains)
                ring.learn(payload["iss"], payload["body"]["keys"])
        except (ProtocolError, KeyError, TypeError):
            continue  # judged with the rest of its chunk
    return ring.chains if ring is not None else chains
