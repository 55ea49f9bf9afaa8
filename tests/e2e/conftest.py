"""Fixtures of the browser tests: two `maillage run` processes, headless Chromium (the system's), axe-core.

The tests are skipped, saying why, when Chromium or Playwright is missing on a developer's machine;
.ci/run installs both and sets MAILLAGE_E2E_REQUIRED=1, which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .federation import CHROMIUM, Node, cli, missing, two_nodes

MISSING = missing()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests, saying why, when the browser is missing (unless CI requires them)."""
    if MISSING is None or os.environ.get("MAILLAGE_E2E_REQUIRED"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {MISSING}"))


@pytest.fixture(scope="session")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """(lender, borrower): Ressourcerie du Plateau and Banque alimentaire, real processes on 127.0.0.1."""
    with two_nodes(tmp_path_factory.mktemp("e2e")) as pair:
        lender, _ = pair
        # A resource published with the CLI, for the tests that need an agreement without the whole story.
        cli("resource", "add", "--home", str(lender.home), "--id", "sono-portable", "--kind", "equipment",
            "--title", "Sono portable 200 W", "--description", "Enceinte, micro sans fil, câbles",
            "--availability", '{"unit": "day", "stock": 1, "timezone": "Europe/Paris"}')
        yield pair


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium, for one module at a time: Playwright's sync API keeps an asyncio loop running
    while it is open, which would break the asyncio tests collected after this folder."""
    if MISSING is not None:
        pytest.fail(f"MAILLAGE_E2E_REQUIRED is set but the browser tests cannot run: {MISSING}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Any]:
    """``new_page(width=1280)``: a page in a fresh context (its own cookies), closed after the test."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 900) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="fr-FR",
                                       timezone_id="Europe/Paris")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def _loans() -> dict[str, str]:
    return {}


@pytest.fixture(scope="module")
def requested_loan(nodes: tuple[Node, Node], chromium: Any, _loans: dict[str, str]) -> str:
    """An agreement asked for by the borrower's member (the sono, in 10 days), waiting on the lender's side
    (made once for the session)."""
    from .federation import login, request_first_result, search

    if "sono" in _loans:
        return _loans["sono"]
    _, borrower = nodes
    context = chromium.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        login(page, borrower, "marie")
        search(page, borrower, "sono", 10, 10)
        loan = request_first_result(page, "Fête de quartier")
    finally:
        context.close()
    _loans["sono"] = loan
    return loan


@pytest.fixture(scope="module")
def collective(nodes: tuple[Node, Node], _loans: dict[str, str]) -> dict[str, str]:
    """A campaign, a federation, a proposal and a fund contribution between the two nodes (made once)."""
    from .federation import co_funding

    if "campaign" not in _loans:
        _loans.update(co_funding(*nodes))
    return {k: _loans[k] for k in ("campaign", "federation", "proposal")}
