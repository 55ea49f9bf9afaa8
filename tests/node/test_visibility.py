"""Record scopes between real nodes on 127.0.0.1: public, federation-scoped, private.

A and B are members of federation F; C is not. Membership rows are written with
storage.memberships.replace_members on each node, as the federation charter
chains will do. A federation-scoped record reaches members only, by every path
(pull, push, reconciliation, relaying, gossip); a node outside F that is fed it
anyway refuses it and stores nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from node import catalogue
from node.agreements import free_or_why
from node.app import RunningNode
from node.cli import _record_body, _scope_label, build_parser
from node.clock import now_ms
from node.wire import CONTENT_TYPE
from protocol import SigningKey, decode, seal
from protocol.reconcile import SortedItems, initiate
from storage import memberships, records, session

from ..factories import resource
from .harness import introduce, local_api, make_home, running, seed_of
from .test_lending import days_ahead, until

F = "5e1f0c9a2b7d4e3f8a6b1c2d3e4f5061"
G = "a0b1c2d3e4f5061728394a5b6c7d8e9f"
SCOPED = {"visibility": "federation", "federations": [F]}


def _members(founder: RunningNode, *others: RunningNode, on: tuple[RunningNode, ...]) -> None:
    """Write F's member set into the membership table of each node of ``on``."""
    members = {founder.node.node_id: "founder", **{n.node.node_id: "member" for n in others}}
    for holder in on:
        with session(holder.node.engine) as s, s.begin():
            memberships.replace_members(s, F, members)


def _publish(node: RunningNode, record_id: str, **fields: Any) -> Any:
    body = {"id": record_id, "kind": "space", "title": record_id.capitalize(), **fields}
    return catalogue.publish(node.node.engine, node.node.key, "resource", body)


def _held(node: RunningNode, author: RunningNode) -> dict[str, str]:
    """The records of ``author`` that ``node`` holds: id -> type (tombstones included)."""
    with session(node.node.engine) as s:
        rows = records.list_by_author(s, author.node.node_id, include_tombstones=True)
    return {r.record_id: r.rtype for r in rows if r.rtype != "descriptor"}


def _share(count: int, *nodes: RunningNode) -> None:
    """Public records of a fourth association that every node already relayed: first contacts reconcile."""
    elsewhere = SigningKey.generate()
    shared = [resource(elsewhere, f"lot-{i}", f"Lot {i}") for i in range(count)]
    for node in nodes:
        with session(node.node.engine) as s, s.begin():
            records.ingest(s, shared, now_ms=0)


async def _ask(asker: RunningNode, server: RunningNode, msg_type: str, body: dict[str, Any]) -> Any:
    """A signed request from ``asker`` to ``server`` over HTTP; the verified reply body."""
    client = asker.node.synchronizer.client  # type: ignore[union-attr]
    _, reply = await client.request(server.url, server.node.node_id, msg_type, body)
    return reply


def _ids(raws: Any, author: RunningNode) -> set[str]:
    """The ids of ``author``'s records among these envelopes (its descriptor aside)."""
    payloads = [decode(decode(raw)["p"]) for raw in raws]
    return {p["body"]["id"] for p in payloads if p["iss"] == author.node.node_id and p["t"] != "descriptor"}


async def _served_ids(asker: RunningNode, server: RunningNode, author: RunningNode) -> tuple[set[str], set[str]]:
    """``author``'s records that ``server`` hands ``asker`` from its change feed and in a reconciliation
    round, on the wire."""
    feed = await _ask(asker, server, "changes", {"since": 0, "limit": 1000})
    frame = initiate(SortedItems([]))  # asker claims to hold nothing: the server offers all it may
    reconciled = await _ask(asker, server, "reconcile", {"frame": frame})
    assert not feed.more and not reconciled.truncated
    return _ids(feed.records, author), _ids(reconciled.records, author)


async def _round(*nodes: RunningNode) -> None:
    for node in nodes:
        report = await node.node.sync_round()
        assert report.failed == 0 and report.refused == 0, report.errors


async def test_a_federation_record_reaches_members_by_every_path_and_never_an_outsider(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            async with running(make_home(tmp_path, "MJC"), seed_of(a), seed_of(b)) as c:
                _members(a, b, on=(a, b))
                # C wrongly believes it is a member: whatever reached it would be stored, so
                # nothing it lacks below can have been refused on arrival; it was never sent.
                _members(a, b, c, on=(c,))
                _share(600, a, b, c)
                _publish(a, "salle", **SCOPED)
                _publish(a, "tente", kind="equipment")
                _publish(a, "coffre", visibility="private")

                # First contacts reconcile (600 shared records), both as initiator and as replier.
                report = await b.node.sync_round()
                assert report.reconciled == 1
                assert _held(b, a) == {"salle": "resource", "tente": "resource"}
                report = await c.node.sync_round()
                assert report.reconciled == 2  # with A, and with B, who relays A's records
                # A and B now meet C (and A meets B) for the first time: they initiate reconciliation.
                assert (await a.node.sync_round()).reconciled == 2
                assert (await b.node.sync_round()).reconciled == 1
                assert _held(c, a) == {"tente": "resource"}

                # Push from the author, and gossip from B (a relay) to its other peers.
                salle2 = _publish(a, "salle-2", **SCOPED)
                tente2 = _publish(a, "tente-2", kind="equipment")
                pushed = [salle2.envelope.raw, tente2.envelope.raw]
                await a.node.synchronizer.push(pushed, fanout=10)  # type: ignore[union-attr]
                await asyncio.gather(*b.node._tasks)
                assert {"salle-2", "tente-2"} <= _held(b, a).keys()
                assert "salle-2" not in _held(c, a) and "tente-2" in _held(c, a)

                # Pull relaying: C follows A's and B's feeds; B's feed holds A's scoped records.
                await _round(c, b, c)
                assert _held(b, a) == dict.fromkeys(["salle", "salle-2", "tente", "tente-2"], "resource")
                assert _held(c, a) == {"tente": "resource", "tente-2": "resource"}

                # On the wire: what A and B hand each peer from their feeds and reconciliation.
                for_c, for_b = {"tente", "tente-2"}, {"salle", "salle-2", "tente", "tente-2"}
                assert await _served_ids(c, a, a) == (for_c, for_c)
                assert await _served_ids(c, b, a) == (for_c, for_c)
                assert await _served_ids(b, a, a) == (for_b, for_b)

                # Deletions travel as far as the record did: to members, and the private one nowhere.
                catalogue.delete(a.node.engine, a.node.key, "salle")
                catalogue.delete(a.node.engine, a.node.key, "coffre")
                await _round(b, c, b, c)
                assert _held(b, a)["salle"] == "tombstone" and "coffre" not in _held(b, a)
                assert _held(c, a) == {"tente": "resource", "tente-2": "resource"}


async def test_a_node_outside_the_federation_refuses_what_it_is_fed(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            async with running(make_home(tmp_path, "MJC"), seed_of(b)) as c:
                _members(a, b, on=(a, c))
                # B wrongly believes C is a member, so it serves and pushes F's records to C.
                _members(a, b, c, on=(b,))
                salle = _publish(a, "salle", **SCOPED)
                await _round(b)
                assert "salle" in _held(b, a)

                # Pull: B's feed carries the record to C, which refuses it and stores nothing.
                feed, _ = await _served_ids(c, b, a)
                assert feed == {"salle"}
                report = await c.node.sync_round()
                assert report.received >= 1 and report.stored == 1  # only A's descriptor, relayed by B
                assert "salle" not in _held(c, a)

                # Push by the misinformed relay, and a forged push by a stranger: refused, nothing stored.
                await _round(b)  # B now knows C as an active peer
                await b.node.synchronizer.push([salle.envelope.raw], fanout=10)  # type: ignore[union-attr]
                relayed = await _push(c, b.node.key, [salle.envelope.raw])  # what B's push carried, answered
                assert [(r["index"], r["code"]) for r in relayed["rejected"]] == [(0, "forbidden")]
                forger = SigningKey.generate()
                reply = await _push(c, forger, [salle.envelope.raw])
                assert reply["stored"] == 0
                assert [(r["index"], r["code"]) for r in reply["rejected"]] == [(0, "forbidden")]
                assert "salle" not in _held(c, a)
                with session(c.node.engine) as s:
                    assert records.federations_of_record(s, a.node.node_id, "salle") == ()

                # Once C really joins F, its feeds restart from 0 and the record comes.
                _members(a, b, c, on=(a, c))
                await _round(c)
                assert _held(c, a) == {"salle": "resource"}


async def test_a_member_refuses_a_federation_record_whose_author_is_not_a_member(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        _members(a, on=(a,))
        outsider = SigningKey.generate()
        intruding = resource(outsider, "annonce", "Annonce", at=now_ms(), **SCOPED).envelope.raw
        public = resource(outsider, "tente", "Tente", at=now_ms()).envelope.raw
        reply = await _push(a, outsider, [intruding, public])
        assert reply["stored"] == 1
        assert [(r["index"], r["code"]) for r in reply["rejected"]] == [(0, "forbidden")]
        assert "author" in reply["rejected"][0]["message"]
        with session(a.node.engine) as s:
            assert records.get(s, outsider.node_id, "annonce") is None
            assert records.get(s, outsider.node_id, "tente") is not None


async def test_a_node_that_left_the_federation_can_still_delete_what_it_published_there(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            _members(a, b, on=(a, b))
            _publish(a, "salle", **SCOPED)
            await _round(b)
            assert _held(b, a) == {"salle": "resource"}
            _members(b, on=(a, b))  # A leaves F
            catalogue.delete(a.node.engine, a.node.key, "salle")
            await _round(b)
            assert _held(b, a) == {"salle": "tombstone"}


async def _push(target: RunningNode, sender: SigningKey, raws: list[bytes]) -> Any:
    request = seal(sender, "push", {"records": raws}, now_ms=now_ms(), audience=[target.node.node_id])
    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": CONTENT_TYPE}
        async with http.post(f"{target.url}/fed/v1/push", data=request.raw, headers=headers) as resp:
            assert resp.status == 200
            return decode(decode(await resp.read())["p"])["body"]


async def test_the_local_api_publishes_and_lists_scopes(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a, local_api(a) as call:
        _members(a, on=(a,))
        async def publish(record_id: str, **fields: Any) -> tuple[int, Any]:
            body = {"id": record_id, "kind": "space", "title": record_id.capitalize(), **fields}
            return await call("POST", "/records", json={"body": body})  # type: ignore[no-any-return]

        assert (await publish("salle", **SCOPED))[0] == 201
        assert (await publish("tente"))[0] == 201
        status, listed = await call("GET", "/records?type=resource")
        scopes = {r["id"]: (r["scope"], r["federations"]) for r in listed["records"]}
        assert scopes == {"salle": ("federation", [F]), "tente": ("public", [])}

        # Only to a federation we are a member of; an audience can widen, never narrow.
        status, error = await publish("gymnase", visibility="federation", federations=[G])
        assert (status, error["code"]) == (403, "forbidden")
        status, error = await publish("tente", **SCOPED)
        assert (status, error["code"]) == (409, "conflict")
        status, error = await publish("x", visibility="federation")
        assert (status, error["code"]) == (400, "invalid") and "federations" in error["message"]

        # A deletion carries the record's scope, so it goes no further than the record did.
        status, _ = await call("DELETE", "/records/salle")
        assert status == 200
        with session(a.node.engine) as s:
            row = records.get(s, a.node.node_id, "salle")
            assert row is not None and row.rtype == "tombstone" and row.scope == "federation"
            assert records.body_of(row.envelope) == {"id": "salle", "visibility": "federation", "federations": (F,)}


def test_the_cli_publishes_to_federations() -> None:
    args = build_parser().parse_args(
        ["resource", "add", "--home", "/nonexistent", "--title", "Salle", "--visibility", "federation",
         "--federation", F, "--federation", G]
    )
    body = _record_body(args)
    assert (body["visibility"], body["federations"]) == ("federation", [F, G])
    assert _scope_label({"scope": "federation", "federations": [F]}) == f"federation:{F}"
    assert _scope_label({"scope": "private", "federations": []}) == "private"


async def test_a_federation_resource_is_lent_to_members_only(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Ressourcerie A")) as a, running(make_home(tmp_path, "Club B")) as b, \
            running(make_home(tmp_path, "Atelier C")) as c:
        _members(a, b, on=(a, b, c))
        introduce(b, a)
        introduce(c, a)
        _publish(a, "remorque", availability={"unit": "day", "stock": 1}, **SCOPED)
        terms = {"owner": a.node.node_id, "resource": "remorque", "period": days_ahead(3, 4)}
        async with local_api(b) as member, local_api(c) as outsider, local_api(a) as owner:
            status, asked = await member("POST", "/loans", json=terms)
            assert status == 201, asked
            await until(lambda: _state(owner, asked["id"], "requested"))
            status, refused = await outsider("POST", "/loans", json=terms)
            assert status == 201, refused  # held by the outsider's node; the owner answers it asynchronously
            await until(lambda: _state(outsider, refused["id"], "refused"))
            _, detail = await outsider("GET", f"/agreements/{refused['id']}")
            assert detail["refusal"]["code"] == "invalid" and "no resource" in detail["refusal"]["message"]
            # The owner holds nothing of the outsider's request, and says nothing of the resource's calendar.
            assert (await owner("GET", f"/agreements/{refused['id']}"))[0] == 404
            # Nor does a search by availability tell the outsider anything about it.
            start, end = terms["period"]["start"], terms["period"]["end"]
            assert free_or_why(a.node, ["remorque"], start, end, 1, now_ms(), requester=c.node.node_id) == {"remorque": ["unknown"]}
            assert free_or_why(a.node, ["remorque"], start, end, 1, now_ms(), requester=b.node.node_id) == {"remorque": []}


async def _state(api: Any, agreement_id: str, expected: str) -> bool:
    status, found = await api("GET", f"/agreements/{agreement_id}")
    return status == 200 and found["state"] == expected
