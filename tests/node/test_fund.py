"""A federation's territorial fund across three real nodes: money in, a call, decisions, money out.

The secretariat's node writes the federation's chain; the two other
associations speak by signed statements over HTTP. Every step goes through
the local API (node/fund_api.py); the criteria and the allocation are
decisions taken by consent in the federation. At the end every node holds
the same chain and the same balanced ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

from node.app import RunningNode
from node.clock import now_ms
from protocol.agreements import replay
from protocol.envelope import stored_envelope
from protocol.governance.fund import check_balanced, fund_of
from storage import agreements as stored
from storage import session

from .harness import introduce, local_api, make_home, running

WINDOW_MS = 1_000  # the consent round's objection window: short, for the test


def eur(cents: int) -> dict[str, Any]:
    return {"amount": cents, "currency": "EUR"}


def charter(secretariat: str, *members: str) -> dict[str, Any]:
    consent = {"method": "consent", "questions_ms": 0, "objections_ms": WINDOW_MS, "review_months": 12}
    kinds = ("admit", "remove", "amend_charter", "fund_criteria", "fund_allocation")
    return {
        "name": "Maillage Diois",
        "territory": "Diois (Drôme)",
        "purpose": "Mutualiser le matériel et financer des projets communs",
        "colleges": ({"id": "associations", "title": "Associations"},),  # as decoded: arrays are tuples
        "founders": {node: "associations" for node in (secretariat, *members)},
        "rules": {kind: consent for kind in kinds},
        "currency": "EUR",
    }


def chain_of(node: RunningNode, federation: bytes) -> list[bytes]:
    with session(node.node.engine) as s:
        return stored.chain(s, federation)


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def decide(proposer: Any, secretariat: Any, fid: str, proposal: str, kind: str, payload: dict[str, Any]) -> None:
    """A consent decision through the federation's API: a member proposes, nobody objects in the
    window, and the secretariat's node closes it on time (its closing loop)."""
    status, made = await proposer("POST", f"/federations/{fid}/proposals", json={
        "id": proposal, "kind": kind, "title": proposal, "text": "Proposition au fonds", "payload": payload})
    assert status == 201, made
    await asyncio.sleep(WINDOW_MS / 1000 + 0.1)
    # The secretariat's loop closes it at its next look; close-now saves the test that wait (either may win).
    status, closed = await secretariat("POST", f"/proposals/{fid}/{proposal}/close-now")
    assert status == 200 or closed["code"] == "not-allowed", closed
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        status, record = await secretariat("GET", f"/proposals/{fid}/{proposal}")
        assert status == 200, record
        if record["status"] != "open":
            break
        assert asyncio.get_running_loop().time() < deadline, "the decision was not closed in time"
        await asyncio.sleep(0.1)
    assert record["status"] == "adopted" and record["applied"], record


async def test_a_fund_collects_calls_allocates_by_decision_and_pays_out_with_a_balanced_ledger_on_every_node(
    tmp_path: Path,
) -> None:
    async with (
        running(make_home(tmp_path, "Maison des associations")) as house,
        running(make_home(tmp_path, "Club sportif")) as club,
        running(make_home(tmp_path, "Banque alimentaire")) as food,
    ):
        for node in (house, club, food):
            introduce(node, *(other for other in (house, club, food) if other is not node))
        async with local_api(house) as secretariat, local_api(club) as club_api, local_api(food) as food_api:
            status, founded = await secretariat("POST", "/federations", json=charter(
                house.node.node_id, club.node.node_id, food.node.node_id))
            assert status == 201, founded
            fid = founded["id"]
            federation = bytes.fromhex(fid)
            base = f"/federations/{fid}/fund"
            await until(lambda: all(chain_of(n, federation) for n in (club, food)))
            for api in (secretariat, club_api, food_api):
                status, adhered = await api("POST", f"/federations/{fid}/adhere")
                assert status == 200, adhered
            await until(lambda: len(chain_of(house, federation)) == 4)  # founded, then three adhesions
            status, shown = await food_api("GET", base)
            assert status == 200 and shown["currency"] == "EUR" and shown["ledger"] == [], shown  # the charter's

            # Money in: pledges count once the secretariat confirms them.
            status, pledged = await club_api("POST", f"{base}/contribute",
                                             json={"amount": eur(100_000), "method": "transfer", "reference": "VIR-CLUB"})
            assert status == 200, pledged
            assert pledged["created"] == {"contributions": ["c1"]} and pledged["fund"]["held"] == 0
            status, pledged = await food_api("POST", f"{base}/contribute", json={"amount": eur(150_000),
                                                                                 "method": "cheque"})
            assert status == 200 and pledged["created"] == {"contributions": ["c2"]}, pledged
            status, refused = await club_api("POST", f"{base}/receive-contribution", json={"contribution": "c1"})
            assert status == 403 and refused["code"] == "forbidden", refused
            status, refused = await food_api("POST", f"{base}/contribute", json={"amount": {"amount": 500, "currency": "USD"},
                                                                                 "method": "transfer"})
            assert status == 400 and refused["code"] == "invalid", refused
            for contribution in ("c1", "c2"):
                status, confirmed = await secretariat("POST", f"{base}/receive-contribution",
                                                      json={"contribution": contribution, "reference": "relevé 03"})
                assert status == 200, confirmed
            assert confirmed["fund"]["available"] == 250_000 and confirmed["fund"]["balanced"]

            # Criteria by decision, then a call, applications, closing.
            await decide(club_api, secretariat, fid, "criteres-2026", "fund_criteria", {
                "criteria": [{"id": "impact", "title": "Impact sur le territoire", "weight": 3},
                             {"id": "partage", "title": "Usage partagé", "weight": 2}],
                "eligibility": "Associations membres de la fédération",
            })
            deadline = now_ms() + 7 * 86_400_000
            status, opened = await secretariat("POST", f"{base}/open-call", json={
                "id": "velo-2026", "title": "Mobilité partagée", "budget": eur(300_000), "deadline": deadline})
            assert status == 200 and opened["created"] == {"calls": ["velo-2026"]}, opened
            status, applied = await club_api("POST", f"{base}/apply", json={
                "call": "velo-2026", "title": "Vélo cargo partagé", "project": "Un vélo cargo pour trois associations",
                "amount": eur(120_000), "budget": [{"label": "Vélo cargo", "amount": eur(350_000)}]})
            assert status == 200 and applied["created"] == {"applications": ["velo-2026/1"]}, applied
            status, applied = await food_api("POST", f"{base}/apply", json={
                "call": "velo-2026", "title": "Remorque réfrigérée", "project": "Collectes en circuit court",
                "amount": eur(200_000)})
            assert status == 200 and applied["created"] == {"applications": ["velo-2026/2"]}, applied
            status, closed = await secretariat("POST", f"{base}/close-call", json={"call": "velo-2026"})
            assert status == 200, closed

            # The allocation by decision earmarks money for each application.
            await decide(food_api, secretariat, fid, "attribution-velo", "fund_allocation", {
                "call": "velo-2026",
                "allocations": [{"application": "velo-2026/1", "amount": eur(100_000), "score": 14},
                                {"application": "velo-2026/2", "amount": eur(130_000), "score": 12}],
            })
            status, shown = await secretariat("GET", base)
            assert status == 200 and shown["available"] == 20_000 and shown["held"] == 250_000, shown

            # Money out: within each allocation and within what the fund holds.
            status, paid = await secretariat("POST", f"{base}/distribute", json={
                "application": "velo-2026/1", "amount": eur(100_000), "reference": "VIR-FDS-001"})
            assert status == 200 and paid["created"] == {"distributions": ["d1"]}, paid
            before = chain_of(house, federation)
            status, refused = await secretariat("POST", f"{base}/distribute", json={
                "application": "velo-2026/2", "amount": eur(150_001), "reference": "VIR-FDS-002"})
            assert status == 409 and refused["code"] == "conflict" and refused["details"]["held"] == 150_000, refused
            status, refused = await secretariat("POST", f"{base}/distribute", json={
                "application": "velo-2026/2", "amount": eur(130_001), "reference": "VIR-FDS-002"})
            assert status == 409 and refused["code"] == "not-allowed", refused
            assert chain_of(house, federation) == before  # refused steps left nothing behind
            status, paid = await secretariat("POST", f"{base}/distribute", json={
                "application": "velo-2026/2", "amount": eur(130_000), "reference": "VIR-FDS-002"})
            assert status == 200, paid

            # Beneficiaries confirm; only the beneficiary can.
            status, refused = await food_api("POST", f"{base}/received", json={"distribution": "d1"})
            assert status == 403, refused
            status, confirmed = await club_api("POST", f"{base}/received", json={"distribution": "d1"})
            assert status == 200, confirmed

            # Every node holds the same chain and reads the same balanced ledger.
            await until(lambda: chain_of(club, federation) == chain_of(food, federation) == chain_of(house, federation))
            views = []
            for api in (secretariat, club_api, food_api):
                status, view = await api("GET", base)
                assert status == 200 and view["balanced"], view
                balances = [{k: v for k, v in b.items() if k != "name"} for b in view["balances"]]  # names: as each knows
                views.append((view["ledger"], balances, view["available"], view["held"]))
            assert views[0] == views[1] == views[2]
            ledger, balances, available, held = views[0]
            assert (available, held) == (20_000, 20_000)
            assert [e["movement"] for e in ledger] == ["contribution", "contribution", "allocation", "allocation",
                                                       "distribution", "distribution"]
            by_account = {b["account"]: b["balance"] for b in balances}
            assert by_account[f"beneficiary:{club.node.node_id}"] == 100_000
            assert by_account[f"contributor:{food.node.node_id}"] == -150_000
            assert sum(by_account.values()) == 0
            for node in (house, club, food):
                state = replay([stored_envelope(raw) for raw in chain_of(node, federation)])
                check_balanced(fund_of(state))

            # The activity report's figures, with the beneficiaries this node knows by name.
            status, figures = await club_api("GET", f"{base}/report")
            assert status == 200, figures
            assert figures["resources"]["amount"] == 250_000 and figures["distributed"]["amount"] == 230_000
            assert {b["beneficiary"]: b["total"]["amount"] for b in figures["beneficiaries"]} == {
                club.node.node_id: 100_000, food.node.node_id: 130_000}
            assert figures["alerts"] == []  # 2,500 € of resources: under the 10,000 € auditor threshold

            status, missing = await club_api("GET", f"/federations/{'0' * 32}/fund")
            assert status == 404, missing


async def maillage(*args: str) -> tuple[int, str, str]:
    """`maillage …` as the operator types it, against the in-process nodes (their run.json): status, out, err."""
    from node import cli

    def run() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(list(args))
            except SystemExit as exc:
                status = int(exc.code or 0)
        return status, out.getvalue(), err.getvalue()

    return await asyncio.to_thread(run)


async def test_the_fund_from_the_command_line(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MAILLAGE_LANG", "fr")
    async with running(make_home(tmp_path, "Maison des associations")) as house, running(
        make_home(tmp_path, "Club sportif")
    ) as club:
        introduce(house, club)
        introduce(club, house)
        async with local_api(house) as secretariat, local_api(club) as club_api:
            await _fund_from_the_command_line(tmp_path, house, club, secretariat, club_api)


async def _fund_from_the_command_line(tmp_path: Path, house: RunningNode, club: RunningNode, secretariat: Any,
                                      club_api: Any) -> None:
    status, founded = await secretariat("POST", "/federations", json=charter(house.node.node_id, club.node.node_id))
    assert status == 201, founded
    fid = founded["id"]
    federation = bytes.fromhex(fid)
    prefix = fid[:8]  # a unique prefix is enough
    await until(lambda: bool(chain_of(club, federation)))
    for api in (secretariat, club_api):
        assert (await api("POST", f"/federations/{fid}/adhere"))[0] == 200
    h, c = ("--home", str(house.config.home)), ("--home", str(club.config.home))

    status, out, err = await maillage("fund", "contribute", *c, prefix, "--amount", "1 250,50", "--reference", "VIR-7")
    assert status == 0, err
    assert "contribution promise : c1" in out and "Disponible : 0,00 EUR" in out
    status, out, err = await maillage("fund", "confirm", *c, prefix, "c1")
    assert status == 1 and "Refusé (forbidden)" in err, (out, err)
    status, out, err = await maillage("fund", "confirm", *h, prefix, "c1", "--reference", "relevé 04")
    assert status == 0 and "Disponible : 1250,50 EUR" in out, err

    await decide(club_api, secretariat, fid, "criteres", "fund_criteria", {
        "criteria": [{"id": "impact", "title": "Impact", "weight": 1}], "eligibility": "Membres"})
    status, out, err = await maillage("fund", "call", *h, prefix, "--id", "velo", "--title", "Vélo cargo",
                                      "--budget", "1000", "--deadline", "2099-12-31")
    assert status == 0 and "appel ouvert : velo" in out, err
    status, out, err = await maillage("fund", "apply", *c, prefix, "--call", "velo", "--title", "Vélo cargo partagé",
                                      "--project", "Un vélo pour trois associations", "--amount", "900",
                                      "--budget-line", "vélo=3500", "--budget-line", "assurance=200")
    assert status == 0 and "candidature déposée : velo/1" in out, err
    status, out, err = await maillage("fund", "close-call", *h, prefix, "velo")
    assert status == 0, err
    await decide(club_api, secretariat, fid, "attribution", "fund_allocation", {
        "call": "velo", "allocations": [{"application": "velo/1", "amount": eur(80_000)}]})

    status, out, err = await maillage("fund", "distribute", *h, prefix, "velo/1", "--amount", "800,01",
                                      "--reference", "VIR-FDS-1")
    assert status == 1 and "Refusé (not-allowed)" in err, (out, err)
    status, out, err = await maillage("fund", "distribute", *h, prefix, "velo/1", "--amount", "800",
                                      "--reference", "VIR-FDS-1")
    assert status == 0 and "versement enregistré : d1" in out, err
    status, out, err = await maillage("fund", "received", *c, prefix, "d1")
    assert status == 0, err

    status, out, err = await maillage("fund", "show", *c, prefix)
    assert status == 0, err
    assert "Fonds territorial — Maillage Diois (EUR)" in out
    assert "Grand livre équilibré (3 écriture(s))." in out
    assert "Disponible : 450,50 EUR · détenu : 450,50 EUR" in out
    assert "velo/1" in out and "reçu ✓" in out
    status, out, err = await maillage("fund", "show", *c, prefix, "--json")
    assert status == 0 and json.loads(out)["balanced"] is True

    register = tmp_path / "registre.csv"
    status, out, err = await maillage("fund", "report", *h, prefix, "--csv", str(register))
    assert status == 0, err
    assert "Ressources reçues : 1250,50 EUR" in out and "Club sportif" in out
    rows = list(csv.reader(register.open(encoding="utf-8"), delimiter=";"))
    assert rows[1][0] == club.node.node_id and rows[1][6:] == ["velo/1", "velo", "Vélo cargo partagé", "800,00", "EUR"]

    status, out, err = await maillage("fund", "show", *c, "zz")
    assert status == 2 and "Fédération « zz »" in err
