"""Thirty `maillage run` processes: how long a healed two-way partition takes to converge.

The cut is made in the network, not in the nodes. The benchmark re-runs itself
in a private network namespace (``unshare -n``; it needs root, as in the
development container) where the nodes listen on loopback addresses: half A on
127.0.1.x, run as uid 1001, half B on 127.0.2.x, run as uid 1002. Cutting adds
two policy-routing rules::

    ip rule add uidrange 1001-1001 to 127.0.2.0/24 unreachable
    ip rule add uidrange 1002-1002 to 127.0.1.0/24 unreachable

so a node of one half gets "host unreachable" for every address of the other
half (new connections and kept-alive ones alike), while its own half is
untouched; healing deletes the two rules. Nothing is said to the nodes: they
find the other half again on their own, when their back-off for those peers
runs out (5 s, 10 s, 20 s, ... after consecutive failures). The benchmark
process itself (root) still reaches every node's local API and reads every
node's SQLite file read-only.

Phases: (1) 30 nodes, every one seeded with node 0, until each knows the 30
descriptors; (2) baselines in the same run: one record published on one node
until all 30 hold it, then a batch of writes on both halves (new records,
edits, deletions) until all 30 hold identical versions, with the network
whole; (3) cut; the same kind of batch on both halves; each half converges on
its own; the cut is held ``--cut`` seconds in all; (4) heal, and time until
every node holds identical versions again: the same (author, id, message id)
for every public row, tombstones included, compared as a hash per node.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import shutil
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

from node.home import init_home

UIDS = (1001, 1002)
NETS = ("127.0.1", "127.0.2")
CUT_PREF = (100, 101)


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


def setup_netns() -> None:
    """In the fresh namespace: loopback up, and the local table looked up after our cut rules."""
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "rule", "add", "pref", "1000", "lookup", "local")
    sh("ip", "rule", "del", "pref", "0")


def cut() -> None:
    for side in (0, 1):
        other = NETS[1 - side]
        sh("ip", "rule", "add", "pref", str(CUT_PREF[side]), "uidrange", f"{UIDS[side]}-{UIDS[side]}",
           "to", f"{other}.0/24", "unreachable")


def heal() -> None:
    for pref in CUT_PREF:
        sh("ip", "rule", "del", "pref", str(pref))


_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the child: SIGKILL when the benchmark dies, however it dies."""
    _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Nodes:
    def __init__(self, base: Path, n: int, interval: float) -> None:
        self.n = n
        self.interval = interval
        self.half = n // 2
        self.homes = [init_home(base / f"n{i}", name=f"Association {i}", port=0).home for i in range(n)]
        for i, home in enumerate(self.homes):
            uid = self.uid(i)
            for path in [home, *home.rglob("*")]:
                os.chown(path, uid, uid)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.runtimes: list[dict[str, str]] = []
        self.conns: list[sqlite3.Connection] = []

    def side(self, i: int) -> int:
        return 0 if i < self.half else 1

    def uid(self, i: int) -> int:
        return UIDS[self.side(i)]

    def host(self, i: int) -> str:
        return f"{NETS[self.side(i)]}.{(i if i < self.half else i - self.half) + 1}"

    def start(self, i: int, seed: str | None) -> None:
        home = self.homes[i]
        uid = str(self.uid(i))
        # The interpreter may live under /root (mode 0700, as in the development container): the node
        # keeps only the capability to read and search directories (its worker processes exec it too).
        args = ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all,+dac_read_search",
                "--ambient-caps=+dac_read_search",
                sys.executable, "-m", "node.cli", "run", "--home", str(home), "--host", self.host(i), "--port", "0",
                "--sync-interval", str(self.interval), "--mdns", "off"]
        if seed:
            args += ["--seed", seed]
        log = (home / "process.log").open("ab")
        self.procs.append(subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads here)
                                           env={**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}))
        log.close()

    def wait_runtime(self, i: int, deadline: float) -> dict[str, str]:
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise SystemExit(f"node {i} exited:\n{(self.homes[i] / 'process.log').read_text(errors='replace')[-3000:]}")
            try:
                return json.loads((self.homes[i] / "run.json").read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.05)
        raise SystemExit(f"node {i} did not start")

    def open_databases(self) -> None:
        self.conns = [sqlite3.connect(f"file:{h / 'node.sqlite'}?mode=ro", uri=True, timeout=10, isolation_level=None)
                      for h in self.homes]

    def digest(self, i: int) -> str:
        rows = self.conns[i].execute(
            "SELECT author, record_id, message_id FROM records WHERE public ORDER BY author, record_id").fetchall()
        h = hashlib.sha256()
        for author, record_id, message_id in rows:
            h.update(f"{author}\0{record_id}\0".encode() + bytes(message_id))
        return h.hexdigest()

    def digests(self) -> list[str]:
        return [self.digest(i) for i in range(self.n)]

    def descriptors(self, i: int) -> int:
        return int(self.conns[i].execute("SELECT count(*) FROM records WHERE rtype = 'descriptor'").fetchone()[0])

    def holds(self, i: int, record_id: str) -> bool:
        return self.conns[i].execute("SELECT 1 FROM records WHERE record_id = ?", (record_id,)).fetchone() is not None

    def api(self, i: int, method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        token = (self.homes[i] / "api-token").read_text().strip()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.runtimes[i]["api_url"] + "/api/v1" + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())

    def publish(self, i: int, record_id: str, title: str) -> None:
        self.api(i, "POST", "/records", {"type": "resource", "body": {"id": record_id, "kind": "equipment", "title": title}})

    def delete(self, i: int, record_id: str) -> None:
        self.api(i, "DELETE", f"/records/{record_id}")

    def cross_peers(self, i: int, now_ms: int) -> list[tuple[str, int, float]]:
        """Node i's view of the other half: (state, failures in a row, seconds until its next attempt is due)."""
        others = [self.runtimes[j]["node_id"] for j in range(self.n) if self.side(j) != self.side(i)]
        marks = ",".join("?" * len(others))
        rows = self.conns[i].execute(
            f"SELECT state, failures, next_attempt_ms FROM peers WHERE node_id IN ({marks})", others).fetchall()
        return [(state, failures, (due - now_ms) / 1000) for state, failures, due in rows]

    def stop(self) -> None:
        for conn in self.conns:
            conn.close()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_until(condition, limit: float, period: float = 0.05, t0: float | None = None) -> float:  # type: ignore[no-untyped-def]
    """Seconds from ``t0`` (default: now) until ``condition()`` holds (inf if it did not within ``limit``)."""
    t0 = time.monotonic() if t0 is None else t0
    while time.monotonic() - t0 < limit:
        if condition():
            return time.monotonic() - t0
        time.sleep(period)
    return float("inf")


def converge(nodes: Nodes, limit: float, period: float = 0.05, t0: float | None = None) -> tuple[float, list[float], str]:
    """Time from ``t0`` until all nodes hold identical versions; per node, when it first held the final set for good."""
    t0 = time.monotonic() if t0 is None else t0
    history: list[tuple[float, list[str]]] = []
    while time.monotonic() - t0 < limit:
        digests = nodes.digests()
        history.append((time.monotonic() - t0, digests))
        if len(set(digests)) == 1:
            final = digests[0]
            reached = []
            for i in range(nodes.n):
                t_i = history[-1][0]
                for t, ds in reversed(history):
                    if ds[i] != final:
                        break
                    t_i = t
                reached.append(t_i)
            return history[-1][0], reached, final
        time.sleep(period)
    return float("inf"), [], ""


def writes(nodes: Nodes, tag: str, writers: list[int], new: int, old: list[str]) -> list[str]:
    """On each writer: ``new`` new records, one edit and one deletion of its older records."""
    created = []
    for i in writers:
        for k in range(new):
            record_id = f"{tag}-{i}-{k}"
            nodes.publish(i, record_id, f"Lot {tag} {k} (association {i})")
            created.append(record_id)
        mine = [r for r in old if r.split("-")[1] == str(i)]
        if len(mine) >= 2:
            nodes.publish(i, mine[0], f"Lot {mine[0]} modifié pendant {tag}")
            nodes.delete(i, mine[1])
    return created


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def run(args: argparse.Namespace) -> None:
    setup_netns()
    tmp = Path(tempfile.mkdtemp(prefix="maillage-heal-"))
    os.chmod(tmp, 0o755)
    os.umask(0)  # a SQLite -shm file we may create must stay writable by its node
    nodes = Nodes(tmp, args.n, args.interval)
    half = nodes.half
    writers_a = [1, 2, 3][: max(1, min(3, half - 1))]
    writers_b = [half + 1, half + 2, half + 3][: max(1, min(3, args.n - half - 1))]
    try:
        nodes.start(0, None)
        nodes.runtimes.append(nodes.wait_runtime(0, time.monotonic() + 60))
        seed = f"{nodes.runtimes[0]['url']}#{nodes.runtimes[0]['node_id']}"
        for i in range(1, args.n):
            nodes.start(i, seed)
        nodes.runtimes += [nodes.wait_runtime(i, time.monotonic() + 120) for i in range(1, args.n)]
        nodes.open_databases()
        known = wait_until(lambda: min(nodes.descriptors(i) for i in range(args.n)) >= args.n, 180, 0.5)
        print(f"{args.n} nodes started (half A 127.0.1.x uid {UIDS[0]}, half B 127.0.2.x uid {UIDS[1]}); "
              f"every node knows all descriptors after {known:.1f} s")
        time.sleep(2 * args.interval)

        # Baseline 1: one record, whole network.
        t0 = time.monotonic()
        nodes.publish(args.n - 1, "baseline", "Test")
        local = wait_until(lambda: nodes.holds(args.n - 1, "baseline"), 10, 0.005, t0)
        t0 = time.monotonic()
        nodes.publish(args.n - 1, "nouvelle", "Test")
        one = wait_until(lambda: all(nodes.holds(i, "nouvelle") for i in range(args.n)), 60, 0.02, t0)

        # Records that exist on every node before anything else happens.
        before = writes(nodes, "avant", writers_a + writers_b, 4, [])
        converge(nodes, 120)
        time.sleep(args.interval)

        # Baseline 2: a batch of writes on both halves, whole network.
        t0 = time.monotonic()
        writes(nodes, "entier", writers_a + writers_b, 5, before)
        write_s = time.monotonic() - t0
        whole, whole_nodes, _ = converge(nodes, 120, 0.05, t0)
        time.sleep(2 * args.interval)
        remaining = [r for r in before if int(r.split("-")[2]) >= 2]  # the first two were edited and deleted

        # The cut.
        cut()
        cut_at = time.monotonic()
        writes(nodes, "coupure-a", writers_a, 5, remaining)
        writes(nodes, "coupure-b", writers_b, 5, remaining)

        def halves_settled() -> bool:
            d = nodes.digests()
            return len(set(d[:half])) == 1 and len(set(d[half:])) == 1 and d[0] != d[-1]

        in_half = wait_until(halves_settled, max(args.cut, 60), 0.1, cut_at)
        leak = any(nodes.holds(i, f"coupure-b-{writers_b[0]}-0") for i in range(half)) or any(
            nodes.holds(i, f"coupure-a-{writers_a[0]}-0") for i in range(half, args.n))
        print(f"cut: each half holds its own writes after {in_half:.1f} s; "
              f"{'LEAK across the cut' if leak else 'nothing crossed the cut'}")
        time.sleep(max(0.0, args.cut - (time.monotonic() - cut_at)))

        # Heal.
        now_ms = time.time_ns() // 1_000_000
        cross = [p for i in range(args.n) for p in nodes.cross_peers(i, now_ms)]
        held = time.monotonic() - cut_at
        heal()
        healed, per_node, final = converge(nodes, args.timeout, 0.05)
        if final:
            rows = nodes.conns[0].execute("SELECT rtype, count(*) FROM records WHERE public GROUP BY rtype").fetchall()
    finally:
        nodes.stop()
        if args.keep:
            print(f"homes kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    failed = [p for p in cross if p[0] != "active"]
    waits = sorted(max(0.0, p[2]) for p in failed)
    print(f"publish on one node, stored locally: {local * 1000:.0f} ms")
    print(f"baseline 1, one new record on all {args.n} nodes: {one:.2f} s")
    print(f"baseline 2, whole network: {len(writers_a + writers_b)} writers x (5 new, 1 edit, 1 deletion) written in "
          f"{write_s:.1f} s; identical versions on all {args.n} nodes {whole:.2f} s after the first write "
          f"(median node {median(whole_nodes):.2f} s)")
    states = {s: sum(1 for p in cross if p[0] == s) for s in sorted({p[0] for p in cross})}
    print(f"cut held {held:.0f} s; at the heal, node -> other-half peer entries: {states} "
          f"({len(cross)} in all; 'active' = the cut was not noticed yet, the request hung on a kept-alive connection)")
    if failed:
        print(f"  failed entries: up to {max(p[1] for p in failed)} failures in a row; next attempt due in "
              f"{waits[0]:.1f} s (soonest), {median(waits):.1f} s (median), {waits[-1]:.1f} s (latest) after the heal")
    if final:
        print(f"healed: identical versions on all {args.n} nodes after {healed:.2f} s "
              f"(median node {median(per_node):.2f} s) = {healed / one:.1f} x baseline 1, "
              f"{healed / whole:.1f} x baseline 2 (target < 10 s); sync interval {args.interval} s; "
              f"final set {dict(rows)}; {os.cpu_count()} cores")
    else:
        print(f"NOT converged {args.timeout:.0f} s after the heal")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--interval", type=float, default=2.0, help="background sync interval of each node (s)")
    parser.add_argument("--cut", type=float, default=30.0, help="how long the partition lasts (s)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up this long after the heal (s)")
    parser.add_argument("--keep", action="store_true", help="keep the node homes (logs, databases)")
    parser.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_netns:
        run(args)
        return
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "ip", "setpriv")):
        raise SystemExit("needs root, unshare, setpriv and ip (iproute2): the cut is made with policy routing in a private "
                         "network namespace")
    # A private network namespace: the rules and the nodes vanish with it.
    os.execvp("unshare", ["unshare", "-n", "--", sys.executable, str(Path(__file__).resolve()), "--in-netns",
                          *sys.argv[1:]])


if __name__ == "__main__":
    main()
