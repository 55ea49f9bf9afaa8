"""The audit page: the log's state, an agreement verified from its live bundle, the bundle downloaded."""

from __future__ import annotations

import json
import re
from pathlib import Path

from node.clock import now_ms
from protocol import seal
from protocol.audit import from_json, verify_bundle
from protocol.checkpoints import CHECKPOINT_TYPE, parse_checkpoint
from storage import log, session

from .test_pages_agreements import state_of, step
from .test_pages_search import ask_for_minibus, federation, signed_in


async def test_the_audit_page_verifies_an_agreement_and_its_bundle_downloads(tmp_path: Path) -> None:
    async with federation(tmp_path, auto_accept=["*"]) as (club, food), signed_in(food, "lucien") as reader, \
            signed_in(food, "marie") as member, signed_in(club, "marie") as owner:
        loan = await ask_for_minibus(member)
        assert state_of(food, loan) == "sealed"  # the owner's policy accepted it at once
        status, _ = await step(owner, loan, "handover", condition="Propre")
        assert status == 303
        assert await food.node.witness.round() == {club.node.node_id: "new"}  # the borrower cosigns the owner's log

        status, page, _ = await reader.get("/audit")
        assert status == 200
        assert "3 événements enregistrés" in page and "aucune preuve d'équivoque" in page
        assert f'<option value="{loan}">' in page

        status, page, _ = await reader.get(f"/audit?accord={loan[:10]}")  # the start of an id is enough
        assert status == 200, page[:3000]
        report = page.split('id="rapport"', 1)[1]
        assert "Tout est vérifié : rien n'a été modifié." in report
        assert "✗" not in report and "échec" not in report
        assert report.count("✓ vérifié") == 10  # every check group held
        assert "Signatures des événements (clé valable à leur date)" in report and "Cosignatures des témoins" in report

        status, body, resp = await reader.get(f"/audit/{loan}/bundle")
        assert status == 200 and resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Content-Disposition"] == f'attachment; filename="accord-{loan}.json"'
        bundle = json.loads(body)
        assert bundle["format"] == "maillage-audit-bundle" and bundle["agreement"] == loan
        assert verify_bundle(from_json(bundle)).ok

        status, page, _ = await reader.get("/audit?accord=0123456789abcdef")
        assert status == 404 and 'role="alert"' in page
        status, _, _ = await reader.get(f"/audit/{'0' * 32}/bundle")
        assert status == 404


async def test_a_forked_log_is_shown_first_and_a_tampered_event_fails_its_check(tmp_path: Path) -> None:
    async with federation(tmp_path, auto_accept=["*"]) as (club, food), signed_in(food, "marie") as member:
        loan = await ask_for_minibus(member)
        # A peer caught signing two versions of its log: recorded as an equivocation.
        first, second = (parse_checkpoint(seal(club.node.key, CHECKPOINT_TYPE, {"size": 9, "root": bytes([n]) * 32},
                                               now_ms=now_ms())) for n in (1, 2))
        with session(food.node.engine) as s, s.begin():
            log.store_equivocation(s, first, second, reported_by=food.node.node_id, now_ms=now_ms())
        status, page, _ = await member.get("/audit")
        assert status == 200
        alert = page.split('role="alert"', 1)
        assert len(alert) == 2 and "Équivoque détectée" in alert[1] and "Club sportif" in alert[1]

        # One byte of a stored event changes: the agreement page and the audit both say so.
        import sqlite3

        from protocol.envelope import stored_envelope
        from storage import agreements as stored

        with session(food.node.engine) as s:
            chain = stored.chain(s, bytes.fromhex(loan))
        tampered = bytearray(chain[1])
        tampered[-1] ^= 1
        with sqlite3.connect(food.config.home / "node.sqlite") as db:
            db.execute("UPDATE agreement_events SET envelope = ? WHERE message_id = ?",
                       (bytes(tampered), stored_envelope(chain[1]).message_id))
        status, page, _ = await member.get(f"/accords/{loan}")
        assert status == 200 and "Signatures non vérifiées" in page and "Signatures vérifiées" not in page
        status, page, _ = await member.get(f"/audit?accord={loan}")
        assert status == 200
        report = page.split('id="rapport"', 1)[1]
        assert re.search(r"Signatures des événements \(clé valable à leur date\)</th>\s*<td>\s*<strong>✗", report), report
        assert "signature invalide" in report and "événement 1" in report
