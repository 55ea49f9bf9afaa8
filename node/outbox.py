"""The outbox: our agreement events travel to the other party until it holds them.

An event is committed with its outbox entry (node/agreements.py); this loop
delivers it, one agreement's pending events at a time and in chain order,
inside a fresh signed ``agreement`` message. The receiver holds each event at
most once (it acknowledges one it already has), so a delivery repeated after
a lost reply changes nothing: exactly once in effect. An unreachable peer is
retried with backoff, and at once when it shows up again (handshake, sync). A
refusal is an answer: the entry stops and the agreement shows why.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from protocol import ProtocolError, error_from_wire
from protocol.envelope import stored_envelope
from protocol.messages import MAX_EVENTS

from storage import agreements, peers, session
from storage.models import OutboxEntry

from .agreements import refusal_of, take_events
from .clock import now_ms
from .peers import IdentityMismatch, PeerClient, Refused, Unreachable
from .runtime import Node, wait_or_timeout

log = logging.getLogger(__name__)

PARALLEL_PEERS = 8


class Outbox:
    def __init__(self, node: Node, client: PeerClient) -> None:
        self.node = node
        self.client = client
        self._pass = asyncio.Lock()  # one delivery pass at a time: concurrent passes would send twice
        self._introduced: set[str] = set()  # peers we shook hands with since start: they know our address

    async def run_forever(self) -> None:
        """Deliver whenever woken (a new event, a peer back) and at least every ``outbox_interval_s``."""
        while True:
            await wait_or_timeout(self.node.outbox_now, self.node.config.outbox_interval_s)
            try:
                await self.deliver_due()
            except Exception:  # a bug must not stop deliveries for good
                log.exception("outbox delivery failed")

    async def deliver_due(self) -> int:
        """One pass over what is due; returns how many events peers now hold."""
        async with self._pass:
            return await self._deliver_due()

    async def _deliver_due(self) -> int:
        entries = await self.node.run(self._due)
        by_agreement: dict[tuple[str, bytes], list[OutboxEntry]] = defaultdict(list)
        for entry in entries:
            by_agreement[(entry.peer, entry.agreement_id)].append(entry)
        gate = asyncio.Semaphore(PARALLEL_PEERS)

        async def one(batch: list[OutboxEntry]) -> int:
            async with gate:
                return await self._deliver(batch)

        done = await asyncio.gather(*(one(batch) for batch in by_agreement.values()))
        return sum(done)

    async def wake(self, peer: str) -> None:
        """A peer showed up: what waits for it is due now."""
        await self.node.run(self._wake, peer)
        self.node.deliver_soon()

    # ---- one agreement's pending events to one peer -----------------------------------------

    async def _deliver(self, batch: list[OutboxEntry]) -> int:
        peer = batch[0].peer
        batch = batch[:MAX_EVENTS]
        addresses = await self.node.run(self._addresses, peer)
        if not addresses:
            await self.node.run(self._failed, batch, "no known address for this node yet", False, None)
            return 0
        last_error = ""
        for address in addresses:
            try:
                await self._introduce(peer, address)
                _, reply = await self.client.request(address, peer, "agreement", {"events": [e.envelope for e in batch]})
            except (Unreachable, IdentityMismatch) as exc:
                last_error = str(exc)
                continue
            except Refused as exc:  # the whole message was refused (deny-list, bad request …)
                await self.node.run(self._failed, batch, f"{exc.error.code}: {exc.error.message}", True, exc.error)
                return 0
            reply = await self._catch_up(address, batch, reply)
            return await self._settle(batch, reply)
        await self.node.run(self._failed, batch, last_error, False, None)
        return 0

    async def _catch_up(self, address: str, batch: list[OutboxEntry], reply: Any) -> Any:
        """The peer lacks earlier events of the chain (lost, or restored from a backup): send it the
        chain from where it stands, once, and judge the batch by that answer."""
        refused = reply.refused
        if refused is None or refused.code != "out-of-order" or not isinstance(refused.details, dict):
            return reply
        expected = refused.details.get("expected_seq")
        chain = await self.node.run(self._chain, batch[0].agreement_id)
        held = {stored_envelope(raw).message_id: seq for seq, raw in enumerate(chain)}
        seq = held.get(batch[refused.index].message_id)
        if type(expected) is not int or seq is None or not 0 <= expected < seq:
            return reply
        missing = chain[expected : seq + 1]
        answer = reply
        # A newcomer to a long convened chain (a federation's new member) gets it in several deliveries.
        for start in range(0, len(missing), MAX_EVENTS):
            try:
                _, answer = await self.client.request(
                    address, batch[0].peer, "agreement", {"events": missing[start : start + MAX_EVENTS]}
                )
            except (Unreachable, IdentityMismatch, Refused):
                return reply
            if answer.refused is not None:
                return reply  # still refused: report the first answer
        return answer

    async def _introduce(self, peer: str, address: str) -> None:
        """Say hello first: the peer's answers to our events need our address, which our descriptor gives."""
        if peer in self._introduced or self.node.synchronizer is None:
            return
        await self.node.synchronizer.handshake(peer, address)
        self._introduced.add(peer)

    async def _settle(self, batch: list[OutboxEntry], reply: Any) -> int:
        held = set(reply.accepted)
        delivered = [e for e in batch if e.message_id in held]
        refused: tuple[OutboxEntry, ProtocolError] | None = None
        unjudged: list[OutboxEntry] = []
        if reply.refused is not None and reply.refused.index < len(batch):
            wire = {"code": reply.refused.code, "message": reply.refused.message, "details": reply.refused.details or {}}
            refused = (batch[reply.refused.index], error_from_wire(wire))
            unjudged = batch[reply.refused.index + 1 :]  # they follow the refused event: they cannot fit either
        await self.node.run(self._record_answer, delivered, refused, unjudged)
        if reply.events:
            taken = await take_events(self.node, reply.events, batch[0].peer)
            if taken.refused is not None:
                log.warning("answer from %s refused: %s", batch[0].peer, taken.refused[1].message)
        return len(delivered)

    # ---- database side ---------------------------------------------------------------------

    def _due(self) -> list[OutboxEntry]:
        with session(self.node.engine) as s:
            return agreements.due(s, now_ms=now_ms())

    def _chain(self, agreement_id: bytes) -> list[bytes]:
        with session(self.node.engine) as s:
            return agreements.chain(s, agreement_id)

    def _addresses(self, peer_id: str) -> list[str]:
        with session(self.node.engine) as s:
            row = peers.get(s, peer_id)
            return peers.addresses_of(row) if row is not None else []

    def _wake(self, peer: str) -> None:
        with session(self.node.engine) as s, s.begin():
            agreements.wake(s, peer, now_ms=now_ms())

    def _record_answer(
        self,
        delivered: list[OutboxEntry],
        refused: tuple[OutboxEntry, ProtocolError] | None,
        unjudged: list[OutboxEntry],
    ) -> None:
        now = now_ms()
        with session(self.node.engine) as s, s.begin():
            agreements.delivered(s, [e.id for e in delivered if e.id is not None], now_ms=now)
            if refused is not None:
                entry, error = refused
                assert entry.id is not None
                agreements.failed(s, entry.id, f"{error.code}: {error.message}", now_ms=now, final=True)
                agreements.set_refusal(s, entry.agreement_id, refusal_of(error), now_ms=now)
            for entry in unjudged:
                assert entry.id is not None
                agreements.failed(s, entry.id, "not judged: an earlier event was refused", now_ms=now, final=True)

    def _failed(self, batch: list[OutboxEntry], error: str, final: bool, refusal: ProtocolError | None) -> None:
        now = now_ms()
        with session(self.node.engine) as s, s.begin():
            for entry in batch:
                assert entry.id is not None
                agreements.failed(s, entry.id, error, now_ms=now, final=final)
            if refusal is not None:
                agreements.set_refusal(s, batch[0].agreement_id, refusal_of(refusal), now_ms=now)
