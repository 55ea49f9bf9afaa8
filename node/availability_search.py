"""Federated search by availability: which of the resources a search found are free for a period?

Bookings stay with each owner (who borrows what is nobody else's business),
so the owners are asked: one signed ``availability`` query per owner, in
parallel and bounded in time. An owner that does not answer in time leaves
its resources marked "unknown" rather than dropped or guessed.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from protocol.messages import MAX_QUERIED

from storage import peers, session

from .agreements import free_or_why
from .clock import now_ms
from .peers import PeerError
from .runtime import Node

QUERY_TIMEOUT_S = 5.0
PARALLEL_OWNERS = 8

Answers = dict[tuple[str, str], list[str] | None]  # (owner, resource) -> reasons ([] free, None unknown)


async def check_free(node: Node, wanted: Sequence[tuple[str, str]], start: int, end: int, quantity: int) -> Answers:
    """Ask each owner (ourselves locally) whether its resources are free for [start, end)."""
    by_owner: dict[str, list[str]] = defaultdict(list)
    for owner, resource in wanted:
        if resource not in by_owner[owner]:
            by_owner[owner].append(resource)
    gate = asyncio.Semaphore(PARALLEL_OWNERS)

    async def ask(owner: str, resources: list[str]) -> Answers:
        async with gate:
            return await _ask_owner(node, owner, resources[:MAX_QUERIED], start, end, quantity)

    answers: Answers = {}
    for part in await asyncio.gather(*(ask(owner, resources) for owner, resources in by_owner.items())):
        answers.update(part)
    return answers


async def _ask_owner(node: Node, owner: str, resources: list[str], start: int, end: int, quantity: int) -> Answers:
    if owner == node.node_id:
        reasons = await node.run(free_or_why, node, resources, start, end, quantity, now_ms(), requester=node.node_id)
        return {(owner, r): reasons[r] for r in resources}
    unknown: Answers = {(owner, r): None for r in resources}
    if node.synchronizer is None:
        return unknown
    addresses = await node.run(_addresses, node, owner)
    body: dict[str, Any] = {"resources": resources, "period": {"start": start, "end": end}, "quantity": quantity}
    for address in addresses:
        try:
            _, reply = await asyncio.wait_for(
                node.synchronizer.client.request(address, owner, "availability", body), QUERY_TIMEOUT_S
            )
        except (PeerError, asyncio.TimeoutError):
            continue
        answers: Answers = dict(unknown)
        answers.update({(owner, r): [] for r in reply.free if (owner, r) in unknown})
        answers.update({(owner, u.resource): list(u.reasons) for u in reply.unavailable if (owner, u.resource) in unknown})
        return answers
    return unknown


def _addresses(node: Node, owner: str) -> list[str]:
    with session(node.engine) as s:
        row = peers.get(s, owner)
        return peers.addresses_of(row) if row is not None else []
