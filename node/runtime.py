"""The running node's shared state, held in the aiohttp application under typed keys."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from sqlalchemy.engine import Engine

from protocol import Envelope, Forbidden, Record, SigningKey, open_envelope
from protocol.keys import KeyRing

from .config import NodeConfig
from .ratelimit import RateLimiter
from .workers import make_process_pool

if TYPE_CHECKING:
    from .outbox import Outbox
    from .transparency import Recovery, Witness
    from .sync import RoundReport, Synchronizer

T = TypeVar("T")

# Database work runs on a few threads; large batches of signature checks run in a
# pool of worker processes sized to the cores (see node/verification.py).
DB_THREADS = 3
CPU_WORKERS = max(2, os.cpu_count() or 2)


@dataclass
class Node:
    config: NodeConfig
    key: SigningKey
    engine: Engine
    token: str
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(DB_THREADS, "maillage-db"))
    _cpu_executor: ProcessPoolExecutor | None = None
    limiter: RateLimiter = field(init=False)
    sync_now: asyncio.Event = field(default_factory=asyncio.Event)
    synchronizer: Synchronizer | None = None
    outbox: Outbox | None = None
    witness: Witness | None = None
    log_recovery: Recovery | None = None  # set when peers witnessed a longer log than ours: appends refused
    denied: dict[str, int] = field(default_factory=dict)  # our deny-list: node id → since (ms)
    keyring: KeyRing = field(default_factory=KeyRing)  # certified key histories of peers that rotated keys
    agreement_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one agreement step at a time
    outbox_now: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the outbox's delivery loop
    campaigns_now: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the campaigns' conclusion loop
    decisions_now: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the secretariat's closing loop
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _loops: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.peer_rate_per_s, self.config.peer_burst)

    def open_statement(self, raw: bytes) -> Envelope:
        """Verify a participant's statement embedded in an agreement event: its key (rotations
        included) and our deny-list, which refuses what a denied node says from its date on."""
        statement = open_envelope(raw, keys=self.keyring)
        since = self.denied.get(statement.issuer)
        if since is not None and statement.issued_at >= since:
            raise Forbidden("the statement's author is on our deny-list", since=since)
        return statement

    def spawn(self, coro: Coroutine[Any, Any, Any], *, loop: bool = False) -> None:
        """Run a background task the node keeps a reference to and cancels at shutdown.

        ``loop`` marks a task that runs as long as the node (sync, outbox):
        kept apart so waiting for the node's pending work does not wait for them.
        """
        task = asyncio.get_running_loop().create_task(coro)
        tasks = self._loops if loop else self._tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def cancel_tasks(self) -> None:
        running = [*self._loops, *self._tasks]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def push_soon(self, published: list[Record]) -> None:
        """Offer freshly published records to peers in the background.

        Private records never leave the node: they are filtered here, where
        every publication passes, not by each caller. Federation-scoped ones
        are offered only to members (the synchronizer filters per peer).
        """
        raws = [record.envelope.raw for record in published if record.scope.travels]
        if self.synchronizer is not None and raws:
            self.spawn(self.synchronizer.push(raws))

    def forward_soon(self, raws: list[bytes], *, came_from: str) -> None:
        """Gossip records that were news to us to a few peers, not back to their sender."""
        if self.synchronizer is not None and raws:
            self.spawn(self.synchronizer.push(raws, fanout=self.config.gossip_fanout, exclude=came_from))

    def deliver_soon(self) -> None:
        """Have the outbox try its undelivered agreement events now rather than at its next tick."""
        self.outbox_now.set()

    async def sync_round(self) -> RoundReport:
        assert self.synchronizer is not None, "the node is not running"
        return await self.synchronizer.round()

    @property
    def node_id(self) -> str:
        return self.key.node_id

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run blocking database work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def compute(self, fn: Callable[..., T], *args: object) -> T:
        """Run CPU-bound work (a module-level function of picklable arguments) in a worker process."""
        return await asyncio.get_running_loop().run_in_executor(self.cpu_executor, fn, *args)

    @property
    def cpu_executor(self) -> ProcessPoolExecutor:
        """The worker processes, made on first use: even an empty pool starts multiprocessing's
        resource tracker (a 12 MB process), which an idle node should not carry."""
        if self._cpu_executor is None:
            self._cpu_executor = make_process_pool(CPU_WORKERS)
        return self._cpu_executor

    async def warm_up(self) -> None:
        """Start the worker processes now rather than on the first large batch.

        A node does not call this itself: an idle node keeps no workers.
        """
        await asyncio.gather(*(self.compute(os.getpid) for _ in range(CPU_WORKERS)))

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)
        if self._cpu_executor is not None:
            self._cpu_executor.shutdown(wait=True)


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` pass, then clear it.

    asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
    cancellation that arrives as the event is set, and the node's loop would
    then never stop.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
    event.clear()


NODE = web.AppKey("node", Node)
