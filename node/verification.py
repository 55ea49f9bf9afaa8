"""Checking batches of records received from peers, off the event loop.

Ed25519 dominates the cost. Small batches (a push of a few records) are
checked on a worker thread; large pages go to a pool of worker processes, one
per core, so signature checks and the Python around them run truly in
parallel instead of taking turns on the interpreter lock with the commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from storage.rows import RecordRow

from .catalogue import Rejected, verify_records
from .runtime import Node

log = logging.getLogger(__name__)

PROCESS_THRESHOLD = 128  # below this, process start-up and transfer cost more than they save
CHUNK = 256


async def verify_received(node: Node, raws: Sequence[bytes], now: int) -> tuple[list[RecordRow], list[Rejected]]:
    """Verify records from a peer, in order; returns the good rows and the refusals (with batch indexes)."""
    if len(raws) < PROCESS_THRESHOLD:
        return await node.run(verify_records, raws, now, node.denied)
    starts = range(0, len(raws), CHUNK)
    chunks = [list(raws[i : i + CHUNK]) for i in starts]
    results = await asyncio.gather(*(node.compute(verify_records, chunk, now, node.denied) for chunk in chunks))
    good: list[RecordRow] = []
    bad: list[Rejected] = []
    for start, (chunk_good, chunk_bad) in zip(starts, results):
        good.extend(chunk_good)
        bad.extend(Rejected(r.index + start, r.code, r.message) for r in chunk_bad)
    return good, bad
