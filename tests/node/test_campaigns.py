"""Co-funding campaigns between three real nodes over HTTP: pledges, conclusion, payments, imports.

The cycling association organises; the food bank and the youth centre pledge. Deadlines are a
few seconds ahead so each test reaches its conclusion quickly; every node that holds the chain
must compute the same tally from the signed pledges.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from node.app import RunningNode
from node.campaigns import aggregate_export
from node.cli import build_parser
from node.cli_campaign import campaign_terms, pledge_body
from node.clock import now_ms
from node.config import ConfigError
from protocol import open_envelope
from protocol.agreements import replay
from protocol.agreements.campaign import tally
from storage import agreements as stored
from storage import memberships, session

from .harness import introduce, local_api, make_home, running

EUR = "EUR"
PARIS = ZoneInfo("Europe/Paris")
FEDERATION = "0f" * 16
BIKE_SHOP = "ld7dbxscmmbyboozvabi3z6cvz6s2byznp7k2tt7pbobm52vgjtq"


def terms(deadline: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Vélo cargo partagé",
        "purpose": "Un vélo cargo électrique partagé entre trois associations du quartier",
        "beneficiaries": [{"name": "Atelier vélo solidaire"}],
        "currency": EUR,
        "target": 500_000,
        "minimum": 350_000,
        "deadline": deadline,
        "mode": "all_or_nothing",
        "lines": [
            {"id": "velo", "title": "Vélo cargo", "min": 350_000, "max": 350_000},
            {"id": "remorque", "title": "Remorque", "min": 0, "max": 90_000},
            {"id": "entretien", "title": "Entretien", "min": 0, "max": 60_000},
        ],
        "stretch_goals": [{"amount": 600_000, "title": "Deuxième batterie"}],
        "eligibility": {"scope": "public"},
    }
    base.update(changes)
    return base


@asynccontextmanager
async def three(tmp_path: Path) -> AsyncIterator[tuple[RunningNode, RunningNode, RunningNode]]:
    async with running(make_home(tmp_path, "Atelier vélo")) as bikes, running(make_home(tmp_path, "Banque alimentaire")) as food, \
            running(make_home(tmp_path, "Maison des jeunes")) as youth:
        introduce(bikes, food, youth)
        introduce(food, bikes, youth)
        introduce(youth, bikes, food)
        yield bikes, food, youth


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def chain_of(node: RunningNode, campaign: str) -> list[bytes]:
    with session(node.node.engine) as s:
        return stored.chain(s, bytes.fromhex(campaign))


async def show(api: Any, campaign: str) -> dict[str, Any] | None:
    status, found = await api("GET", f"/campaigns/{campaign}")
    return found if status == 200 else None


async def same_everywhere(nodes: list[RunningNode], campaign: str, state: str) -> dict[str, Any]:
    """Wait until every node holds the organiser's whole chain in ``state``; their tallies are then equal."""

    async def converged() -> bool:
        chains = [chain_of(n, campaign) for n in nodes]
        return bool(chains[0]) and all(c == chains[0] for c in chains) and \
            replay([open_envelope(raw) for raw in chains[0]]).name == state

    await until(converged)
    tallies = []
    for n in nodes:
        async with local_api(n) as api:
            tallies.append((await show(api, campaign))["tally"])
    assert all(t == tallies[0] for t in tallies)
    # Anyone holding the chain recomputes the same tally, verifying every embedded signature.
    assert tally(replay([open_envelope(raw) for raw in chain_of(nodes[0], campaign)])).total == tallies[0]["total"]
    return tallies[0]


async def test_a_campaign_reaches_its_target_across_three_nodes_and_every_node_computes_the_same_tally(tmp_path: Path) -> None:
    async with three(tmp_path) as (bikes, food, youth), local_api(bikes) as organiser, local_api(food) as bank, local_api(youth) as mjc:
        deadline = now_ms() + 4_000
        status, opened = await organiser("POST", "/campaigns", json=terms(deadline))
        assert status == 201 and opened["state"] == "open", opened
        campaign = opened["id"]
        # Each association pledges from its own node; the organiser pledges too.
        status, done = await organiser("POST", f"/campaigns/{campaign}/pledge", json={"type": "money", "value": 250_000})
        assert status == 200, done
        status, done = await bank("POST", f"/campaigns/{campaign}/pledge", json={
            "organiser": bikes.node.node_id, "type": "money", "value": 150_000})
        assert status == 200 and done["campaign"]["state"] == "open", done
        status, done = await mjc("POST", f"/campaigns/{campaign}/pledge", json={
            "organiser": bikes.node.node_id, "type": "work", "value": 60_000, "hours": 40, "line": "entretien",
            "description": "Entretien mensuel par les animateurs"})
        assert status == 200, done
        progress = await same_everywhere([bikes, food, youth], campaign, "open")
        assert (progress["counted"], progress["reached"], progress["target_reached"]) == (460_000, True, False)

        # Too early to conclude by hand; at the deadline the organiser's node concludes by itself.
        status, early = await organiser("POST", f"/campaigns/{campaign}/conclude", json={})
        assert (status, early["code"]) == (409, "not-allowed"), early
        final = await same_everywhere([bikes, food, youth], campaign, "succeeded")
        assert (final["total"], final["bound"], final["released"]) == (460_000, 460_000, 0)
        assert {c["status"] for c in final["contributions"]} == {"bound"}
        lines = {line["id"]: line["allocated"] for line in final["lines"]}
        # The earmarked work goes to maintenance; the rest fills the bike's minimum first, then the trailer.
        assert lines == {"velo": 350_000, "remorque": 50_000, "entretien": 60_000}


async def test_an_all_or_nothing_campaign_below_its_minimum_lapses_and_every_pledge_is_released(tmp_path: Path) -> None:
    async with three(tmp_path) as (bikes, food, youth), local_api(bikes) as organiser, local_api(food) as bank, local_api(youth) as mjc:
        deadline = now_ms() + 4_000
        # The youth centre co-organises: the campaign waits for its signature before taking pledges.
        status, opened = await organiser("POST", "/campaigns", json=terms(deadline, co_organisers=[youth.node.node_id]))
        assert status == 201 and opened["state"] == "draft", opened
        campaign = opened["id"]
        status, early = await bank("POST", f"/campaigns/{campaign}/pledge", json={
            "organiser": bikes.node.node_id, "type": "money", "value": 100_000})
        assert (status, early["code"]) == (409, "not-allowed"), early
        await until(lambda: _holds(youth, campaign))
        status, signed = await mjc("POST", f"/campaigns/{campaign}/cosign", json={})
        assert status == 200 and signed["campaign"]["state"] == "open", signed
        for api, pledge in ((bank, {"type": "money", "value": 100_000}),
                            (mjc, {"type": "equipment", "value": 20_000, "description": "Local vélo, 1 an"}),
                            (organiser, {"type": "money", "value": 150_000, "conditions": {"if_minimum": True}})):
            status, done = await api("POST", f"/campaigns/{campaign}/pledge", json={"organiser": bikes.node.node_id, **pledge})
            assert status == 200, done
        # The food bank raises its pledge, then the youth centre takes its own back.
        status, done = await bank("POST", f"/campaigns/{campaign}/amend", json={"type": "money", "value": 120_000})
        assert status == 200, done
        status, done = await mjc("POST", f"/campaigns/{campaign}/withdraw", json={"reason": "Local indisponible"})
        assert status == 200, done
        progress = await same_everywhere([bikes, food, youth], campaign, "open")
        assert (progress["pledged"], progress["counted"], progress["reached"]) == (270_000, 270_000, False)

        final = await same_everywhere([bikes, food, youth], campaign, "lapsed")
        assert (final["total"], final["bound"], final["released"]) == (0, 0, 270_000)
        assert {c["status"] for c in final["contributions"]} == {"released"}
        # Nothing can be paid on a lapsed campaign.
        status, refused = await bank("POST", f"/campaigns/{campaign}/paid", json={"amount": 1_000, "method": "transfer"})
        assert (status, refused["code"]) == (409, "not-allowed"), refused


async def _holds(node: RunningNode, campaign: str) -> bool:
    return bool(chain_of(node, campaign))


async def test_keep_it_all_pays_out_below_target_and_payments_are_paid_then_confirmed(tmp_path: Path) -> None:
    async with three(tmp_path) as (bikes, food, youth), local_api(bikes) as organiser, local_api(food) as bank, local_api(youth) as mjc:
        deadline = now_ms() + 4_000
        # The youth centre is the beneficiary: it will hold the bike and confirm the money it receives.
        status, opened = await organiser("POST", "/campaigns", json=terms(
            deadline, mode="keep_it_all", beneficiaries=[{"node": youth.node.node_id, "name": "Maison des jeunes"}]))
        assert status == 201, opened
        campaign = opened["id"]
        await until(lambda: _holds(youth, campaign))  # a beneficiary node holds the chain from the start
        for api, pledge in ((bank, {"type": "money", "value": 200_000, "conditions": {"cap_percent": 60}}),
                            (organiser, {"type": "money", "value": 100_000}),
                            (mjc, {"type": "money", "value": 40_000, "conditions": {"if_minimum": True}})):
            status, done = await api("POST", f"/campaigns/{campaign}/pledge", json={"organiser": bikes.node.node_id, **pledge})
            assert status == 200, done

        final = await same_everywhere([bikes, food, youth], campaign, "succeeded")
        # Below the minimum: the conditional pledge is released; the food bank's cap is 60 % of
        # the final total T = 100 000 + min(200 000, 60 % of T), so T = 250 000.
        assert (final["reached"], final["total"], final["bound"]) == (False, 250_000, 250_000)
        by_node = {c["key"]: c for c in final["contributions"]}
        assert (by_node[food.node.node_id]["payable"], by_node[food.node.node_id]["status"]) == (150_000, "bound")
        assert by_node[youth.node.node_id]["status"] == "released"

        # The food bank pays (outside Maillage) and says so; the beneficiary confirms.
        status, done = await bank("POST", f"/campaigns/{campaign}/paid", json={
            "amount": 150_000, "method": "transfer", "reference": "VIR-2025-031"})
        assert status == 200, done
        payment = done["campaign"]["payments"][0]["id"]
        status, refused = await bank("POST", f"/campaigns/{campaign}/paid", json={"amount": 1, "method": "transfer"})
        assert (status, refused["code"]) == (409, "not-allowed"), refused  # above what it owes
        status, refused = await bank("POST", f"/campaigns/{campaign}/received", json={"payment": payment, "amount": 150_000})
        assert (status, refused["code"]) == (409, "not-allowed"), refused  # a contributor does not confirm itself
        status, done = await mjc("POST", f"/campaigns/{campaign}/received", json={"payment": payment, "amount": 150_000})
        assert status == 200, done
        books = await same_everywhere([bikes, food, youth], campaign, "succeeded")
        assert (books["bound"], books["paid"], books["confirmed"], books["outstanding"]) == (250_000, 150_000, 150_000, 100_000)


def helloasso_export() -> bytes:
    """A back-office export as a French spreadsheet saves it (Windows-1252, ";"), dated last week."""
    day = [(datetime.now(PARIS) - timedelta(days=n)).strftime("%d/%m/%Y") for n in range(8)]
    return f"""\
Date;Montant;Pourboire;Statut du paiement;Type;Nom;Prénom;Email
{day[7]} 10:15;25,00;2,00;Autorisé;Don;Martin;Camille;camille.martin@example.org
{day[6]} 18:40;50,00;0,00;Autorisé;Don;Durand;Paul;paul.durand@example.org
{day[5]} 09:05;30,00;0,00;Refusé;Don;Petit;Léa;lea.petit@example.org
{day[5]} 12:00;3,00;;Autorisé;Pourboire;Martin;Camille;camille.martin@example.org
{day[4]} 08:30;100,00;5,00;Remboursé;Don;Roux;Jean;jean.roux@example.org
""".encode("cp1252")


async def test_a_crowdfunding_export_is_imported_as_one_aggregated_total_without_any_payer(tmp_path: Path) -> None:
    async with three(tmp_path) as (bikes, food, _youth), local_api(bikes) as organiser, local_api(food) as bank:
        deadline = now_ms() + 60_000
        status, opened = await organiser("POST", "/campaigns", json=terms(deadline, mode="keep_it_all"))
        campaign = opened["id"]
        platform_terms = "platform=HelloAsso&reference=export-semaine"
        export = helloasso_export()
        status, done = await organiser("POST", f"/campaigns/{campaign}/import?{platform_terms}", data=export)
        assert status == 200, done
        # Two paid donations: 25,00 − 2,00 of tip and 50,00; the refused, refunded and tip rows are left out.
        assert (done["import"]["count"], done["import"]["amount"], done["import"]["tips_excluded"]) == (2, 7_300, 200)
        assert done["import"]["skipped"] == {"unpaid": 2, "tip": 1, "refund": 0}
        shown = done["campaign"]
        assert shown["imports"][0]["amount"] == 7_300 and shown["tally"]["pledged"] == 7_300
        # Importing the same export again (corrected) replaces it rather than counting it twice.
        corrected = export.replace(b"50,00;0,00", b"60,00;0,00")
        status, done = await organiser("POST", f"/campaigns/{campaign}/import?{platform_terms}", data=corrected)
        assert status == 200 and done["campaign"]["tally"]["pledged"] == 8_300, done
        # A row that cannot be read fails the whole import, naming its line; nothing changes.
        broken = export + "01/01/2026;douze;;Autorisé;Don;X;Y;z@example.org\n".encode("cp1252")
        status, refused = await organiser("POST", f"/campaigns/{campaign}/import?{platform_terms}", data=broken)
        assert (status, refused["code"]) == (400, "invalid") and refused["details"]["errors"][0]["line"] == 7
        # Only the organiser imports: a contributor holding the chain is refused by the organiser's rule.
        status, pledged = await bank("POST", f"/campaigns/{campaign}/pledge",
                                     json={"organiser": bikes.node.node_id, "type": "money", "value": 10_000})
        assert status == 200, pledged

        async def bank_holds_chain() -> bool:
            return bool(chain_of(food, campaign))

        await until(bank_holds_chain)
        status, refused = await bank("POST", f"/campaigns/{campaign}/import?{platform_terms}", data=export)
        assert (status, refused["code"]) == (409, "not-allowed"), refused
        # No payer's name or email reached the organiser's database, nor the other nodes'.
        for held in (bikes, food):
            database = held.config.home / "node.sqlite"
            stored_bytes = b"".join(p.read_bytes() for p in database.parent.glob("node.sqlite*"))
            assert b"Camille" not in stored_bytes and b"example.org" not in stored_bytes


async def test_a_pledge_from_a_node_the_campaign_does_not_admit_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with three(tmp_path) as (bikes, food, youth), local_api(bikes) as organiser, local_api(food) as bank, local_api(youth) as mjc:
        deadline = now_ms() + 60_000
        # Listed nodes: only the food bank may pledge.
        status, listed = await organiser("POST", "/campaigns", json=terms(
            deadline, eligibility={"scope": "nodes", "nodes": [food.node.node_id]}))
        assert status == 201, listed
        await until(lambda: _holds(food, listed["id"]))  # invited: it holds the chain before pledging
        status, refused = await mjc("POST", f"/campaigns/{listed['id']}/pledge", json={
            "organiser": bikes.node.node_id, "type": "money", "value": 10_000})
        assert (status, refused["code"]) == (403, "forbidden"), refused
        # Members of a federation: the organiser's node judges by the federation chains it holds.
        with session(bikes.node.engine) as s, s.begin():
            memberships.replace_members(s, FEDERATION, {bikes.node.node_id: "member", food.node.node_id: "member"})
        status, scoped = await organiser("POST", "/campaigns", json=terms(
            deadline, eligibility={"scope": "federations", "federations": [FEDERATION]}))
        assert status == 201 and food.node.node_id in scoped["members"], scoped
        before = chain_of(bikes, scoped["id"])
        status, refused = await mjc("POST", f"/campaigns/{scoped['id']}/pledge", json={
            "organiser": bikes.node.node_id, "type": "money", "value": 10_000})
        assert (status, refused["code"]) == (403, "forbidden"), refused
        assert chain_of(bikes, scoped["id"]) == before and not chain_of(youth, scoped["id"])
        with session(youth.node.engine) as s:
            assert stored.get(s, bytes.fromhex(scoped["id"])) is None and stored.get(s, bytes.fromhex(listed["id"])) is None
        status, done = await bank("POST", f"/campaigns/{scoped['id']}/pledge", json={"type": "money", "value": 10_000})
        assert status == 200 and done["campaign"]["tally"]["pledged"] == 10_000, done


def test_an_api_style_export_in_cents_keeps_authorized_payments_and_leaves_tips_out() -> None:
    export = (b"id,date,amount,amountTip,state,payer.email\n"
              b"1,2026-11-20T10:15:00+01:00,2700,200,Authorized,a@example.org\n"
              b"2,2026-11-21T18:40:00+01:00,5000,0,Refunded,b@example.org\n"
              b"3,2026-11-22T09:05:00+01:00,1000,0,Registered,c@example.org\n")
    totals = aggregate_export(export)
    assert (totals.count, totals.amount, totals.tips, dict(totals.skipped)) == (2, 3_500, 200, {"unpaid": 1, "tip": 0, "refund": 0})
    first, last = (int(datetime.fromisoformat(d).timestamp() * 1000) for d in ("2026-11-20T10:15+01:00", "2026-11-22T09:05+01:00"))
    assert (totals.start, totals.end) == (first, last)  # the first and last kept payments


def test_the_cli_turns_what_people_type_into_terms_and_pledges_in_cents() -> None:
    parser = build_parser()
    args = parser.parse_args([
        "campaign", "create", "--home", "h", "--title", "Vélo cargo", "--purpose", "Un vélo pour trois",
        "--beneficiary", "Atelier vélo solidaire", "--target", "5 000", "--minimum", "3500,50",
        "--deadline", "2026-12-31", "--mode", "tout-garder", "--line", "velo:Vélo:3500:5000",
        "--stretch", "6000:Batterie", "--node", BIKE_SHOP])
    made = campaign_terms(args)
    assert (made["target"], made["minimum"], made["mode"]) == (500_000, 350_050, "keep_it_all")
    assert made["deadline"] == int(datetime(2026, 12, 31, 23, 59, tzinfo=PARIS).timestamp() * 1000)
    assert made["eligibility"] == {"scope": "nodes", "nodes": [BIKE_SHOP]}
    assert made["lines"] == [{"id": "velo", "title": "Vélo", "min": 350_000, "max": 500_000}]
    pledge = pledge_body(parser.parse_args(["pledge", "make", "--home", "h", "abcdef", "--hours", "30", "--value", "600",
                                            "--line", "entretien", "--cap", "40", "--if-minimum"]))
    assert pledge == {"type": "work", "value": 60_000, "hours": 30, "line": "entretien",
                      "conditions": {"if_minimum": True, "cap_percent": 40}}
    with pytest.raises(ConfigError):
        pledge_body(parser.parse_args(["pledge", "make", "--home", "h", "abcdef", "--value", "600"]))
    with pytest.raises(ConfigError):
        campaign_terms(parser.parse_args([*["campaign", "create", "--home", "h", "--title", "T", "--purpose", "P", "--beneficiary", "B"],
                                          "--target", "douze", "--minimum", "1", "--deadline", "2026-12-31"]))
