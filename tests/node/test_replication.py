"""Real nodes on 127.0.0.1 replicating signed catalogues (in-process and as separate processes)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from node import catalogue
from node.app import RunningNode
from node.clock import now_ms
from node.config import Seed
from protocol import SigningKey, seal
from storage import peers, records, session

from .harness import NodeProcess, make_home, running, seed_of


def _titles(node: RunningNode) -> set[tuple[str, str]]:
    with session(node.node.engine) as s:
        return {(h.author_name, h.body["title"]) for h in records.search(s, "", limit=500)}


def _publish(node: RunningNode, record_id: str, title: str, **fields: object) -> None:
    body = {"id": record_id, "kind": fields.pop("kind", "equipment"), "title": title, **fields}
    catalogue.publish(node.node.engine, node.node.key, "resource", body)


async def test_three_nodes_converge_through_a_relay(tmp_path: Path) -> None:
    """B and C only know A; each ends up with everyone's records, checked against their authors' keys."""
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            async with running(make_home(tmp_path, "MJC"), seed_of(a)) as c:
                _publish(a, "frigo", "Camion frigorifique")
                _publish(b, "minibus", "Minibus 9 places", kind="vehicle")
                _publish(c, "salle", "Salle polyvalente", kind="space")
                for _ in range(2):
                    for node in (b, c, a):
                        report = await node.node.sync_round()
                        assert report.failed == 0 and report.refused == 0
                expected = {
                    ("Banque alimentaire", "Camion frigorifique"),
                    ("Club sportif", "Minibus 9 places"),
                    ("MJC", "Salle polyvalente"),
                }
                assert _titles(a) == _titles(b) == _titles(c) == expected
                # C never talked to B, yet holds B's record exactly as B signed it.
                with session(b.node.engine) as sb, session(c.node.engine) as sc:
                    original = records.get(sb, b.node.node_id, "minibus")
                    relayed = records.get(sc, b.node.node_id, "minibus")
                    assert original is not None and relayed is not None
                    assert relayed.envelope == original.envelope


async def test_updates_and_deletions_propagate_and_deleted_content_is_gone(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            _publish(a, "sono", "Sono 2×500 W")
            await b.node.sync_round()
            _publish(a, "sono", "Sono 2×500 W avec micros")
            await b.node.sync_round()
            assert ("Banque alimentaire", "Sono 2×500 W avec micros") in _titles(b)
            catalogue.delete(a.node.engine, a.node.key, "sono")
            await b.node.sync_round()
            assert _titles(b) == set()
            with session(b.node.engine) as s:
                row = records.get(s, a.node.node_id, "sono")
                assert row is not None and row.rtype == "tombstone"
                assert b"micros" not in row.envelope


async def test_publishing_pushes_to_active_peers_without_waiting_for_their_pull(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            await b.node.sync_round()  # handshake: A learns B and B marks A active
            record = catalogue.publish(b.node.engine, b.node.key, "resource", {"id": "velo", "kind": "vehicle", "title": "Vélo cargo"})
            await b.node.synchronizer.push([record.envelope.raw])  # type: ignore[union-attr]
            assert ("Club sportif", "Vélo cargo") in _titles(a)


async def test_seed_answering_with_another_identity_is_refused(tmp_path: Path) -> None:
    impostor_id = SigningKey.generate().node_id
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        _publish(a, "frigo", "Camion frigorifique")
        async with running(make_home(tmp_path, "Club sportif"), Seed(url=a.url, node_id=impostor_id)) as b:
            report = await b.node.sync_round()
            assert report.refused == 1 and report.contacted == 0
            with session(b.node.engine) as s:
                peer = peers.get(s, impostor_id)
                assert peer is not None and peer.state == "refused"
                assert records.search(s, "camion") == []
            # A refused peer is not contacted again.
            assert (await b.node.sync_round()).refused == 0


async def test_server_that_ignores_the_audience_and_signs_as_itself_is_refused(tmp_path: Path, aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    """A man-in-the-middle answering validly signed replies with its own key is still refused."""
    from protocol import open_envelope
    from protocol.messages import REPLY_TYPES

    impostor = SigningKey.generate()
    pinned = SigningKey.generate().node_id

    async def answer(request: web.Request) -> web.Response:
        req = open_envelope(await request.read())
        body = {"reply_to": req.message_id, "descriptor": b"x"}
        reply = seal(impostor, REPLY_TYPES[req.type], body, now_ms=req.issued_at, audience=[req.issuer])
        return web.Response(body=reply.raw)

    app = web.Application()
    app.router.add_post("/fed/v1/{kind}", answer)
    server = await aiohttp_server(app, host="127.0.0.1")
    async with running(make_home(tmp_path, "Club sportif"), Seed(url=str(server.make_url("")).rstrip("/"), node_id=pinned)) as b:
        report = await b.node.sync_round()
        assert report.refused == 1
        with session(b.node.engine) as s:
            assert peers.get(s, pinned).state == "refused"  # type: ignore[union-attr]


async def test_unreachable_peer_is_backed_off_not_hammered(tmp_path: Path) -> None:
    dead = Seed(url="http://127.0.0.1:9", node_id=SigningKey.generate().node_id)
    async with running(make_home(tmp_path, "Club sportif"), dead) as b:
        first = await b.node.sync_round()
        assert first.failed == 1
        second = await b.node.sync_round()
        assert second.failed == 0 and second.contacted == 0  # not due yet
        with session(b.node.engine) as s:
            peer = peers.get(s, dead.node_id)
            assert peer is not None and peer.state == "unreachable" and peer.failures == 1


@pytest.mark.slow
def test_three_separate_processes_replicate(tmp_path: Path) -> None:
    homes = [make_home(tmp_path, n) for n in ("Banque alimentaire", "Club sportif", "MJC")]
    for config, (rid, title) in zip(homes, [("frigo", "Camion frigorifique"), ("minibus", "Minibus"), ("salle", "Salle")]):
        from storage import make_engine
        from storage.identity import read_key_file

        engine = make_engine(config.database_url)
        catalogue.publish(engine, read_key_file(config.key_path), "resource", {"id": rid, "kind": "other", "title": title})
        engine.dispose()
    a = NodeProcess(homes[0])
    procs = [a]
    try:
        procs.append(NodeProcess(homes[1], a.seed))
        procs.append(NodeProcess(homes[2], a.seed))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = [_count_resources(h.home / "node.sqlite") for h in homes]
            if counts == [3, 3, 3]:
                break
            time.sleep(0.2)
        assert counts == [3, 3, 3]
    finally:
        for p in procs:
            p.stop()


def _count_resources(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT count(*) FROM records WHERE rtype = 'resource'").fetchone()[0])


def _cursor_of(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        row = conn.execute("SELECT max(cursor) FROM sync_cursors").fetchone()
        return int(row[0] or 0)


@pytest.mark.slow
def test_node_killed_mid_sync_resumes_without_loss_or_duplicate(tmp_path: Path) -> None:
    total = 3000
    source = make_home(tmp_path, "Banque alimentaire")
    from storage import make_engine
    from storage.identity import read_key_file

    engine = make_engine(source.database_url)
    bodies = [{"id": f"chaise-{i}", "kind": "equipment", "title": f"Chaise pliante {i}"} for i in range(total)]
    catalogue.publish_many(engine, read_key_file(source.key_path), "resource", bodies)
    with session(engine) as s:
        own = records.list_by_author(s, read_key_file(source.key_path).node_id)
        expected = {bytes(r.message_id) for r in own if r.rtype == "resource"}
    engine.dispose()

    sink = make_home(tmp_path, "Club sportif", sync_batch=25)
    a = NodeProcess(source)
    try:
        b = NodeProcess(sink, a.seed)
        deadline = time.monotonic() + 60
        while _count_resources(sink.home / "node.sqlite") < total // 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        b.kill()
        partial = _count_resources(sink.home / "node.sqlite")
        assert 0 < partial < total, "the kill should land in the middle of the sync"
        b = NodeProcess(sink, a.seed)
        deadline = time.monotonic() + 120
        while _count_resources(sink.home / "node.sqlite") < total and time.monotonic() < deadline:
            time.sleep(0.1)
        b.stop()
    finally:
        a.stop()
    with sqlite3.connect(sink.home / "node.sqlite") as conn:
        got = [bytes(m) for (m,) in conn.execute("SELECT message_id FROM records WHERE rtype != 'descriptor'")]
        seqs = [s for (s,) in conn.execute("SELECT seq FROM records")]
    assert len(got) == len(set(got)) == total
    assert set(got) == expected
    assert len(seqs) == len(set(seqs))


async def test_large_pages_cross_http_whole(tmp_path: Path) -> None:
    """A full page (1000 records, hundreds of kB) arrives whole and verified, across several pages."""
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        bodies = [{"id": f"lot-{i}", "kind": "equipment", "title": f"Lot {i}", "description": "x" * 300} for i in range(2500)]
        catalogue.publish_many(a.node.engine, a.node.key, "resource", bodies)
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            report = await b.node.sync_round()
            assert report.errors == [] and report.stored == 2500
            with session(b.node.engine) as s:
                assert len(records.list_by_author(s, a.node.node_id)) == 2501  # and its descriptor
            workers = list(b.node.cpu_executor._processes.values())  # type: ignore[attr-defined]
            assert workers, "pages this large are verified in worker processes"
        # Stopping the node stops its worker processes.
        assert all(not worker.is_alive() for worker in workers)


async def test_publishing_a_private_record_pushes_nothing(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            await b.node.sync_round()  # B now knows A as an active peer
            private = catalogue.publish(b.node.engine, b.node.key, "resource",
                                        {"id": "coffre", "kind": "equipment", "title": "Coffre-fort", "visibility": "private"})
            public = catalogue.publish(b.node.engine, b.node.key, "resource", {"id": "tente", "kind": "equipment", "title": "Tente"})
            b.node.push_soon([private, public])
            await asyncio.gather(*b.node._tasks)
            assert _titles(a) == {("Club sportif", "Tente")}


async def test_an_address_answering_as_another_node_is_dropped_not_the_peer(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a, running(make_home(tmp_path, "Autre")) as other:
        _publish(a, "frigo", "Camion frigorifique")
        async with running(make_home(tmp_path, "Club sportif")) as b:
            with session(b.node.engine) as s, s.begin():
                peers.upsert(s, a.node.node_id, addresses=[other.url, a.url], source="inbound", now_ms=0)
            report = await b.node.sync_round()
            assert (report.contacted, report.refused) == (1, 0)
            assert ("Banque alimentaire", "Camion frigorifique") in _titles(b)
            with session(b.node.engine) as s:
                peer = peers.get(s, a.node.node_id)
                assert peer is not None and peer.state == "active" and peers.addresses_of(peer) == [a.url]


async def test_a_hub_on_postgresql_replicates_with_a_node_on_sqlite(tmp_path: Path, postgres_db_url: str) -> None:
    async with running(make_home(tmp_path, "Fédération", db_url=postgres_db_url)) as hub:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(hub)) as club:
            _publish(hub, "salle", "Salle des fêtes", kind="space")
            _publish(club, "minibus", "Minibus 9 places", kind="vehicle")
            await club.node.sync_round()
            await hub.node.sync_round()
            expected = {("Fédération", "Salle des fêtes"), ("Club sportif", "Minibus 9 places")}
            assert _titles(hub) == _titles(club) == expected
            assert hub.node.engine.dialect.name == "postgresql"


@pytest.mark.slow
def test_worker_processes_of_a_killed_node_exit_by_themselves(tmp_path: Path) -> None:
    source = make_home(tmp_path, "Banque alimentaire")
    from storage import make_engine
    from storage.identity import read_key_file

    engine = make_engine(source.database_url)
    bodies = [{"id": f"lot-{i}", "kind": "equipment", "title": f"Lot {i}"} for i in range(600)]
    catalogue.publish_many(engine, read_key_file(source.key_path), "resource", bodies)
    engine.dispose()
    a = NodeProcess(source)
    try:
        b = NodeProcess(make_home(tmp_path, "Club sportif"), a.seed)
        try:
            deadline = time.monotonic() + 60
            while _count_resources(b.config.home / "node.sqlite") < 600 and time.monotonic() < deadline:
                time.sleep(0.1)
            children = Path(f"/proc/{b.proc.pid}/task/{b.proc.pid}/children").read_text().split()
            workers = [int(pid) for pid in children]
            assert len(workers) >= 2, "a large page is verified in worker processes"
        finally:
            b.kill()
    finally:
        a.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_an_idle_node_runs_no_child_process(tmp_path: Path) -> None:
    """Worker processes (and multiprocessing's resource tracker) start with the first large page, not before."""
    node = NodeProcess(make_home(tmp_path, "Ressourcerie"))
    try:
        children = Path(f"/proc/{node.proc.pid}/task/{node.proc.pid}/children").read_text().split()
        assert children == []
    finally:
        node.stop()


async def test_one_seed_is_enough_to_know_and_converge_a_ten_node_federation(tmp_path: Path) -> None:
    """Each node is given only the first node as seed; peer exchange rides on signed descriptors."""
    from contextlib import AsyncExitStack

    names = [f"Association {i}" for i in range(10)]
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(make_home(tmp_path, names[0])))
        nodes = [first]
        for name in names[1:]:
            nodes.append(await stack.enter_async_context(running(make_home(tmp_path, name), seed_of(first))))
        for i, node in enumerate(nodes):
            _publish(node, f"r{i}", f"Ressource {i}")
        for _ in range(4):  # a few rounds, every node in turn
            for node in nodes:
                await node.node.sync_round()
        everyone = {(name, f"Ressource {i}") for i, name in enumerate(names)}
        for node in nodes:
            assert _titles(node) == everyone
            with session(node.node.engine) as s:
                known = {p.node_id: p.state for p in peers.list_all(s)}
            others = {n.node.node_id for n in nodes} - {node.node.node_id}
            assert set(known) == others and set(known.values()) == {"active"}, node.config.name


async def _until(predicate: Any, timeout: float = 10.0) -> bool:
    """Poll a condition on the event loop, a bounded number of times."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_gossip_carries_a_new_record_beyond_the_publishers_peers(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a, running(make_home(tmp_path, "Club sportif")) as b:
        async with running(make_home(tmp_path, "MJC")) as c:
            with session(a.node.engine) as s, s.begin():
                peers.upsert(s, b.node.node_id, addresses=[b.url], source="seed", now_ms=0)
            with session(b.node.engine) as s, s.begin():
                peers.upsert(s, c.node.node_id, addresses=[c.url], source="seed", now_ms=0)
            await a.node.sync_round()  # A–B and B–C know each other; A has never heard of C
            await b.node.sync_round()
            record = catalogue.publish(a.node.engine, a.node.key, "resource", {"id": "sono", "kind": "equipment", "title": "Sono"})
            a.node.push_soon([record])
            # C has not pulled A's descriptor yet, so it does not know A's name: the record came by gossip.
            assert await _until(lambda: {title for _, title in _titles(c)} == {"Sono"})


async def test_a_record_reaches_a_third_node_while_its_author_is_offline(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Club sportif")) as b, running(make_home(tmp_path, "MJC")) as c:
        async with running(make_home(tmp_path, "Banque alimentaire")) as a:
            _publish(a, "frigo", "Camion frigorifique")
            with session(b.node.engine) as s, s.begin():
                peers.upsert(s, a.node.node_id, addresses=[a.url], source="seed", now_ms=0)
            await b.node.sync_round()
        # A is stopped now; C only knows B.
        with session(c.node.engine) as s, s.begin():
            peers.upsert(s, b.node.node_id, addresses=[b.url], source="seed", now_ms=0)
        await c.node.sync_round()
        assert ("Banque alimentaire", "Camion frigorifique") in _titles(c)


async def test_a_relay_cannot_alter_what_it_relays(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a, running(make_home(tmp_path, "Club sportif")) as b:
        _publish(a, "frigo", "Camion frigorifique")
        _publish(a, "sono", "Sono")
        with session(b.node.engine) as s, s.begin():
            peers.upsert(s, a.node.node_id, addresses=[a.url], source="seed", now_ms=0)
        await b.node.sync_round()
        # B turns malicious: it rewrites A's record in its own database before relaying it.
        with b.node.engine.begin() as conn:
            held = conn.exec_driver_sql("SELECT envelope FROM records WHERE record_id = 'frigo'").scalar_one()
            forged = bytes(held).replace(b"Camion frigorifique", b"Camion frigorifiqu3")
            conn.exec_driver_sql("UPDATE records SET envelope = ? WHERE record_id = 'frigo'", (forged,))
        async with running(make_home(tmp_path, "MJC"), seed_of(b)) as c:
            report = await c.node.sync_round()
            assert report.failed == 0
            assert _titles(c) == {("Banque alimentaire", "Sono")}


async def test_publishing_thousands_of_records_pushes_them_in_batches_peers_accept(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            await b.node.sync_round()
            bodies = [{"id": f"lot-{i}", "kind": "equipment", "title": f"Lot {i}", "description": "x" * 600} for i in range(1500)]
            batch = catalogue.publish_many(b.node.engine, b.node.key, "resource", bodies)
            b.node.push_soon(batch.published)

            def held_by_a() -> int:
                with session(a.node.engine) as s:
                    return sum(r.rtype == "resource" for r in records.list_by_author(s, b.node.node_id))

            assert await _until(lambda: held_by_a() == 1500, timeout=30)


def _holdings(node: RunningNode) -> set[tuple[str, str, str, bytes]]:
    with node.node.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT author, record_id, rtype, message_id FROM records").all()
    return {(a, r, t, bytes(m)) for a, r, t, m in rows}


async def test_partitioned_federation_heals_and_converges(tmp_path: Path) -> None:
    """Two halves cut apart keep working; once the cut heals, everyone holds exactly the same versions."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(make_home(tmp_path, "Association 0")))
        nodes = [first]
        for i in range(1, 6):
            nodes.append(await stack.enter_async_context(running(make_home(tmp_path, f"Association {i}"), seed_of(first))))
        for i, node in enumerate(nodes):
            _publish(node, "commun", f"Ressource d'avant {i}")
            _publish(node, "a-supprimer", f"Ressource condamnée {i}")
        for _ in range(3):
            for node in nodes:
                await node.node.sync_round()
        assert len({frozenset(_holdings(n)) for n in nodes}) == 1

        left, right = nodes[:3], nodes[3:]
        real = {n.node.node_id: n.url for n in nodes}

        def cut(node: RunningNode, others: list[RunningNode], to: str | None) -> None:
            with session(node.node.engine) as s, s.begin():
                for other in others:
                    peer = peers.get(s, other.node.node_id)
                    assert peer is not None
                    peer.addresses = json.dumps([to or real[other.node.node_id]])
                    peer.state, peer.failures, peer.next_attempt_ms = "new", 0, 0
                    s.add(peer)

        for node in left:
            cut(node, right, "http://127.0.0.1:9")  # nothing listens there: connection refused
        for node in right:
            cut(node, left, "http://127.0.0.1:9")
        # Both halves keep working: new records, updates, deletions.
        for i, node in enumerate(nodes):
            _publish(node, "commun", f"Ressource modifiée pendant la coupure {i}")
            _publish(node, "nouveau", f"Ressource née pendant la coupure {i}")
            catalogue.delete(node.node.engine, node.node.key, "a-supprimer")
        for _ in range(2):
            for node in nodes:
                await node.node.sync_round()
        assert _holdings(left[0]) != _holdings(right[0])

        for node in left:
            cut(node, right, None)
        for node in right:
            cut(node, left, None)
        for _ in range(3):
            for node in nodes:
                await node.node.sync_round()
        holdings = [_holdings(n) for n in nodes]
        assert all(h == holdings[0] for h in holdings)
        titles = _titles(nodes[0])
        assert titles == {(f"Association {i}", t) for i in range(6) for t in
                          (f"Ressource modifiée pendant la coupure {i}", f"Ressource née pendant la coupure {i}")}
        assert sum(rtype == "tombstone" for _, _, rtype, _ in holdings[0]) == 6


async def test_first_contact_between_nodes_sharing_most_records_exchanges_only_the_difference(tmp_path: Path) -> None:
    """Set reconciliation: 1 500 records both already hold (relayed earlier), five new on each side."""
    from protocol import SigningKey

    from ..factories import resource

    elsewhere = SigningKey.generate()  # a third association whose catalogue both already relayed
    shared = [resource(elsewhere, f"lot-{i}", f"Lot {i}") for i in range(1500)]
    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        async with running(make_home(tmp_path, "Club sportif"), seed_of(a)) as b:
            for node in (a, b):
                with session(node.node.engine) as s, s.begin():
                    records.ingest(s, shared, now_ms=0)
            for i in range(5):
                _publish(a, f"a{i}", f"Offert par la banque {i}")
                _publish(b, f"b{i}", f"Offert par le club {i}")
            report = await b.node.sync_round()
            assert report.reconciled == 1 and report.errors == []
            assert report.received <= 10, "only A's new records (and its descriptor) crossed the network"
            assert _holdings(a) == _holdings(b)
            # Afterwards the ordinary change feed carries on from where reconciliation left it.
            _publish(a, "apres", "Publié après")
            report = await b.node.sync_round()
            assert report.reconciled == 0 and report.received == 1
            assert _holdings(a) == _holdings(b)


async def test_garbage_reconciliation_frame_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    import aiohttp

    from node.wire import CONTENT_TYPE
    from protocol import SigningKey, decode, seal

    async with running(make_home(tmp_path, "Banque alimentaire")) as a:
        sender = SigningKey.generate()
        request = seal(sender, "reconcile", {"frame": b"\x81\xa1x\x01"}, now_ms=now_ms(), audience=[a.node.node_id])
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{a.url}/fed/v1/reconcile", data=request.raw, headers={"Content-Type": CONTENT_TYPE}) as resp:
                assert resp.status == 400 and decode(await resp.read())["code"] == "invalid"
        with a.node.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM seen_nonces").scalar_one() == 0
