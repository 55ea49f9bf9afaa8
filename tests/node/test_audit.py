"""Auditing between two real nodes: a loan's bundle verifies; tampering with either database is named;
an exported bundle verifies in a fresh process with no node; a counterpart that is gone is reported."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from node import cli
from node.app import RunningNode
from protocol.audit import from_json, load_bundle, verify_bundle
from storage import agreements as stored
from storage import log, session

from .harness import REPO, introduce, local_api, make_home, running
from .test_lending import CHAIRS, days_ahead, publish


def _db(node: RunningNode) -> Path:
    return node.config.home / "node.sqlite"


def _index_of(node: RunningNode, message_id: bytes) -> int:
    with session(node.node.engine) as s:
        index = log.index_of(s, message_id)
    assert index is not None
    return index


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`maillage ARGS` in this process (on a thread: the nodes serve on this event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _fresh(*args: str, lang: str = "fr") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILLAGE_LANG": lang}
    return subprocess.run([sys.executable, "-m", "node.cli", *args], check=False, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


async def test_a_loan_audits_clean_and_tampering_with_either_database_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    club_home = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_home) as club, running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        introduce(club, food)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, CHAIRS)
            _, asked = await borrower("POST", "/loans", json={
                "owner": club.node.node_id, "resource": "chaises", "period": days_ahead(3, 3), "quantity": 5})
            assert asked["state"] == "sealed", asked
            loan = asked["id"]
            for action, body in (("handover", {"condition": "propres"}), ("return", {"condition": "propres"})):
                status, done = await owner("POST", f"/agreements/{loan}/{action}", json=body)
                assert status == 200, done
            assert await food.node.witness.round() == {club.node.node_id: "new"}

            # The bundle, built live by either node, verifies: four events in both logs.
            for api in (owner, borrower):
                status, bundle_json = await api("GET", f"/agreements/{loan}/audit")
                assert status == 200
                report = verify_bundle(from_json(bundle_json))
                assert report.ok, report.findings
                assert report.state == "returned" and report.checked["inclusion"] == 8
                assert report.checked["logs"] == 2 and report.checked["cosignatures"] >= 1
            status, _ = await owner("GET", f"/agreements/{'0' * 32}/audit")
            assert status == 404

            code, out = await _cli(capsys, "audit", "verify", "--home", str(food.config.home), loan[:8])
            assert code == 0, out
            assert "✓ Signatures des événements (clé valable à leur date) : 4" in out and "Tout est vérifié" in out
            bundle_file = tmp_path / "pret.json"
            code, out = await _cli(capsys, "audit", "export", "--home", str(food.config.home), loan, "-o", str(bundle_file))
            assert code == 0 and bundle_file.exists(), out
            for node in (club, food):
                code, out = await _cli(capsys, "audit", "log", "--home", str(node.config.home))
                assert code == 0 and "✓ Feuilles du journal = événements enregistrés : 4" in out, out

            with session(food.node.engine) as s:
                chain = stored.chain(s, bytes.fromhex(loan))
            from protocol.envelope import stored_envelope

            ids = [stored_envelope(raw).message_id for raw in chain]

            # 1. One byte of a stored event changes in the borrower's database.
            tampered = bytearray(chain[2])
            tampered[-1] ^= 1  # the signature's last byte
            with sqlite3.connect(_db(food)) as db:
                db.execute("UPDATE agreement_events SET envelope = ? WHERE message_id = ?", (bytes(tampered), ids[2]))
            code, out = await _cli(capsys, "audit", "log", "--home", str(food.config.home))
            assert code == 1 and f"entrée {_index_of(food, ids[2])}" in out, out
            code, out = await _cli(capsys, "audit", "verify", "--home", str(food.config.home), loan)
            assert code == 1 and "événement 2" in out and "signature invalide" in out, out

            # 2. A leaf hash changes in the owner's log.
            leaf = _index_of(club, ids[1])
            with sqlite3.connect(_db(club)) as db:
                db.execute("UPDATE log_entries SET leaf_hash = ? WHERE idx = ?", (b"\x00" * 32, leaf))
            code, out = await _cli(capsys, "--verbose", "audit", "log", "--home", str(club.config.home))
            assert code == 1 and f"entrée {leaf}" in out and "racine du journal n'est pas" in out, out
            code, out = await _cli(capsys, "audit", "verify", "--home", str(club.config.home), loan, "--json")
            assert code == 1
            findings = json.loads(out.splitlines()[0])["findings"]
            # The event itself is still provably in the signed tree; the damaged leaf breaks the proof that
            # uses it as a sibling (its neighbour's: the others use the stored subtree above it).
            named = {(f["check"], f["problem"], f.get("seq"), f.get("party")) for f in findings}
            assert named == {("inclusion", "not-included", 0, club.node.node_id)}, findings

            # 3. The owner's last event row is deleted.
            with sqlite3.connect(_db(club)) as db:
                db.execute("DELETE FROM agreement_events WHERE message_id = ?", (ids[3],))
            code, out = await _cli(capsys, "audit", "log", "--home", str(club.config.home))
            assert code == 1 and f"entrée {_index_of(club, ids[3])}" in out and "introuvable" in out, out
            code, out = await _cli(capsys, "audit", "verify", "--home", str(club.config.home), loan)
            assert code == 1 and "événement 3" in out and "manquant" in out, out

    # No node, no network: the exported bundle verifies in a fresh process, in French and in English.
    done = _fresh("audit", "verify", "--bundle", str(bundle_file))
    assert done.returncode == 0 and "Tout est vérifié" in done.stdout, done.stdout + done.stderr
    done = _fresh("audit", "verify", "--bundle", str(bundle_file), lang="en")
    assert done.returncode == 0 and "Everything checks out" in done.stdout, done.stdout + done.stderr
    # … and one changed hex digit in it is named.
    bundle = json.loads(bundle_file.read_text())
    proof = bundle["logs"][1]["proofs"][0]["path"][0]
    bundle["logs"][1]["proofs"][0]["path"][0] = ("1" if proof[0] != "1" else "2") + proof[1:]
    bad_file = tmp_path / "altere.json"
    bad_file.write_text(json.dumps(bundle))
    done = _fresh("audit", "verify", "--bundle", str(bad_file), lang="en")
    assert done.returncode == 1 and "event 0" in done.stdout and "not in the log" in done.stdout, done.stdout
    assert verify_bundle(load_bundle(bundle_file.read_bytes())).ok


async def test_a_counterpart_that_cannot_be_reached_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    food_config = make_home(tmp_path, "Banque alimentaire")
    async with running(food_config) as food:
        async with running(make_home(tmp_path, "Club sportif", auto_accept=["*"])) as club:
            introduce(food, club)
            async with local_api(club) as owner, local_api(food) as borrower:
                await publish(owner, CHAIRS)
                _, asked = await borrower("POST", "/loans", json={
                    "owner": club.node.node_id, "resource": "chaises", "period": days_ahead(5, 5), "quantity": 2})
                assert asked["state"] == "sealed", asked
        # The club's node is gone.
        async with local_api(food) as borrower:
            status, bundle_json = await borrower("GET", f"/agreements/{asked['id']}/audit")
        assert status == 200
        report = verify_bundle(from_json(bundle_json))
        assert [(f.check, f.problem, f.party) for f in report.findings] == [("logs", "not-checked", club.node.node_id)]
        code, out = await _cli(capsys, "audit", "verify", "--home", str(food.config.home), asked["id"][:10])
        assert code == 1 and "journal non vérifié" in out, out
