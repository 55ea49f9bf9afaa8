"""Federations across real nodes on 127.0.0.1: founding, adhesion, consent and ballots, the same outcomes everywhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from node import convened
from node.agreements import act
from node.app import RunningNode
from node.clock import now_ms
from protocol import Conflict, Forbidden, open_envelope
from protocol.agreements import federation as F
from protocol.agreements import replay
from protocol.envelope import stored_envelope
from storage import agreements as stored
from storage import memberships, session
from storage.models import OutboxEntry

from .harness import introduce, local_api, make_home, running
from .test_cli import json_lines, maillage, ok

CONSENT = {"method": "consent", "questions_ms": 1_500, "objections_ms": 3_000, "review_months": 12}
BALLOT = {"method": "ballot", "voting_ms": 2_500, "quorum_percent": 50, "majority_percent": 50, "weighted": True}
NAMES = ("Maison des associations", "Club sportif", "Banque alimentaire", "Jardin partagé")


@asynccontextmanager
async def four_nodes(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(running(make_home(tmp_path, name))) for name in NAMES]
        for node in nodes:
            introduce(node, *(other for other in nodes if other is not node))
        yield nodes


@asynccontextmanager
async def apis(nodes: list[RunningNode]) -> AsyncIterator[list[Any]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(local_api(node)) for node in nodes]


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def sleep_until(ms: int) -> None:
    await asyncio.sleep(max(0, ms - now_ms()) / 1000 + 0.05)


def charter(nodes: list[RunningNode]) -> dict[str, Any]:
    secretariat, club, food = (n.node.node_id for n in nodes[:3])
    return {
        "name": "Fédération du Pays de Rance",
        "territory": "Pays de Rance",
        "purpose": "Mutualiser le matériel, les locaux et les compétences des associations du territoire",
        "colleges": [
            {"id": "salaries", "title": "Salariés", "weight_percent": 40},
            {"id": "benevoles", "title": "Bénévoles", "weight_percent": 30},
            {"id": "beneficiaires", "title": "Bénéficiaires", "weight_percent": 30},
        ],
        "founders": {secretariat: "salaries", club: "benevoles", food: "beneficiaires"},
        "rules": {"admit": CONSENT, "remove": CONSENT, "amend_charter": CONSENT, "general": BALLOT},
    }


async def federation_at(api: Any, federation: str) -> dict[str, Any] | None:
    status, found = await api("GET", f"/federations/{federation}")
    return found if status == 200 else None


async def proposal_at(api: Any, federation: str, proposal: str) -> dict[str, Any] | None:
    status, found = await api("GET", f"/proposals/{federation}/{proposal}")
    return found if status == 200 else None


async def found_and_adhere(nodes: list[RunningNode], api: list[Any]) -> str:
    """The secretariat founds the federation of the first three nodes; each adheres; it is active everywhere."""
    status, founded = await api[0]("POST", "/federations", json=charter(nodes))
    assert status == 201 and founded["state"] == "forming", founded
    federation = founded["id"]
    for member in api[1:3]:
        await until(lambda member=member: federation_at(member, federation))
        _, seen = await member("GET", f"/federations/{federation}")
        assert seen["our_role"] == "invited" and seen["charter_digest"] == founded["charter_digest"]
    for member in api[:3]:
        status, adhered = await member("POST", f"/federations/{federation}/adhere")
        assert status == 200, adhered
    for member in api[:3]:
        await until(lambda member=member: _field(member, federation, "state", "active"))
    return federation


async def _field(api: Any, federation: str, name: str, expected: Any) -> bool:
    found = await federation_at(api, federation)
    return found is not None and found[name] == expected


async def _status(api: Any, federation: str, proposal: str, expected: str) -> bool:
    found = await proposal_at(api, federation, proposal)
    return found is not None and found["status"] == expected


def chain_of(node: RunningNode, federation: str) -> list[bytes]:
    with session(node.node.engine) as s:
        return stored.chain(s, bytes.fromhex(federation))


def outcomes(node: RunningNode, federation: str) -> dict[str, tuple[Any, ...]]:
    """Each proposal's outcome as this node computes it, replaying its own copy of the chain from scratch."""
    state = replay([open_envelope(raw) for raw in chain_of(node, federation)])
    return {p.id: (p.status, p.version, p.review_at, p.applied) for p in F.proposals_of(state).values()}


def members_table(node: RunningNode, federation: str) -> frozenset[str]:
    with session(node.node.engine) as s:
        return memberships.members_of(s, federation)


async def test_a_federation_of_three_admits_a_fourth_by_consent_after_an_objection_and_an_amendment(
    tmp_path: Path,
) -> None:
    async with four_nodes(tmp_path) as nodes, apis(nodes) as api:
        _, club, food, garden = api
        ids = [n.node.node_id for n in nodes]
        federation = await found_and_adhere(nodes, api)
        for node in nodes[:3]:
            assert members_table(node, federation) == frozenset(ids[:3])

        # The club proposes to admit the community garden.
        status, proposed = await club("POST", f"/federations/{federation}/proposals", json={
            "id": "jardin", "kind": "admit", "title": "Admettre le jardin partagé",
            "text": "Le jardin partagé rejoint la fédération, au collège des bénévoles.",
            "payload": {"node": ids[3], "college": "benevoles"}})
        assert status == 201 and proposed["phase"] == "questions", proposed
        # Clarifying questions first: an objection now is refused.
        status, asked = await food("POST", f"/proposals/{federation}/jardin/ask", json={"text": "Où le matériel sera-t-il rangé ?"})
        assert status == 200 and asked["questions"][0]["text"] == "Où le matériel sera-t-il rangé ?", asked
        status, early = await food("POST", f"/proposals/{federation}/jardin/object",
                                   json={"reason": "Pas de local", "aim": "Le matériel commun"})
        assert status == 409 and early["code"] == "not-allowed", early
        status, answered = await club("POST", f"/proposals/{federation}/jardin/answer",
                                      json={"question": 1, "text": "Dans la cabane du jardin."})
        assert status == 200 and answered["questions"][0]["answer"] == "Dans la cabane du jardin."

        # The objection round: the food bank objects, with its reason and the aim it protects.
        await sleep_until(proposed["window"]["questions_until"])
        status, blank = await food("POST", f"/proposals/{federation}/jardin/object", json={"reason": " ", "aim": "x"})
        assert status == 400 and blank["code"] == "invalid"
        status, objected = await food("POST", f"/proposals/{federation}/jardin/object", json={
            "reason": "La cabane n'est pas fermée : le matériel prêté n'y serait pas à l'abri",
            "aim": "Prendre soin du matériel commun"})
        assert status == 200 and objected["tally"] == {"method": "consent", "outcome": "rejected", "open_objections": [1]}

        # The club integrates the objection: the round restarts from the amendment.
        status, amended = await club("POST", f"/proposals/{federation}/jardin/amend", json={
            "text": "Le jardin partagé rejoint la fédération ; le matériel emprunté est rangé au local du club."})
        assert status == 200 and amended["version"] == 2 and amended["phase"] == "questions", amended
        assert [o["status"] for o in amended["objections"]] == ["integrated"]
        assert amended["window"]["opens"] > proposed["window"]["opens"]

        # No objection stands when the new window closes: the secretariat's node closes it, adopted.
        for member in api[:3]:
            await until(lambda member=member: _status(member, federation, "jardin", "adopted"))
        _, adopted = await food("GET", f"/proposals/{federation}/jardin")
        assert adopted["applied"] is True and adopted["review_at"] > adopted["window"]["closes"]

        # The garden receives the whole chain, invited; it is a member once it adheres itself.
        await until(lambda: _field(garden, federation, "our_role", "invited"))
        assert members_table(nodes[3], federation) == frozenset(ids[:3])
        status, joined = await garden("POST", f"/federations/{federation}/adhere")
        assert status == 200 and joined["our_role"] == "member", joined
        for node, member in zip(nodes, api, strict=True):
            await until(lambda member=member: _field(member, federation, "members", 4))
            assert members_table(node, federation) == frozenset(ids)

        # Every node holds the same chain and computes the same outcomes from it.
        await until(lambda: _same_length(nodes, federation))
        assert all(chain_of(node, federation) == chain_of(nodes[0], federation) for node in nodes)
        assert {tuple(outcomes(node, federation).items()) for node in nodes} == {
            (("jardin", ("adopted", 2, adopted["review_at"], True)),)}


async def _same_length(nodes: list[RunningNode], federation: str) -> bool:
    return len({len(chain_of(node, federation)) for node in nodes}) == 1


async def test_weighted_ballots_a_missed_quorum_and_refused_ballots_give_one_outcome_on_every_node(
    tmp_path: Path,
) -> None:
    async with four_nodes(tmp_path) as nodes, apis(nodes) as api:
        secretariat, club, food, _ = api
        ids = [n.node.node_id for n in nodes]
        federation = await found_and_adhere(nodes, api)
        fid = bytes.fromhex(federation)

        for proposal, title in (("velo", "Acheter un vélo cargo commun"), ("fete", "Une fête du territoire")):
            status, made = await club("POST", f"/federations/{federation}/proposals",
                                      json={"id": proposal, "kind": "general", "title": title, "text": title + "."})
            assert status == 201 and made["method"] == "ballot" and made["phase"] == "voting", made
        # velo: the secretariat (salaried college, 40 %) for, the club (volunteers, 30 %) against, the food bank
        # silent. One member one vote: 1 for, 1 against, a tie that fails. Weighted: the silent college's weight
        # goes to the others, 40 / (40 + 30) = 4/7 for: adopted.
        assert (await secretariat("POST", f"/proposals/{federation}/velo/vote", json={"choice": "for"}))[0] == 200
        status, voted = await club("POST", f"/proposals/{federation}/velo/vote", json={"choice": "against"})
        assert status == 200 and voted["tally"]["share"] == {"fraction": "4/7", "percent": "57.14"}, voted["tally"]
        # A second ballot from the same member is refused.
        status, again = await club("POST", f"/proposals/{federation}/velo/vote", json={"choice": "for"})
        assert status == 409 and again["code"] == "conflict", again
        # A ballot from a node that is not a member, signed and sent to the secretariat, is refused there.
        with pytest.raises(Forbidden):
            await convened.say(nodes[3].node, fid, F.KIND, ids[0], "vote", {"proposal": "velo", "choice": "for"})
        # Only the secretariat closes, and only once the window ended.
        status, early = await secretariat("POST", f"/proposals/{federation}/velo/close-now")
        assert status == 409 and early["code"] == "not-allowed", early
        status, not_ours = await club("POST", f"/proposals/{federation}/velo/close-now")
        assert status == 403 and not_ours["code"] == "forbidden", not_ours
        # fete: one vote of three, below the 50 % quorum.
        assert (await club("POST", f"/proposals/{federation}/fete/vote", json={"choice": "for"}))[0] == 200

        # Once the window ended, an outcome that contradicts the signed ballots is refused by the secretariat's
        # own machine and nothing changes (its closing loop waits on the lock we hold meanwhile).
        secretariat_node = nodes[0].node
        async with secretariat_node.agreement_lock:
            await sleep_until(voted["window"]["closes"])
            before = chain_of(nodes[0], federation)
            for proposal, contradiction in (("fete", "adopted"), ("velo", "rejected")):
                with pytest.raises(Conflict):
                    await secretariat_node.run(act, secretariat_node, fid, "close",
                                               {"proposal": proposal, "outcome": contradiction}, now_ms())
            assert chain_of(nodes[0], federation) == before
        for member in api[:3]:
            await until(lambda member=member: _status(member, federation, "velo", "adopted"))
            await until(lambda member=member: _status(member, federation, "fete", "rejected"))
        _, missed = await food("GET", f"/proposals/{federation}/fete")
        assert missed["tally"]["quorum_reached"] is False and missed["tally"]["participation"]["fraction"] == "1/3"

        await until(lambda: _same_length(nodes[:3], federation))
        computed = [outcomes(node, federation) for node in nodes[:3]]
        assert computed[0] == computed[1] == computed[2]
        assert {k: v[0] for k, v in computed[0].items()} == {"velo": "adopted", "fete": "rejected"}
        # The outsider holds nothing of the federation and is in no membership table.
        assert chain_of(nodes[3], federation) == []
        assert all(ids[3] not in members_table(node, federation) for node in nodes[:3])
        # Lists on every member say the same.
        for member in api[:3]:
            _, listed = await member("GET", "/proposals", params={"federation": federation})
            assert {p["id"]: p["status"] for p in listed["proposals"]} == {"velo": "adopted", "fete": "rejected"}


async def test_the_cli_founds_adheres_proposes_votes_and_shows_the_outcome(tmp_path: Path) -> None:
    async with four_nodes(tmp_path) as nodes:
        homes = [str(node.config.home) for node in nodes]
        ids = [node.node.node_id for node in nodes]

        async def run(*args: str) -> str:
            return await asyncio.to_thread(ok, *args)

        rules = json.dumps({"general": {"method": "ballot", "voting_ms": "12s", "quorum_percent": 50,
                                        "majority_percent": 50, "weighted": True}})
        founded = json_lines(await run(
            "federation", "found", "--home", homes[0], "--json", "--name", "Fédération du Pays de Rance",
            "--territory", "Pays de Rance", "--purpose", "Mutualiser entre associations",
            "--college", "salaries:Salariés:40", "--college", "benevoles:Bénévoles:30",
            "--college", "beneficiaires:Bénéficiaires:30", "--self-college", "salaries",
            "--member", f"{ids[1]}=benevoles", "--member", f"{ids[2]}=beneficiaires", "--rules", rules))[0]
        federation = founded["id"]
        assert founded["charter"]["rules"]["admit"]["objections_ms"] == 7 * 86_400_000  # the defaults
        assert founded["charter"]["rules"]["general"]["voting_ms"] == 12_000
        async with local_api(nodes[2]) as food:
            await until(lambda: federation_at(food, federation))
        for home in homes[:3]:
            assert "Adhésion enregistrée" in await run("federation", "adhere", "--home", home, federation[:8])
        shown = await run("federation", "show", "--home", homes[1], federation[:8])
        assert "Bénévoles [benevoles] — 30 % des voix" in shown and "— active" in shown, shown

        made = await run("proposal", "make", "--home", homes[1], federation[:8], "--kind", "general", "--id", "velo",
                         "--title", "Acheter un vélo cargo", "--text", "La fédération achète un vélo cargo.")
        assert "Proposition « velo » faite : vote en cours" in made, made
        await run("proposal", "vote", "--home", homes[0], federation[:8], "velo", "pour")
        await run("proposal", "vote", "--home", homes[1], federation[:8], "velo", "contre")
        again = await asyncio.to_thread(maillage, "proposal", "vote", "--home", homes[1], federation[:8], "velo", "pour")
        assert again.returncode == 1 and "conflict" in again.stderr, again.stderr
        shown = await run("proposal", "show", "--home", homes[2], federation[:8], "velo")
        assert "Résultat : 57.14 % pour" in shown and "collège beneficiaires (poids 30.00 %)" in shown, shown

        async with local_api(nodes[1]) as club:
            await until(lambda: _status(club, federation, "velo", "adopted"), timeout=30)
        listed = json_lines(await run("proposal", "list", "--home", homes[1], "--json", "--status", "adopted"))
        assert [(p["id"], p["tally"]["share"]["fraction"]) for p in listed] == [("velo", "4/7")]


async def test_a_removed_member_receives_its_removal_and_stops_counting_itself_in(tmp_path: Path) -> None:
    async with four_nodes(tmp_path) as nodes, apis(nodes) as api:
        _, club, food, _ = api
        ids = [n.node.node_id for n in nodes]
        federation = await found_and_adhere(nodes, api)
        status, proposed = await club("POST", f"/federations/{federation}/proposals", json={
            "id": "retrait", "kind": "remove", "title": "Retirer la banque alimentaire",
            "text": "La banque alimentaire a quitté le territoire.", "payload": {"node": ids[2]}})
        assert status == 201, proposed
        for member in api[:2]:
            await until(lambda member=member: _status(member, federation, "retrait", "adopted"))
        # The removed node got the event that removes it: its chain is the others', up to date,
        # and its own table no longer counts it in (so it stores no new federation record).
        await until(lambda: _same_length(nodes[:3], federation))
        assert chain_of(nodes[2], federation) == chain_of(nodes[0], federation)
        assert outcomes(nodes[2], federation)["retrait"][0] == "adopted"
        for node in nodes[:3]:
            assert members_table(node, federation) == frozenset(ids[:2])
        with session(nodes[2].node.engine) as s:
            assert stored.get(s, bytes.fromhex(federation)).our_role == "former"
        # Nothing more is sent to it.
        status, _ = await club("POST", f"/federations/{federation}/proposals", json={
            "id": "suite", "kind": "general", "title": "Suite", "text": "Une décision ordinaire"})
        assert status == 201
        await until(lambda: _holds_proposal(nodes[1], federation, "suite"))
        assert len(chain_of(nodes[2], federation)) < len(chain_of(nodes[1], federation))
        with session(nodes[0].node.engine) as s:  # the secretariat queued nothing for it after its removal
            queued = set(s.scalars(select(OutboxEntry.message_id).where(OutboxEntry.peer == ids[2])))
        assert not queued - {stored_envelope(raw).message_id for raw in chain_of(nodes[2], federation)}
        _, seen = await food("GET", f"/federations/{federation}")
        assert seen["state"] == "active" and seen["members"] == 2  # its own copy, as it ends for it


async def _holds_proposal(node: RunningNode, federation: str, proposal: str) -> bool:
    return proposal in outcomes(node, federation)
