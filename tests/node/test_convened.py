"""The authority of a convened agreement embeds statements on its own clock, tolerating a small skew."""

from __future__ import annotations

from pathlib import Path

import pytest

from node import campaigns
from node.clock import now_ms
from node.convened import embed_statement
from protocol import SigningKey, Stale
from protocol.agreements import make_statement

from .harness import make_home, running
from .test_campaigns import terms

DAY = 86_400_000


async def test_a_pledge_from_a_clock_slightly_ahead_is_embedded_and_one_far_ahead_is_refused(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Atelier vélo")) as bikes:
        node = bikes.node
        opened = await campaigns.create(node, terms(now_ms() + DAY))
        campaign = opened.state.id
        pledge = {"type": "money", "value": 10_000}

        def statement(ahead_ms: int):  # type: ignore[no-untyped-def]
            """A pledge from a new association whose clock runs ``ahead_ms`` fast."""
            pledger = SigningKey.generate()
            return make_statement(pledger, campaign, "campaign", node.node_id, "pledge", pledge, now_ms=now_ms() + ahead_ms)

        ahead = statement(30_000)
        progress = await node.run(embed_statement, node, ahead, now_ms())
        assert progress.state.role_of(ahead.issuer) == "contributor"
        with pytest.raises(Stale):
            await node.run(embed_statement, node, statement(3_600_000), now_ms())  # an hour ahead: a wrong clock
        # The next statement, from a clock on time, follows: the chain's dates never go backwards.
        assert (await node.run(embed_statement, node, statement(0), now_ms())).state.seq == progress.state.seq + 1
