"""The node's keys: the ring of peers' certified key chains, and rotating our own key.

A rotation happens while the node is stopped (the running node holds its key
in memory). It is crash-safe in three durable steps: the successor key is
written beside the current one (``node.key.next``); the descriptor naming it,
certified by the current key and signed by the successor, is committed; then
the key files are swapped and the old key is kept as ``node.key.retired-<id>``
for the operator to destroy. A rotation interrupted after the commit is
finished at the next start; one interrupted before it is forgotten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from protocol import DESCRIPTOR_ID, Envelope, ProtocolError, SigningKey, decode, open_envelope, parse_record
from protocol.errors import UnknownKey
from protocol.keys import KeyEntry, KeyRing, parse_chain, rotated_chain

from storage import identity, records, session
from storage.models import CatalogueRecord
from storage.rows import RecordRow

from . import catalogue
from .clock import now_ms
from .config import NodeConfig
from .i18n import t

NEXT_SUFFIX = ".next"
HANDSHAKE_TYPES = frozenset({"hello", "hello-reply"})


class RotationError(Exception):
    """The key cannot be rotated now; the message says why."""


# ---- the ring of known key chains ----------------------------------------------------------


def load_keyring(engine: Engine) -> KeyRing:
    """The certified key chains of every node whose stored descriptor shows a rotation."""
    ring = KeyRing()
    with session(engine) as s:
        rows = s.execute(
            select(CatalogueRecord.author, CatalogueRecord.envelope).where(CatalogueRecord.rtype == "descriptor")
        ).all()
    for author, envelope in rows:
        keys = records.body_of(envelope)["keys"]
        if len(keys) > 1:
            ring.learn(author, keys)
    return ring


def learn_descriptors(ring: KeyRing, rows: Iterable[RecordRow]) -> None:
    """Remember the key chains carried by verified descriptors (a newer history replaces an older one)."""
    for row in rows:
        if row.rtype == "descriptor":
            keys = records.body_of(row.envelope)["keys"]
            if len(keys) > 1:
                ring.learn(row.author, keys)


def open_signed(raw: bytes, ring: KeyRing) -> Envelope:
    """Verify a peer's message with our key ring.

    A handshake from a peer whose rotation we have not heard of yet carries
    the peer's descriptor, which certifies its keys: learn them and verify again.
    """
    try:
        return open_envelope(raw, keys=ring)
    except UnknownKey:
        if not _learn_from_handshake(raw, ring):
            raise
        return open_envelope(raw, keys=ring)


def _learn_from_handshake(raw: bytes, ring: KeyRing) -> bool:
    try:
        payload = decode(decode(raw)["p"])
        if payload["t"] not in HANDSHAKE_TYPES:
            return False
        descriptor = parse_record(open_envelope(payload["body"]["descriptor"], keys=ring), now_ms=now_ms())
    except (ProtocolError, KeyError, TypeError):
        return False
    if descriptor.type != "descriptor" or descriptor.author != payload["iss"]:
        return False
    return ring.learn(descriptor.author, descriptor.body.keys)


# ---- our own key -------------------------------------------------------------------------------


def own_chain(engine: Engine, node_id: str) -> tuple[KeyEntry, ...]:
    """Our key history as our stored descriptor states it (the genesis key alone before any rotation)."""
    with session(engine) as s:
        held = records.get(s, node_id, DESCRIPTOR_ID)
    if held is None or held.rtype != "descriptor":
        return (KeyEntry(key=node_id, since=0),)
    return parse_chain(node_id, records.body_of(held.envelope)["keys"])


def load_signing_key(config: NodeConfig, engine: Engine) -> SigningKey:
    """The key the node signs with, bound to the node id its database holds.

    Finishes a rotation that was interrupted after its commit; refuses a key
    file that is neither the node's genesis key nor its certified current key.
    """
    node_id = _database_node_id(engine)
    _finish_interrupted_rotation(config, engine, node_id)
    key = identity.read_key_file(config.key_path)
    if key.key_id == node_id:
        chain = own_chain(engine, node_id)
        if len(chain) > 1:
            raise identity.KeyFileError(
                f"{config.key_path} holds the node's first key, retired on {chain[0].until}: restore the current key"
            )
        return key
    if own_chain(engine, node_id)[-1].key != key.key_id:
        raise identity.KeyFileError(f"{config.key_path} is not the current key of node {node_id}")
    return key.for_node(node_id)


def _database_node_id(engine: Engine) -> str:
    with session(engine) as s:
        row = identity.get(s)
    if row is None:
        raise identity.KeyFileError("the database holds no node identity: run `maillage init`")
    return row.node_id


def _next_path(config: NodeConfig) -> Path:
    return config.key_path.with_name(config.key_path.name + NEXT_SUFFIX)


def _retired_path(config: NodeConfig, key_id: str) -> Path:
    return config.key_path.with_name(f"{config.key_path.name}.retired-{key_id[:12]}")


def _finish_interrupted_rotation(config: NodeConfig, engine: Engine, node_id: str) -> None:
    pending = _next_path(config)
    if not pending.exists():
        return
    successor = identity.read_key_file(pending)
    if own_chain(engine, node_id)[-1].key == successor.key_id:
        _swap_key_files(config, identity.read_key_file(config.key_path), pending)
    else:
        pending.unlink()  # the rotation never committed: the current key stays


def _swap_key_files(config: NodeConfig, current: SigningKey, successor_path: Path) -> None:
    os.replace(config.key_path, _retired_path(config, current.key_id))
    os.replace(successor_path, config.key_path)
    _fsync_dir(config.key_path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Rotation:
    node_id: str
    retired_key: str
    current_key: str
    since: int


def rotate_key(config: NodeConfig, engine: Engine) -> Rotation:
    """Hand the node's identity over to a fresh key, certified by the current one."""
    if _is_running(config):
        raise RotationError(t("key.running"))
    current = load_signing_key(config, engine)
    successor = SigningKey.generate().for_node(current.node_id)
    pending = _next_path(config)
    identity.write_key_file(pending, successor)
    at = now_ms()
    chain = rotated_chain(own_chain(engine, current.node_id), current, successor.key_id, at)
    catalogue.publish_descriptor(engine, successor, config, keys=chain)
    _swap_key_files(config, current, pending)
    return Rotation(current.node_id, current.key_id, successor.key_id, at)


def _is_running(config: NodeConfig) -> bool:
    try:
        pid = int(json.loads(config.runtime_path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
