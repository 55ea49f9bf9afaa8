"""`maillage demo`: three associations of the Lyon area, each with its own node, finding each other.

The homes are kept between runs (in ``--dir``), so a second `make demo` starts
the same federation again. Nodes talk HTTP on 127.0.0.1 like any others; the
second is seeded with the first, the third with the second, so records reach
the first node through a relay.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from protocol.availability import day_period

from storage import agreements as stored_agreements
from storage import records, session

from . import agreements, campaigns, catalogue, federations
from .clock import now_ms
from .app import RunningNode, start_node
from .config import Seed, load
from .cli import _with_engine, set_web_password
from .home import FIRST_ADMIN, init_home
from .i18n import t
from .sample_data import ASSOCIATIONS, SampleAssociation

CONVERGENCE_ROUNDS = 20
PARIS = "Europe/Paris"


def _prepare(base: Path, assoc: SampleAssociation, port: int) -> Path:
    home = base / assoc.slug
    if not (home / "node.key").exists():
        profile = {
            "description": assoc.description,
            "territory": assoc.territory,
            "contact": assoc.contact,
            "location": (assoc.location["lat"], assoc.location["lon"]),
        }
        init_home(home, name=assoc.name, port=port, profile=profile)
    return home


def _publish_samples(running: RunningNode, assoc: SampleAssociation) -> None:
    node = running.node
    with session(node.engine) as s:
        held = {r.record_id for r in records.list_by_author(s, node.node_id, include_tombstones=True)}
    for rtype in ("resource", "offer", "need"):
        bodies = [body for kind, body in assoc.records if kind == rtype and body["id"] not in held]
        if bodies:
            catalogue.publish_many(node.engine, node.key, rtype, bodies)


def _count(running: RunningNode) -> int:
    """Public records held: what every node of a converged federation agrees on."""
    with session(running.node.engine) as s:
        return records.count(s, public_only=True)


async def run_demo(base: Path, *, base_port: int, host: str) -> None:
    base = base.expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    nodes: list[RunningNode] = []
    passwords: list[str] = []
    try:
        previous: Seed | None = None
        for index, assoc in enumerate(ASSOCIATIONS):
            port = base_port + index if base_port else 0
            home = _prepare(base, assoc, port)
            seeds = (previous,) if previous is not None else None
            config = load(home, {"host": host, "port": port, "sync_interval_s": 10.0, "seeds": seeds})
            # A fresh one-time password for the web pages at each start (only its hash is kept).
            passwords.append(_with_engine(config, lambda engine: set_web_password(engine, FIRST_ADMIN, None))[0])
            running = await start_node(config)
            await running.node.run(_publish_samples, running, assoc)
            nodes.append(running)
            previous = Seed(url=running.url, node_id=running.node.node_id)
        for _ in range(CONVERGENCE_ROUNDS):
            for running in reversed(nodes):
                await running.node.sync_round()
            counts = {_count(n) for n in nodes}
            if len(counts) == 1:
                break
        await _sample_loan(borrower=nodes[0], owner=nodes[1])
        await _sample_federation(nodes)
        await _sample_campaign(organiser=nodes[2], pledgers=nodes[:2])
        _print_welcome(nodes, base, passwords)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for running in reversed(nodes):
            await running.stop()


async def _sample_loan(*, borrower: RunningNode, owner: RunningNode) -> None:
    """The food bank borrows the sports club's minibus next Saturday: asked, offered, accepted, sealed."""
    with session(borrower.node.engine) as s:
        if stored_agreements.listing(s, limit=1):
            return  # a previous run already made it
    today = datetime.now(ZoneInfo(PARIS)).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    terms = {
        "resource": "minibus-9-places",
        "period": day_period(saturday, saturday, PARIS).to_wire(),
        "quantity": 1,
        "purpose": "Collecte nationale de la banque alimentaire",
        "fee": {"amount": 0, "currency": "EUR"},
        "deposit": {"amount": 0, "currency": "EUR"},
        "expires": now_ms() + 7 * 86_400_000,
    }
    asked = await agreements.open_loan(borrower.node, owner.node.node_id, terms)
    offer = {"terms": {**terms, "deposit": {"amount": 30_000, "currency": "EUR"}}}
    for node, waits_for, action, data in ((owner, "requested", "offer", offer), (borrower, "offered", "accept", {})):
        await _until_state(node, asked.state.id, waits_for)
        await agreements.take_step(node.node, asked.state.id, action, data)
    await _until_state(owner, asked.state.id, "sealed")


DAY_MS = 86_400_000
CONSENT = {"method": "consent", "questions_ms": 3 * DAY_MS, "objections_ms": 4 * DAY_MS, "review_months": 12}
BALLOT = {"method": "ballot", "voting_ms": 7 * DAY_MS, "quorum_percent": 50, "majority_percent": 50}


def _held_kinds(running: RunningNode) -> set[str]:
    with session(running.node.engine) as s:
        return {row.kind for row in stored_agreements.listing(s)}


async def _sample_federation(nodes: list[RunningNode]) -> None:
    """The three associations found a neighbourhood federation (consent for membership, ballots for
    the fund) and all adhere: the secretariat is the food bank's node."""
    if "federation" in _held_kinds(nodes[0]):
        return
    charter = {
        "name": "Collectif des associations de Lyon Est",
        "territory": "Lyon 3e, 7e et 8e, Villeurbanne",
        "purpose": "Mutualiser le matériel, les salles et un fonds commun entre associations du territoire",
        "colleges": [{"id": "solidarite", "title": "Solidarité", "weight_percent": 50},
                     {"id": "sport-jeunesse", "title": "Sport et jeunesse", "weight_percent": 50}],
        "founders": {nodes[0].node.node_id: "solidarite", nodes[1].node.node_id: "sport-jeunesse",
                     nodes[2].node.node_id: "sport-jeunesse"},
        "rules": {"admit": CONSENT, "remove": CONSENT, "amend_charter": CONSENT, "general": CONSENT,
                  "fund_criteria": {**BALLOT, "weighted": True}, "fund_allocation": {**BALLOT, "weighted": True}},
        "currency": "EUR",
    }
    founded = await federations.found(nodes[0].node, charter)
    for running in nodes:
        await _until_held(running, founded.state.id)
        await federations.adhere(running.node, founded.state.id)


async def _sample_campaign(*, organiser: RunningNode, pledgers: list[RunningNode]) -> None:
    """The youth centre's public campaign for a shared cargo bike, open for three weeks; the two other
    associations pledge, one in money, one in volunteer work valued at its cost."""
    if "campaign" in _held_kinds(organiser):
        return
    opened = await campaigns.create(organiser.node, {
        "title": "Vélo cargo partagé",
        "purpose": "Un vélo cargo électrique pour les collectes, les tournois et les sorties, partagé entre nous",
        "beneficiaries": [{"node": organiser.node.node_id}],
        "currency": "EUR", "target": 600_000, "minimum": 450_000, "deadline": now_ms() + 21 * DAY_MS,
        "mode": "all_or_nothing",
        "lines": [{"id": "velo", "title": "Vélo et batterie", "min": 450_000, "max": 450_000},
                  {"id": "remorque", "title": "Remorque", "min": 0, "max": 150_000}],
        "stretch_goals": [{"amount": 700_000, "title": "Deuxième batterie"}],
        "eligibility": {"scope": "public"},
    })
    pledges = [{"type": "money", "value": 200_000, "line": "velo"},
               {"type": "work", "value": 60_000, "hours": 40, "description": "Entretien par nos bénévoles"}]
    for running, pledge in zip(pledgers, pledges, strict=True):
        await campaigns.state_to(running.node, opened.state.id, "pledge", pledge, organiser=organiser.node.node_id)


async def _until_held(running: RunningNode, agreement_id: bytes) -> None:
    for _ in range(100):
        with session(running.node.engine) as s:
            if stored_agreements.get(s, agreement_id) is not None:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the demo federation did not reach {running.config.name}")


async def _until_state(running: RunningNode, agreement_id: bytes, state: str) -> None:
    """Wait (bounded) until an agreement step has reached this node through the other's outbox."""
    for _ in range(100):
        with session(running.node.engine) as s:
            row = stored_agreements.get(s, agreement_id)
        if row is not None and row.state == state:
            return
        running.node.deliver_soon()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the demo loan did not reach {state!r} on {running.config.name}")


def _print_welcome(nodes: list[RunningNode], base: Path, passwords: list[str]) -> None:
    print()
    print(t("demo.ready"))
    for running, password in zip(nodes, passwords, strict=True):
        print(t("demo.node", name=running.config.name, url=running.url, home=running.config.home))
        print(t("demo.web", url=f"{running.url}/connexion", name=FIRST_ADMIN, password=password))
    print(t("demo.converged", count=_count(nodes[0])))
    home = nodes[1].config.home.relative_to(Path.cwd()) if nodes[1].config.home.is_relative_to(Path.cwd()) else nodes[1].config.home
    print()
    print(t("demo.try"))
    print(f"  .venv/bin/maillage search --home {home} minibus")
    print(f"  .venv/bin/maillage search --home {home} sono --near 45.76,4.84 --km 10")
    print(f"  .venv/bin/maillage peers --home {home}")
    lender = nodes[0].config.home
    lender = lender.relative_to(Path.cwd()) if lender.is_relative_to(Path.cwd()) else lender
    print(f"  .venv/bin/maillage agreements --home {lender}")
    print(f"  .venv/bin/maillage audit verify --home {lender} <ACCORD>")
    print(f"  .venv/bin/maillage campaign list --home {lender}")
    print(f"  .venv/bin/maillage federation list --home {lender}")
    print(f"  .venv/bin/maillage fund show --home {lender} <FÉDÉRATION>")
    print(f"  curl {nodes[0].url}/api/v1/openapi.json")
    print()
    print(t("demo.stop"), flush=True)
