"""A node on our signed deny-list: refused on every endpoint; what it signed before still verifies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from node import catalogue
from node.clock import now_ms
from node.wire import CONTENT_TYPE
from protocol import decode, open_envelope, parse_record, seal
from storage import records, session

from .harness import make_home, running, seed_of


async def test_denied_node_is_refused_everywhere_while_its_earlier_records_stay_valid(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Banque alimentaire")) as a, running(make_home(tmp_path, "MJC")) as c:
        async with running(make_home(tmp_path, "Club douteux"), seed_of(a), seed_of(c)) as b:
            catalogue.publish(b.node.engine, b.node.key, "resource", {"id": "avant", "kind": "other", "title": "Avant"})
            await b.node.sync_round()
            await a.node.sync_round()
            await c.node.sync_round()

            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {a.node.token}"}) as http:
                async with http.post(f"{a.url}/api/v1/denylist", json={"node_id": b.node.node_id, "reason": "usurpation"}) as r:
                    assert r.status == 200 and [d["node_id"] for d in (await r.json())["denied"]] == [b.node.node_id]

            # Every federation endpoint refuses B's signed requests.
            async with aiohttp.ClientSession() as http:
                for kind, body in (("hello", {"descriptor": b"x"}), ("changes", {"since": 0, "limit": 1}),
                                   ("push", {"records": [b"x"]}), ("reconcile", {"frame": b"x"})):
                    request = seal(b.node.key, kind, body, now_ms=now_ms(), audience=[a.node.node_id])
                    async with http.post(f"{a.url}/fed/v1/{kind}", data=request.raw, headers={"Content-Type": CONTENT_TYPE}) as r:
                        assert r.status == 403 and decode(await r.read())["code"] == "forbidden", kind

            # B's new record reaches C, but A refuses it even relayed by C.
            catalogue.publish(b.node.engine, b.node.key, "resource", {"id": "apres", "kind": "other", "title": "Après"})
            await c.node.sync_round()
            report = await a.node.sync_round()
            assert report.contacted == 1  # C only: A no longer calls B
            with session(a.node.engine) as s:
                held = {r.record_id: r for r in records.list_by_author(s, b.node.node_id)}
            assert "apres" not in held and "avant" in held
            # What B signed before the denial still verifies.
            assert parse_record(open_envelope(held["avant"].envelope), now_ms=now_ms()).body.title == "Avant"

            # The deny-list is itself a signed record that peers receive like any other.
            await c.node.sync_round()
            with session(c.node.engine) as s:
                denylist = records.get(s, a.node.node_id, "denylist")
                assert denylist is not None
                assert records.body_of(denylist.envelope)["entries"][0]["node"] == b.node.node_id

            # Allowed again, B's records flow again.
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {a.node.token}"}) as http:
                async with http.delete(f"{a.url}/api/v1/denylist/{b.node.node_id}") as r:
                    assert r.status == 200 and (await r.json())["denied"] == []
            await a.node.sync_round()
            with session(a.node.engine) as s:
                assert records.get(s, b.node.node_id, "apres") is not None


async def test_deny_list_survives_a_restart_and_refuses_bad_input(tmp_path: Path) -> None:
    config = make_home(tmp_path, "Banque alimentaire")
    other = make_home(tmp_path, "Club")
    async with running(other) as b:
        other_id = b.node.node_id
    async with running(config) as a:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {a.node.token}"}) as http:
            for payload, status in (({"node_id": "pas-un-id"}, 400), ({"node_id": a.node.node_id}, 400),
                                    ({"node_id": other_id, "reason": 3}, 400), ({"node_id": other_id}, 200)):
                async with http.post(f"{a.url}/api/v1/denylist", json=payload) as r:
                    body: Any = await r.json()
                    assert r.status == status, (payload, body)
    async with running(config) as a:
        assert set(a.node.denied) == {other_id}
