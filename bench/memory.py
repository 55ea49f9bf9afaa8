"""Resident memory of an idle node, against the fixed stack's floor measured in the same run.

Starts one `maillage run` node (a fresh home, no peers) and, beside it,
``bench/stack_floor.py`` (aiohttp + cryptography + msgpack + SQLModel/SQLite,
idle, no Maillage code). After both settle, prints RSS and PSS of each (child
processes included), the node's excess over the floor and the ratio. Target
(issue 3): RSS per idle node < 80 MB.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.federation_30 import memory_mb, start, wait_runtime  # noqa: E402
from node.home import init_home  # noqa: E402

SETTLE_S = 8.0


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="maillage-memory-") as tmp:
        home = init_home(Path(tmp) / "node", name="Association mémoire", port=0).home
        node = start(home, None, 2.0)
        floor = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stack_floor.py"), str(Path(tmp) / "floor.sqlite")],
                                 stdout=subprocess.PIPE)
        try:
            wait_runtime(home, time.monotonic() + 60)
            assert floor.stdout is not None and floor.stdout.readline().strip() == b"ready"
            time.sleep(SETTLE_S)
            node_rss, node_pss = memory_mb(node.pid)
            floor_rss, floor_pss = memory_mb(floor.pid)
        finally:
            for proc in (node, floor):
                proc.terminate()
            for proc in (node, floor):
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    print(f"fixed stack alone, idle (baseline): RSS {floor_rss:.1f} MB, PSS {floor_pss:.1f} MB")
    print(f"idle node: RSS {node_rss:.1f} MB (target < 80 MB), PSS {node_pss:.1f} MB")
    print(f"node over the floor: +{node_rss - floor_rss:.1f} MB RSS = {node_rss / floor_rss:.2f} x the baseline")


if __name__ == "__main__":
    main()
