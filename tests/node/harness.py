"""Real nodes for tests: homes made by `init`, servers on 127.0.0.1, in-process or as processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from node.app import RunningNode, start_node
from node.config import NodeConfig, Seed, load
from node.home import init_home

REPO = Path(__file__).resolve().parents[2]


def make_home(base: Path, name: str, *, db_url: str | None = None, **settings: Any) -> NodeConfig:
    """A node home as `maillage init` makes it; extra settings are appended to its config file."""
    home = base / name.lower().replace(" ", "-")
    config = init_home(home, name=name, port=0, db_url=db_url)
    if settings:
        lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        with (home / "config.toml").open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return load(config.home)


def seed_of(running: RunningNode) -> Seed:
    return Seed(url=running.url, node_id=running.node.node_id)


@asynccontextmanager
async def running(config: NodeConfig, *seeds: Seed) -> AsyncIterator[RunningNode]:
    """A node serving on 127.0.0.1 in this process, without background sync: tests drive rounds."""
    config = replace(config, host="127.0.0.1", port=0, seeds=config.seeds + seeds, background_sync=False)
    node = await start_node(config)
    try:
        yield node
    finally:
        await node.stop()


class NodeProcess:
    """`maillage run` in a child process; killed (and waited for) by ``stop``/``kill``."""

    def __init__(self, config: NodeConfig, *seeds: Seed, sync_interval_s: float = 0.2) -> None:
        self.config = config
        if config.runtime_path.exists():
            config.runtime_path.unlink()
        args = [sys.executable, "-m", "node.cli", "run", "--home", str(config.home), "--port", "0",
                "--sync-interval", str(sync_interval_s)]
        for seed in seeds:
            args += ["--seed", str(seed)]
        self.log_path = config.home / "process.log"
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited: {self.log_path.read_text(errors='replace')}")
            try:
                return str(json.loads(self.config.runtime_path.read_text())["url"])
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                time.sleep(0.05)
        self.kill()
        raise TimeoutError(f"node did not start: {self.log_path.read_text(errors='replace')}")

    @property
    def seed(self) -> Seed:
        node_id = json.loads(self.config.runtime_path.read_text())["node_id"]
        return Seed(url=self.url, node_id=node_id)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when the power goes."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.log.close()


@asynccontextmanager
async def local_api(node: RunningNode) -> AsyncIterator[Any]:
    """Call a running node's local API as its operator: ``await call(method, path, json=…)`` → (status, body)."""
    import aiohttp

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {node.node.token}"}) as http:

        async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            async with http.request(method, f"{node.url}/api/v1{path}", **kwargs) as resp:
                return resp.status, await resp.json()

        yield call


def introduce(node: RunningNode, *others: RunningNode) -> None:
    """Tell ``node`` where the others are (as a seed list would)."""
    from storage import peers, session

    with session(node.node.engine) as s, s.begin():
        for other in others:
            peers.upsert(s, other.node.node_id, addresses=[other.url], source="seed", now_ms=0)
