"""The node's catalogue operations, shared by the local API, the federation endpoints and sync.

Functions here are synchronous (they run in the node's worker threads): they
sign with the node's key, verify peers' records, and write through storage in
one transaction each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from protocol import (
    DENYLIST_ID,
    DESCRIPTOR_ID,
    Conflict,
    Forbidden,
    InvalidMessage,
    ProtocolError,
    Record,
    Scope,
    SigningKey,
    Visibility,
    decode,
    encode,
    open_envelope,
    parse_record,
    seal,
)
from protocol.keys import KeyEntry, KeyRing, parse_chain
from protocol.messages import MAX_RECORD_BYTES

from storage import memberships, peers, records, session
from storage.models import CatalogueRecord
from storage.rows import RecordRow, row_of

from .clock import now_ms
from .config import NodeConfig

PUBLISHABLE_TYPES = ("resource", "offer", "need")


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    code: str
    message: str


def descriptor_body(config: NodeConfig, key: SigningKey, keys: Sequence[KeyEntry]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": DESCRIPTOR_ID,
        "name": config.name or key.node_id[:8],
        "endpoints": [config.advertised_url],
        "protocols": [1],
        "keys": [entry.to_wire() for entry in keys],
    }
    for field in ("description", "territory", "contact"):
        if getattr(config, field):
            body[field] = getattr(config, field)
    if config.location:
        body["location"] = {"lat": config.location[0], "lon": config.location[1]}
    return body


def publish_descriptor(
    engine: Engine, key: SigningKey, config: NodeConfig, *, keys: Sequence[KeyEntry] | None = None
) -> Record:
    """Sign the node descriptor again if what it says changed (name, endpoint, keys …).

    ``keys`` is our key history; by default the one our current descriptor states.
    """
    with session(engine) as s:
        held = records.get(s, key.node_id, DESCRIPTOR_ID)
    if keys is None:
        keys = _held_keys(held, key.node_id)
    body = descriptor_body(config, key, keys)
    if held is not None and records.body_of(held.envelope) == _wire(body):
        return parse_record(open_envelope(held.envelope), now_ms=now_ms())
    return publish(engine, key, "descriptor", body)


def _held_keys(held: CatalogueRecord | None, node_id: str) -> tuple[KeyEntry, ...]:
    if held is None or held.rtype != "descriptor":
        return (KeyEntry(key=node_id, since=0),)
    return parse_chain(node_id, records.body_of(held.envelope)["keys"])


def _wire(body: dict[str, Any]) -> dict[str, Any]:
    """A body as it reads back after encoding (arrays become tuples), for comparisons."""
    return dict(decode(encode(body)))


def own_descriptor(engine: Engine, node_id: str) -> bytes:
    """Our signed descriptor envelope (published at every start, so always present)."""
    with session(engine) as s:
        row = records.get(s, node_id, DESCRIPTOR_ID)
    if row is None:
        raise RuntimeError("the node descriptor is published at start; the database was changed underneath")
    return row.envelope


def publish(engine: Engine, key: SigningKey, rtype: str, body: dict[str, Any]) -> Record:
    """Sign a new version of one of our own records and store it."""
    at = now_ms()
    with session(engine) as s, s.begin():
        held = records.get(s, key.node_id, str(body.get("id", "")))
        record = _sign_version(s, key, rtype, body, held, at)
        records.ingest(s, [record], now_ms=at)
    return record


def _sign_version(
    s: Session, key: SigningKey, rtype: str, body: dict[str, Any], held: CatalogueRecord | None, at: int
) -> Record:
    """Sign the next version of one of our records, refusing changes peers could not follow."""
    if held is not None:
        if held.rtype not in (rtype, "tombstone") and rtype != "tombstone":
            raise Conflict(f"id {body.get('id')!r} is already used by a {held.rtype}", record_id=body.get("id"))
        # Versions are ordered by time: never sign one that would lose to what we hold.
        at = max(at, held.issued_at + 1)
    record = parse_record(seal(key, rtype, body, now_ms=at), now_ms=at)
    if held is not None and held.rtype != "tombstone" and not record.scope.covers(held_scope(s, held)):
        raise Conflict(
            "a record's audience can widen, never narrow: nodes that hold it would keep the older version;"
            " delete it instead",
            record_id=record.record_id,
        )
    if record.type != "tombstone":  # a node that left a federation may still delete what it published there
        _check_own_memberships(s, key.node_id, record.scope)
    return record


def held_scope(s: Session, held: CatalogueRecord) -> Scope:
    """The scope of the version we hold of a record."""
    federations = records.federations_of_record(s, held.author, held.record_id) if held.scope == "federation" else ()
    return Scope(Visibility(held.scope), frozenset(federations))


def _check_own_memberships(s: Session, own_id: str, scope: Scope) -> None:
    """We publish to a federation only as one of its members: no member would accept it otherwise."""
    ours = {federation for federation, _ in memberships.memberships_among(s, scope.federations, [own_id])}
    missing = sorted(scope.federations - ours)
    if missing:
        raise Forbidden(f"this node is not a member of federation {missing[0]}", federations=missing)


def scope_fields(scope: Scope) -> dict[str, Any]:
    """The body fields that state ``scope`` (none for public: it is the default)."""
    if scope.visibility is Visibility.PUBLIC:
        return {}
    fields: dict[str, Any] = {"visibility": scope.visibility.value}
    if scope.federations:
        fields["federations"] = sorted(scope.federations)
    return fields


@dataclass(frozen=True, slots=True)
class Batch:
    """What publishing many records did: signed, left as they were, refused (index, reason)."""

    published: list[Record]
    unchanged: list[str]
    refused: list[tuple[int, str]]


def publish_many(engine: Engine, key: SigningKey, rtype: str, bodies: Sequence[dict[str, Any]]) -> Batch:
    """Sign and store many records in one transaction (an inventory import).

    A body identical to the version we hold is left alone (re-importing the
    same file signs nothing); a body that may not replace what we hold is
    refused on its own, the others are published.
    """
    at = now_ms()
    with session(engine) as s, s.begin():
        held = {row.record_id: row for row in records.list_by_author(s, key.node_id, include_tombstones=True)}
        signed: list[Record] = []
        unchanged: list[str] = []
        refused: list[tuple[int, str]] = []
        for index, body in enumerate(bodies):
            previous = held.get(str(body.get("id")))
            if previous is not None and previous.rtype == rtype and records.body_of(previous.envelope) == _wire(body):
                unchanged.append(str(body["id"]))
                continue
            try:
                signed.append(_sign_version(s, key, rtype, body, previous, at))
            except ProtocolError as exc:
                refused.append((index, exc.message))
        records.ingest(s, signed, now_ms=at)
    return Batch(signed, unchanged, refused)


def denied_nodes(engine: Engine, own_id: str) -> dict[str, int]:
    """Our deny-list: node id → time from which its messages and records are refused."""
    with session(engine) as s:
        held = records.get(s, own_id, DENYLIST_ID)
    if held is None or held.rtype != "denylist":
        return {}
    return {entry["node"]: entry["since"] for entry in records.body_of(held.envelope)["entries"]}


def set_denied(engine: Engine, key: SigningKey, node_id: str, denied: bool, reason: str | None = None) -> dict[str, int]:
    """Add a node to our signed deny-list (from now on) or take it off; returns the new list."""
    if node_id == key.node_id:
        raise InvalidMessage("a node cannot deny itself")
    with session(engine) as s:
        held = records.get(s, key.node_id, DENYLIST_ID)
    entries = [dict(e) for e in records.body_of(held.envelope)["entries"]] if held is not None else []
    entries = [e for e in entries if e["node"] != node_id]
    if denied:
        entry: dict[str, Any] = {"node": node_id, "since": now_ms()}
        if reason:
            entry["reason"] = reason
        entries.append(entry)
    publish(engine, key, "denylist", {"id": DENYLIST_ID, "entries": sorted(entries, key=lambda e: e["node"])})
    return {e["node"]: e["since"] for e in entries}


def delete(engine: Engine, key: SigningKey, record_id: str) -> Record:
    """Publish a tombstone for one of our records: no content, only the record's scope, so that
    the deletion reaches every node that holds the record and no other."""
    with session(engine) as s:
        held = records.get(s, key.node_id, record_id)
        if held is None or held.rtype == "tombstone":
            raise InvalidMessage(f"no record {record_id!r} to delete", record_id=record_id)
        if held.rtype == "descriptor":
            raise InvalidMessage("the node descriptor cannot be deleted")
        scope = held_scope(s, held)
    return publish(engine, key, "tombstone", {"id": record_id, **scope_fields(scope)})


def search(
    engine: Engine,
    own_id: str,
    query: str,
    kind: str | None = None,
    near: tuple[int, int] | None = None,
    radius_km: float | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Own and replicated records matching ``query``, as the API and the web pages list them."""
    with session(engine) as s:
        hits = records.search(s, query, kind=kind, near=near, radius_km=radius_km, limit=limit)
    return [
        {
            "author": h.author,
            "association": h.author_name,
            "own": h.author == own_id,
            "id": h.record_id,
            "type": h.rtype,
            "score": h.score,
            "distance_km": None if h.distance_km is None else round(h.distance_km, 2),
            "body": h.body,
        }
        for h in hits
    ]


@dataclass(frozen=True, slots=True)
class Received:
    """What storing records from a peer did, and the records refused for their scope (nothing of them stored)."""

    ingest: records.IngestResult
    out_of_scope: tuple[tuple[RecordRow, Forbidden], ...] = ()


def store_received(s: Session, rows: Sequence[RecordRow], *, now: int, own_id: str) -> Received:
    """Store records received from a peer, in the caller's transaction, and learn of new nodes.

    A federation-scoped record is stored only if we and its author are members
    of one of its federations; the others are refused (see ``in_scope``).

    Peer exchange rides on replication: a signed descriptor of a node we did
    not know tells us where it says it can be reached; the handshake will
    still have to prove it is that node.
    """
    admitted, refused = in_scope(s, rows, own_id)
    result = records.ingest(s, admitted, now_ms=now)
    for row in admitted:
        if row.rtype == "descriptor" and row.author != own_id:
            body = records.body_of(row.envelope)
            peers.learn(s, row.author, addresses=list(body["endpoints"]), name=body["name"], now_ms=now)
    return Received(result, tuple(refused))


def in_scope(
    s: Session, rows: Sequence[RecordRow], own_id: str
) -> tuple[list[RecordRow], list[tuple[RecordRow, Forbidden]]]:
    """Split received records into those we may hold and the federation-scoped ones we may not.

    We may hold a federation-scoped record when one of its federations has both
    us and its author as members, per the charters we hold: a node outside the
    scope then never holds the record, so it can never relay it. A tombstone
    only needs us to be a member: it carries nothing, and its author may have
    left the federation since it published what it deletes.
    """
    scoped = [row for row in rows if row.scope == Visibility.FEDERATION.value]
    if not scoped:
        return list(rows), []
    pairs = memberships.memberships_among(
        s, {f for row in scoped for f in row.federations}, {own_id, *(row.author for row in scoped)}
    )
    admitted: list[RecordRow] = []
    refused: list[tuple[RecordRow, Forbidden]] = []
    for row in rows:
        why = _out_of_scope(row, own_id, pairs)
        if why is None:
            admitted.append(row)
        else:
            refused.append((row, Forbidden(why, record_id=row.record_id, federations=list(row.federations))))
    return admitted, refused


def _out_of_scope(row: RecordRow, own_id: str, pairs: set[tuple[str, str]]) -> str | None:
    if row.scope != Visibility.FEDERATION.value:
        return None
    ours = [f for f in row.federations if (f, own_id) in pairs]
    if not ours:
        return "this node is not a member of any federation the record is meant for"
    if row.rtype != "tombstone" and not any((f, row.author) in pairs for f in ours):
        return "the record's author is not a member of a federation it shares with this node"
    return None


def verify_records(
    raws: Sequence[bytes],
    now: int,
    denied: Mapping[str, int] | None = None,
    chains: Mapping[str, tuple[KeyEntry, ...]] | None = None,
) -> tuple[list[RecordRow], list[Rejected]]:
    """Check records received from a peer: signature, schema, and that they were meant to travel.

    ``chains`` are the key histories we know of nodes that rotated keys; a
    descriptor in the batch teaches the records after it its author's newer
    keys. Returns the good ones ready to store and why each other one was
    refused. Module-level and free of node state, so it can run in a worker process.
    """
    ring = KeyRing(chains)
    good: list[RecordRow] = []
    bad: list[Rejected] = []
    for index, raw in enumerate(raws):
        try:
            if len(raw) > MAX_RECORD_BYTES:
                raise InvalidMessage(f"record larger than {MAX_RECORD_BYTES} bytes")
            record = parse_record(open_envelope(raw, keys=ring), now_ms=now)
            if record.type == "descriptor" and len(record.body.keys) > 1:
                ring.learn(record.author, record.body.keys)
            if not record.scope.travels:
                # Only its author holds a private record; one arriving here leaked somewhere.
                raise Forbidden("a private record must not leave its author's node", record_id=record.record_id)
            if denied and record.author in denied and record.envelope.issued_at >= denied[record.author]:
                raise Forbidden("its author is on our deny-list", author=record.author)
            good.append(row_of(record))
        except ProtocolError as exc:
            bad.append(Rejected(index, exc.code, exc.message[:500]))
    return good, bad
