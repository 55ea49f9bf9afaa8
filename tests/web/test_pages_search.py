"""The search page between two real nodes: a member finds another association's resource and asks for it."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from node.app import RunningNode

from ..node.harness import introduce, local_api, make_home, running
from ..node.test_lending import MINIBUS, publish
from .conftest import Browser, add_accounts

PARIS = ZoneInfo("Europe/Paris")
GYMNASE = {"lat": 45_764_043, "lon": 4_835_659}  # the owner's minibus, in Lyon
ENTREPOT = [45_750_000, 4_850_000]  # the borrower's own location, about 2 km away


def day(offset: int) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=offset)).isoformat()


@asynccontextmanager
async def federation(tmp_path: Path, **owner_settings: Any) -> AsyncIterator[tuple[RunningNode, RunningNode]]:
    """Club sportif (owner of a minibus) and Banque alimentaire (borrower), with web accounts on both."""
    club_home = make_home(tmp_path, "Club sportif", **owner_settings)
    food_home = make_home(tmp_path, "Banque alimentaire", location=ENTREPOT)
    for home in (club_home, food_home):
        add_accounts(home.database_url)
    async with running(club_home) as club, running(food_home) as food:
        introduce(food, club)
        introduce(club, food)
        async with local_api(club) as owner:
            await publish(owner, {**MINIBUS, "location": GYMNASE, "description": "Pour les sorties et collectes"})
        await food.node.sync_round()
        yield club, food


@asynccontextmanager
async def signed_in(node: RunningNode, name: str) -> AsyncIterator[Browser]:
    browser = Browser(node.url)
    try:
        status, _, _ = await browser.login(name)
        assert status == 303
        yield browser
    finally:
        await browser.close()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page[:2000]
    return found.group(1)


async def ask_for_minibus(browser: Browser, first: int = 3, last: int = 4, purpose: str = "Collecte") -> str:
    """Search with dates, follow « Demander », send the form: the agreement id the page redirects to."""
    status, page, _ = await browser.get(f"/chercher?q=minibus&du={day(first)}&au={day(last)}&quantite=1")
    assert status == 200, page[:2000]
    link = re.search(r'href="(/chercher/demander\?[^"]+)"', page)
    assert link, page
    status, form_page, _ = await browser.get(html.unescape(link.group(1)))
    assert status == 200, form_page[:2000]
    assert f'value="{day(first)}"' in form_page and f'value="{day(last)}"' in form_page  # the search's dates carried over
    owner = re.search(r'name="proprietaire" value="([a-z2-7]+)"', form_page).group(1)  # type: ignore[union-attr]
    status, body, resp = await browser.post("/chercher/demander", {
        "csrf_token": csrf_of(form_page), "proprietaire": owner, "ressource": "minibus",
        "du": day(first), "au": day(last), "heure_du": "", "heure_au": "", "quantite": "1", "objet": purpose,
    })
    assert status == 303, body[:3000]
    location = resp.headers["Location"]
    assert re.fullmatch(r"/accords/[0-9a-f]{32}", location), location
    return location.rsplit("/", 1)[1]


async def test_a_member_finds_a_resource_of_another_node_free_near_here_and_asks_for_it(tmp_path: Path) -> None:
    async with federation(tmp_path) as (club, food), signed_in(food, "marie") as marie:
        status, page, resp = await marie.get("/chercher")
        assert status == 200 and resp.headers["Content-Type"].startswith("text/html")
        assert 'value="45.75,4.85"' in page  # near: our association's location by default
        assert "Minibus 9 places" in page and "Club sportif" in page

        # Dates: the owner is asked; the minibus is free then, and 1.9 km away.
        status, page, _ = await marie.get(f"/chercher?q=minibus&du={day(3)}&au={day(4)}&km=10")
        assert status == 200, page[:2000]
        assert "1 résultat" in page and "libre" in page and "Club sportif" in page
        assert re.search(r"à 1,\d km", page), page
        assert 'id="carte"' in page and "/static/map.js" in page  # a map over a list of places
        assert "45.764043" in page

        # Too far: nothing within 1 km.
        status, page, _ = await marie.get("/chercher?q=minibus&km=1")
        assert status == 200 and "0 résultat" in page

        loan = await ask_for_minibus(marie)
        status, page, _ = await marie.get(f"/accords/{loan}")
        assert status == 200 and "Minibus 9 places" in page and "Collecte" in page
        assert "demandé" in page and "Signatures vérifiées" in page
        with_club = await club.node.run(lambda: _states(club))
        assert with_club.get(loan) == "requested"


def _states(node: RunningNode) -> dict[str, str]:
    from storage import agreements as stored
    from storage import session

    with session(node.node.engine) as s:
        return {row.id.hex(): row.state for row in stored.listing(s)}


async def test_an_owner_that_does_not_answer_leaves_its_resources_marked_unknown(tmp_path: Path) -> None:
    club_home = make_home(tmp_path, "Club sportif")
    food_home = make_home(tmp_path, "Banque alimentaire")
    add_accounts(food_home.database_url)
    async with running(food_home) as food:
        async with running(club_home) as club:
            introduce(food, club)
            async with local_api(club) as owner:
                await publish(owner, MINIBUS)
            await food.node.sync_round()
        # The owner's node is gone: it cannot say whether the minibus is free.
        async with signed_in(food, "marie") as marie:
            status, page, _ = await marie.get(f"/chercher?q=minibus&du={day(3)}&au={day(4)}")
            assert status == 200, page[:2000]
            assert "Minibus 9 places" in page and "disponibilité inconnue" in page


async def test_bad_search_input_is_explained_and_the_request_form_needs_a_member(tmp_path: Path) -> None:
    async with federation(tmp_path) as (club, food), signed_in(food, "lucien") as reader:
        status, page, _ = await reader.get("/chercher?pres_de=north&km=5")
        assert status == 400 and 'role="alert"' in page
        status, page, _ = await reader.get(f"/chercher?du={day(5)}&au={day(2)}")
        assert status == 400 and 'role="alert"' in page
        status, page, _ = await reader.get(f"/chercher/demander?proprietaire={club.node.node_id}&ressource=minibus")
        assert status == 200 and "lecture seule" in page and 'action="/chercher/demander"' not in page
        status, _, _ = await reader.post("/chercher/demander", {"csrf_token": csrf_of(page), "proprietaire": club.node.node_id,
                                                               "ressource": "minibus", "du": day(3), "au": day(4)})
        assert status == 403
        status, _, _ = await reader.get(f"/chercher/demander?proprietaire={club.node.node_id}&ressource=nothing")
        assert status == 404


async def test_a_request_that_does_not_fit_shows_the_owners_reasons(tmp_path: Path) -> None:
    async with federation(tmp_path) as (club, food), signed_in(food, "marie") as marie:
        status, page, _ = await marie.get(f"/chercher/demander?proprietaire={club.node.node_id}&ressource=minibus")
        assert status == 200
        status, page, _ = await marie.post("/chercher/demander", {
            "csrf_token": csrf_of(page), "proprietaire": club.node.node_id, "ressource": "minibus",
            "du": day(3), "au": day(4), "quantite": "5"})
        assert status == 303  # signed and sent: the owner judges it
        status, page, _ = await marie.get("/accords")
        assert status == 200 and "Minibus 9 places" in page
        found = re.search(r'href="/accords/([0-9a-f]{32})"', page)
        assert found
        loan = found.group(1)
        status, page, _ = await marie.get(f"/accords/{loan}")
        assert status == 200
        assert "refusé par le prêteur" in page and "quantité supérieure au stock" in page


def test_tiles_come_only_from_a_configured_http_server_and_amounts_parse_exactly() -> None:
    from types import SimpleNamespace

    from node.web.pages_agreements import parse_money
    from node.web.pages_search import degrees, tile_url

    def with_config(**settings: Any) -> Any:
        from pathlib import Path

        from node.config import NodeConfig

        return SimpleNamespace(config=NodeConfig(home=Path("/nowhere"), **settings))

    assert tile_url(with_config()) == ""  # none configured: a map without tiles
    assert tile_url(with_config(tile_url="javascript:alert(1)")) == ""
    assert tile_url(with_config(tile_url="https://tuiles.example.org/{z}/{x}/{y}.png")).startswith("https://")
    assert parse_money("12,50", field="fee") == {"amount": 1250, "currency": "EUR"}
    assert parse_money(" 300 € ", field="deposit") == {"amount": 30000, "currency": "EUR"}
    assert parse_money("", field="fee")["amount"] == 0
    for bad in ("douze", "-1", "1,234", "nan"):
        try:
            parse_money(bad, field="fee")
        except Exception as exc:  # noqa: BLE001
            assert type(exc).__name__ == "InvalidMessage", bad
        else:
            raise AssertionError(bad)
    assert degrees(45_764_043) == "45.764043" and degrees(-4_800_000) == "-4.8"
