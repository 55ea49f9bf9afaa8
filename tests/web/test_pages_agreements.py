"""Agreement pages between two real nodes: answering, sealing, executing and closing a loan from the forms."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from node.app import RunningNode

from .conftest import Browser
from .test_pages_search import ask_for_minibus, csrf_of, day, federation, signed_in


def state_of(node: RunningNode, loan: str) -> str:
    from storage import agreements as stored
    from storage import session

    with session(node.node.engine) as s:
        row = stored.get(s, bytes.fromhex(loan))
    return row.state if row is not None else "absent"


async def step(browser: Browser, loan: str, action: str, **fields: Any) -> tuple[int, str]:
    """Post one step's form, with the CSRF token of the agreement page."""
    status, page, _ = await browser.get(f"/accords/{loan}")
    assert status == 200, page[:2000]
    assert f'action="/accords/{loan}/{action}"' in page, (action, page)
    status, body, resp = await browser.post(f"/accords/{loan}/{action}", {"csrf_token": csrf_of(page), **fields})
    if status == 303:
        assert resp.headers["Location"].startswith(f"/accords/{loan}")
    return status, body


async def test_a_loan_is_answered_sealed_carried_out_and_closed_from_the_pages(tmp_path: Path) -> None:
    async with federation(tmp_path) as (club, food), signed_in(food, "marie") as borrower, \
            signed_in(club, "marie") as owner:
        loan = await ask_for_minibus(borrower, purpose="Collecte de printemps")

        # The owner sees the request waiting for its answer.
        status, page, _ = await owner.get("/accords")
        assert status == 200
        assert "Demandes reçues" in page and "Banque alimentaire" in page and "Minibus 9 places" in page
        assert "À vous de répondre" in page and "1 accord attend votre réponse." in page
        status, page, _ = await owner.get(f"/accords/{loan}")
        assert status == 200 and "À vous de répondre" in page and "Signatures vérifiées" in page
        assert "Collecte de printemps" in page and "Nous prêtons à" in page
        for action in ("accept", "offer", "decline"):
            assert f'action="/accords/{loan}/{action}"' in page
        assert f'action="/accords/{loan}/handover"' not in page

        # A refused step changes nothing and says why, keeping what was typed.
        status, page = await step(owner, loan, "offer", fee="douze", deposit="300")
        assert status == 400 and 'role="alert"' in page and 'value="douze"' in page
        assert state_of(club, loan) == "requested"

        # The owner proposes its terms; the borrower answers with the same form's counterpart, then accepts.
        status, _ = await step(owner, loan, "offer", fee="20", deposit="300,00", conditions="Plein fait au retour",
                               pickup_place="Gymnase Jean Macé", pickup_day=day(3), pickup_time="09:00")
        assert status == 303 and state_of(club, loan) == "offered"
        status, page, _ = await borrower.get(f"/accords/{loan}")
        assert "proposé" in page and "À vous de répondre" in page
        assert "300,00" in page and "Plein fait au retour" in page and "Gymnase Jean Macé" in page
        status, _ = await step(borrower, loan, "counter", fee="10", deposit="300", conditions="Plein fait au retour")
        assert status == 303 and state_of(food, loan) == "requested"
        status, _ = await step(owner, loan, "accept")
        assert status == 303

        # The borrower's page: sealed, every signature verified, the signed timeline in order.
        status, page, _ = await borrower.get(f"/accords/{loan}")
        assert status == 200
        assert "scellé" in page and "Signatures vérifiées" in page
        assert "Le document scellé porte la signature de chaque partie." in page
        timeline = page.split('id="chronologie"', 1)[1]
        order = [timeline.index(word) for word in ("Demande", "Proposition de conditions", "Contre-proposition",
                                                   "Acceptation : accord scellé")]
        assert order == sorted(order)
        assert "10,00" in page and "Conditions scellées" in page
        assert f'action="/accords/{loan}/cancel"' in page and f'action="/accords/{loan}/handover"' not in page

        for browser, action, fields, expected in [
            (owner, "handover", {"condition": "Propre, 45 000 km"}, "in_custody"),
            (owner, "return", {"condition": "Rayure porte arrière"}, "returned"),
            (owner, "incident", {"incident_kind": "damage", "description": "Rayure porte arrière",
                                 "deposit_kept": "80", "reason": "Retouche carrosserie", "currency": "EUR"}, "returned"),
            (owner, "close", {"rating": "4", "comment": "Bonne collaboration"}, "closing"),
            (borrower, "close", {"rating": "5", "comment": ""}, "closed"),
        ]:
            status, body = await step(browser, loan, action, **fields)
            assert status == 303, (action, body[:3000])
            assert state_of(club, loan) == expected, action
        assert state_of(food, loan) == "closed"

        status, page, _ = await borrower.get(f"/accords/{loan}")
        assert "clos" in page and "Évaluations" in page and "Bonne collaboration" in page
        assert "4 sur 5" in page and "5 sur 5" in page and "Caution retenue : 80,00" in page
        assert "Signatures vérifiées" in page and "Rien à faire de notre côté" in page
        assert "<form" not in page.split('id="actions-titre"', 1)[1].split('id="chronologie"', 1)[0]


async def test_a_reader_sees_the_agreement_but_cannot_act_on_it(tmp_path: Path) -> None:
    async with federation(tmp_path) as (club, food), signed_in(food, "marie") as borrower, \
            signed_in(club, "lucien") as reader:
        loan = await ask_for_minibus(borrower)
        status, page, _ = await reader.get("/accords")
        assert status == 200 and loan in page
        status, page, _ = await reader.get(f"/accords/{loan}")
        assert status == 200 and "Minibus 9 places" in page and "lecture seule" in page
        assert f'action="/accords/{loan}/accept"' not in page
        status, page, _ = await reader.post(f"/accords/{loan}/accept", {"csrf_token": csrf_of(page)})
        assert status == 403
        assert state_of(club, loan) == "requested"

        status, _, _ = await reader.get(f"/accords/{'0' * 32}")
        assert status == 404
        status, _, _ = await reader.get("/accords/pas-un-accord")
        assert status == 404


async def test_actions_need_a_signed_in_member_and_a_valid_form(tmp_path: Path) -> None:
    async with federation(tmp_path) as (club, food), signed_in(food, "marie") as borrower, \
            signed_in(club, "marie") as owner:
        loan = await ask_for_minibus(borrower)
        anonymous = Browser(club.url)
        try:
            status, _, resp = await anonymous.get(f"/accords/{loan}")
            assert status == 303 and resp.headers["Location"].startswith("/connexion")
            status, _, _ = await anonymous.post(f"/accords/{loan}/accept", {"csrf_token": "0" * 64})
            assert status in (303, 403)
        finally:
            await anonymous.close()
        status, _, _ = await owner.post(f"/accords/{loan}/accept", {"csrf_token": "0" * 64})
        assert status == 403  # forged or expired form
        status, page = await step(owner, loan, "decline", reason="")
        assert status == 400 and 'role="alert"' in page
        assert state_of(club, loan) == "requested"
        status, _ = await step(owner, loan, "decline", reason="Minibus en révision ce jour-là")
        assert status == 303 and state_of(club, loan) == "declined"
        status, page, _ = await borrower.get(f"/accords/{loan}")
        assert "décliné" in page and "Minibus en révision ce jour-là" in page
        assert "Fin anticipée par le prêteur" in page
