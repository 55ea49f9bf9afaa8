"""Auditing agreements and the node's log (local API route, and the read-only whole-log check).

``GET /api/v1/agreements/{agreement_id}/audit`` builds an audit bundle live
(see protocol/audit.py): our events from storage, our signed checkpoint and
inclusion proofs, the other parties' checkpoints and proofs asked over the
federation (``checkpoint`` then ``log-proof`` per event), and the parties'
signed descriptors. It answers the bundle's JSON form (bytes in hex), or its
canonical msgpack with ``?format=msgpack`` (``application/vnd.maillage.audit+msgpack``).
A party that cannot be reached is named in the bundle, and verification
reports that its log was not checked.

``audit_log`` checks the node's whole log from its database without writing
to it: for the ``maillage audit log`` command, node running or not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from protocol import DESCRIPTOR_ID, ProtocolError, open_envelope
from protocol.audit import (
    Finding,
    LogAudit,
    encode_bundle,
    make_bundle,
    party_log,
    proof_entry,
    to_json,
    unreachable_log,
)
from protocol.checkpoints import parse_checkpoint
from storage import agreements as stored
from storage import identity, log, records, session
from storage.engine import SQLITE_BUSY_TIMEOUT_MS, normalise_url
from storage.models import AgreementEvent, SupersededEvent

from . import transparency
from .agreements_api import _agreement_id
from .clock import now_ms
from .peers import PeerError
from .runtime import NODE, Node

logger = logging.getLogger(__name__)

MSGPACK_TYPE = "application/vnd.maillage.audit+msgpack"
LOG_CHUNK = 10_000  # entries read (and reported as progress) at a time


# ---- the bundle, live ------------------------------------------------------------------------


def _local_part(node: Node, agreement_id: bytes) -> dict[str, Any] | None:
    """Our chain, its recorded head, the parties, descriptors and our own log's proofs."""
    with session(node.engine) as s:
        row = stored.get(s, agreement_id)
        if row is None:
            return None
        raws = stored.chain(s, agreement_id)
        parties: dict[str, str] = json.loads(row.parties)
        head = (row.seq, bytes(row.head))
    # The chain is read before the checkpoint: our checkpoint then covers every event read.
    checkpoint, cosignatures = transparency.own_checkpoint(node)
    ours: dict[str, Any]
    if checkpoint is None:
        ours = unreachable_log(node.node_id, "this node has no checkpoint of its log (it is recovering)")
    else:
        checkpoint, cosignatures = _cosigned_checkpoint(node, raws, checkpoint, cosignatures)
        size = parse_checkpoint(open_envelope(checkpoint, keys=node.keyring)).size
        proofs = [_own_proof(node, size, raw) for raw in raws]
        ours = party_log(node.node_id, checkpoint, cosignatures, proofs, _equivocation(node, node.node_id))
    with session(node.engine) as s:
        descriptors = _descriptors(s, parties.values(), [ours])
    return {"raws": raws, "head": head, "parties": parties, "ours": ours, "descriptors": descriptors}


def _cosigned_checkpoint(node: Node, raws: list[bytes], latest: bytes, cosignatures: list[bytes]) -> tuple[bytes, list[bytes]]:
    """Our latest checkpoint, or a witnessed (cosigned) one that already covers every event of the chain."""
    if cosignatures:
        return latest, cosignatures
    from protocol.envelope import stored_envelope

    with session(node.engine) as s:
        indexes = [log.index_of(s, stored_envelope(raw).message_id) for raw in raws]
        if any(i is None for i in indexes):
            return latest, cosignatures
        needed = max(i for i in indexes if i is not None) + 1 if indexes else 0
        for row in reversed(log.checkpoints(s, node.node_id)):
            if row.size < needed:
                break
            witnessed = log.cosignatures(s, row.message_id)
            if witnessed:
                return bytes(row.envelope), witnessed
    return latest, cosignatures


def _own_proof(node: Node, size: int, raw: bytes) -> dict[str, Any]:
    from protocol.envelope import stored_envelope

    try:
        reply = transparency.proofs(node, size, stored_envelope(raw).message_id, None)
    except ProtocolError as exc:
        return {"error": exc.message}
    return proof_entry(reply["index"], reply["inclusion"])


def _equivocation(node: Node, origin: str) -> tuple[bytes, bytes] | None:
    return transparency.equivocation_pair(node, origin)


def _descriptors(s: Any, parties: Any, logs: list[dict[str, Any]]) -> list[bytes]:
    """The signed descriptors of the parties and of the witnesses whose cosignatures the bundle holds."""
    from protocol.envelope import stored_envelope

    wanted = list(dict.fromkeys(parties))
    for entry in logs:
        for raw in entry.get("cosignatures", ()):
            witness = stored_envelope(raw).issuer
            if witness not in wanted:
                wanted.append(witness)
    found = []
    for node_id in wanted:
        held = records.get(s, node_id, DESCRIPTOR_ID)
        if held is not None and held.rtype == "descriptor":
            found.append(bytes(held.envelope))
    return found


async def _remote_log(node: Node, peer: str, raws: list[bytes]) -> dict[str, Any]:
    """A party's checkpoint and an inclusion proof of each event in its log, asked over the federation."""
    from protocol.envelope import stored_envelope

    if node.synchronizer is None:
        return unreachable_log(peer, "the node is not running its federation client")
    addresses = await node.run(transparency._addresses, node, peer)
    if not addresses:
        return unreachable_log(peer, "no known address for this node")
    client = node.synchronizer.client
    last_error = ""
    for address in addresses:
        try:
            _, reply = await client.request(address, peer, "checkpoint", {})
            if reply.checkpoint is None:
                return unreachable_log(peer, "the node has no checkpoint of its log yet")
            checkpoint = parse_checkpoint(open_envelope(reply.checkpoint, keys=node.keyring))
            proofs = []
            for raw in raws:
                body = {"size": checkpoint.size, "message_id": stored_envelope(raw).message_id}
                try:
                    _, proof = await client.request(address, peer, "log-proof", body)
                except PeerError as exc:
                    refusal = getattr(exc, "error", None)
                    if refusal is None:
                        raise
                    proofs.append({"error": f"{refusal.code}: {refusal.message}"})
                    continue
                if proof.index is None or proof.inclusion is None:
                    proofs.append({"error": "the node answered without a proof"})
                else:
                    proofs.append(proof_entry(proof.index, list(proof.inclusion)))
            equivocation = await node.run(_equivocation, node, peer)
            return party_log(peer, reply.checkpoint, list(reply.cosignatures), proofs, equivocation)
        except (PeerError, ProtocolError) as exc:
            last_error = f"{address}: {exc}"
            logger.info("audit: could not ask %s for its log: %s", peer, last_error)
    return unreachable_log(peer, last_error or "unreachable")


async def build_bundle(node: Node, agreement_id: bytes) -> dict[str, Any] | None:
    local = await node.run(_local_part, node, agreement_id)
    if local is None:
        return None
    logs = [local["ours"]]
    for peer in sorted(set(local["parties"].values()) - {node.node_id}):
        logs.append(await _remote_log(node, peer, local["raws"]))

    def descriptors() -> list[bytes]:
        with session(node.engine) as s:
            return _descriptors(s, local["parties"].values(), logs)

    return make_bundle(
        agreement_id,
        local["raws"],
        await node.run(descriptors),
        logs,
        made_by=node.node_id,
        made_at=now_ms(),
        head=local["head"],
    )


async def audit_bundle(request: web.Request) -> web.Response:
    node = request.config_dict[NODE]
    bundle = await build_bundle(node, _agreement_id(request))
    if bundle is None:
        return web.json_response({"code": "invalid", "message": "no such agreement here"}, status=404)
    if request.query.get("format") == "msgpack":
        return web.Response(body=encode_bundle(bundle), content_type=MSGPACK_TYPE)
    return web.json_response(to_json(bundle))


ROUTES = [web.get("/agreements/{agreement_id}/audit", audit_bundle)]


# ---- the whole log, read-only ------------------------------------------------------------------


def read_only_engine(url: str) -> Engine:
    """An engine that only reads: no migrations, no write lock (SQLite: query_only, deferred BEGIN)."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=1, execution_options={"postgresql_readonly": True,
                                                                  "isolation_level": "REPEATABLE READ"})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    # One read transaction (a WAL snapshot): the whole check sees one state of the log.
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def audit_log(engine: Engine, progress: Callable[[int, int], None] | None = None) -> tuple[str, dict[str, int], list[Finding]]:
    """Check the node's whole log: leaves against stored events, roots against our signed checkpoints.

    Returns (our node id, counts of what held, findings). Reads only.
    """
    from node.keys import load_keyring

    ring = load_keyring(engine)
    with session(engine) as s, s.begin():
        row = identity.get(s)
        if row is None:
            raise LookupError("the database holds no node identity")
        origin = row.node_id
        size = log.size(s)
        checkpoints = [(bytes(c.envelope), c.size, bytes(c.root)) for c in log.checkpoints(s, origin)]
        audit = LogAudit(origin, checkpoints, ring)
        for start in range(0, size, LOG_CHUNK):
            entries = log.entries(s, start, min(size, start + LOG_CHUNK))
            ids = [bytes(e.message_id) for e in entries]
            stmt = select(AgreementEvent.message_id, AgreementEvent.envelope).where(
                AgreementEvent.message_id.in_(ids)  # type: ignore[attr-defined]
            )
            envelopes = {bytes(m): bytes(e) for m, e in s.execute(stmt)}
            superseded = select(SupersededEvent.message_id, SupersededEvent.envelope).where(
                SupersededEvent.message_id.in_([m for m in ids if m not in envelopes])  # type: ignore[attr-defined]
            )
            envelopes.update({bytes(m): bytes(e) for m, e in s.execute(superseded)})  # overtaken, still ours
            for entry in entries:
                message = bytes(entry.message_id)
                audit.entry(entry.idx, bytes(entry.leaf_hash), message, envelopes.get(message))
            if progress is not None:
                progress(min(size, start + LOG_CHUNK), size)
        findings = audit.finish(size)
    return origin, {"entries": size, **audit.checked}, findings


__all__ = ["MSGPACK_TYPE", "ROUTES", "audit_log", "build_bundle", "read_only_engine"]
