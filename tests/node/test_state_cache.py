"""Agreement states are extended from a cached state, and never trusted beyond what the database holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from node import agreements as agreements_module
from node import campaigns
from node.agreements import _commit, load_state, open_chain
from node.clock import now_ms
from node.convened import embed_statement
from protocol import SigningKey
from protocol.agreements import apply, embed, make_statement, replay
from protocol.envelope import stored_envelope
from storage import agreements as stored
from storage import session

from .harness import make_home, running
from .test_campaigns import terms

DAY = 86_400_000


def _full_replay(node, agreement_id: bytes):  # type: ignore[no-untyped-def]
    with session(node.engine) as s:
        return replay(open_chain(stored.chain(s, agreement_id)), open_statement=stored_envelope)


def _pledge(node, campaign: bytes):  # type: ignore[no-untyped-def]
    return make_statement(SigningKey.generate(), campaign, "campaign", node.node_id, "pledge",
                          {"type": "money", "value": 1_000}, now_ms=now_ms())


async def test_the_cached_state_matches_a_full_replay_and_a_rolled_back_step_is_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(make_home(tmp_path, "Atelier vélo")) as bikes:
        node = bikes.node
        campaign = (await campaigns.create(node, terms(now_ms() + DAY))).state.id
        for _ in range(5):
            await node.run(embed_statement, node, _pledge(node, campaign), now_ms())
        replays = []
        monkeypatch.setattr(agreements_module, "replay", lambda *a, **k: replays.append(1) or replay(*a, **k))
        with session(node.engine) as s:
            cached = load_state(s, campaign)
        assert cached == _full_replay(node, campaign) and cached.seq == 5
        assert replays == []  # extended from the state cached at the last step, not replayed

        # The event at the cached head's position is replaced (our own, overtaken and dropped):
        # the cached state no longer describes the chain, and a full replay rebuilds it.
        replaced = _pledge(node, campaign)

        def replace_head() -> None:
            with session(node.engine) as s, s.begin():
                stored.drop_from(s, campaign, 5, now_ms=now_ms())
                four = replay(open_chain(stored.chain(s, campaign)), open_statement=stored_envelope)
                event = embed(node.key, four, replaced.raw, now_ms=now_ms())
                _commit(s, node, four, apply(four, event), event, now_ms())

        await node.run(replace_head)
        with session(node.engine) as s:
            rebuilt = load_state(s, campaign)
        assert replays == [1] and rebuilt.seq == 5 and rebuilt.role_of(replaced.issuer) == "contributor"
        assert rebuilt == _full_replay(node, campaign)
        replays.clear()

        # A step that fails after its event was written is rolled back: the cache must not keep it.
        def write_then_fail() -> None:
            with session(node.engine) as s, s.begin():
                before = load_state(s, campaign)
                event = embed(node.key, before, _pledge(node, campaign).raw, now_ms=now_ms())
                _commit(s, node, before, apply(before, event), event, now_ms())
                assert load_state(s, campaign).seq == before.seq + 1  # seen inside the transaction
                raise RuntimeError("the step fails after writing")

        try:
            await node.run(write_then_fail)
        except RuntimeError:
            pass
        with session(node.engine) as s:
            after = load_state(s, campaign)
        assert after == _full_replay(node, campaign) and after.seq == 5
        assert replays == [1]  # the rolled-back head was not trusted: a full replay
        # And the chain goes on from there.
        progress = await node.run(embed_statement, node, _pledge(node, campaign), now_ms())
        assert progress.state.seq == 6 and progress.state == _full_replay(node, campaign)
