"""Loans under stress: forged, replayed and misplaced events change nothing; concurrent requests
never overbook; a killed owner loses nothing; an offline borrower gets the answer when it returns."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from node.app import RunningNode
from node.clock import now_ms
from node.wire import CONTENT_TYPE
from protocol import SigningKey, decode, open_envelope, seal
from protocol.agreements import next_event, replay
from protocol.agreements.sealed import sign_document
from storage import agreements as stored
from storage import session

from .harness import NodeProcess, introduce, local_api, make_home, running
from .test_lending import MINIBUS, days_ahead, publish, until

CHAIRS_20 = {"id": "sono", "kind": "equipment", "title": "Sono", "availability": {"unit": "day", "stock": 1}}


def _counts(node: RunningNode) -> tuple[int, int, int]:
    with node.node.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
            for table in ("agreements", "agreement_events", "bookings")
        )


def _chain(node: RunningNode, agreement_id: bytes) -> list[bytes]:
    with session(node.node.engine) as s:
        return stored.chain(s, agreement_id)


async def _deliver(sender: SigningKey, target: RunningNode, *events: bytes) -> dict[str, Any]:
    """Send events as ``sender`` in a fresh signed message; returns the reply body."""
    message = seal(sender, "agreement", {"events": list(events)}, now_ms=now_ms(), audience=[target.node.node_id])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{target.url}/fed/v1/agreement", data=message.raw,
                             headers={"Content-Type": CONTENT_TYPE}) as resp:
            assert resp.status == 200, await resp.read()
            return dict(decode(decode(await resp.read())["p"])["body"])


async def test_forged_replayed_foreign_misplaced_and_late_events_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Club sportif")) as club, running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, MINIBUS)
            _, asked = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "minibus", "period": days_ahead(3, 3)})
            loan = bytes.fromhex(asked["id"])
            _, offered = await owner("POST", f"/agreements/{asked['id']}/offer", json={"terms": {
                "fee": {"amount": 1500, "currency": "EUR"}}})
            await until(lambda: _state_is(borrower, asked["id"], "offered"))
            state = replay([open_envelope(raw) for raw in _chain(food, loan)])
            before = _counts(club)

            # An acceptance whose co-signature covers other terms than those offered.
            forged = next_event(food.node.key, state, "accept", {"seal_sig": sign_document(food.node.key, b"other terms")},
                                now_ms=now_ms())
            reply = await _deliver(food.node.key, club, forged.raw)
            assert reply["refused"]["code"] == "bad-signature" and reply["accepted"] == ()
            # The same acceptance signed by a third association.
            stranger = SigningKey.generate()
            foreign = seal(stranger, "agreement.event", dict(forged.body), now_ms=now_ms(), audience=[club.node.node_id])
            assert (await _deliver(stranger, club, foreign.raw))["refused"]["code"] == "forbidden"
            # An event that skips a step.
            skipping = seal(food.node.key, "agreement.event", {**forged.body, "seq": state.seq + 2},
                            now_ms=now_ms(), audience=[club.node.node_id])
            assert (await _deliver(food.node.key, club, skipping.raw))["refused"]["code"] == "out-of-order"
            # An acceptance dated ten minutes ahead (later events could not be dated before it).
            ahead = next_event(food.node.key, state, "accept", {}, now_ms=now_ms() + 10 * 60_000)
            assert (await _deliver(food.node.key, club, ahead.raw))["refused"]["code"] == "stale"
            assert _counts(club) == before

            # A genuine acceptance is held once, however often it is delivered.
            genuine = next_event(food.node.key, state, "accept", {}, now_ms=now_ms())
            first = await _deliver(food.node.key, club, genuine.raw)
            again = await _deliver(food.node.key, club, genuine.raw)
            assert first["accepted"] == again["accepted"] == (genuine.message_id,)
            assert "refused" not in again
            sealed = _counts(club)
            assert sealed == (before[0], before[1] + 1, 1)
            # The transport message itself cannot be replayed.
            message = seal(food.node.key, "agreement", {"events": [genuine.raw]}, now_ms=now_ms(), audience=[club.node.node_id])
            async with aiohttp.ClientSession() as http:
                statuses = []
                for _ in range(2):
                    async with http.post(f"{club.url}/fed/v1/agreement", data=message.raw,
                                         headers={"Content-Type": CONTENT_TYPE}) as resp:
                        statuses.append((resp.status, decode(await resp.read()).get("code")))
            assert statuses[1] == (409, "replay")

            # After closing, nothing more: not even a well-formed, well-signed event.
            for api, action, body in [(owner, "handover", {"condition": "ok"}), (owner, "return", {"condition": "ok"}),
                                      (owner, "close", {"rating": 5}), (borrower, "close", {"rating": 5})]:
                status, done = await api("POST", f"/agreements/{asked['id']}/{action}", json=body)
                assert status == 200, done
                # The borrower never stored the acceptance the test sent in its name: the owner's
                # outbox catches it up with the chain before the handover.
                await until(lambda: _has_seq(club, loan, food, loan))
            await until(lambda: _state_is(borrower, asked["id"], "closed"))
            closed = replay([open_envelope(raw) for raw in _chain(food, loan)])
            late = seal(food.node.key, "agreement.event", {
                "agreement": loan, "kind": "loan", "seq": closed.seq + 1, "prev": closed.head, "action": "close",
                "data": {"rating": 1}}, now_ms=now_ms(), audience=[club.node.node_id])
            after_close = _counts(club)
            assert (await _deliver(food.node.key, club, late.raw))["refused"]["code"] == "not-allowed"
            assert _counts(club) == after_close
            assert _chain(club, loan) == _chain(food, loan)


async def _state_is(api: Any, loan: str, expected: str) -> bool:
    status, found = await api("GET", f"/agreements/{loan}")
    return status == 200 and found["state"] == expected


async def _has_seq(a: RunningNode, loan: bytes, b: RunningNode, _: bytes) -> bool:
    return len(_chain(a, loan)) == len(_chain(b, loan))


async def test_twenty_concurrent_overlapping_requests_seal_exactly_one(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(make_home(tmp_path, "Banque alimentaire")) as food, \
            running(make_home(tmp_path, "MJC")) as youth:
        introduce(food, club)
        introduce(youth, club)
        async with local_api(club) as owner, local_api(food) as first, local_api(youth) as second:
            await publish(owner, CHAIRS_20)
            period = days_ahead(4, 5)
            asks = [api("POST", "/loans", json={"owner": club.node.node_id, "resource": "sono", "period": period})
                    for api in [first, second] * 10]
            answers = [body for _, body in await asyncio.gather(*asks)]
            for api in (first, second):
                await until(lambda api=api: _all_answered(api))
            listed = [a for api in (first, second) for a in (await api("GET", "/agreements"))[1]["agreements"]]
            assert len(listed) == len(answers) == 20
            sealed = [a for a in listed if a["state"] == "sealed"]
            refused = [a for a in listed if a.get("refusal", {}).get("code") == "conflict"]
            assert len(sealed) == 1 and len(refused) == 19
            assert all(r["refusal"]["details"]["free"] for r in refused)
            assert _counts(club) == (1, 2, 1)  # one agreement (request + acceptance), one booking
            _, mine = await owner("GET", "/agreements")
            assert [a["state"] for a in mine["agreements"]] == ["sealed"]


async def _all_answered(api: Any) -> bool:
    _, listed = await api("GET", "/agreements")
    return all(a["state"] == "sealed" or "refusal" in a for a in listed["agreements"])


async def _delivered(process: NodeProcess, loan: str) -> bool:
    _, found = await _process_api(process, "GET", f"/agreements/{loan}")
    return found["pending_deliveries"] == 0


def _process_api(process: NodeProcess, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async def call() -> Any:
        token = (process.config.home / "api-token").read_text().strip()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.request(method, f"{process.url}/api/v1{path}", json=body) as resp:
                return resp.status, await resp.json()

    return call()


async def test_an_owner_killed_after_sealing_loses_nothing_and_an_offline_borrower_gets_its_answer(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif")
    food_config = make_home(tmp_path, "Banque alimentaire")
    club = NodeProcess(club_config)
    try:
        status, _ = await _process_api(club, "POST", "/records", {"type": "resource", "body": MINIBUS})
        assert status == 201
        async with running(food_config, club.seed) as food:
            await food.node.sync_round()  # knows the club and where it is
            async with local_api(food) as borrower:
                _, asked = await borrower("POST", "/loans", json={
                    "owner": club.seed.node_id,
                    "resource": "minibus", "period": days_ahead(6, 7)})
                assert asked["state"] == "requested" and asked["pending_deliveries"] == 0, asked
        loan = asked["id"]
        # The borrower's node is off. The owner accepts: the acceptance waits in its outbox.
        status, accepted = await _process_api(club, "POST", f"/agreements/{loan}/accept", {})
        assert status == 200 and accepted["state"] == "sealed" and accepted["pending_deliveries"] == 1, accepted
        # The owner's node is killed outright between acceptance and handover, then restarted:
        # the sealed agreement, its booking and the outbox entry survive.
        club.kill()
        club = NodeProcess(club_config)
        status, found = await _process_api(club, "GET", f"/agreements/{loan}")
        assert status == 200 and found["state"] == "sealed" and found["pending_deliveries"] == 1
        assert [e["action"] for e in found["events"]] == ["request", "accept"]
        async with running(food_config, club.seed) as food:
            await food.node.sync_round()  # the borrower is back: its handshake wakes the owner's outbox
            async with local_api(food) as borrower:
                await until(lambda: _state_is(borrower, loan, "sealed"), timeout=15)
            await until(lambda: _delivered(club, loan), timeout=15)  # the owner saw the borrower take it
            status, handed = await _process_api(club, "POST", f"/agreements/{loan}/handover", {"condition": "Propre"})
            assert status == 200 and handed["state"] == "in_custody", handed
            async with local_api(food) as borrower:
                await until(lambda: _state_is(borrower, loan, "in_custody"), timeout=15)
            with session(food.node.engine) as s:
                chain = stored.chain(s, bytes.fromhex(loan))
            status, found = await _process_api(club, "GET", f"/agreements/{loan}")
            assert [e["message_id"] for e in found["events"]] == [open_envelope(raw).message_id.hex() for raw in chain]
            assert json.dumps(found["events"])  # JSON-safe through the API
    finally:
        club.kill()


async def test_when_both_parties_act_at_once_the_owners_step_wins_and_the_overtaken_one_stays_logged(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif")
    async with running(make_home(tmp_path, "Banque alimentaire")) as food:
        async with local_api(food) as borrower:
            async with running(club_config) as club:
                introduce(food, club)
                async with local_api(club) as owner:
                    await publish(owner, MINIBUS)
                _, asked = await borrower("POST", "/loans", json={
                    "owner": club.node.node_id, "resource": "minibus", "period": days_ahead(3, 3)})
                assert asked["state"] == "requested" and asked["pending_deliveries"] == 0
            loan = asked["id"]
            # The club's node is off: the food bank withdraws its request meanwhile (queued)...
            _, withdrawn = await borrower("POST", f"/agreements/{loan}/withdraw", json={})
            assert withdrawn["state"] == "withdrawn" and withdrawn["pending_deliveries"] == 1
            async with running(club_config) as club:
                introduce(food, club)
                introduce(club, food)
                # ...while the club, back, accepts the request it holds. The owner orders the chain.
                async with local_api(club) as owner:
                    _, accepted = await owner("POST", f"/agreements/{loan}/accept", json={})
                    assert accepted["state"] == "sealed"
                await until(lambda: _state_is(borrower, loan, "sealed"), timeout=15)
                _, mine = await borrower("GET", f"/agreements/{loan}")
                assert [e["action"] for e in mine["events"]] == ["request", "accept"]
                assert mine["pending_deliveries"] == 0 and mine["refusal"]["code"] == "out-of-order"
                assert _chain(food, bytes.fromhex(loan)) == _chain(club, bytes.fromhex(loan))
    # The withdrawal the food bank signed is out of the chain but kept: its log still checks out.
    from node.audit_api import audit_log

    _, checked, findings = audit_log(food.node.engine)
    assert findings == [] and checked["entries"] == 3
