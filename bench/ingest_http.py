"""Catalogue ingest over HTTP between two real nodes, as a ratio of one-core raw Ed25519 verification.

Node A (its own process) holds N signed records; node B (this process) pulls
them with the ordinary sync round: signed `changes` requests, every record's
signature verified against its author, every page committed with its cursor
to SQLite (synchronous=FULL). Target (issue 2): ratio >= 0.75.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

from bench.common import best_rate, sample_bodies  # noqa: E402
from node import catalogue  # noqa: E402
from node.app import start_node  # noqa: E402
from node.config import Seed, load  # noqa: E402
from node.home import init_home  # noqa: E402
from protocol import SIGNING_PREFIX, decode, public_key_from_node_id  # noqa: E402
from storage import make_engine, records, session  # noqa: E402
from storage.identity import read_key_file  # noqa: E402


def raw_verify_rate(raws: list[bytes]) -> float:
    prepared = []
    for raw in raws:
        outer = decode(raw)
        key = Ed25519PublicKey.from_public_bytes(public_key_from_node_id(decode(outer["p"])["iss"]))
        prepared.append((key, outer["s"], SIGNING_PREFIX + outer["p"]))

    def run() -> int:
        for key, signature, message in prepared:
            key.verify(signature, message)
        return len(prepared)

    return best_rate(run, repeats=3)[0]


def prepare_source(base: Path, n: int) -> tuple[Path, list[bytes]]:
    config = init_home(base / "a", name="Source", port=0)
    engine = make_engine(config.database_url)
    key = read_key_file(config.key_path)
    bodies = sample_bodies(n)
    for i in range(0, n, 5000):
        catalogue.publish_many(engine, key, "resource", bodies[i : i + 5000])
    with session(engine) as s:
        raws = [bytes(r.envelope) for r in records.list_by_author(s, key.node_id) if r.rtype == "resource"]
    engine.dispose()
    return config.home, raws


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_with_workers(running: object) -> float:
    """CPU seconds of this process and of the node's verification worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = getattr(running.node.cpu_executor, "_processes", {}) or {}  # type: ignore[attr-defined]
    return own.ru_utime + own.ru_stime + sum(process_cpu_s(pid) for pid in workers)


async def pull_once(base: Path, seed: Seed, batch: int, source_pid: int) -> tuple[float, int]:
    config = init_home(base / f"b-{time.monotonic_ns()}", name="Sink", port=0)
    config = replace(load(config.home), host="127.0.0.1", port=0, seeds=(seed,), background_sync=False, sync_batch=batch,
                     sync_max_pages=10**6)
    node = await start_node(config)
    try:
        await node.node.warm_up()  # steady state: worker processes already started
        cpu_before = _cpu_with_workers(node)
        source_before = process_cpu_s(source_pid)
        start = time.perf_counter()
        report = await node.node.sync_round()
        elapsed = time.perf_counter() - start
        cpu_after = _cpu_with_workers(node)
        source_cpu = process_cpu_s(source_pid) - source_before
        cpu = cpu_after - cpu_before
        print(f"  pull: {elapsed:.2f} s wall; CPU {cpu:.2f} s in the pulling node, {source_cpu:.2f} s in the serving node")
    finally:
        await node.stop()
    assert report.failed == 0 and report.refused == 0, report.errors
    return elapsed, report.stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maillage-bench-") as tmp:
        base = Path(tmp)
        home, raws = prepare_source(base, args.n)
        proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "run", "--home", str(home), "--port", "0", "--sync-interval", "3600"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not (home / "run.json").exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("source node did not start")
                time.sleep(0.05)
            runtime = json.loads((home / "run.json").read_text())
            seed = Seed(url=runtime["url"], node_id=runtime["node_id"])
            rates, verify = [], []
            for _ in range(args.runs):  # interleave baseline and ingest so drift hits both
                verify.append(raw_verify_rate(raws[:3000]))
                elapsed, stored = asyncio.run(pull_once(base, seed, args.batch, proc.pid))
                assert stored >= args.n, f"stored {stored} of {args.n}"
                rates.append(stored / elapsed)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    raw_rate, ingest = max(verify), max(rates)
    print(f"records: {args.n} (+ descriptor), batch {args.batch}, SQLite synchronous=FULL, {os.cpu_count()} cores")
    print(f"raw Ed25519 verify, one core   {raw_rate:10.0f} /s")
    print(f"HTTP ingest, all checked       {ingest:10.0f} /s   ratio {ingest / raw_rate:.3f}  (target >= 0.75)")
    print(f"  runs: {', '.join(f'{r:.0f}' for r in rates)}")


if __name__ == "__main__":
    main()
