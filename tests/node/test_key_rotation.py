"""A node changes its key while the federation runs: its id stays, old records keep verifying,
new ones verify with the new key everywhere (also through relays), the retired key is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from node import catalogue, keys
from node.app import RunningNode
from node.clock import now_ms
from node.config import NodeConfig
from node.wire import CONTENT_TYPE
from protocol import decode, seal
from storage import identity, make_engine, peers, session

from .harness import REPO, make_home, running, seed_of


def _titles(node: RunningNode) -> set[str]:
    with node.node.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT title FROM records WHERE rtype = 'resource'").all()
    return {title for (title,) in rows}


def _rotate(config: NodeConfig) -> keys.Rotation:
    engine = make_engine(config.database_url)
    try:
        return keys.rotate_key(config, engine)
    finally:
        engine.dispose()


def _retired_key(config: NodeConfig, rotation: keys.Rotation) -> object:
    (path,) = config.home.glob("node.key.retired-*")
    key = identity.read_key_file(path)
    assert key.key_id == rotation.retired_key
    return key


async def _post(url: str, path: str, data: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/fed/v1/{path}", data=data, headers={"Content-Type": CONTENT_TYPE}) as resp:
            return resp.status, decode(await resp.read())


async def test_key_rotation_across_a_running_federation(tmp_path: Path) -> None:
    a_config = make_home(tmp_path, "Banque alimentaire")
    async with running(make_home(tmp_path, "Club sportif")) as b, running(make_home(tmp_path, "MJC")) as c:
        async with running(a_config) as a:
            node_id = a.node.node_id
            catalogue.publish(a.node.engine, a.node.key, "resource", {"id": "frigo", "kind": "vehicle", "title": "Camion frigorifique"})
            with session(b.node.engine) as s, s.begin():
                peers.upsert(s, node_id, addresses=[a.url], source="seed", now_ms=0)
            with session(c.node.engine) as s, s.begin():
                peers.upsert(s, b.node.node_id, addresses=[b.url], source="seed", now_ms=0)
            await b.node.sync_round()
            await c.node.sync_round()
            assert "Camion frigorifique" in _titles(c)

        rotation = _rotate(a_config)
        assert rotation.node_id == node_id and rotation.current_key != node_id

        async with running(a_config) as a:
            assert a.node.node_id == node_id and a.node.key.key_id == rotation.current_key
            with session(b.node.engine) as s, s.begin():
                peers.upsert(s, node_id, addresses=[a.url], source="seed", now_ms=0)
            catalogue.publish(a.node.engine, a.node.key, "resource", {"id": "sono", "kind": "equipment", "title": "Sono"})
            report = await b.node.sync_round()  # B talks to A: handshake signed by the new key
            assert report.failed == 0
            assert {"Camion frigorifique", "Sono"} <= _titles(b)
            assert b.node.keyring.chain(node_id)[-1].key == rotation.current_key

        # A is stopped again. C has never talked to A: it learns the rotation through B.
        await c.node.sync_round()
        assert {"Camion frigorifique", "Sono"} <= _titles(c)
        assert c.node.keyring.chain(node_id)[-1].key == rotation.current_key

        # Whoever holds the retired key can no longer speak or publish for A.
        retired = _retired_key(a_config, rotation).for_node(node_id)  # type: ignore[attr-defined]
        hello = seal(retired, "hello", {"descriptor": b"x"}, now_ms=now_ms(), audience=[b.node.node_id])
        status, error = await _post(b.url, "hello", hello.raw)
        assert (status, error["code"]) == (401, "retired-key")
        forged = seal(retired, "resource", {"id": "frigo", "kind": "vehicle", "title": "Vendu !"}, now_ms=now_ms())
        push = seal(c.node.key, "push", {"records": [forged.raw]}, now_ms=now_ms(), audience=[b.node.node_id])
        status, reply = await _post(b.url, "push", push.raw)
        assert status == 200
        (rejected,) = decode(reply["p"])["body"]["rejected"]
        assert rejected["code"] == "retired-key"
        assert "Vendu !" not in _titles(b)
        assert "Camion frigorifique" in _titles(b)


def test_the_cli_rotates_a_stopped_node_and_refuses_a_running_one(tmp_path: Path) -> None:
    config = make_home(tmp_path, "Ressourcerie")
    env = {**os.environ, "MAILLAGE_LANG": "fr"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "node.cli", *args, "--home", str(config.home)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    node_id = cli("id").stdout.strip()
    done = cli("key", "rotate")
    assert done.returncode == 0, done.stderr
    assert f"L'identifiant du nœud ne change pas : {node_id}" in done.stdout
    assert cli("id").stdout.strip() == node_id
    retired = list(config.home.glob("node.key.retired-*"))
    assert len(retired) == 1 and (retired[0].stat().st_mode & 0o777) == 0o600
    assert (config.key_path.stat().st_mode & 0o777) == 0o600

    # Pretend the node runs (this very process holds the pid): rotation is refused.
    config.runtime_path.write_text(f'{{"pid": {os.getpid()}, "url": "http://127.0.0.1:1"}}')
    refused = cli("key", "rotate")
    assert refused.returncode != 0 and "arrêtez" in refused.stderr.lower() + refused.stdout.lower()


def test_an_interrupted_rotation_is_finished_or_forgotten_at_start(tmp_path: Path) -> None:
    config = make_home(tmp_path, "Ressourcerie")
    engine = make_engine(config.database_url)
    try:
        genesis = keys.load_signing_key(config, engine)
        # Crash after the successor key was written but before the descriptor committed: forgotten.
        from protocol import SigningKey

        stray = SigningKey.generate()
        identity.write_key_file(config.key_path.with_name("node.key.next"), stray)
        assert keys.load_signing_key(config, engine).key_id == genesis.key_id
        assert not config.key_path.with_name("node.key.next").exists()

        # Crash after the commit but before the key files were swapped: finished.
        rotation = keys.rotate_key(config, engine)
        current = identity.read_key_file(config.key_path)
        os.replace(config.key_path, config.key_path.with_name("node.key.next"))
        (retired,) = config.home.glob("node.key.retired-*")
        os.replace(retired, config.key_path)
        assert keys.load_signing_key(config, engine).key_id == current.key_id == rotation.current_key

        # The retired key alone can no longer start the node.
        (retired,) = config.home.glob("node.key.retired-*")
        os.replace(config.key_path, tmp_path / "current.key")
        os.replace(retired, config.key_path)
        with pytest.raises(identity.KeyFileError, match="retired"):
            keys.load_signing_key(config, engine)
    finally:
        engine.dispose()
