"""Transparency logs between real nodes: every agreement event is a leaf, peers witness and cosign
checkpoints, a forked log is caught and the proof travels, a restored backup does not fork its log."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from node import cli
from node.app import RunningNode
from node.clock import now_ms
from protocol import open_envelope, seal
from protocol.checkpoints import parse_checkpoint
from protocol.merkle import leaf_hash, verify_inclusion
from storage import agreements as stored
from storage import log, session

from .harness import introduce, local_api, make_home, running
from .test_lending import CHAIRS, days_ahead, publish, until


async def _loan(borrower: Any, owner_node: RunningNode, days: int = 3) -> str:
    _, done = await borrower("POST", "/loans", json={
        "owner": owner_node.node.node_id, "resource": "chaises", "period": days_ahead(days, days), "quantity": 5})
    assert done["state"] == "sealed", done
    return str(done["id"])


def _backup(database: Path, target: Path) -> None:
    """What `sqlite3 node.sqlite ".backup target"` does: a consistent copy of a live database."""
    import sqlite3

    with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
        source.backup(copy)


def _log_size(node: RunningNode) -> int:
    with session(node.node.engine) as s:
        return log.size(s)


async def test_every_event_is_logged_by_both_parties_and_witnesses_cosign_consistent_checkpoints(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(make_home(tmp_path, "Banque alimentaire")) as food:
        introduce(food, club)
        introduce(club, food)
        async with local_api(club) as owner, local_api(food) as borrower:
            await publish(owner, CHAIRS)
            loan = await _loan(borrower, club)
            assert _log_size(club) == _log_size(food) == 2  # request and acceptance, in both logs
            assert await food.node.witness.round() == {club.node.node_id: "new"}
            assert await club.node.witness.round() == {food.node.node_id: "new"}
            # The log grows; the next checkpoint must be consistent with the one witnessed.
            await _loan(borrower, club, days=4)
            assert await food.node.witness.round() == {club.node.node_id: "new"}
            assert await food.node.witness.round() == {club.node.node_id: "same"}
        with session(club.node.engine) as s:
            latest = log.latest_checkpoint(s, club.node.node_id)
            assert latest is not None and latest.size == 4
            cosigned = log.cosignatures(s, latest.message_id)
            chain = stored.chain(s, bytes.fromhex(loan))
            leaves = log.leaf_hashes(s, latest.size)
        assert len(cosigned) == 1 and open_envelope(cosigned[0]).issuer == food.node.node_id
        # Each event of the first loan is in the club's log at the index the log gives, under the signed root.
        from node import transparency

        checkpoint = parse_checkpoint(open_envelope(bytes(latest.envelope)))
        for raw in chain:
            event = open_envelope(raw)
            proof = transparency.proofs(club.node, checkpoint.size, event.message_id, None)
            assert leaves[proof["index"]] == leaf_hash(raw)
            assert verify_inclusion(leaf_hash(raw), proof["index"], checkpoint.size, proof["inclusion"], checkpoint.root)


async def test_a_node_that_signs_two_different_logs_is_caught_and_a_third_node_accepts_the_proof(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    async with running(club_config) as club, running(make_home(tmp_path, "Banque alimentaire")) as food, \
            running(make_home(tmp_path, "MJC")) as youth:
        introduce(food, club, youth)
        introduce(club, food)
        introduce(youth, club, food)
        async with local_api(club) as owner, local_api(food) as borrower, local_api(youth) as third:
            await publish(owner, CHAIRS)
            await _loan(borrower, club)
            await _loan(third, club, days=5)  # the youth centre holds an agreement with the club too
            assert (await food.node.witness.round())[club.node.node_id] == "new"
            # The club signs a second checkpoint of the same size with another root (a forked log).
            with session(club.node.engine) as s, s.begin():
                size = log.size(s)
                forged = parse_checkpoint(seal(club.node.key, "checkpoint", {"size": size, "root": b"\x07" * 32},
                                               now_ms=now_ms() + 1000))
                log.store_checkpoint(s, forged, now_ms=now_ms())
            assert (await food.node.witness.round())[club.node.node_id] == "equivocation"
            # The food bank passed the proof to the other node it deals with, which checked it itself.
            with session(youth.node.engine) as s:
                (caught,) = log.equivocations(s)
            assert caught.origin == club.node.node_id and caught.reported_by == food.node.node_id
            status, listed = await third("GET", "/peers")
            flagged = {p["node_id"]: p.get("equivocated") for p in listed["peers"]}
            assert flagged[club.node.node_id] is True and flagged[food.node.node_id] is False
            capsys.readouterr()
            assert await asyncio.to_thread(cli.main, ["peers", "--home", str(youth.config.home)]) == 0
            shown = capsys.readouterr().out
            club_row = shown[shown.index("Club sportif"):]
            assert "⚠ ce nœud a signé deux versions de son journal" in club_row.split("Banque alimentaire")[0]


async def test_a_node_restored_from_an_old_backup_refuses_to_fork_its_log(tmp_path: Path) -> None:
    club_config = make_home(tmp_path, "Club sportif", auto_accept=["*"])
    food_config = make_home(tmp_path, "Banque alimentaire")
    backup = tmp_path / "backup.sqlite"
    async with running(food_config) as food:
        async with running(club_config) as club:
            introduce(food, club)
            introduce(club, food)
            async with local_api(club) as owner, local_api(food) as borrower:
                await publish(owner, CHAIRS)
                await _loan(borrower, club)
                _backup(club_config.home / "node.sqlite", backup)  # the club's nightly backup
                await _loan(borrower, club, days=4)
                assert (await food.node.witness.round())[club.node.node_id] == "new"  # size 4 witnessed
        # The club's disk dies; its operator restores last night's backup (size 2).
        for suffix in ("", "-wal", "-shm"):
            (club_config.home / f"node.sqlite{suffix}").unlink(missing_ok=True)
        shutil.copy(backup, club_config.home / "node.sqlite")
        async with running(club_config) as club:
            introduce(club, food)
            introduce(food, club)  # the club listens on a new port
            recovery = await club.node.witness.check_own_log()
            assert recovery is not None and (recovery.witnessed_size, recovery.local_size) == (4, 2)
            async with local_api(club) as owner, local_api(food) as borrower:
                before = _log_size(club)
                _, refused = await borrower("POST", "/loans", json={
                    "owner": club.node.node_id, "resource": "chaises", "period": days_ahead(6, 6)})
                assert refused["refusal"]["code"] == "conflict" and "behind" in refused["refusal"]["message"]
                assert _log_size(club) == before
                status, info = await owner("GET", "/log")
                assert status == 200 and info["recovery"]["witnessed_size"] == 4
