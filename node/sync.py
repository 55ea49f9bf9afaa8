"""Background replication: handshake with due peers, pull their change feeds, push our news.

Each page of pulled records is verified, then committed together with the
new cursor in one transaction, so a node stopped at any point resumes where
its last commit left it: nothing lost, nothing stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from protocol import ProtocolError, open_envelope, parse_record
from protocol.envelope import stored_envelope
from protocol.reconcile import Item, SortedItems, initiate, respond

from storage import peers, records, session
from storage.rows import RecordRow

from . import catalogue
from .clock import now_ms
from .peers import IdentityMismatch, PeerClient, PeerError
from .runtime import Node, wait_or_timeout
from .verification import verify_received

log = logging.getLogger(__name__)

PARALLEL_PEERS = 4
RECONCILE_FROM = 500  # local public records from which a first contact starts with reconciliation
RECONCILE_MAX_ROUNDS = 16
PUSH_BATCH = 500
PUSH_BYTES = 768 * 1024  # leaves room for the envelope under a peer's 1 MiB body limit


@dataclass
class RoundReport:
    contacted: int = 0
    failed: int = 0
    refused: int = 0
    received: int = 0  # records that crossed the network to us
    stored: int = 0  # of those, versions that were news
    reconciled: int = 0  # peers first contacted through set reconciliation
    errors: list[str] = field(default_factory=list)


class Synchronizer:
    def __init__(self, node: Node, client: PeerClient) -> None:
        self.node = node
        self.client = client
        # One sync of a given peer at a time, so cursors only move forward.
        self._peer_locks: dict[str, asyncio.Lock] = {}

    async def add_seeds(self) -> None:
        now = now_ms()

        def commit() -> None:
            with session(self.node.engine) as s, s.begin():
                for seed in self.node.config.seeds:
                    if seed.node_id != self.node.node_id:
                        peers.upsert(s, seed.node_id, addresses=[seed.url], source="seed", now_ms=now)

        await self.node.run(commit)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # a bug in one round must not stop replication for good
                log.exception("sync round failed")
            await wait_or_timeout(self.node.sync_now, self.node.config.sync_interval_s)

    async def round(self) -> RoundReport:
        """One pass over the peers that are due; returns what happened."""
        due = await self.node.run(self._due)
        report = RoundReport()
        gate = asyncio.Semaphore(PARALLEL_PEERS)

        async def one(peer_id: str, addresses: list[str]) -> None:
            lock = self._peer_locks.setdefault(peer_id, asyncio.Lock())
            async with gate, lock:
                await self.sync_peer(peer_id, addresses, report)

        await asyncio.gather(*(one(peer_id, addresses) for peer_id, addresses in due))
        return report

    def _due(self) -> list[tuple[str, list[str]]]:
        with session(self.node.engine) as s:
            due = peers.due(s, now_ms())
        skip = {self.node.node_id, *self.node.denied}
        return [(p.node_id, peers.addresses_of(p)) for p in due if p.node_id not in skip]

    async def sync_peer(self, peer_id: str, addresses: list[str], report: RoundReport) -> None:
        errors: list[str] = []
        impostors: list[str] = []
        for address in addresses:
            try:
                await self.handshake(peer_id, address)
                if await self.node.run(self._worth_reconciling, peer_id):
                    await self._reconcile(peer_id, address, report)
                await self._pull(peer_id, address, report)
                report.contacted += 1
                if impostors:
                    await self.node.run(self._commit_forget, peer_id, impostors, "; ".join(errors))
                return
            except IdentityMismatch as exc:
                # That address belongs to someone else: it is wrong for this peer, not the peer itself.
                log.warning("address %s does not answer as %s: %s", address, peer_id, exc)
                impostors.append(address)
                errors.append(str(exc))
            except PeerError as exc:
                errors.append(str(exc))
        message = "; ".join(errors) or "no address"
        report.errors.append(message)
        if impostors and await self.node.run(self._commit_forget, peer_id, impostors, message):
            log.warning("refusing peer %s: no address answers as it", peer_id)
            report.refused += 1
            return
        log.info("peer %s unreachable: %s", peer_id, message)
        report.failed += 1
        await self.node.run(self._commit_failure, peer_id, message)

    async def handshake(self, peer_id: str, address: str) -> None:
        """Exchange signed descriptors with a peer at ``address`` (it learns where to reach us)."""
        own = await self.node.run(catalogue.own_descriptor, self.node.engine, self.node.node_id)
        _, body = await self.client.request(address, peer_id, "hello", {"descriptor": own})
        now = now_ms()
        try:
            descriptor = parse_record(open_envelope(body.descriptor, keys=self.node.keyring), now_ms=now)
            if descriptor.type != "descriptor" or descriptor.author != peer_id:
                raise IdentityMismatch(f"{address} sent a descriptor that is not its own")
            self.node.keyring.learn(peer_id, descriptor.body.keys)
        except ProtocolError as exc:
            raise IdentityMismatch(f"{address} sent an invalid descriptor: {exc.code}") from exc

        def commit() -> None:
            with session(self.node.engine) as s, s.begin():
                records.ingest(s, [descriptor], now_ms=now)
                peers.upsert(s, peer_id, addresses=[address], source="inbound", now_ms=now, descriptor=descriptor.envelope.raw)
                peers.mark_success(s, peer_id, address, now_ms=now, name=descriptor.body.name)

        await self.node.run(commit)
        if self.node.outbox is not None:
            await self.node.outbox.wake(peer_id)

    def _worth_reconciling(self, peer_id: str) -> bool:
        """First contact while we already hold many records: they are likely shared already."""
        with session(self.node.engine) as s:
            return peers.get_cursor(s, peer_id) == 0 and records.count(s, public_only=True) >= RECONCILE_FROM

    async def _reconcile(self, peer_id: str, address: str, report: RoundReport) -> None:
        """Exchange only the differences with a peer, then follow its change feed from where it stood.

        If the peer cannot do it, or some records did not fit in its replies, the
        cursor stays at 0 and the ordinary pull fetches everything: slower, never wrong.
        """
        local = await self.node.run(self._local_items, peer_id)
        frame: bytes | None = initiate(local)
        start_cursor: int | None = None
        complete = True
        try:
            for _ in range(RECONCILE_MAX_ROUNDS):
                assert frame is not None
                _, reply = await self.client.request(address, peer_id, "reconcile", {"frame": frame})
                start_cursor = reply.cursor if start_cursor is None else start_cursor
                complete = complete and not reply.truncated
                now = now_ms()
                good, _ = await verify_received(self.node, reply.records, now)
                report.received += len(reply.records)
                report.stored += await self.node.run(self._commit_page, peer_id, good, None, now)
                if reply.frame is None:
                    break
                frame, have, _ = respond(local, reply.frame)
                if have:
                    raws = await self.node.run(self._envelopes_for, peer_id, have)
                    for batch in _batches(raws):
                        await self.client.request(address, peer_id, "push", {"records": batch})
                if frame is None:
                    break
            else:
                complete = False
        except (PeerError, ProtocolError) as exc:
            log.info("reconciliation with %s failed, pulling everything instead: %s", peer_id, exc)
            return
        if complete and start_cursor is not None:
            await self.node.run(self._commit_cursor, peer_id, start_cursor)
            report.reconciled += 1

    def _local_items(self, peer_id: str) -> SortedItems:
        """The versions we reconcile with this peer: only those we may send it (one SQL query)."""
        with session(self.node.engine) as s:
            return SortedItems(Item(t, m) for t, m in records.versions_for(s, peer_id))

    def _envelopes_for(self, peer_id: str, message_ids: set[bytes]) -> list[bytes]:
        with session(self.node.engine) as s:
            found, _ = records.envelopes_for(s, peer_id, message_ids)
            return found

    def _commit_cursor(self, peer_id: str, cursor: int) -> None:
        with session(self.node.engine) as s, s.begin():
            peers.set_cursor(s, peer_id, cursor, now_ms=now_ms())

    async def _pull(self, peer_id: str, address: str, report: RoundReport) -> None:
        """Pull the peer's change feed from our cursor, page after page, as a pipeline.

        While page N is verified, page N+1 is already being fetched and page N-1
        committed; commits still happen one after another, in feed order, each
        with the cursor of its own page.
        """
        config = self.node.config
        cursor = await self.node.run(self._cursor, peer_id)

        async def fetch(since: int) -> Any:
            _, page = await self.client.request(address, peer_id, "changes", {"since": since, "limit": config.sync_batch})
            return page

        pending_commit: asyncio.Future[int] | None = None
        next_page: asyncio.Task[Any] | None = asyncio.ensure_future(fetch(cursor))
        try:
            for _ in range(config.sync_max_pages):
                assert next_page is not None
                page = await next_page
                report.received += len(page.records)
                next_page = asyncio.ensure_future(fetch(page.next)) if page.more else None
                now = now_ms()
                good, bad = await verify_received(self.node, page.records, now)
                for refused in bad:
                    log.warning("skipped a record from %s that failed verification: %s %s", peer_id, refused.code, refused.message)
                if pending_commit is not None:
                    report.stored += await pending_commit
                pending_commit = asyncio.ensure_future(self.node.run(self._commit_page, peer_id, good, page.next, now))
                if next_page is None:
                    break
            if pending_commit is not None:
                report.stored += await pending_commit
                pending_commit = None
        finally:
            for task in (next_page, pending_commit):
                if task is not None and not task.done():
                    task.cancel()
            # A commit already handed to a worker thread runs to its end; wait for it.
            if pending_commit is not None:
                await asyncio.gather(pending_commit, return_exceptions=True)

    def _cursor(self, peer_id: str) -> int:
        with session(self.node.engine) as s:
            return peers.get_cursor(s, peer_id)

    def _commit_page(self, peer_id: str, good: list[RecordRow], cursor: int | None, now: int) -> int:
        with session(self.node.engine) as s, s.begin():
            received = catalogue.store_received(s, good, now=now, own_id=self.node.node_id)
            if cursor is not None:
                peers.set_cursor(s, peer_id, cursor, now_ms=now)
        for row, refusal in received.out_of_scope:
            log.warning("refused record %s/%s from %s: %s %s",
                        row.author, row.record_id, peer_id, refusal.code, refusal.message)
        return received.ingest.stored

    def _commit_failure(self, peer_id: str, message: str) -> None:
        with session(self.node.engine) as s, s.begin():
            peers.mark_failure(s, peer_id, message, now_ms=now_ms())

    def _commit_forget(self, peer_id: str, addresses: list[str], reason: str) -> bool:
        with session(self.node.engine) as s, s.begin():
            return peers.forget_addresses(s, peer_id, addresses, reason, now_ms=now_ms())

    async def push(self, raws: list[bytes], *, fanout: int | None = None, exclude: str | None = None) -> None:
        """Offer records (held in our database) to a few active peers now; pull sync remains the guarantee.

        Each peer is offered only the records it may have: federation-scoped ones
        go to members of their federations alone.
        """
        targets = await self.node.run(self._push_targets, fanout or self.node.config.push_fanout, exclude)
        if not targets:
            return
        ids = await self.node.run(_message_ids, raws)
        for peer_id, address in targets:
            allowed = await self.node.run(self._visible_ids, peer_id, ids)
            try:
                for batch in _batches([raw for raw, mid in zip(raws, ids) if mid in allowed]):
                    await self.client.request(address, peer_id, "push", {"records": batch})
            except PeerError as exc:
                log.info("push to %s failed (it will pull later): %s", peer_id, exc)

    def _visible_ids(self, peer_id: str, message_ids: list[bytes]) -> set[bytes]:
        with session(self.node.engine) as s:
            return records.visible_message_ids(s, peer_id, message_ids)

    def _push_targets(self, fanout: int, exclude: str | None) -> list[tuple[str, str]]:
        with session(self.node.engine) as s:
            views = [p for p in peers.list_all(s) if p.state == "active" and p.addresses and p.node_id != exclude
                     and p.node_id not in self.node.denied]
        # A random few, so that gossip spreads over the whole federation, not one path.
        return [(p.node_id, p.addresses[0]) for p in random.sample(views, min(fanout, len(views)))]


def _message_ids(raws: list[bytes]) -> list[bytes]:
    """Message ids of envelopes we stored (verified then), without checking their signatures again."""
    return [stored_envelope(raw).message_id for raw in raws]


def _batches(raws: list[bytes]) -> Iterator[list[bytes]]:
    """Split records into push messages within the protocol's count and the peers' size limits."""
    batch: list[bytes] = []
    size = 0
    for raw in raws:
        if batch and (len(batch) == PUSH_BATCH or size + len(raw) > PUSH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(raw)
        size += len(raw)
    if batch:
        yield batch
