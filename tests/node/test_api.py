"""The local API, as the CLI and operators' tools use it: token, publish, delete, import, search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.app import RunningNode
from node.openapi import OPENAPI

from .harness import local_api, make_home, running, seed_of


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    async with running(make_home(tmp_path, "Banque alimentaire")) as n:
        yield n


@pytest.fixture
async def api(node: RunningNode) -> AsyncIterator[Any]:
    async with local_api(node) as call:
        yield call


async def test_api_refuses_missing_or_wrong_token(node: RunningNode) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": node.node.token}):
            async with http.get(f"{node.url}/api/v1/node", headers=headers) as resp:
                assert resp.status == 401 and (await resp.json())["code"] == "forbidden"
        async with http.post(f"{node.url}/api/v1/records", json={"body": {"kind": "other", "title": "x"}}) as resp:
            assert resp.status == 401
        assert node.node.engine.connect().exec_driver_sql("SELECT count(*) FROM records WHERE rtype='resource'").scalar_one() == 0


async def test_publish_search_and_delete(api: Any) -> None:
    status, created = await api("POST", "/records", json={"type": "resource", "body": {
        "kind": "vehicle", "title": "Minibus 9 places", "location": {"lat": 45_764_043, "lon": 4_835_659},
        "replacement_value": {"amount": 2_500_000, "currency": "EUR"}}})
    assert status == 201 and len(created["message_id"]) == 64
    status, found = await api("GET", "/search", params={"q": "minibus", "near": "45.75,4.85", "km": "5"})
    assert status == 200
    (hit,) = found["results"]
    assert hit["id"] == created["id"] and hit["own"] and hit["association"] == "Banque alimentaire"
    assert 0 < hit["distance_km"] < 5
    status, _ = await api("DELETE", f"/records/{created['id']}")
    assert status == 200
    assert (await api("GET", "/search", params={"q": "minibus"}))[1]["results"] == []
    status, error = await api("DELETE", f"/records/{created['id']}")
    assert status == 400 and error["code"] == "invalid"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"type": "resource", "body": {"kind": "spaceship", "title": "x"}}, "kind"),
        ({"type": "resource", "body": {"kind": "other", "title": "x", "quantity": 1.5}}, "quantity"),
        ({"type": "resource", "body": {"kind": "other", "title": "x", "location": {"lat": 91_000_000, "lon": 0}}}, "location.lat"),
        ({"type": "resource", "body": {"kind": "other", "title": "x", "owner_email": "a@b.fr"}}, "owner_email"),
        ({"type": "loan", "body": {}}, None),
    ],
)
async def test_invalid_records_are_refused_before_signing(api: Any, payload: dict[str, Any], field: str | None) -> None:
    status, error = await api("POST", "/records", json=payload)
    assert status == 400 and error["code"] == "invalid"
    if field:
        assert field in error["message"]
    assert (await api("GET", "/records"))[1]["records"][0]["type"] == "descriptor"
    assert len((await api("GET", "/records"))[1]["records"]) == 1


async def test_malformed_json_is_refused(node: RunningNode, api: Any) -> None:
    status, error = await api("POST", "/records", data=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and error["code"] == "invalid"
    status, error = await api("GET", "/search", params={"near": "north", "km": "3"})
    assert status == 400 and "near" in error["message"]


async def test_private_records_stay_private_and_cannot_be_downgraded(api: Any) -> None:
    body = {"id": "coffre", "kind": "equipment", "title": "Coffre-fort"}
    assert (await api("POST", "/records", json={"body": {**body, "visibility": "private"}}))[0] == 201
    assert (await api("POST", "/records", json={"body": {"id": "sono", "kind": "equipment", "title": "Sono"}}))[0] == 201
    status, error = await api("POST", "/records", json={"body": {"id": "sono", "kind": "equipment", "title": "Sono", "visibility": "private"}})
    assert status == 409 and error["code"] == "conflict"


async def test_import_keeps_good_rows_and_reports_bad_ones_by_line(api: Any) -> None:
    csv = "titre;type;quantité\nChaises pliantes;matériel;120\nTéléporteur;science-fiction;1\nBarnum 3x3;matériel;deux\n".encode()
    status, result = await api("POST", "/import", data=csv, headers={"Content-Type": "text/csv"})
    assert status == 200
    assert result["published"] == 1
    assert [e["line"] for e in result["errors"]] == [3, 4]
    hits = (await api("GET", "/search", params={"q": "chaises"}))[1]["results"]
    assert [h["body"]["quantity"] for h in hits] == [120]


async def test_add_peer_then_sync_through_the_api(tmp_path: Path, node: RunningNode, api: Any) -> None:
    async with running(make_home(tmp_path, "Club sportif")) as other:
        status, _ = await api("POST", "/peers", json={"seed": str(seed_of(other))})
        assert status == 201
        status, report = await api("POST", "/sync")
        assert status == 200 and report["contacted"] == 1
        (peer,) = (await api("GET", "/peers"))[1]["peers"]
        assert (peer["name"], peer["state"]) == ("Club sportif", "active")
        status, error = await api("POST", "/peers", json={"seed": "http://127.0.0.1:1"})
        assert status == 400 and "node-id" in error["message"]


async def test_every_api_route_is_in_the_openapi_document(node: RunningNode) -> None:
    documented = {(path, method) for path, ops in OPENAPI["paths"].items() for method in ops}
    from node import api as api_module

    app = api_module.create_app()
    served = {
        (route.resource.canonical, route.method.lower())  # type: ignore[union-attr]
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource.canonical != "/openapi.json"  # type: ignore[union-attr]
    }
    assert served == documented
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/api/v1/openapi.json") as resp:
            assert resp.status == 200 and (await resp.json())["openapi"].startswith("3.")


async def test_reimporting_signs_nothing_new_and_conflicting_ids_are_refused_by_line(api: Any) -> None:
    assert (await api("POST", "/records", json={"type": "offer", "body": {"id": "barnum", "kind": "equipment", "title": "Prêt de barnum"}}))[0] == 201
    csv = "référence;titre;quantité\nchaises;Chaises pliantes;120\nbarnum;Barnum 3x3;2\n".encode()
    status, first = await api("POST", "/import", data=csv, headers={"Content-Type": "text/csv"})
    assert status == 200 and first["published"] == 1
    assert [(e["line"], "offer" in e["reason"]) for e in first["errors"]] == [(3, True)]
    before = (await api("GET", "/records"))[1]["records"]
    status, second = await api("POST", "/import", data=csv, headers={"Content-Type": "text/csv"})
    assert (second["published"], second["unchanged"]) == (0, 1)
    assert (await api("GET", "/records"))[1]["records"] == before
