"""The node's transparency log: checkpoints, proofs, witnessing peers, equivocation, recovery.

Every agreement event the node signs or accepts becomes a leaf of its log in
the same transaction as the event (node/agreements.py). Peers we hold
agreements with are witnessed: their latest checkpoint must be consistent
with the last one we saw, then we cosign it. Two checkpoints that cannot both
be true are kept as a proof, flagged, and passed on. A node restored from an
old backup hears from its peers that its log was longer and refuses to
append until it has recovered, rather than forking its own history.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from protocol import ProtocolError, open_envelope, seal
from protocol.checkpoints import (
    CHECKPOINT_TYPE,
    COSIGNATURE_TYPE,
    Checkpoint,
    cosignature_body,
    is_equivocation,
    parse_checkpoint,
    parse_cosignature,
)
from protocol.errors import Conflict, InvalidMessage
from protocol.merkle import verify_consistency

from storage import agreements as stored_agreements
from storage import log, session

from .clock import now_ms
from .peers import PeerError
from .runtime import Node

logger = logging.getLogger(__name__)


class LogBehind(Conflict):
    """Our log is shorter than (or forked from) what peers witnessed: a restored backup."""


@dataclass(frozen=True, slots=True)
class Recovery:
    """What peers witnessed of our log that we do not hold."""

    witnessed_size: int
    local_size: int
    witness: str


# ---- our log (database threads) -------------------------------------------------------------


def check_can_append(node: Node) -> None:
    """Refuse to grow a log peers know to be longer: the node must recover first."""
    if node.log_recovery is not None:
        r = node.log_recovery
        raise LogBehind(
            "this node's log is behind what its peers witnessed (restored from an old backup?): "
            "restore the latest backup before recording agreement steps",
            witnessed_size=r.witnessed_size,
            local_size=r.local_size,
            witness=r.witness,
        )


def own_checkpoint(node: Node) -> tuple[bytes | None, list[bytes]]:
    """Our latest signed checkpoint (signed now if the log grew since) and the cosignatures it has."""
    now = now_ms()
    with session(node.engine) as s, s.begin():
        size, current = log.current_root(s)
        latest = log.latest_checkpoint(s, node.node_id)
        if node.log_recovery is None and (latest is None or latest.size < size):
            checkpoint = parse_checkpoint(seal(node.key, CHECKPOINT_TYPE, {"size": size, "root": current}, now_ms=now))
            log.store_checkpoint(s, checkpoint, now_ms=now)
            return checkpoint.raw, []
        if latest is None:
            return None, []
        return bytes(latest.envelope), log.cosignatures(s, latest.message_id)


def witnessed_checkpoint(node: Node, origin: str) -> tuple[bytes | None, list[bytes]]:
    with session(node.engine) as s:
        latest = log.latest_checkpoint(s, origin)
        return (bytes(latest.envelope), log.cosignatures(s, latest.message_id)) if latest else (None, [])


def proofs(node: Node, size: int, message_id: bytes | None, old_size: int | None) -> dict[str, Any]:
    """Inclusion of an event and/or consistency from ``old_size``, against our log at ``size``."""
    with session(node.engine) as s:
        current = log.size(s)
        if size > current:
            raise InvalidMessage("no such log size here", size=size, log_size=current)
        reply: dict[str, Any] = {}
        if message_id is not None:
            index = log.index_of(s, message_id)
            if index is None or index >= size:
                raise InvalidMessage("this event is not in the log at that size", size=size)
            reply["index"] = index
            reply["inclusion"] = log.inclusion(s, index, size)
        if old_size is not None:
            if old_size > size:
                raise InvalidMessage("old_size is larger than size", old_size=old_size, size=size)
            reply["consistency"] = log.consistency(s, old_size, size)
        return reply


def store_cosignature(node: Node, raw: bytes, sender: str) -> bool:
    """Keep a witness's cosignature of one of our checkpoints (it must name one we signed)."""
    cosignature = parse_cosignature(open_envelope(raw, keys=node.keyring))
    if cosignature.witness != sender or cosignature.origin != node.node_id:
        raise InvalidMessage("a cosignature comes from its witness and names our checkpoint")
    now = now_ms()
    with session(node.engine) as s, s.begin():
        ours = log.checkpoint_of_size(s, node.node_id, cosignature.size)
        if ours is None or (ours.message_id, ours.root) != (cosignature.checkpoint, cosignature.root):
            raise InvalidMessage("the cosignature names no checkpoint of ours")
        return log.store_cosignature(s, cosignature, now_ms=now)


# ---- judging others' checkpoints ------------------------------------------------------------


def judge(node: Node, new: Checkpoint, proof: list[bytes] | None, reporter: str) -> str:
    """Compare a peer's checkpoint with the last one we hold: "new", "same", "equivocation" or "needs-proof"."""
    now = now_ms()
    with session(node.engine) as s, s.begin():
        last = log.latest_checkpoint(s, new.origin)
        if last is None:
            log.store_checkpoint(s, new, now_ms=now)
            return "new"
        old = parse_checkpoint(open_envelope(bytes(last.envelope), keys=node.keyring))
        same_size = log.checkpoint_of_size(s, new.origin, new.size)
        if same_size is not None:
            earlier = parse_checkpoint(open_envelope(bytes(same_size.envelope), keys=node.keyring))
            if is_equivocation(earlier, new):
                log.store_equivocation(s, earlier, new, reported_by=reporter, now_ms=now)
                return "equivocation"
            return "same"
        if new.size < old.size:
            if new.issued_at > old.issued_at:  # a log never shrinks: a newer, smaller checkpoint is a fork
                log.store_equivocation(s, old, new, reported_by=reporter, now_ms=now)
                return "equivocation"
            log.store_checkpoint(s, new, now_ms=now)  # an older checkpoint arriving late
            return "same"
        if proof is None:
            return "needs-proof"
        if not verify_consistency(old.size, new.size, old.root, new.root, proof):
            log.store_equivocation(s, old, new, reported_by=reporter, now_ms=now)
            return "equivocation"
        log.store_checkpoint(s, new, now_ms=now)
        return "new"


def counterparts(node: Node) -> list[str]:
    """The nodes we hold agreements with: the logs we witness, and our witnesses."""
    with session(node.engine) as s:
        return sorted({row.counterpart for row in stored_agreements.listing(s, limit=10_000)})


def equivocation_pair(node: Node, origin: str) -> tuple[bytes, bytes] | None:
    with session(node.engine) as s:
        found = log.equivocation_of(s, origin)
        return (bytes(found.first), bytes(found.second)) if found else None


def accept_equivocation(node: Node, first_raw: bytes, second_raw: bytes, reporter: str) -> bool:
    """Check a proof a peer passed on, from the two envelopes alone; keep it if it holds."""
    first = parse_checkpoint(open_envelope(first_raw, keys=node.keyring))
    second = parse_checkpoint(open_envelope(second_raw, keys=node.keyring))
    shrank = first.origin == second.origin and (
        (second.issued_at > first.issued_at and second.size < first.size)
        or (first.issued_at > second.issued_at and first.size < second.size)
    )
    if not (is_equivocation(first, second) or shrank):
        return False
    with session(node.engine) as s, s.begin():
        log.store_equivocation(s, first, second, reported_by=reporter, now_ms=now_ms())
    return True


# ---- the witnessing round (event loop) ------------------------------------------------------


class Witness:
    """Fetches, checks and cosigns the checkpoints of the peers we hold agreements with."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def round(self) -> dict[str, str]:
        """One pass over our counterparts; returns what we made of each one's checkpoint."""
        results: dict[str, str] = {}
        for peer in await self.node.run(counterparts, self.node):
            try:
                results[peer] = await self.witness(peer)
            except (PeerError, ProtocolError) as exc:
                results[peer] = f"unreachable: {exc}"
        return results

    async def run_forever(self, interval_s: float) -> None:
        """Check our own log against what peers saw once, then witness our counterparts regularly."""
        await self.check_own_log()
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.round()
            except Exception:  # a bug must not stop witnessing for good
                logger.exception("witnessing round failed")

    async def witness(self, peer: str) -> str:
        client, address = await self._route(peer)
        _, reply = await client.request(address, peer, "checkpoint", {})
        if reply.checkpoint is None:
            return "empty"
        checkpoint = parse_checkpoint(open_envelope(reply.checkpoint, keys=self.node.keyring))
        if checkpoint.origin != peer:
            raise InvalidMessage("the peer answered with another node's checkpoint")
        verdict = await self.node.run(judge, self.node, checkpoint, None, self.node.node_id)
        if verdict == "needs-proof":
            last = await self.node.run(witnessed_checkpoint, self.node, peer)
            old = parse_checkpoint(open_envelope(last[0], keys=self.node.keyring)) if last[0] else None
            assert old is not None
            body = {"size": checkpoint.size, "old_size": old.size}
            _, proof = await client.request(address, peer, "log-proof", body)
            verdict = await self.node.run(judge, self.node, checkpoint, list(proof.consistency or ()), self.node.node_id)
        if verdict == "new":
            cosignature = seal(self.node.key, COSIGNATURE_TYPE, cosignature_body(checkpoint), now_ms=now_ms())
            await client.request(address, peer, "cosign", {"cosignature": cosignature.raw})
        if verdict == "equivocation":
            logger.warning("node %s signed two checkpoints that cannot both be true", peer)
            await self.spread(peer)
        return verdict

    async def spread(self, origin: str) -> None:
        """Pass an equivocation proof on to every peer we know (not only those we deal with)."""
        pair = await self.node.run(equivocation_pair, self.node, origin)
        if pair is None:
            return
        for peer in await self.node.run(_known_peers, self.node):
            if peer == origin:
                continue
            try:
                client, address = await self._route(peer)
                await client.request(address, peer, "equivocation", {"first": pair[0], "second": pair[1]})
            except (PeerError, ProtocolError) as exc:
                logger.info("could not pass the equivocation proof to %s: %s", peer, exc)

    async def check_own_log(self) -> Recovery | None:
        """Ask our counterparts what they witnessed of our log; note if they saw more than we hold."""
        with session(self.node.engine) as s:
            local = log.size(s)
        # Every peer we know, not only those we hold agreements with: an old backup may not know them all.
        for peer in await self.node.run(_known_peers, self.node):
            try:
                client, address = await self._route(peer)
                _, reply = await client.request(address, peer, "checkpoint", {"origin": self.node.node_id})
            except (PeerError, ProtocolError):
                continue
            if reply.checkpoint is None:
                continue
            seen = parse_checkpoint(open_envelope(reply.checkpoint, keys=self.node.keyring))
            if seen.origin == self.node.node_id and seen.size > local:
                self.node.log_recovery = Recovery(seen.size, local, peer)
                logger.error("our log holds %d entries but %s witnessed %d: refusing to append", local, peer, seen.size)
                return self.node.log_recovery
        return None

    async def _route(self, peer: str) -> tuple[Any, str]:
        if self.node.synchronizer is None:
            raise InvalidMessage("the node is not running")
        addresses = await self.node.run(_addresses, self.node, peer)
        if not addresses:
            raise InvalidMessage("no known address for this node")
        return self.node.synchronizer.client, addresses[0]


def _known_peers(node: Node) -> list[str]:
    from storage import peers

    with session(node.engine) as s:
        return [p.node_id for p in peers.list_all(s) if p.state != "refused"]


def _addresses(node: Node, peer: str) -> list[str]:
    from storage import peers

    with session(node.engine) as s:
        row = peers.get(s, peer)
        return peers.addresses_of(row) if row is not None else []
