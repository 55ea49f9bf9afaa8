"""Two real `maillage run` processes with web accounts made by `maillage admin password`, and a real Chromium.

Used by the end-to-end tests (conftest.py) and by screenshots.py. Nothing here needs the network:
the nodes listen on 127.0.0.1, Chromium is the system's (Debian's ``chromium`` package), axe-core's
script comes from the ``axe-playwright-python`` wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from node.config import NodeConfig, load
from node.home import init_home

from ..node.harness import REPO, NodeProcess

CHROMIUM = os.environ.get("MAILLAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PARIS = ZoneInfo("Europe/Paris")


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    if importlib.util.find_spec("axe_playwright_python") is None:
        return "axe-playwright-python (axe-core's script) is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MAILLAGE_CHROMIUM)"
    return None


def day(offset: int) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=offset)).isoformat()


def cli(*args: str) -> str:
    """Run `maillage …` as an operator would; its standard output."""
    done = subprocess.run([sys.executable, "-m", "node.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MAILLAGE_LANG": "fr"})
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def set_password(home: Path, name: str, role: str | None = None) -> str:
    """`maillage admin password`: the one-time password it prints once."""
    out = cli("admin", "password", "--home", str(home), "--name", name, *(["--role", role] if role else []), "--json")
    return str(json.loads(out)["password"])


@dataclass
class Node:
    name: str
    home: Path
    process: NodeProcess
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.url


def _home(base: Path, name: str, location: tuple[int, int], description: str) -> NodeConfig:
    home = base / name.lower().replace(" ", "-")
    init_home(home, name=name, port=0, profile={"location": location, "description": description,
                                                "territory": "Métropole de Lyon"})
    return load(home)


@contextmanager
def two_nodes(base: Path) -> Iterator[tuple[Node, Node]]:
    """A lender (Ressourcerie du Plateau: admin + reader ``lucien``) and a borrower (Banque alimentaire:
    admin + member ``marie``), each a `maillage run` process, each seeded with the other."""
    lender_config = _home(base, "Ressourcerie du Plateau", (45_774_000, 4_828_000),
                          "Réemploi et prêt de matériel à la Croix-Rousse")
    borrower_config = _home(base, "Banque alimentaire", (45_750_000, 4_850_000),
                            "Collecte et distribution alimentaire, Lyon 7e")
    lender_passwords = {"admin": set_password(lender_config.home, "admin"),
                        "lucien": set_password(lender_config.home, "lucien", "reader")}
    borrower_passwords = {"admin": set_password(borrower_config.home, "admin"),
                          "marie": set_password(borrower_config.home, "marie", "member")}
    lender_process = NodeProcess(lender_config, sync_interval_s=0.3)
    borrower_process = None
    try:
        borrower_process = NodeProcess(borrower_config, lender_process.seed, sync_interval_s=0.3)
        cli("peer", "add", "--home", str(lender_config.home), str(borrower_process.seed))
        yield (Node("Ressourcerie du Plateau", lender_config.home, lender_process, lender_passwords),
               Node("Banque alimentaire", borrower_config.home, borrower_process, borrower_passwords))
    finally:
        if borrower_process is not None:
            borrower_process.stop()
        lender_process.stop()


def eventually(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


# ---- what a person does in the browser --------------------------------------------------------


def login(page: Any, node: Node, name: str) -> None:
    page.goto(node.url + "/connexion")
    page.fill("#name", name)
    page.fill("#password", node.passwords[name])
    with page.expect_navigation():
        page.click("form[action='/connexion'] button[type=submit]")
    assert "/connexion" not in page.url, page.content()[:2000]


def add_resource(page: Any, node: Node, title: str, *, kind: str = "equipment", description: str = "",
                 quantity: int = 1, lat: str = "", lon: str = "") -> None:
    """The catalogue form, as a volunteer fills it: a resource booked by the day."""
    page.goto(node.url + "/catalogue/nouveau?type=resource")
    page.fill("#title", title)
    page.select_option("#kind", kind)
    page.fill("#description", description)
    page.fill("#quantity", str(quantity))
    if lat:
        page.fill("#lat", lat)
        page.fill("#lon", lon)
    page.select_option("#booking", "day")
    page.fill("#stock", str(quantity))
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    assert page.url.split("?")[0].endswith("/catalogue"), (page.url, page.content()[:3000])


def search(page: Any, node: Node, words: str, first: int, last: int) -> None:
    """The search page with dates, reloaded until the other node's record has been synced here."""

    def found() -> bool:
        page.goto(node.url + "/chercher")
        page.fill("#q", words)
        page.fill("#du", day(first))
        page.fill("#au", day(last))
        with page.expect_navigation():
            page.click("form[role=search] button[type=submit]")
        return page.locator("a.button", has_text="Demander").count() > 0

    eventually(found, what=f"« {words} » to reach {node.name}")


def request_first_result(page: Any, purpose: str) -> str:
    """Follow « Demander » on the first result and send the form; the agreement id."""
    with page.expect_navigation():
        page.locator("a.button", has_text="Demander").first.click()
    page.fill("#objet", purpose)
    with page.expect_navigation():
        page.click("form[action='/chercher/demander'] button[type=submit]")
    path = page.url.split("?")[0].split("#")[0]
    assert "/accords/" in path, (page.url, page.content()[:3000])
    return path.rsplit("/", 1)[1]


def open_agreement(page: Any, node: Node, loan: str, *, text: str | None = None) -> None:
    """The agreement page, once the step has reached this node (and shows ``text``, when given)."""

    def shown() -> bool:
        response = page.goto(f"{node.url}/accords/{loan}")
        return response is not None and response.status == 200 and (text is None or text in page.content())

    eventually(shown, what=f"agreement {loan} on {node.name}" + (f" showing {text!r}" if text else ""))


def co_funding(lender: Node, borrower: Node) -> dict[str, str]:
    """A campaign the borrower pledged to, and a federation of the two with an open proposal and a fund
    contribution, all made with the command line: {"campaign", "federation", "proposal"}."""
    ours, theirs = lender.process.seed.node_id, borrower.process.seed.node_id
    opened = json.loads(cli("campaign", "create", "--home", str(lender.home), "--json",
                            "--title", "Vélo cargo partagé",
                            "--purpose", "Un vélo cargo électrique partagé entre associations du quartier",
                            "--beneficiary", ours, "--target", "5000", "--minimum", "3000",
                            "--deadline", f"{day(30)} 18:00", "--line", "velo:Vélo cargo:3000:3000",
                            "--line", "remorque:Remorque:0:2000", "--stretch", "6000:Deuxième batterie",
                            "--node", theirs))
    campaign = opened["id"]
    cli("pledge", "make", "--home", str(borrower.home), campaign, "--amount", "1500", "--organiser", ours, "--json")
    founded = json.loads(cli("federation", "found", "--home", str(lender.home), "--json",
                             "--name", "Fédération de la Croix-Rousse", "--territory", "Lyon 1er et 4e",
                             "--purpose", "Mutualiser le matériel et financer des projets communs",
                             "--college", "salaries:Salariés:60", "--college", "benevoles:Bénévoles:40",
                             "--self-college", "salaries", "--member", f"{theirs}=benevoles", "--currency", "EUR"))
    federation = founded["id"]
    cli("federation", "adhere", "--home", str(lender.home), federation)
    eventually(lambda: federation in cli("federation", "list", "--home", str(borrower.home), "--json"),
               what="the federation's chain on the borrower's node")
    cli("federation", "adhere", "--home", str(borrower.home), federation)
    cli("proposal", "make", "--home", str(lender.home), federation, "--kind", "general", "--id", "gilets",
        "--title", "Achat groupé de gilets", "--text", "Commander 40 gilets pour les sorties, payés par le fonds")
    cli("fund", "contribute", "--home", str(borrower.home), federation, "--amount", "250", "--reference", "VIR-1")
    return {"campaign": campaign, "federation": federation, "proposal": "gilets"}
