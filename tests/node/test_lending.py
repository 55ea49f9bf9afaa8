"""Loans between two real nodes over HTTP: negotiation, sealing, execution, and what must be refused."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from node.app import RunningNode
from node.clock import now_ms
from protocol import open_envelope
from protocol.agreements import SealedAgreement, replay
from protocol.availability import day_period, local_period
from storage import agreements as stored
from storage import session

from .harness import introduce, local_api, make_home, running

PARIS = ZoneInfo("Europe/Paris")
MINIBUS = {
    "id": "minibus",
    "kind": "vehicle",
    "title": "Minibus 9 places",
    "availability": {"unit": "day", "stock": 1, "timezone": "Europe/Paris"},
}
CHAIRS = {"id": "chaises", "kind": "equipment", "title": "Chaises pliantes", "quantity": 120,
          "availability": {"unit": "day", "stock": 120}}
ROOM = {"id": "salle", "kind": "space", "title": "Salle de réunion",
        "availability": {"unit": "hour", "opening": [{"day": d, "opens": "09:00", "closes": "22:00"} for d in range(1, 8)],
                         "buffer_minutes": 30}}


def days_ahead(first: int, last: int) -> dict[str, int]:
    today = datetime.now(PARIS).date()
    return day_period(today + timedelta(days=first), today + timedelta(days=last), "Europe/Paris").to_wire()


def evening(days: int, start_hour: int, end_hour: int) -> dict[str, int]:
    day = datetime.now(PARIS).date() + timedelta(days=days)
    start = datetime(day.year, day.month, day.day, start_hour)
    return local_period(start, start.replace(hour=end_hour), "Europe/Paris").to_wire()


async def publish(api: Any, body: dict[str, Any]) -> None:
    status, created = await api("POST", "/records", json={"type": "resource", "body": body})
    assert status == 201, created


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def chain_of(node: RunningNode, agreement_id: str) -> list[bytes]:
    with session(node.node.engine) as s:
        return stored.chain(s, bytes.fromhex(agreement_id))


async def state_at(api: Any, agreement_id: str) -> str:
    status, found = await api("GET", f"/agreements/{agreement_id}")
    return found["state"] if status == 200 else "absent"


async def test_a_full_loan_between_two_nodes_reaches_every_state_with_identical_signed_chains(tmp_path: Path) -> None:
    async with running(make_home(tmp_path, "Club sportif")) as club, running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, MINIBUS)
            status, asked = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "minibus", "period": days_ahead(3, 4),
                "purpose": "Collecte de la banque alimentaire",
            })
            assert status == 201 and asked["state"] == "requested" and asked["pending_deliveries"] == 0, asked
            loan = asked["id"]
            await until(lambda: _is(owner, loan, "requested"))

            status, offered = await owner("POST", f"/agreements/{loan}/offer", json={"terms": {
                "fee": {"amount": 2000, "currency": "EUR"}, "deposit": {"amount": 30000, "currency": "EUR"},
                "conditions": "Plein fait au retour", "pickup": {"place": "Gymnase Jean Macé", "at": days_ahead(3, 4)["start"]},
            }})
            assert status == 200 and offered["state"] == "offered", offered
            await until(lambda: _is(borrower, loan, "offered"))
            for api, action, body, expected in [
                (borrower, "accept", {}, "sealed"),
                (owner, "handover", {"condition": "Propre, 45 000 km"}, "in_custody"),
                (owner, "return", {"condition": "Rayure porte arrière"}, "returned"),
                (owner, "incident", {"kind": "damage", "description": "Rayure porte arrière",
                                     "deposit_kept": {"amount": 8000, "currency": "EUR"}, "reason": "Retouche carrosserie"},
                 "returned"),
                (owner, "close", {"rating": 4, "comment": "Bonne collaboration"}, "closing"),
                (borrower, "close", {"rating": 5}, "closed"),
            ]:
                status, done = await api("POST", f"/agreements/{loan}/{action}", json=body)
                assert status == 200 and done["state"] == expected, (action, done)
                await until(lambda: _is(owner, loan, expected))
                await until(lambda: _is(borrower, loan, expected))

            # Both nodes hold the same chain, every event verifies, and the sealed document verifies offline.
            assert chain_of(club, loan) == chain_of(food, loan)
            state = replay([open_envelope(raw) for raw in chain_of(food, loan)])
            assert state.name == "closed" and state.seq == 7  # eight events, counted from 0
            sealed = SealedAgreement.from_wire(state.sealed.to_wire())
            document = sealed.verify()
            assert document.parties == {"owner": club.node.node_id, "borrower": food.node.node_id}
            assert document.terms["fee"] == {"amount": 2000, "currency": "EUR"}
            _, detail = await borrower("GET", f"/agreements/{loan}")
            assert [e["action"] for e in detail["events"]] == [
                "request", "offer", "accept", "handover", "return", "incident", "close", "close"]
            assert detail["facts"]["deposit_kept"] == {"amount": 8000, "currency": "EUR"}


async def _is(api: Any, loan: str, expected: str) -> bool:
    return await state_at(api, loan) == expected


async def test_an_hourly_room_booking_and_a_partial_quantity_loan_are_accepted_at_once_by_policy(tmp_path: Path) -> None:
    food_config = make_home(tmp_path, "Banque alimentaire")
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(food_config) as food:
        introduce(food, club)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, ROOM)
            await publish(owner, CHAIRS)
            status, room = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "salle", "period": evening(2, 18, 20)})
            assert status == 201 and room["state"] == "sealed", room
            # The buffer keeps 30 minutes free after the first booking: 20:00 is refused, with free slots.
            status, late = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "salle", "period": evening(2, 20, 21)})
            assert late["state"] == "refused" and late["refusal"]["code"] == "conflict", late
            status, error = await borrower("POST", f"/agreements/{late['id']}/withdraw", json={})
            assert (status, error["code"]) == (409, "not-allowed")
            free = late["refusal"]["details"]["free"]
            assert free and all(slot["start"] >= evening(2, 20, 21)["start"] + 30 * 60_000 or
                                slot["end"] <= evening(2, 18, 20)["start"] - 30 * 60_000 for slot in free)
            # 40 of 120 chairs while 80 are out elsewhere: both fit; one more chair does not.
            status, eighty = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "chaises", "period": days_ahead(5, 5), "quantity": 80})
            status, forty = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "chaises", "period": days_ahead(5, 6), "quantity": 40})
            assert (eighty["state"], forty["state"]) == ("sealed", "sealed")
            status, one = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "chaises", "period": days_ahead(5, 5), "quantity": 1})
            assert one["refusal"]["code"] == "conflict" and "stock" in one["refusal"]["details"]["reasons"]
            with session(club.node.engine) as s:
                held = stored.all_bookings(s, "chaises")
            assert sorted(b.quantity for b in held) == [40, 80]


async def test_federated_search_finds_only_what_its_owners_say_is_free_nearby(tmp_path: Path) -> None:
    lyon = {"lat": 45_764_043, "lon": 4_835_659}
    villeurbanne = {"lat": 45_771_944, "lon": 4_890_171}
    grenoble = {"lat": 45_188_529, "lon": 5_724_524}
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(make_home(tmp_path, "MJC")) as youth, \
            running(make_home(tmp_path, "Banque alimentaire")) as food, running(make_home(tmp_path, "Alpes")) as far:
        introduce(food, club, youth, far)
        async with local_api(club) as c, local_api(youth) as y, local_api(food) as f, local_api(far) as a:
            await publish(c, {**MINIBUS, "location": lyon})
            await publish(y, {**MINIBUS, "id": "minibus-mjc", "location": villeurbanne})
            await publish(a, {**MINIBUS, "id": "minibus-alpes", "location": grenoble})
            await food.node.sync_round()
            period = days_ahead(10, 12)
            _, taken = await f("POST", "/loans", json={"owner": club.node.node_id, "resource": "minibus", "period": period})
            assert taken["state"] == "sealed"
            params = {"q": "minibus", "near": "45.76,4.84", "km": "20",
                      "free_from": str(period["start"]), "free_to": str(period["end"])}
            status, found = await f("GET", "/search", params=params)
            assert status == 200
            assert [(hit["id"], hit["available"]) for hit in found["results"]] == [("minibus-mjc", True)]
            # Another week, both Lyon minibuses are free.
            other = days_ahead(20, 21)
            status, found = await f("GET", "/search", params={**params, "free_from": str(other["start"]),
                                                              "free_to": str(other["end"])})
            assert sorted(hit["id"] for hit in found["results"]) == ["minibus", "minibus-mjc"]
        # An owner that cannot be reached is not guessed: its resource is marked unknown.
        async with local_api(food) as f:
            await youth.stop()  # stopping twice is harmless: the context exit stops it again
            status, found = await f("GET", "/search", params={**params, "free_from": str(other["start"]),
                                                              "free_to": str(other["end"])})
            assert {(hit["id"], hit["available"]) for hit in found["results"]} == {("minibus", True), ("minibus-mjc", None)}


async def test_the_calendar_feed_parses_with_an_independent_parser_and_matches_the_bookings(tmp_path: Path) -> None:
    import aiohttp
    import vobject

    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, ROOM)
            await publish(owner, MINIBUS)
            booked = {}
            for resource, period in (("salle", evening(3, 18, 20)), ("minibus", days_ahead(8, 9)), ("salle", evening(4, 9, 12))):
                _, done = await borrower("POST", "/loans", json={"owner": club.node.node_id, "resource": resource, "period": period})
                assert done["state"] == "sealed", done
                booked[f"{done['id']}@maillage"] = (resource, period)
            _, urls = await owner("GET", "/calendars")
            assert set(urls["resources"]) == {"salle", "minibus"}
        async with aiohttp.ClientSession() as http:  # no token: calendar applications cannot send one
            async with http.get(urls["node"]) as resp:
                assert resp.status == 200 and resp.content_type == "text/calendar"
                feed = (await resp.read()).decode("utf-8")
            async with http.get(urls["resources"]["salle"]) as resp:
                room_feed = (await resp.read()).decode("utf-8")
            async with http.get(urls["node"].replace("/ical/", "/ical/0")) as resp:
                assert resp.status == 404
        events = {str(e.uid.value): e for e in vobject.readOne(feed).vevent_list}
        assert set(events) == set(booked)
        for uid, (resource, period) in booked.items():
            start, end = events[uid].dtstart.value, events[uid].dtend.value
            if resource == "minibus":  # whole local days: an all-day event, end excluded
                assert (start, end) == (_paris_date(period["start"]), _paris_date(period["end"]))
            else:
                assert (int(start.timestamp() * 1000), int(end.timestamp() * 1000)) == (period["start"], period["end"])
            assert "Banque alimentaire" in str(events[uid].summary.value)
        room_events = vobject.readOne(room_feed).vevent_list
        assert sorted(str(e.uid.value) for e in room_events) == sorted(u for u, (r, _) in booked.items() if r == "salle")


def _paris_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, PARIS).date()


async def test_a_weekly_room_booking_lists_the_conflicting_occurrences(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(make_home(tmp_path, "MJC")) as youth, \
            running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        introduce(youth, club)
        await youth.node.sync_round()  # the youth centre has the room's record (its time zone) from the club
        async with local_api(club) as owner, local_api(youth) as series_api, local_api(food) as other:
            await publish(owner, ROOM)
            await youth.node.sync_round()
            first = evening(7, 18, 20)
            week = 7 * 86_400_000
            _, taken = await other("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "salle", "period": evening(21, 19, 21)})
            assert taken["state"] == "sealed"
            status, booked = await series_api("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "salle", "period": first,
                "weekly_until": first["end"] + 5 * week})
            assert status == 201
            assert len(booked["series"]) == 6
            assert [c["period"]["start"] for c in booked["conflicts"]] == [evening(21, 18, 20)["start"]]
            assert booked["conflicts"][0]["refusal"]["code"] == "conflict"
            assert sum(a["state"] == "sealed" for a in booked["series"]) == 5


async def test_auto_accept_for_our_federation_only_trusts_nodes_found_through_it(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["peers"])
    async with running(club_config) as club, running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, CHAIRS)
            ask = {"owner": club.node.node_id, "resource": "chaises", "period": days_ahead(2, 2), "quantity": 10}
            _, first = await borrower("POST", "/loans", json=ask)
            assert first["state"] == "requested"  # the food bank only called us: not yet one of our federation
            introduce(club, food)  # the club's operator adds it as a seed
            _, second = await borrower("POST", "/loans", json=ask)
            assert second["state"] == "sealed"
