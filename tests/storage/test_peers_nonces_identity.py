"""Peers, replay memory, identity and schema migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from protocol import Replay, SigningKey
from storage import identity, nonces, peers, session
from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import SQLModel

from ..factories import T0


def test_migrations_reach_head_match_the_models_and_downgrade(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_nonce_is_accepted_once_then_replay(engine: Engine) -> None:
    issuer = SigningKey.generate().node_id
    with session(engine) as s, s.begin():
        nonces.remember(s, issuer, b"n" * 16, expires_ms=T0 + 1000, now_ms=T0)
    with pytest.raises(Replay), session(engine) as s, s.begin():
        nonces.remember(s, issuer, b"n" * 16, expires_ms=T0 + 1000, now_ms=T0 + 1)
    # Another issuer may use the same random bytes.
    with session(engine) as s, s.begin():
        nonces.remember(s, SigningKey.generate().node_id, b"n" * 16, expires_ms=T0 + 1000, now_ms=T0)
        assert nonces.purge_expired(s, T0 + 1000) == 2


def test_peer_backoff_grows_then_gone_but_seeds_are_kept(engine: Engine) -> None:
    inbound, seed = SigningKey.generate().node_id, SigningKey.generate().node_id
    with session(engine) as s, s.begin():
        peers.upsert(s, inbound, addresses=["http://127.0.0.1:1"], source="inbound", now_ms=T0)
        peers.upsert(s, seed, addresses=["http://127.0.0.1:2"], source="seed", now_ms=T0)
    delays = []
    with session(engine) as s, s.begin():
        for n in range(peers.GONE_AFTER_FAILURES):
            p = peers.mark_failure(s, inbound, "connection refused", now_ms=T0)
            assert p is not None
            delays.append(p.next_attempt_ms - T0)
            peers.mark_failure(s, seed, "connection refused", now_ms=T0)
    assert delays == sorted(delays) and delays[0] == peers.BACKOFF_BASE_MS and delays[-1] == peers.BACKOFF_MAX_MS
    with session(engine) as s:
        states = {p.node_id: p.state for p in peers.list_all(s)}
        assert states == {inbound: "gone", seed: "unreachable"}
        assert [p.node_id for p in peers.due(s, T0 + peers.BACKOFF_MAX_MS)] == [seed]


def test_success_resets_backoff_and_puts_working_address_first(engine: Engine) -> None:
    node = SigningKey.generate().node_id
    with session(engine) as s, s.begin():
        peers.upsert(s, node, addresses=["http://127.0.0.1:1", "http://127.0.0.1:2"], source="seed", now_ms=T0)
        peers.mark_failure(s, node, "timeout", now_ms=T0)
        peers.mark_success(s, node, "http://127.0.0.1:2", now_ms=T0 + 5, name="Banque alimentaire")
        peers.set_cursor(s, node, 42, now_ms=T0 + 5)
    with session(engine) as s:
        (view,) = peers.list_all(s)
        assert view.addresses == ["http://127.0.0.1:2", "http://127.0.0.1:1"]
        assert (view.state, view.failures, view.cursor, view.name) == ("active", 0, 42, "Banque alimentaire")


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "node.key"
    identity.write_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert identity.read_key_file(path).node_id == key.node_id
    with pytest.raises(FileExistsError):
        identity.write_key_file(path, SigningKey.generate())
    path.chmod(0o644)
    with pytest.raises(identity.KeyFileError, match="chmod 600"):
        identity.read_key_file(path)


def test_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    identity.write_key_file(path, SigningKey.generate())
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(identity.KeyFileError, match="not a usable Ed25519 key file"):
        identity.read_key_file(path)


def test_impostor_addresses_are_forgotten_and_the_peer_refused_only_when_none_is_left(engine: Engine) -> None:
    node = SigningKey.generate().node_id
    good, bad = "http://127.0.0.1:2", "http://127.0.0.1:1"
    with session(engine) as s, s.begin():
        peers.upsert(s, node, addresses=[bad, good], source="inbound", now_ms=T0)
        assert peers.forget_addresses(s, node, [bad], "answered as someone else", now_ms=T0) is False
        assert peers.addresses_of(peers.get(s, node)) == [good]  # type: ignore[arg-type]
        assert peers.forget_addresses(s, node, [good], "answered as someone else", now_ms=T0) is True
        assert peers.get(s, node).state == "refused"  # type: ignore[union-attr]
        assert peers.due(s, T0 + 10**9) == []
        # The operator names it again (peer add, or a seed at start): it gets a fresh chance.
        peers.upsert(s, node, addresses=[good], source="seed", now_ms=T0)
        assert [p.node_id for p in peers.due(s, T0)] == [node]


def test_learning_a_node_adds_it_once_and_merges_new_addresses(engine: Engine) -> None:
    node = SigningKey.generate().node_id
    with session(engine) as s, s.begin():
        peers.learn(s, node, addresses=["http://127.0.0.1:1"], name="MJC", now_ms=T0)
        peers.learn(s, node, addresses=["http://127.0.0.1:2", "http://127.0.0.1:1"], name="MJC", now_ms=T0)
        peer = peers.get(s, node)
        assert peer is not None and (peer.source, peer.state) == ("exchange", "new")
        assert peers.addresses_of(peer) == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        peers.learn(s, SigningKey.generate().node_id, addresses=[], name="sans adresse", now_ms=T0)
        assert len(peers.list_all(s)) == 1


def test_a_gone_peer_seen_again_by_mdns_is_tried_again_but_a_refused_one_is_not(engine: Engine) -> None:
    gone, refused = SigningKey.generate().node_id, SigningKey.generate().node_id
    with session(engine) as s, s.begin():
        for node in (gone, refused):
            peers.upsert(s, node, addresses=["http://127.0.0.1:1"], source="exchange", now_ms=T0)
        for _ in range(peers.GONE_AFTER_FAILURES):
            peers.mark_failure(s, gone, "timeout", now_ms=T0)
        peers.forget_addresses(s, refused, ["http://127.0.0.1:1"], "impostor", now_ms=T0)
        for node in (gone, refused):
            peers.upsert(s, node, addresses=["http://127.0.0.1:2"], source="mdns", now_ms=T0)
        assert {p.node_id: p.state for p in peers.list_all(s)} == {gone: "new", refused: "refused"}


def test_a_backed_off_peer_that_says_hello_is_tried_again_at_once(engine: Engine) -> None:
    back, refused = SigningKey.generate().node_id, SigningKey.generate().node_id
    with session(engine) as s, s.begin():
        for node in (back, refused):
            peers.upsert(s, node, addresses=["http://127.0.0.1:1"], source="exchange", now_ms=T0)
        for _ in range(3):
            peers.mark_failure(s, back, "network unreachable", now_ms=T0)
        peers.forget_addresses(s, refused, ["http://127.0.0.1:1"], "impostor", now_ms=T0)
        assert [p.node_id for p in peers.due(s, T0 + 1)] == []
        for node in (back, refused):
            peers.upsert(s, node, addresses=["http://127.0.0.1:1"], source="inbound", now_ms=T0 + 1)
        assert [p.node_id for p in peers.due(s, T0 + 1)] == [back]
        assert {p.node_id: p.state for p in peers.list_all(s)} == {back: "new", refused: "refused"}


def test_head_constant_is_the_newest_migration() -> None:
    from storage.migrate import HEAD

    assert HEAD == head_revision()
