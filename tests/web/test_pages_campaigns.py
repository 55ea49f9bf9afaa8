"""Campaign pages between real nodes: a campaign opened from the form, pledges through the forms, the progress bar moving."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from node import campaigns
from node.app import RunningNode
from node.clock import now_ms
from storage import agreements as stored
from storage import session

from ..node.harness import introduce, make_home, running
from .conftest import Browser, add_accounts
from .test_pages_search import csrf_of, signed_in

PARIS = ZoneInfo("Europe/Paris")


def in_days(n: int) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=n)).isoformat()


@asynccontextmanager
async def two(tmp_path: Path) -> AsyncIterator[tuple[RunningNode, RunningNode]]:
    """Atelier vélo (organiser) and Banque alimentaire (contributor), web accounts on both, names known."""
    bikes_home = make_home(tmp_path, "Atelier vélo")
    food_home = make_home(tmp_path, "Banque alimentaire")
    for home in (bikes_home, food_home):
        add_accounts(home.database_url)
    async with running(bikes_home) as bikes, running(food_home) as food:
        introduce(bikes, food)
        introduce(food, bikes)
        await bikes.node.sync_round()
        await food.node.sync_round()
        yield bikes, food


def chain_length(node: RunningNode, campaign: str) -> int:
    with session(node.node.engine) as s:
        return len(stored.chain(s, bytes.fromhex(campaign)))


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def plain(page: str) -> str:
    """The page's text with entities decoded and Babel's narrow and non-breaking spaces as plain spaces."""
    return html.unescape(page).replace("\u202f", " ").replace("\xa0", " ")


def progress_value(page: str) -> int:
    found = re.search(r'<progress id="vers-objectif" max="(\d+)" value="(\d+)"', page)
    assert found, page[:3000]
    return int(found.group(2))


async def post_form(browser: Browser, path: str, action: str, **fields: Any) -> tuple[int, str, Any]:
    """Post the form whose action is ``action`` on the page at ``path``, with that page's CSRF token."""
    status, page, _ = await browser.get(path)
    assert status == 200, page[:2000]
    assert f'action="{action}"' in page, (action, page)
    return await browser.post(action, {"csrf_token": csrf_of(page), **fields})


def campaign_form(food: RunningNode, **changes: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "Vélo cargo partagé",
        "purpose": "Un vélo cargo électrique partagé entre les associations du quartier",
        "beneficiary_us": "1",
        "beneficiary_names": "",
        "target": "5 000",
        "minimum": "3500",
        "deadline": in_days(20),
        "deadline_time": "18:00",
        "mode": "all_or_nothing",
        "line_title_0": "Vélo cargo",
        "line_min_0": "3500",
        "line_max_0": "3500",
        "line_title_1": "Remorque",
        "line_min_1": "0",
        "line_max_1": "1500",
        "goal_title_0": "Deuxième batterie",
        "goal_amount_0": "6000",
        "scope": "nodes",
        "node": food.node.node_id,
    }
    fields.update(changes)
    return fields


async def test_a_member_opens_a_campaign_and_another_association_pledges_through_the_form(tmp_path: Path) -> None:
    async with (
        two(tmp_path) as (bikes, food),
        signed_in(bikes, "marie") as organiser,
        signed_in(food, "marie") as contributor,
    ):
        status, body, resp = await post_form(
            organiser, "/campagnes/nouvelle", "/campagnes/nouvelle", **campaign_form(food)
        )
        assert status == 303, body[:3000]
        path = resp.headers["Location"]
        campaign = path.rsplit("/", 1)[1]
        assert re.fullmatch(r"/campagnes/[0-9a-f]{32}", path)

        status, page, _ = await organiser.get(path)
        assert status == 200
        assert "Vélo cargo partagé" in page and "ouverte" in page and "Signatures vérifiées" in page
        assert "5 000,00 €" in plain(page) and "3 500,00 €" in plain(page) and "tout ou rien" in page
        assert "Remorque" in page and "Deuxième batterie" in page and progress_value(page) == 0

        # The invited association finds it on its home page and in its list, then pledges.
        await until(lambda: chain_length(food, campaign) >= 1)
        status, home, _ = await contributor.get("/")
        assert status == 200 and "Vélo cargo partagé" in home and f"/campagnes/{campaign}" in home
        status, listing, _ = await contributor.get("/campagnes")
        assert "Campagnes qui nous invitent" in listing and "Atelier vélo" in listing
        status, body, resp = await post_form(
            contributor,
            path,
            f"/campagnes/{campaign}/pledge",
            type="money",
            value="1 500,50",
            hours="",
            description="",
            line="remorque",
            cap_percent="",
        )
        assert status == 303, body[:3000]
        status, page, _ = await contributor.get(path)
        assert progress_value(page) == 150_050 and "1 500,50 €" in plain(page)
        assert "Modifier notre promesse" in page and f'action="/campagnes/{campaign}/pledge"' not in page
        await until(lambda: chain_length(bikes, campaign) == chain_length(food, campaign))
        status, page, _ = await organiser.get(path)
        assert progress_value(page) == 150_050 and "Banque alimentaire" in page and "promise" in page

        # The same page in English, amounts in English.
        status, page, _ = await contributor.get(path + "?lang=en")
        assert status == 200 and "Progress" in page and "€1,500.50" in page and "Pledges" in page
        assert "Signatures verified" in page

        # An amendment through the form moves the bar again; a refusal is explained and changes nothing.
        status, body, _ = await post_form(
            contributor,
            path + "?lang=fr",
            f"/campagnes/{campaign}/amend",
            type="money",
            value="2000",
            line="",
            cap_percent="",
        )
        assert status == 303, body[:3000]
        status, page, _ = await contributor.get(path)
        assert progress_value(page) == 200_000
        before = chain_length(bikes, campaign)
        status, page, _ = await post_form(
            contributor, path, f"/campagnes/{campaign}/amend", type="money", value="douze"
        )
        assert status == 400 and 'role="alert"' in page and "un montant tel que 12,50" in page
        assert 'value="douze"' in page
        status, page, _ = await contributor.post(
            f"/campagnes/{campaign}/pledge", {"csrf_token": csrf_of(page), "type": "money", "value": "10"}
        )
        assert status == 409 and "Notre association a déjà promis" in page and "Rien n'a été enregistré" in page
        assert chain_length(bikes, campaign) == before

        # The pledge is withdrawn through its form; the organiser cannot conclude early, and cancels.
        status, body, _ = await post_form(contributor, path, f"/campagnes/{campaign}/withdraw", reason="Budget revu")
        assert status == 303, body[:3000]
        status, page, _ = await contributor.get(path)
        assert progress_value(page) == 0 and "retirée" in page and f'action="/campagnes/{campaign}/pledge"' in page
        status, page, _ = await organiser.get(path)
        assert f'action="/campagnes/{campaign}/conclude"' not in page  # before the deadline: concluded by itself later
        status, page, _ = await organiser.post(f"/campagnes/{campaign}/conclude", {"csrf_token": csrf_of(page)})
        assert status == 409 and "Une campagne se conclut à son échéance, pas avant." in page
        status, body, _ = await post_form(
            organiser, path, f"/campagnes/{campaign}/cancel", reason="Vélo offert par la mairie"
        )
        assert status == 303, body[:3000]
        await until(lambda: chain_length(food, campaign) == chain_length(bikes, campaign))
        status, page, _ = await contributor.get(path)
        assert "annulée" in page and "Vélo offert par la mairie" in page and "Rien à faire de notre côté" in page


async def test_a_reader_cannot_pledge_and_a_form_without_its_token_changes_nothing(tmp_path: Path) -> None:
    async with two(tmp_path) as (bikes, food), signed_in(food, "lucien") as reader, signed_in(food, "marie") as member:
        progress = await campaigns.create(
            bikes.node,
            {
                "title": "Chambre froide",
                "purpose": "Une chambre froide partagée",
                "beneficiaries": [{"name": "Épicerie"}],
                "currency": "EUR",
                "target": 300_000,
                "minimum": 0,
                "deadline": now_ms() + 86_400_000,
                "mode": "keep_it_all",
                "eligibility": {"scope": "nodes", "nodes": [food.node.node_id]},
            },
        )
        campaign = progress.state.id.hex()
        path = f"/campagnes/{campaign}"
        await until(lambda: chain_length(food, campaign) >= 1)

        status, page, _ = await reader.get(path)
        assert status == 200 and "Chambre froide" in page and "lecture seule" in page
        assert f'action="{path}/pledge"' not in page
        status, page, _ = await reader.post(
            f"{path}/pledge", {"csrf_token": csrf_of(page), "type": "money", "value": "100"}
        )
        assert status == 403 and "Accès refusé" in page

        status, page, _ = await member.get(path)
        assert f'action="{path}/pledge"' in page
        status, page, _ = await member.post(f"{path}/pledge", {"type": "money", "value": "100"})
        assert status == 403 and "Ce formulaire a expiré" in page
        status, page, _ = await member.post(f"{path}/pledge", {"csrf_token": "0" * 64, "type": "money", "value": "100"})
        assert status == 403
        assert chain_length(bikes, campaign) == 1 and chain_length(food, campaign) == 1
        status, page, _ = await member.get(path)
        assert progress_value(page) == 0 and "Aucune promesse pour l'instant." in page

        anonymous = Browser(food.url)
        try:
            status, _, resp = await anonymous.get(path)
            assert status == 303 and resp.headers["Location"].startswith("/connexion")
            status, _, _ = await anonymous.get("/campagnes")
            assert status == 303
        finally:
            await anonymous.close()
        status, _, _ = await member.get(f"/campagnes/{'0' * 32}")
        assert status == 404
        status, _, _ = await member.get("/campagnes/pas-une-campagne")
        assert status == 404


EXPORT = (
    "Date;Montant;Statut du paiement;Type d'opération;Nom;Prénom\n"
    "01/03/2026 10:12;200,00;Autorisé;Don;Martin;Claire\n"
    "02/03/2026 18:40;100,00;Validé;Don;Durand;Paul\n"
    "03/03/2026 09:00;50,00;Refusé;Don;Petit;Léa\n"
).encode("cp1252")


async def test_a_public_campaign_is_pledged_from_its_announcement_concluded_paid_and_confirmed(tmp_path: Path) -> None:
    async with (
        two(tmp_path) as (bikes, food),
        signed_in(bikes, "marie") as organiser,
        signed_in(food, "marie") as contributor,
    ):
        deadline = now_ms() + 6_000
        progress = await campaigns.create(
            bikes.node,
            {
                "title": "Remorque réfrigérée",
                "purpose": "Une remorque pour les collectes en circuit court",
                "beneficiaries": [{"node": bikes.node.node_id}],
                "currency": "EUR",
                "target": 200_000,
                "minimum": 100_000,
                "deadline": deadline,
                "mode": "all_or_nothing",
                "eligibility": {"scope": "public"},
            },
        )
        campaign = progress.state.id.hex()
        path = f"/campagnes/{campaign}"

        # The Banque learns of it from the Atelier's catalogue and pledges from the announcement's page.
        await food.node.sync_round()
        status, page, _ = await contributor.get("/campagnes")
        assert "Campagnes publiques annoncées" in page and "Remorque réfrigérée" in page and path in page
        status, page, _ = await contributor.get(path)
        assert status == 200 and "notre nœud n" in page and f'action="{path}/pledge"' in page
        status, body, _ = await contributor.post(
            f"{path}/pledge", {"csrf_token": csrf_of(page), "type": "money", "value": "1500", "if_minimum": "1"}
        )
        assert status == 303, body[:3000]
        await until(lambda: chain_length(food, campaign) >= 2)
        status, page, _ = await contributor.get(path)
        assert (
            progress_value(page) == 150_000 and "si le minimum est atteint" in page and "Signatures vérifiées" in page
        )

        # The Atelier imports its HelloAsso export: totals only, the refused payment and the names left out.
        status, page, _ = await organiser.get(path)
        form = aiohttp.FormData()
        form.add_field("csrf_token", csrf_of(page))
        form.add_field("platform", "HelloAsso")
        form.add_field("reference", "export-mars")
        form.add_field("file", EXPORT, filename="export.csv", content_type="text/csv")
        status, body, _ = await organiser.post(f"{path}/import", form)
        assert status == 303, body[:3000]
        status, page, _ = await organiser.get(path)
        assert progress_value(page) == 180_000 and "export-mars" in page and "Claire" not in page
        assert "Plateforme HelloAsso/export-mars" in page

        # At the deadline the Atelier's node concludes by itself: the pledge binds.
        await asyncio.sleep(max(0, deadline - now_ms()) / 1000)
        await until(lambda: chain_length(food, campaign) == chain_length(bikes, campaign) >= 4, timeout=20)
        status, page, _ = await contributor.get(path)
        assert "réussie" in page and "engagée" in page and 'action="' + path + '/paid"' in page
        status, home, _ = await contributor.get("/")
        assert "notre promesse est ferme : 1 500,00 € restent à payer" in plain(home)

        # The Banque declares a payment; the Atelier confirms it; the treasurer's view follows.
        status, body, _ = await post_form(
            contributor, path, f"{path}/paid", amount="1000", method="transfer", reference="VIR-BA-12", date=in_days(0)
        )
        assert status == 303, body[:3000]
        await until(lambda: chain_length(bikes, campaign) >= 5)
        status, home, _ = await organiser.get("/")
        assert "1 paiement attend notre confirmation de réception" in home
        status, page, _ = await organiser.get(path)
        found = re.search(r'name="payment" value="([0-9a-f]{64})"', page)
        assert found and "VIR-BA-12" in page, page
        status, body, _ = await organiser.post(
            f"{path}/received", {"csrf_token": csrf_of(page), "payment": found.group(1), "amount": "1000"}
        )
        assert status == 303, body[:3000]
        await until(lambda: chain_length(food, campaign) == chain_length(bikes, campaign))
        status, page, _ = await contributor.get(path)
        treasurer = plain(page).split("Vue du trésorier", 1)[1].split("Paiements", 1)[0]
        assert "1 800,00 €" in treasurer and "1 300,00 €" in treasurer and "500,00 €" in treasurer
        assert "reçus, confirmé par Atelier vélo" in plain(page)

        # The agreements page still lists loans, unbothered by the campaign's chain.
        status, _, _ = await organiser.get("/accords")
        assert status == 200
