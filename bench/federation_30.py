"""Thirty nodes, each its own `maillage run` process on 127.0.0.1: propagation time and memory.

Every node is given node 0 as its only seed (peer exchange does the rest). Once
the federation has converged, one node publishes a record through its local
API; we time how long until all thirty hold it (polling their SQLite files
read-only), and read each idle node's resident memory. Targets (issue 3):
propagation < 5 s, RSS per idle node < 80 MB. The baseline in the same run is
the time one node takes to store a record it publishes itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.home import init_home  # noqa: E402


def start(home: Path, seed: str | None, interval: float) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "node.cli", "run", "--home", str(home), "--port", "0", "--sync-interval", str(interval)]
    if seed:
        args += ["--seed", seed]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_runtime(home: Path, deadline: float) -> dict[str, str]:
    while time.monotonic() < deadline:
        try:
            return json.loads((home / "run.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.05)
    raise SystemExit(f"{home} did not start")


def holds(home: Path, record_id: str) -> bool:
    with sqlite3.connect(f"file:{home / 'node.sqlite'}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute("SELECT 1 FROM records WHERE record_id = ?", (record_id,)).fetchone() is not None


def count_descriptors(home: Path) -> int:
    with sqlite3.connect(f"file:{home / 'node.sqlite'}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT count(*) FROM records WHERE rtype = 'descriptor'").fetchone()[0])


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a node and every process it started, in MB.

    RSS counts the shared libraries in full for each node; PSS shares them out
    among the processes that map them, which is what thirty nodes on one host cost each.
    """
    rss = pss = 0.0
    for proc in [pid, *_children(pid)]:
        for line in Path(f"/proc/{proc}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss += int(line.split()[1]) / 1024
    return rss, pss


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def publish(home: Path, runtime: dict[str, str], record_id: str) -> None:
    token = (home / "api-token").read_text().strip()
    body = json.dumps({"type": "resource", "body": {"id": record_id, "kind": "other", "title": "Test"}}).encode()
    request = urllib.request.Request(runtime["api_url"] + "/api/v1/records", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--interval", type=float, default=2.0, help="background sync interval of each node (s)")
    args = parser.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="maillage-fed30-") as tmp:
        homes = [init_home(Path(tmp) / f"n{i}", name=f"Association {i}", port=0).home for i in range(args.n)]
        try:
            procs.append(start(homes[0], None, args.interval))
            first = wait_runtime(homes[0], time.monotonic() + 60)
            seed = f"{first['url']}#{first['node_id']}"
            procs += [start(home, seed, args.interval) for home in homes[1:]]
            runtimes = [first] + [wait_runtime(h, time.monotonic() + 120) for h in homes[1:]]
            started = time.monotonic()
            while time.monotonic() - started < 180 and min(count_descriptors(h) for h in homes) < args.n:
                time.sleep(0.5)
            known = min(count_descriptors(h) for h in homes)
            print(f"{args.n} nodes started; every node knows {known}/{args.n} descriptors after {time.monotonic() - started:.1f} s")
            time.sleep(2 * args.interval)  # let the federation go idle

            t0 = time.monotonic()
            publish(homes[-1], runtimes[-1], "baseline")
            while not holds(homes[-1], "baseline"):
                time.sleep(0.005)
            local = time.monotonic() - t0

            t0 = time.monotonic()
            publish(homes[-1], runtimes[-1], "nouvelle")
            pending = set(range(args.n))
            reached: list[float] = []
            while pending and time.monotonic() - t0 < 60:
                for i in list(pending):
                    if holds(homes[i], "nouvelle"):
                        pending.discard(i)
                        reached.append(time.monotonic() - t0)
                time.sleep(0.02)
            spread = max(reached) if not pending else float("inf")
            memory = [memory_mb(p.pid) for p in procs]
            rss = sorted(m[0] for m in memory)
            pss = sorted(m[1] for m in memory)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    print(f"publish on one node, stored locally: {local * 1000:.0f} ms (baseline)")
    print(f"new record on all {args.n} nodes: {spread:.2f} s = {spread / local:.0f} x the baseline (target < 5 s); "
          f"median node {sorted(reached)[len(reached) // 2]:.2f} s; sync interval {args.interval} s")
    print(f"RSS per idle node (with its child processes): median {rss[len(rss) // 2]:.0f} MB, "
          f"max {rss[-1]:.0f} MB (target < 80 MB); PSS median {pss[len(pss) // 2]:.0f} MB; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
