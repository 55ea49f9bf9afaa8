"""The node's background loops stop when they are cancelled, whatever else happens at that moment."""

from __future__ import annotations

import asyncio

import pytest

from node.runtime import wait_or_timeout


async def test_a_loop_waiting_for_its_event_stops_even_if_the_event_is_set_as_it_is_cancelled() -> None:
    event = asyncio.Event()

    async def loop() -> None:
        while True:
            await wait_or_timeout(event, 5.0)

    task = asyncio.get_running_loop().create_task(loop())
    await asyncio.sleep(0)
    # The race that kept a node from stopping: new work arrives as the node shuts down.
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)


async def test_wait_or_timeout_returns_on_the_event_or_after_the_time_and_clears_it() -> None:
    event = asyncio.Event()
    event.set()
    await wait_or_timeout(event, 5.0)
    assert not event.is_set()
    started = asyncio.get_running_loop().time()
    await wait_or_timeout(event, 0.05)
    assert asyncio.get_running_loop().time() - started >= 0.05
