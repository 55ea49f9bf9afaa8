"""axe-core in the page, on every main page, in French and in English: no "serious" or "critical" violation.

axe-core's script comes from the axe-playwright-python wheel (axe.min.js, MPL-2.0): nothing is fetched
at test time. It is run with ``page.evaluate`` (DevTools' Runtime.evaluate), which the pages'
``Content-Security-Policy: default-src 'self'`` does not apply to, so no ``bypass_csp`` is needed and
the pages are checked with their real CSP.
"""

from __future__ import annotations

from typing import Any

import pytest

from .federation import Node, login, open_agreement

BLOCKING = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.base import AXE_SCRIPT

    page.evaluate(AXE_SCRIPT)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return list(results["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"      {' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def test_axe_runs_under_the_pages_csp_and_finds_what_it_should(nodes: tuple[Node, Node], new_page: Any) -> None:
    """The check is not silently empty: a broken image and an unlabelled field added to a real page are caught."""
    lender, _ = nodes
    page = new_page()
    response = page.goto(lender.url + "/connexion")
    assert "default-src 'self'" in (response.headers.get("content-security-policy") or "")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend', '<img src="/static/none.png"><input type="text" name="x">');
    }""")
    ids = {v["id"] for v in axe_violations(page) if v["impact"] in BLOCKING}
    assert {"image-alt", "label"} <= ids, ids


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_main_pages_have_no_serious_or_critical_axe_violation(nodes: tuple[Node, Node], new_page: Any,
                                                              requested_loan: str, collective: dict[str, str],
                                                              lang: str) -> None:
    lender, borrower = nodes
    page = new_page()
    pages: list[tuple[str, Node, str]] = [("login", lender, "/connexion")]
    report: dict[str, list[dict[str, Any]]] = {}

    def check(label: str, node: Node, path: str) -> None:
        separator = "&" if "?" in path else "?"
        response = page.goto(f"{node.url}{path}{separator}lang={lang}")
        assert response is not None and response.status == 200, (label, response and response.status)
        assert not page.url.split("?")[0].endswith("/connexion") or label == "login", (label, page.url)
        found = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
        if found:
            report[f"{label} ({path}, {lang})"] = found

    for label, node, path in pages:
        check(label, node, path)
    login(page, lender, "admin")
    open_agreement(page, lender, requested_loan)
    for label, path in [
        ("home", "/"),
        ("catalogue", "/catalogue"),
        ("catalogue form", "/catalogue/nouveau?type=resource"),
        ("resource calendar", "/catalogue/sono-portable/calendrier"),
        ("search", "/chercher?q=sono"),
        ("agreements", "/accords"),
        ("one agreement", f"/accords/{requested_loan}"),
        ("peers", "/pairs"),
        ("account", "/compte"),
        ("audit", "/audit"),
        ("campaigns", "/campagnes"),
        ("one campaign", f"/campagnes/{collective['campaign']}"),
        ("new campaign", "/campagnes/nouvelle"),
        ("federations", "/federations"),
        ("one federation", f"/federations/{collective['federation']}"),
        ("new federation", "/federations/nouvelle"),
        ("one proposal", f"/federations/{collective['federation']}/propositions/{collective['proposal']}"),
        ("new proposal", f"/federations/{collective['federation']}/propositions/nouvelle?nature=admit"),
        ("fund", f"/federations/{collective['federation']}/fonds"),
    ]:
        check(label, lender, path)
    # The borrower's side: search results with a « Demander » link and the request form.
    login(page, borrower, "marie")
    check("search results (borrower)", borrower, "/chercher?q=sono")
    check("request form (borrower)", borrower, f"/accords/{requested_loan}")
    federation = f"/federations/{collective['federation']}"
    check("one campaign (contributor)", borrower, f"/campagnes/{collective['campaign']}")
    check("one proposal (member)", borrower, f"{federation}/propositions/{collective['proposal']}")
    check("fund (member)", borrower, f"{federation}/fonds")

    message = "\n".join(f"{where}:\n{describe(v)}" for where, v in report.items())
    assert not report, f"axe-core found serious or critical violations:\n{message}"
