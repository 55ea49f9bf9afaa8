"""Verifying a whole node log: ``maillage audit log`` (node/audit_api.py ``audit_log``) on 10^5 events.

Builds a real node database on a temporary SQLite file (``storage.make_engine``
+ ``storage.upgrade``, the node identity saved with ``storage.identity.save``):
N/2 loans between the node (the owner) and a few borrowers, each a signed
``request`` and the owner's signed ``accept``, made with the protocol builders
(``open_request``, ``next_event``) and judged by ``apply``. Every event is
stored as the node stores it, in one transaction per batch: its agreement row
(``storage.agreements.append``) and its log leaf, ``leaf_hash(envelope)``
(``storage.log.append``). A signed checkpoint is stored every 10 000 entries
and at the end, as a node signs one when a peer asks.

Then it times ``audit_log`` on a read-only engine, exactly as the command runs
it. Baselines in the same run, on one core:

- raw ``hashlib.sha256`` of the same envelopes (one call each): the hashing any
  whole-log check must do at least;
- the same reads alone (log entries and event envelopes, batch by batch, as
  ``audit_log`` issues them), to split database time from checking time;
- raw Ed25519 verification of the same envelopes (a sample): ``audit_log``
  does **not** verify event signatures (events were verified before they were
  stored; it recomputes each leaf from the stored bytes and checks each signed
  checkpoint's root), so this shows what a signature-checking audit would add.

The build (append) rate is reported as a ratio of raw SHA-256 too: the whole
store (events + leaves, one commit per batch), and the log alone
(``leaf_hash`` + ``storage.log.append`` into a second database, no event rows).

Loopback only (no network at all); the temporary files are removed.

    .venv/bin/python bench/audit_log.py            # 10^5 events
    .venv/bin/python bench/audit_log.py -n 20000   # smaller
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from node.audit_api import LOG_CHUNK, audit_log, read_only_engine
from protocol import SigningKey, open_envelope, seal
from protocol.agreements import apply, next_event, open_request
from protocol.audit import LogAudit
from protocol.checkpoints import CHECKPOINT_TYPE, parse_checkpoint
from protocol.envelope import stored_envelope
from protocol.identity import public_key_from_node_id
from protocol.merkle import leaf_hash
from storage import agreements as stored
from storage import identity, log, make_engine, session, sqlite_url, upgrade
from storage.models import AgreementEvent

T0 = 1_764_140_000_000  # 2025-11-26
DAY = 86_400_000
BATCH = 1000  # events per transaction while building
CHECKPOINT_EVERY = 10_000
BORROWERS = 8


def make_events(n_loans: int, owner: SigningKey, borrowers: list[SigningKey]) -> list[tuple[object, object, bytes]]:
    """(state after, envelope, raw) for request + accept of each loan, in the order the owner stores them."""
    out = []
    for i in range(n_loans):
        borrower = borrowers[i % len(borrowers)]
        now = T0 + i * 1000
        start = T0 + DAY + (i % 60) * DAY
        terms = {
            "resource": f"chaises-{i % 200}",
            "period": {"start": start, "end": start + 6 * 3_600_000},
            "quantity": 1 + i % 20,
            "purpose": "Fête de quartier, salle municipale",
            "fee": {"amount": 0, "currency": "EUR"},
            "deposit": {"amount": 20_000, "currency": "EUR"},
            "expires": now + DAY,
        }
        request = open_request(borrower, owner.node_id, terms, now_ms=now)
        state = apply(None, request)
        accept = next_event(owner, state, "accept", {}, now_ms=now + 500)
        after = apply(state, accept)
        out.append((state, request, request.raw))
        out.append((after, accept, accept.raw))
    return out


def store_all(engine, owner: SigningKey, events, *, checkpoints: bool) -> float:
    """Every event with its leaf, BATCH per transaction; checkpoints as the log grows. Returns seconds."""
    start = time.perf_counter()
    for b in range(0, len(events), BATCH):
        with session(engine) as s, s.begin():
            for state, env, raw in events[b : b + BATCH]:
                now = env.issued_at
                log.append(s, leaf_hash(raw), env.message_id, now_ms=now)
                stored.append(
                    s,
                    stored.NewEvent(state.id, state.seq, env.message_id, env.issuer, env.body["action"], now, raw),
                    kind=state.kind, our_role="owner", parties=dict(state.parties), state=state.name,
                    resource=state.terms.resource, title=state.terms.resource, now_ms=now,
                )  # fmt: skip
            if checkpoints:
                size, root = log.current_root(s)
                if size % CHECKPOINT_EVERY == 0 or size == len(events):
                    cp = parse_checkpoint(seal(owner, CHECKPOINT_TYPE, {"size": size, "root": root}, now_ms=now + 1))
                    log.store_checkpoint(s, cp, now_ms=now + 1)
    return time.perf_counter() - start


def store_log_only(engine, events) -> float:
    """The log alone: leaf_hash + storage.log.append, same batches, no event rows."""
    start = time.perf_counter()
    for b in range(0, len(events), BATCH):
        with session(engine) as s, s.begin():
            for _state, env, raw in events[b : b + BATCH]:
                log.append(s, leaf_hash(raw), env.message_id, now_ms=env.issued_at)
    return time.perf_counter() - start


def reads_only(engine) -> int:
    """The reads audit_log issues, without checking anything."""
    with session(engine) as s, s.begin():
        size = log.size(s)
        log.checkpoints(s, identity.get(s).node_id)
        for start in range(0, size, LOG_CHUNK):
            entries = log.entries(s, start, min(size, start + LOG_CHUNK))
            ids = [bytes(e.message_id) for e in entries]
            stmt = select(AgreementEvent.message_id, AgreementEvent.envelope).where(AgreementEvent.message_id.in_(ids))  # type: ignore[attr-defined]
            envelopes = {bytes(m): bytes(e) for m, e in s.execute(stmt)}
            assert len(envelopes) == len(ids)
    return size


def read_rows(engine) -> tuple[str, list[tuple[bytes, int, bytes]], list[tuple[int, bytes, bytes, bytes]]]:
    """What audit_log reads, held in memory: to time its checking alone."""
    with session(engine) as s:
        origin = identity.get(s).node_id
        cps = [(bytes(c.envelope), c.size, bytes(c.root)) for c in log.checkpoints(s, origin)]
        size = log.size(s)
        envelopes = {bytes(m): bytes(e) for m, e in s.execute(select(AgreementEvent.message_id, AgreementEvent.envelope))}
        rows = [(e.idx, bytes(e.leaf_hash), bytes(e.message_id)) for e in log.entries(s, 0, size)]
    return origin, cps, [(i, h, m, envelopes[m]) for i, h, m in rows]


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median seconds of ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--events", type=int, default=100_000, help="events in the log (even)")
    parser.add_argument("-r", "--repeats", type=int, default=3, help="timed runs of audit_log")
    args = parser.parse_args()
    n_loans = args.events // 2
    tmp = Path(tempfile.mkdtemp(prefix="maillage-bench-audit-"))
    try:
        run(tmp, n_loans, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, n_loans: int, repeats: int) -> None:
    owner = SigningKey.from_seed(hashlib.sha256(b"bench audit owner").digest())
    borrowers = [SigningKey.from_seed(hashlib.sha256(b"bench audit borrower %d" % i).digest()) for i in range(BORROWERS)]

    t = time.perf_counter()
    events = make_events(n_loans, owner, borrowers)
    n = len(events)
    made_s = time.perf_counter() - t
    raws = [raw for _, _, raw in events]
    print(f"{n:,} signed events ({n_loans:,} loans × request + accept), mean {sum(map(len, raws)) / n:.0f} bytes,"
          f" built and applied in {made_s:.1f} s")  # fmt: skip

    db = tmp / "node.sqlite"
    engine = make_engine(sqlite_url(db))
    upgrade(engine)
    with session(engine) as s, s.begin():
        identity.save(s, owner.node_id, "bench owner", now_ms=T0)
    build_s = store_all(engine, owner, events, checkpoints=True)
    engine.dispose()

    log_db = tmp / "log-only.sqlite"
    log_engine = make_engine(sqlite_url(log_db))
    upgrade(log_engine)
    log_s = store_log_only(log_engine, events)
    log_engine.dispose()

    def raw_sha() -> None:
        sha = hashlib.sha256
        for raw in raws:
            sha(raw).digest()

    sha_s, _ = timed(raw_sha, 5)

    ro = read_only_engine(sqlite_url(db))
    result: list = []

    def audit() -> None:
        result.append(audit_log(ro))

    audit_s, audit_med = timed(audit, repeats)
    reads_s, _ = timed(lambda: reads_only(ro), repeats)
    origin, cps, rows = read_rows(ro)
    ro.dispose()

    def check_only() -> None:
        audit = LogAudit(origin, cps)
        for index, leaf, message, envelope in rows:
            audit.entry(index, leaf, message, envelope)
        assert not audit.finish(len(rows))

    check_s, _ = timed(check_only, repeats)
    split_s, _ = timed(lambda: [stored_envelope(raw).message_id for raw in raws], 3)
    leaf_s, _ = timed(lambda: [leaf_hash(raw) for raw in raws], 3)
    origin, checked, findings = result[-1]
    assert origin == owner.node_id and not findings, findings
    assert checked["entries"] == checked["leaves"] == n, checked
    assert checked["roots"] == checked["checkpoints"] == n // CHECKPOINT_EVERY + (n % CHECKPOINT_EVERY != 0), checked

    sample = raws[:: max(1, n // 5000)]
    opened = [stored_envelope(raw) for raw in sample]
    pubs = {e.issuer: Ed25519PublicKey.from_public_bytes(public_key_from_node_id(e.issuer)) for e in opened}
    from protocol import SIGNING_PREFIX

    def ed_verify() -> None:
        for e in opened:
            pubs[e.issuer].verify(e.signature, SIGNING_PREFIX + e.payload_bytes)

    ed_s, _ = timed(ed_verify, 3)
    ed_per_event = ed_s / len(opened)
    open_s, _ = timed(lambda: [open_envelope(raw) for raw in sample], 3)
    open_per_event = open_s / len(opened)

    size_mb = os.path.getsize(db) / 1e6
    print(f"database {size_mb:.1f} MB ({size_mb * 1e6 / n:.0f} B per event), {checked['checkpoints']} checkpoints")
    print("\nbuild (append), one commit per", BATCH, "events:")
    print(f"  raw hashlib.sha256 of every envelope        {n / sha_s:12,.0f} /s   ratio 1")
    print(f"  events + leaves + checkpoints (node store)  {n / build_s:12,.0f} /s   ratio {sha_s / build_s:.4f}"
          f"   ({build_s:.1f} s)")  # fmt: skip
    print(f"  log alone: leaf_hash + storage.log.append   {n / log_s:12,.0f} /s   ratio {sha_s / log_s:.4f}"
          f"   ({log_s:.1f} s)")  # fmt: skip
    print(f"\naudit_log (maillage audit log) of {n:,} entries, {checked['checkpoints']} checkpoints, no findings:")
    print(f"  audit_log                     {audit_s:7.2f} s (median {audit_med:.2f})  {n / audit_s:10,.0f} entries/s")
    print(f"  its reads alone               {reads_s:7.2f} s                 {n / reads_s:10,.0f} entries/s"
          f"   ({reads_s / audit_s:.0%} of audit_log)")  # fmt: skip
    print(f"  its checking alone (LogAudit) {check_s:7.2f} s                 {n / check_s:10,.0f} entries/s"
          f"   (rows in memory; of which stored_envelope {split_s:.2f} s, leaf_hash {leaf_s:.3f} s)")  # fmt: skip
    print(f"  raw hashlib.sha256            {sha_s:7.3f} s                 {n / sha_s:10,.0f} entries/s"
          f"   (audit_log = {audit_s / sha_s:.0f} × raw SHA-256)")  # fmt: skip
    print(f"  raw Ed25519 verify (not done) {ed_per_event * n:7.2f} s (extrapolated)  {1 / ed_per_event:10,.0f} entries/s"
          f"   ({len(opened):,}-event sample; open_envelope {1 / open_per_event:,.0f} /s)")  # fmt: skip


if __name__ == "__main__":
    main()
