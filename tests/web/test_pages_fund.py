"""The fund page of a federation between real nodes: contributions, a call, an allocation decided by consent,
a distribution, the legal alerts — each through the page's forms."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from node import federations
from node.app import RunningNode
from node.wire import wire_form
from node.clock import now_ms
from protocol.agreements import federation as F
from protocol.governance.fund import check_balanced, fund_of

from ..node.harness import introduce, make_home, running
from .conftest import add_accounts
from .test_pages_campaigns import plain, post_form, until
from .test_pages_federations import chain_length, state_of
from .test_pages_search import csrf_of, signed_in

PARIS = ZoneInfo("Europe/Paris")
CONSENT = {"method": "consent", "questions_ms": 0, "objections_ms": 1_500, "review_months": 12}


@asynccontextmanager
async def federation_with_fund(tmp_path: Path) -> AsyncIterator[tuple[RunningNode, RunningNode, str]]:
    """The Maison des associations (secretariat) and the Club sportif, members of a federation with a fund in euros."""
    homes = [make_home(tmp_path, name) for name in ("Maison des associations", "Club sportif")]
    for home in homes:
        add_accounts(home.database_url)
    async with running(homes[0]) as house, running(homes[1]) as club:
        introduce(house, club)
        introduce(club, house)
        for node in (house, club):
            await node.node.sync_round()
        charter = {
            "name": "Maillage Diois",
            "territory": "Diois (Drôme)",
            "purpose": "Financer des projets communs",
            "colleges": [{"id": "associations", "title": "Associations"}],
            "founders": {house.node.node_id: "associations", club.node.node_id: "associations"},
            "rules": {
                kind: CONSENT for kind in ("admit", "remove", "amend_charter", "fund_criteria", "fund_allocation")
            },
            "currency": "EUR",
        }
        progress = await federations.found(house.node, charter)
        federation = progress.state.id.hex()
        for node in (house, club):
            await until(lambda node=node: chain_length(node, federation) >= 1)
            await federations.adhere(node.node, progress.state.id)
        await until(lambda: state_of(club, federation).name == "active")
        yield house, club, federation


async def decided(
    proposer: RunningNode, secretariat: RunningNode, federation: str, kind: str, payload: dict[str, Any]
) -> None:
    """A consent decision nobody objects to, closed by the secretariat once its window ended."""
    state = await federations.speak(
        proposer.node,
        bytes.fromhex(federation),
        "propose",
        wire_form({"id": kind, "kind": kind, "title": kind, "text": "Pour le fonds", "payload": payload}),
    )
    record = F.proposals_of(state)[kind]
    await asyncio.sleep(max(0, record.window.closes - now_ms()) / 1000 + 0.1)
    await until(lambda: F.proposals_of(state_of(secretariat, federation))[kind].status == "adopted", timeout=20)


def in_days(n: int) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=n)).isoformat()


async def test_money_goes_in_is_allocated_by_decision_and_goes_out_through_the_fund_page(tmp_path: Path) -> None:
    async with (
        federation_with_fund(tmp_path) as (house, club, federation),
        signed_in(house, "marie") as treasurer,
        signed_in(club, "marie") as member,
        signed_in(club, "lucien") as reader,
    ):
        page_path = f"/federations/{federation}/fonds"
        base = page_path
        status, page, _ = await member.get(page_path)
        assert status == 200 and "Fonds territorial — Maillage Diois" in page and "Aucun mouvement" in page
        assert "0,00" in page and "✓ équilibré" in page and "déséquilibré" not in page

        # A reader sees the fund but cannot contribute.
        status, page, _ = await reader.get(page_path)
        assert status == 200 and 'action="' + base + '/contribute"' not in page and "lecture seule" in page
        status, _, _ = await reader.post(
            f"{base}/contribute", {"csrf_token": csrf_of(page), "amount": "100", "method": "transfer"}
        )
        assert status == 403

        # The Club promises 1 250,50 €; the secretariat confirms the money arrived: it enters the ledger.
        status, body, _ = await post_form(
            member, page_path, f"{base}/contribute", amount="1 250,50", method="transfer", reference="VIR-CLUB-7"
        )
        assert status == 303, body[:3000]
        await until(lambda: "c1" in fund_of(state_of(house, federation)).contributions)
        status, page, _ = await treasurer.get(page_path)
        row = re.search(r'<th scope="row">c1</th>(.*?)</tr>', page, re.S)
        assert row and "promise" in row.group(1) and "VIR-CLUB-7" in row.group(1)
        status, body, _ = await post_form(
            treasurer,
            page_path,
            f"{base}/receive-contribution",
            contribution="c1",
            amount="1250,50",
            reference="relevé 03",
        )
        assert status == 303, body[:3000]
        status, page, _ = await treasurer.get(page_path)
        assert "1 250,50 €" in plain(page) and "contribution reçue" in page and "Club sportif" in page

        # Criteria by decision, then a call opened from the page; the Club applies through the form.
        await decided(
            club,
            house,
            federation,
            "fund_criteria",
            {
                "criteria": [{"id": "impact", "title": "Impact sur le territoire", "weight": 3}],
                "eligibility": "Associations membres",
            },
        )
        status, body, _ = await post_form(
            treasurer,
            page_path,
            f"{base}/open-call",
            title="Mobilité partagée",
            budget="1 000",
            deadline=in_days(10),
            description="",
        )
        assert status == 303, body[:3000]
        await until(lambda: "mobilite-partagee" in fund_of(state_of(club, federation)).calls)
        status, body, _ = await post_form(
            member,
            page_path,
            f"{base}/apply",
            call="mobilite-partagee",
            title="Vélo cargo partagé",
            project="Un vélo pour trois associations",
            amount="900",
        )
        assert status == 303, body[:3000]
        status, body, _ = await post_form(treasurer, page_path, f"{base}/close-call", call="mobilite-partagee")
        assert status == 303, body[:3000]

        # The allocation is proposed from its form (one amount per application), and adopted by consent.
        form = f"/federations/{federation}/propositions/nouvelle?nature=fund_allocation&appel=mobilite-partagee"
        await until(lambda: "mobilite-partagee/1" in fund_of(state_of(club, federation)).applications)
        status, body, resp = await post_form(
            member,
            form,
            f"/federations/{federation}/propositions",
            kind="fund_allocation",
            call="mobilite-partagee",
            title="Attribution mobilité",
            text="800 € pour le vélo cargo",
            **{"grant_mobilite-partagee/1": "800", "score_mobilite-partagee/1": "14"},
        )
        assert status == 303, body[:3000]
        proposal = resp.headers["Location"].rsplit("/", 1)[1]
        record = F.proposals_of(state_of(house, federation))[proposal]
        await asyncio.sleep(max(0, record.window.closes - now_ms()) / 1000 + 0.1)
        await until(lambda: F.proposals_of(state_of(house, federation))[proposal].status == "adopted", timeout=20)
        status, page, _ = await treasurer.get(page_path)
        assert "450,50 €" in plain(page)  # available: 1 250,50 less the 800 granted

        # Paying more than granted is refused and explained; nothing changes.
        before = chain_length(house, federation)
        status, page, _ = await post_form(
            treasurer,
            page_path,
            f"{base}/distribute",
            application="mobilite-partagee/1",
            amount="800,01",
            reference="VIR-FDS-1",
        )
        assert status == 409 and 'role="alert"' in page
        assert "Un versement ne peut pas dépasser l'attribution décidée" in plain(page)
        assert chain_length(house, federation) == before
        status, body, _ = await post_form(
            treasurer,
            page_path,
            f"{base}/distribute",
            application="mobilite-partagee/1",
            amount="800",
            reference="VIR-FDS-1",
        )
        assert status == 303, body[:3000]

        # The Club confirms the money arrived; every movement is in the balanced ledger on both nodes.
        await until(lambda: "d1" in fund_of(state_of(club, federation)).distributions)
        status, body, _ = await post_form(member, page_path, f"{base}/received", distribution="d1")
        assert status == 303, body[:3000]
        await until(lambda: chain_length(club, federation) == chain_length(house, federation))
        status, page, _ = await member.get(page_path)
        paid = re.search(r'<th scope="row">d1</th>(.*?)</tr>', page, re.S)
        assert paid and "confirmée le" in paid.group(1) and "attribution décidée" in page
        for node in (house, club):
            check_balanced(fund_of(state_of(node, federation)))

        # A public grant without authorisation, large enough to cross 10 000 €: both alerts show.
        status, body, _ = await post_form(
            treasurer,
            page_path,
            f"{base}/external",
            funder="Département de la Drôme",
            amount="20 000",
            reference="Convention 2026-14",
            public="1",
            authorisation="",
            country="",
        )
        assert status == 303, body[:3000]
        status, page, _ = await treasurer.get(page_path)
        assert "Ressources de l'exercice supérieures à 10 000 €" in plain(page)
        assert "Fonds publics reçus sans référence d'autorisation" in plain(page)
        status, page, _ = await treasurer.get(page_path + "?lang=en")
        assert status == 200 and "Resources of the year above €10,000" in plain(page) and "Ledger" in page
