"""Federation members and record scopes on SQLite and PostgreSQL: who may be handed which record."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from protocol import SigningKey
from storage import identity, memberships, peers, records, session
from storage.migrate import downgrade, upgrade

from ..factories import T0, resource, tombstone

F = "5e1f0c9a2b7d4e3f8a6b1c2d3e4f5061"
G = "a0b1c2d3e4f5061728394a5b6c7d8e9f"


def _node() -> str:
    return SigningKey.generate().node_id


def test_replace_members_replaces_the_whole_set_of_one_federation(engine: Engine) -> None:
    a, b, c = _node(), _node(), _node()
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {a: "founder", b: "member"})
        memberships.replace_members(s, G, {a: "member"})
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {a: "founder", c: "member"})  # b left, c joined
    with session(engine) as s:
        assert memberships.members_of(s, F) == frozenset({a, c})
        assert memberships.federations_of(s, a) == frozenset({F, G})
        assert memberships.federations_of(s, b) == frozenset()
        assert memberships.memberships_among(s, [F, G], [a, b]) == {(F, a), (G, a)}
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {})
    with session(engine) as s:
        assert memberships.members_of(s, F) == frozenset()
        assert memberships.members_of(s, G) == frozenset({a})


def test_the_feeds_of_a_federations_members_restart_from_zero_when_it_gains_a_member(engine: Engine) -> None:
    us, peer, newcomer, outsider = _node(), _node(), _node(), _node()
    feeds = (peer, newcomer, outsider)

    def cursors() -> tuple[int, ...]:
        with session(engine) as s:
            return tuple(peers.get_cursor(s, p) for p in feeds)

    def advance() -> None:
        with session(engine) as s, s.begin():
            for p in feeds:
                peers.set_cursor(s, p, 42, now_ms=T0)

    with session(engine) as s, s.begin():
        identity.save(s, us, "Nous", now_ms=T0)
    advance()
    with session(engine) as s, s.begin():
        memberships.replace_members(s, G, {peer: "member", newcomer: "member"})  # not ours: nothing to fetch
    assert cursors() == (42, 42, 42)
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {us: "member", peer: "member"})  # we join F: its members' feeds again
    assert cursors() == (0, 42, 42)
    advance()
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {us: "member"})  # a member leaves: nothing new to hold
    assert cursors() == (42, 42, 42)
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {us: "member", newcomer: "member"})  # its records may come now
    assert cursors() == (42, 0, 42)  # the outsider's feed holds nothing of F: it is not pulled again


def test_records_are_handed_to_a_peer_only_within_their_scope(engine: Engine) -> None:
    author, member, outsider = SigningKey.generate(), _node(), _node()
    public = resource(author, "tente", "Tente")
    scoped = resource(author, "salle", "Salle", visibility="federation", federations=[F])
    private = resource(author, "coffre", "Coffre", visibility="private")
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {author.node_id: "founder", member: "member"})
        records.ingest(s, [public, scoped, private], now_ms=T0)
    ids = {r.envelope.message_id: r.record_id for r in (public, scoped, private)}
    expected = {member: {"tente", "salle"}, outsider: {"tente"}, None: {"tente"}}
    with session(engine) as s:
        row = records.get(s, author.node_id, "salle")
        assert row is not None and (row.scope, row.public) == ("federation", False)
        assert records.federations_of_record(s, author.node_id, "salle") == (F,)
        for peer, visible in expected.items():
            page = records.changes_since(s, 0, limit=10, max_bytes=1 << 20, peer=peer)
            assert {records.body_of(e)["id"] for e in page.records} == visible
            assert {ids[m] for _, m in records.versions_for(s, peer)} == visible
            found, _ = records.envelopes_for(s, peer, ids)
            assert {records.body_of(e)["id"] for e in found} == visible
            assert {ids[m] for m in records.visible_message_ids(s, peer, ids)} == visible


def test_a_new_version_moves_the_record_to_its_new_federations(engine: Engine) -> None:
    author, in_f, in_g = SigningKey.generate(), _node(), _node()
    with session(engine) as s, s.begin():
        memberships.replace_members(s, F, {in_f: "member"})
        memberships.replace_members(s, G, {in_g: "member"})
    versions = [
        resource(author, "salle", "Salle", at=T0, visibility="federation", federations=[F]),
        resource(author, "salle", "Salle", at=T0 + 1, visibility="federation", federations=[G, F]),
        resource(author, "salle", "Salle", at=T0 + 2, visibility="federation", federations=[G]),
        tombstone(author, "salle", at=T0 + 3),  # a public tombstone
    ]
    holders = [{in_f}, {in_f, in_g}, {in_g}, {in_f, in_g}]
    for version, expected in zip(versions, holders):
        with session(engine) as s, s.begin():
            records.ingest(s, [version], now_ms=T0)
        with session(engine) as s:
            assert {p for p in (in_f, in_g) if records.versions_for(s, p)} == expected
    with session(engine) as s:
        assert records.federations_of_record(s, author.node_id, "salle") == ()


def test_migration_0006_keeps_private_records_private(engine: Engine) -> None:
    author = SigningKey.generate()
    downgrade(engine, "0005")
    with engine.begin() as conn:
        for record_id, public in (("tente", True), ("coffre", False)):
            conn.execute(
                text(
                    "INSERT INTO records (author, record_id, rtype, issued_at, message_id, envelope, seq, public,"
                    " title, search_text, received_ms) VALUES (:a, :r, 'resource', 1, :m, :e, :q, :p, '', '', 1)"
                ),
                {"a": author.node_id, "r": record_id, "m": record_id.encode(), "e": b"x", "q": int(public), "p": public},
            )
    upgrade(engine)
    with engine.connect() as conn:
        scopes = dict(conn.execute(text("SELECT record_id, scope FROM records")).all())
    assert scopes == {"tente": "public", "coffre": "private"}
