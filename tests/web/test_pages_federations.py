"""Federation pages between real nodes: founding from the form, adhering, proposing, objecting, amending and voting."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from node import federations
from node.app import RunningNode
from node.clock import now_ms
from protocol.agreements import federation as F
from storage import agreements as stored
from storage import session

from ..node.harness import introduce, make_home, running
from .conftest import add_accounts
from .test_pages_campaigns import plain, post_form, until
from .test_pages_search import csrf_of, signed_in

CONSENT = {"method": "consent", "questions_ms": 0, "objections_ms": 2_500, "review_months": 12}
WITH_QUESTIONS = {"method": "consent", "questions_ms": 3_000, "objections_ms": 5_000, "review_months": 6}
BALLOT = {"method": "ballot", "voting_ms": 2_500, "quorum_percent": 50, "majority_percent": 50, "weighted": True}
NAMES = ("Maison des associations", "Club sportif", "Banque alimentaire")


@asynccontextmanager
async def three(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    """Three associations with web accounts, each knowing the others (and their names)."""
    async with AsyncExitStack() as stack:
        nodes = []
        for name in NAMES:
            home = make_home(tmp_path, name)
            add_accounts(home.database_url)
            nodes.append(await stack.enter_async_context(running(home)))
        for node in nodes:
            introduce(node, *(other for other in nodes if other is not node))
        for node in nodes:
            await node.node.sync_round()
        yield nodes


def chain_length(node: RunningNode, federation: str) -> int:
    with session(node.node.engine) as s:
        return len(stored.chain(s, bytes.fromhex(federation)))


def state_of(node: RunningNode, federation: str) -> Any:
    return federations.load(node.node, bytes.fromhex(federation))


async def founded(nodes: list[RunningNode]) -> str:
    """The Maison founds a federation of the three (weighted colleges, short windows); all adhere."""
    house, club, food = nodes
    charter = {
        "name": "Fédération du Pays de Rance",
        "territory": "Pays de Rance",
        "purpose": "Mutualiser le matériel et les compétences des associations du territoire",
        "colleges": [
            {"id": "salaries", "title": "Salariés", "weight_percent": 50},
            {"id": "benevoles", "title": "Bénévoles", "weight_percent": 30},
            {"id": "beneficiaires", "title": "Bénéficiaires", "weight_percent": 20},
        ],
        "founders": {
            house.node.node_id: "salaries",
            club.node.node_id: "benevoles",
            food.node.node_id: "beneficiaires",
        },
        "rules": {"admit": CONSENT, "remove": WITH_QUESTIONS, "amend_charter": CONSENT, "general": BALLOT},
    }
    progress = await federations.found(house.node, charter)
    federation = progress.state.id.hex()
    for node in nodes:
        await until(lambda node=node: chain_length(node, federation) >= 1)
        await federations.adhere(node.node, progress.state.id)
    await until(lambda: all(state_of(n, federation).name == "active" for n in nodes))
    return federation


async def test_an_administrator_founds_a_federation_from_the_form_and_the_founders_adhere(tmp_path: Path) -> None:
    async with (
        three(tmp_path) as (house, club, _food),
        signed_in(house, "admin") as admin,
        signed_in(house, "marie") as member,
        signed_in(club, "admin") as club_admin,
        signed_in(club, "marie") as club_member,
    ):
        status, _, _ = await member.get("/federations/nouvelle")
        assert status == 403  # founding commits the association: administrators only
        status, page, _ = await admin.get("/federations")
        assert status == 200 and "Fonder une fédération" in page

        status, body, resp = await post_form(
            admin,
            "/federations/nouvelle",
            "/federations/nouvelle",
            name="Fédération du Pays de Rance",
            territory="Pays de Rance",
            purpose="Mutualiser le matériel du territoire",
            college_title_0="Salariés",
            college_weight_0="60",
            college_title_1="Bénévoles",
            college_weight_1="40",
            founder_us="0",
            **{f"founder_{club.node.node_id}": "1"},
            questions_days="3",
            objections_days="7",
            review_months="12",
            voting_days="14",
            quorum="50",
            majority="50",
            fund="1",
        )
        assert status == 303, body[:3000]
        path = resp.headers["Location"]
        federation = path.rsplit("/", 1)[1]
        assert re.fullmatch(r"/federations/[0-9a-f]{32}", path)
        status, page, _ = await admin.get(path)
        assert status == 200 and "Fédération du Pays de Rance" in page and "en formation" in page
        assert "Salariés" in page and "60 %" in page and "Signatures vérifiées" in page
        assert "consentement : questions pendant 3 jours, puis objections pendant 7 jours" in page

        # The Club is invited: its home page says so; a member sees the charter but only an admin adheres.
        await until(lambda: chain_length(club, federation) >= 1)
        status, home, _ = await club_member.get("/")
        assert "notre association est invitée à adhérer" in home and f"/federations/{federation}" in home
        status, page, _ = await club_member.get(path)
        assert "Notre association est invitée à adhérer" in page and "Un administrateur" in page
        assert 'action="/federations/' + federation + '/adherer"' not in page
        status, _, _ = await club_member.post(f"{path}/adherer", {"csrf_token": csrf_of(page)})
        assert status == 403
        for browser in (club_admin, admin):
            status, body, _ = await post_form(browser, path, f"{path}/adherer")
            assert status == 303, body[:3000]
        await until(lambda: state_of(house, federation).name == "active")
        await until(lambda: state_of(club, federation).name == "active")
        status, page, _ = await club_admin.get(path)
        assert "active" in page and "membre" in page and "Club sportif" in page
        status, page, _ = await club_admin.get(path + "?lang=en")
        assert status == 200 and "Members by college" in page and "Charter" in page
        status, page, _ = await club_admin.get("/federations?lang=fr")
        assert "Fédération du Pays de Rance" in page and "Pays de Rance" in page


async def test_a_vote_through_the_form_is_counted_with_the_college_weights(tmp_path: Path) -> None:
    async with (
        three(tmp_path) as nodes,
        signed_in(nodes[1], "marie") as club,
        signed_in(nodes[2], "marie") as food,
        signed_in(nodes[0], "lucien") as reader,
        signed_in(nodes[0], "marie") as house,
    ):
        federation = await founded(nodes)
        base = f"/federations/{federation}"
        status, page, _ = await club.get(f"{base}/propositions/nouvelle?nature=general")
        assert status == 200 and "Cette décision se prend par vote pendant 3 secondes, quorum 50 %" in page
        status, body, resp = await post_form(
            club,
            f"{base}/propositions/nouvelle?nature=general",
            f"{base}/propositions",
            kind="general",
            title="Achat groupé de gilets",
            text="Commander 40 gilets pour les sorties",
        )
        assert status == 303, body[:3000]
        proposal_path = resp.headers["Location"]
        assert proposal_path.startswith(f"{base}/propositions/")
        proposal = proposal_path.rsplit("/", 1)[1]
        status, page, _ = await club.get(proposal_path)
        assert status == 200 and "Achat groupé de gilets" in page and "vote en cours" in page

        # The others see it waiting for their vote on their home page.
        await until(lambda: proposal in F.proposals_of(state_of(nodes[2], federation)))
        status, home, _ = await food.get("/")
        assert "Achat groupé de gilets" in home and "à voter" in home

        # A reader cannot vote; a form without its token changes nothing.
        status, page, _ = await reader.get(proposal_path)
        assert status == 200 and 'action="' + proposal_path + '/vote"' not in page and "lecture seule" in page
        status, _, _ = await reader.post(f"{proposal_path}/vote", {"csrf_token": csrf_of(page), "choice": "against"})
        assert status == 403
        status, _, _ = await house.post(f"{proposal_path}/vote", {"choice": "against"})
        assert status == 403
        record = F.proposals_of(state_of(nodes[0], federation))[proposal]
        assert dict(record.ballots) == {}

        # The Banque votes for through the form: counted, with its college's weight.
        status, body, _ = await post_form(food, proposal_path, f"{proposal_path}/vote", choice="for")
        assert status == 303, body[:3000]
        status, page, _ = await food.get(proposal_path)
        assert "Notre association a voté : pour." in page and "1 : 1 pour, 0 contre, 0 abstention(s)" in page
        assert "Bénéficiaires" in page and "20 %" in page
        assert 'action="' + proposal_path + '/vote"' not in page
        status, page, _ = await food.post(f"{proposal_path}/vote", {"csrf_token": csrf_of(page), "choice": "against"})
        assert status == 409 and "Notre association a déjà voté" in page
        record = F.proposals_of(state_of(nodes[0], federation))[proposal]
        assert dict(record.ballots) == {nodes[2].node.node_id: "for"}

        # The Club votes against; at the window's end the secretariat closes it: 20 % for against 30 %.
        status, body, _ = await post_form(club, proposal_path, f"{proposal_path}/vote", choice="against")
        assert status == 303, body[:3000]
        await until(lambda: F.proposals_of(state_of(nodes[1], federation))[proposal].status != "open", timeout=20)
        status, page, _ = await club.get(proposal_path)
        assert "Rejetée le" in page and "Résultat : rejetée" in page
        assert "66,67 %" in plain(page) and "40 %" in plain(page)  # participation, then the weighted share
        status, page, _ = await club.get(proposal_path + "?lang=en")
        assert status == 200 and "Rejected on" in page and "Count" in page


async def test_an_objection_blocks_until_the_proposal_is_amended_then_it_is_adopted(tmp_path: Path) -> None:
    async with (
        three(tmp_path) as nodes,
        signed_in(nodes[1], "marie") as club,
        signed_in(nodes[2], "marie") as food,
        signed_in(nodes[0], "marie") as house,
    ):
        federation = await founded(nodes)
        base = f"/federations/{federation}"
        form = f"{base}/propositions/nouvelle?nature=amend_charter"
        status, page, _ = await club.get(form)
        assert status == 200 and 'value="Fédération du Pays de Rance"' in page
        status, body, resp = await post_form(
            club,
            form,
            f"{base}/propositions",
            kind="amend_charter",
            title="Nouveau nom",
            text="La fédération s'étend à la vallée",
            charter_name="Fédération Rance et vallée",
            charter_territory="Pays de Rance",
            charter_purpose=("Mutualiser le matériel et les compétences des associations du territoire"),
        )
        assert status == 303, body[:3000]
        proposal_path = resp.headers["Location"]
        proposal = proposal_path.rsplit("/", 1)[1]
        await until(lambda: proposal in F.proposals_of(state_of(nodes[2], federation)))

        # An objection must give its reason: refused and explained, nothing recorded.
        status, page, _ = await post_form(
            food, proposal_path, f"{proposal_path}/object", reason=" ", aim="Le territoire"
        )
        assert status == 400 and "« Motif » est obligatoire." in page and 'role="alert"' in page
        assert F.proposals_of(state_of(nodes[0], federation))[proposal].objections == ()
        status, body, _ = await post_form(
            food,
            proposal_path,
            f"{proposal_path}/object",
            reason="La vallée n'a pas été consultée",
            aim="Décider avec les habitants",
        )
        assert status == 303, body[:3000]
        status, page, _ = await food.get(proposal_path)
        assert "La vallée n'a pas été consultée" in plain(page) and "ouverte : elle bloque" in page
        assert "1 objection ouverte bloque la proposition." in page
        assert "Retirer notre objection n° 1" in page

        # The proposer amends: the objection is integrated, a new round opens.
        await until(lambda: F.proposals_of(state_of(nodes[1], federation))[proposal].objections != ())
        status, body, _ = await post_form(
            club,
            proposal_path,
            f"{proposal_path}/amend",
            title="Nouveau nom",
            text="La fédération s'étend à la vallée, après une réunion publique",
        )
        assert status == 303, body[:3000]
        status, page, _ = await club.get(proposal_path)
        assert "intégrée par un amendement" in page and "version 2" in page and "Versions précédentes" in page

        # At the window's end the secretariat closes it (by hand here, or its loop first): adopted.
        record = F.proposals_of(state_of(nodes[0], federation))[proposal]
        await asyncio.sleep(max(0, record.window.closes - now_ms()) / 1000 + 0.1)
        status, page, _ = await house.get(proposal_path)
        if f'action="{proposal_path}/close"' in page:
            status, body, _ = await house.post(f"{proposal_path}/close", {"csrf_token": csrf_of(page)})
            assert status in (303, 409), body[:3000]
        await until(lambda: F.proposals_of(state_of(nodes[1], federation))[proposal].status == "adopted", timeout=20)
        status, page, _ = await club.get(proposal_path)
        assert "Adoptée le" in page and "À réviser le" in page
        status, page, _ = await club.get(base)
        assert "Fédération Rance et vallée" in page


async def test_questions_are_asked_and_answered_and_an_objection_is_withdrawn_from_the_forms(tmp_path: Path) -> None:
    async with three(tmp_path) as nodes, signed_in(nodes[1], "marie") as club, signed_in(nodes[2], "marie") as food:
        federation = await founded(nodes)
        base = f"/federations/{federation}"
        form = f"{base}/propositions/nouvelle?nature=remove"
        status, body, resp = await post_form(
            club,
            form,
            f"{base}/propositions",
            kind="remove",
            title="Retrait de la Banque",
            text="La Banque quitte le territoire",
            node=nodes[2].node.node_id,
        )
        assert status == 303, body[:3000]
        proposal_path = resp.headers["Location"]
        proposal = proposal_path.rsplit("/", 1)[1]
        await until(lambda: proposal in F.proposals_of(state_of(nodes[2], federation)))

        # Questions first: objecting now is refused and explained.
        status, page, _ = await food.get(proposal_path)
        assert "questions de clarification" in page and f'action="{proposal_path}/object"' not in page
        assert "Retirer Banque alimentaire de la fédération." in plain(page)
        status, page, _ = await food.post(
            f"{proposal_path}/object", {"csrf_token": csrf_of(page), "reason": "Trop tôt", "aim": "Le territoire"}
        )
        assert status == 409 and "Le tour d'objections s'ouvre après les questions de clarification." in plain(page)
        status, body, _ = await post_form(
            food, proposal_path, f"{proposal_path}/ask", text="Qui reprend nos collectes ?"
        )
        assert status == 303, body[:3000]
        await until(lambda: F.proposals_of(state_of(nodes[1], federation))[proposal].questions != ())
        status, home, _ = await club.get("/")
        assert "des questions attendent notre réponse" in home
        status, page, _ = await club.get(proposal_path)
        assert "Qui reprend nos collectes ?" in page and f'action="{proposal_path}/answer"' in page
        status, body, _ = await club.post(
            f"{proposal_path}/answer",
            {"csrf_token": csrf_of(page), "question": "1", "text": "Le Club, le samedi matin."},
        )
        assert status == 303, body[:3000]
        # The answer reaches the Banque's copy through the secretariat's outbox.
        await until(lambda: F.proposals_of(state_of(nodes[2], federation))[proposal].questions[0].answer is not None)
        status, page, _ = await food.get(proposal_path)
        assert "Le Club, le samedi matin." in page

        # In the objection round the Banque objects, then withdraws its objection.
        record = F.proposals_of(state_of(nodes[0], federation))[proposal]
        await asyncio.sleep(max(0, record.window.questions_until - now_ms()) / 1000 + 0.1)
        status, body, _ = await post_form(
            food,
            proposal_path,
            f"{proposal_path}/object",
            reason="Nos bénévoles n'ont pas été consultés",
            aim="Décider ensemble",
        )
        assert status == 303, body[:3000]
        status, page, _ = await food.get(proposal_path)
        assert "Résultat à cet instant : rejetée" in page
        status, body, _ = await post_form(food, proposal_path, f"{proposal_path}/withdraw_objection", objection="1")
        assert status == 303, body[:3000]
        status, page, _ = await food.get(proposal_path)
        assert "retirée" in page and "Résultat à cet instant : adoptée" in page
        status, page, _ = await food.get(proposal_path + "?lang=en")
        assert "Clarifying questions" in page and "withdrawn" in page and "Result at this moment: adopted" in page
