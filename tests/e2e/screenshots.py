"""Make docs/screenshots/*.png: two real nodes, a sealed loan, the main pages at phone and desktop width.

    .venv/bin/python -m tests.e2e.screenshots [--out docs/screenshots] [--axe]

``--axe`` also prints every axe-core finding (all impacts, not only those the tests fail on).
Needs what the browser tests need: Playwright's Python package and the system's Chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .federation import (CHROMIUM, REPO, add_resource, cli, co_funding, day, eventually, login, missing,
                         open_agreement, request_first_result, search, two_nodes)

WIDTHS = {"phone": 390, "desktop": 1280}
DAILY = '{"unit": "day", "stock": 1, "timezone": "Europe/Paris"}'
MORE = [  # (home index, id, kind, title, description, lat, lon)
    (0, "tables-brasserie", "equipment", "Tables de brasserie (x10)", "Tables et bancs pliants, 8 places chacune",
     "45.7745", "4.8290"),
    (0, "barnum-3x6", "equipment", "Barnum 3 × 6 m", "Structure acier et bâche, montage à deux", "45.7738", "4.8275"),
    (1, "chambre-froide", "space", "Chambre froide mobile", "6 m³, branchement 16 A", "45.7500", "4.8500"),
    (1, "diable", "equipment", "Diable de manutention", "Charge 250 kg", "45.7502", "4.8497"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--axe", action="store_true", help="print every axe-core finding")
    args = parser.parse_args()
    if (why := missing()) is not None:
        print(why, file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, two_nodes(Path(tmp)) as (lender, borrower), \
            sync_playwright() as p:
        homes = (lender.home, borrower.home)
        for index, rid, kind, title, description, lat, lon in MORE:
            cli("resource", "add", "--home", str(homes[index]), "--id", rid, "--kind", kind, "--title", title,
                "--description", description, "--lat", lat, "--lon", lon, "--availability", DAILY)
        browser = p.chromium.launch(executable_path=CHROMIUM)
        french = {"viewport": {"width": 1280, "height": 900}, "locale": "fr-FR", "timezone_id": "Europe/Paris"}
        admin = browser.new_context(**french).new_page()
        member = browser.new_context(**french).new_page()
        login(admin, lender, "admin")
        add_resource(admin, lender, "Remorque vélo 80 kg", kind="vehicle",
                     description="Remorque pour vélo cargo, sangles fournies", lat="45,7740", lon="4,8280")
        login(member, borrower, "marie")
        search(member, borrower, "remorque", 5, 6)
        loan = request_first_result(member, "Distribution de colis du samedi")

        def listed() -> bool:
            admin.goto(f"{lender.url}/accords/{loan}")
            return admin.locator(f"form[action='/accords/{loan}/accept']").count() > 0

        eventually(listed, what="the request on the lender's node")
        with admin.expect_navigation():
            admin.click(f"form[action='/accords/{loan}/accept'] button[type=submit]")
        open_agreement(member, borrower, loan, text="Signatures vérifiées")
        eventually(lambda: (member.goto(borrower.url + "/chercher?q=tables"),
                            member.locator("ol.resultats li").count() > 0)[1], what="the other records")

        admin.goto(lender.url + "/catalogue")  # the trailer's calendar, in the month of its loan
        trailer = admin.locator("tr", has_text="Remorque vélo").locator("a[href$='/calendrier']").get_attribute("href")
        together = co_funding(lender, borrower)  # a campaign with a pledge, a federation with an open proposal

        shots = [  # (file stem, page, node, path)
            ("home", member, borrower, "/"),
            ("catalogue", admin, lender, "/catalogue"),
            ("calendar", admin, lender, f"{trailer}?mois={day(5)[:7]}"),
            ("search", member, borrower, "/chercher?q="),
            ("agreement", member, borrower, f"/accords/{loan}"),
            ("audit", member, borrower, "/audit"),
            ("campaign", member, borrower, f"/campagnes/{together['campaign']}"),
            ("proposal", member, borrower,
             f"/federations/{together['federation']}/propositions/{together['proposal']}"),
        ]
        for stem, page, node, path in shots:
            for label, width in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(node.url + path)
                page.screenshot(path=str(out / f"{stem}-{label}.png"), full_page=True)
                print(out / f"{stem}-{label}.png")
            if args.axe:
                from .test_accessibility import axe_violations, describe

                page.set_viewport_size({"width": 1280, "height": 900})
                page.goto(node.url + path)
                found = axe_violations(page)
                print(f"axe {stem}: {len(found)} finding(s)\n{describe(found)}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
