"""Key documents and rotations: a node keeps its id when it changes its signing key.

A node id is its *genesis* key and never changes. The node's descriptor lists
its keys in order (``keys``), each valid from ``since`` until the next one's
``since``. Every key after the genesis one carries a ``cert``: the signature,
by the key before it, of the statement ``{node, key, since}``. The chain can
therefore be checked offline from the node id alone, by anyone, in any order
of arrival; a stolen *current* key cannot rewrite the past, and old records
keep verifying with the key that was valid when they were signed.

An envelope signed by a key other than the genesis one names it in its
payload (``key``); verifiers look it up in a ``KeyRing`` of certified chains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field

from .encoding import encode
from .errors import BadSignature, Conflict, InvalidMessage, RetiredKey, UnknownKey
from .identity import SigningKey, public_key_from_node_id, verify_signature
from .schema import Millis, NilFree, NodeId, parse

ROTATION_PREFIX = b"maillage/v1 key rotation\x00"
MAX_KEYS = 16

Signature = Annotated[bytes, Field(min_length=64, max_length=64)]


class KeyEntry(NilFree):
    """One of a node's keys: valid from ``since`` (ms) until ``until`` (absent: still current)."""

    key: NodeId  # an Ed25519 public key, in node-id form
    since: Millis
    until: Millis | None = None
    cert: Signature | None = None  # by the previous key; absent only on the genesis key


def rotation_statement(node_id: str, key_id: str, since: int) -> bytes:
    """The exact bytes the previous key signs to hand over to ``key_id`` from ``since``."""
    return ROTATION_PREFIX + encode({"key": key_id, "node": node_id, "since": since})


def certify(previous: SigningKey, node_id: str, key_id: str, since: int) -> bytes:
    """The certificate by which ``previous`` (the node's current key) names its successor."""
    return previous.sign(rotation_statement(node_id, key_id, since))


def rotated_chain(chain: Sequence[KeyEntry], current: SigningKey, successor_id: str, at: int) -> tuple[KeyEntry, ...]:
    """The key list after ``current`` hands over to ``successor_id`` at ``at``."""
    if not chain or chain[-1].key != current.key_id:
        raise InvalidMessage("only the node's current key can certify its successor")
    if successor_id in {entry.key for entry in chain}:
        raise InvalidMessage("a key cannot be used twice in a node's history")
    if at <= chain[-1].since:
        raise InvalidMessage("a rotation must come after the current key's start")
    retired = chain[-1].model_copy(update={"until": at})
    cert = certify(current, current.node_id, successor_id, at)
    return (*chain[:-1], retired, KeyEntry(key=successor_id, since=at, cert=cert))


def parse_chain(node_id: str, entries: Any) -> tuple[KeyEntry, ...]:
    """Validate a descriptor's ``keys`` as a certified chain from the genesis key ``node_id``.

    Raises InvalidMessage for a malformed chain and BadSignature for a
    certificate that does not verify.
    """
    if not isinstance(entries, (list, tuple)) or not 0 < len(entries) <= MAX_KEYS:
        raise InvalidMessage(f"keys: a list of 1 to {MAX_KEYS} key entries")
    chain = tuple(entry if isinstance(entry, KeyEntry) else parse(KeyEntry, entry) for entry in entries)
    genesis = chain[0]
    if genesis.key != node_id or genesis.cert is not None:
        raise InvalidMessage("keys: the first key is the node id itself, without a certificate")
    for previous, entry in zip(chain, chain[1:]):
        if previous.until != entry.since:
            raise InvalidMessage("keys: each key ends exactly when the next one starts", key=previous.key)
        if entry.cert is None:
            raise InvalidMessage("keys: every key after the first carries its certificate", key=entry.key)
        statement = rotation_statement(node_id, entry.key, entry.since)
        if not verify_signature(public_key_from_node_id(previous.key), entry.cert, statement):
            raise BadSignature("keys: a rotation certificate does not verify", key=entry.key)
    if chain[-1].until is not None and chain[-1].until <= chain[-1].since:
        raise InvalidMessage("keys: a key must end after it starts", key=chain[-1].key)
    if len({entry.key for entry in chain}) != len(chain):
        raise InvalidMessage("keys: a key appears twice")
    return chain


def _same_history(known: Sequence[KeyEntry], newer: Sequence[KeyEntry]) -> bool:
    """True when ``newer`` continues ``known``: same keys and starts, the last one possibly retired since."""
    if len(newer) < len(known):
        return False
    for index, entry in enumerate(known):
        other = newer[index]
        if (entry.key, entry.since, entry.cert) != (other.key, other.since, other.cert):
            return False
        if index < len(known) - 1 and entry.until != other.until:
            return False
    return True


def resolve(chain: Sequence[KeyEntry] | None, node_id: str, key_id: str | None, issued_at: int) -> bytes:
    """The raw public key that must have signed a payload of ``node_id`` dated ``issued_at``.

    ``key_id`` is the payload's ``key`` (None: the genesis key). Without a
    known chain only the genesis key can be checked.
    """
    wanted = node_id if key_id is None else key_id
    entries = chain or ()
    entry = next((e for e in entries if e.key == wanted), None)
    if entry is None:
        if key_id is None:
            return public_key_from_node_id(node_id)
        raise UnknownKey("signed by a key we cannot tie to its node: fetch its descriptor", node=node_id, key=key_id)
    if issued_at < entry.since or (entry.until is not None and issued_at >= entry.until):
        raise RetiredKey(
            "signed by a key outside its period of validity", node=node_id, key=wanted, since=entry.since, until=entry.until
        )
    return public_key_from_node_id(wanted)


class KeyRing:
    """The certified key chains of the nodes that rotated their keys (others need none).

    A mutable view the node keeps up to date as descriptors arrive; pure (no
    I/O). ``chains`` is what to hand to worker processes.
    """

    __slots__ = ("chains",)

    def __init__(self, chains: Mapping[str, tuple[KeyEntry, ...]] | None = None) -> None:
        self.chains: dict[str, tuple[KeyEntry, ...]] = dict(chains or {})

    def copy(self) -> KeyRing:
        return KeyRing(self.chains)

    def chain(self, node_id: str) -> tuple[KeyEntry, ...] | None:
        return self.chains.get(node_id)

    def check(self, node_id: str, chain: tuple[KeyEntry, ...]) -> bool:
        """True if ``chain`` adds to what we know; Conflict if it contradicts it."""
        known = self.chains.get(node_id)
        if known is None:
            return len(chain) > 1 or chain[0].until is not None
        if _same_history(known, chain):
            return chain != known
        if _same_history(chain, known):
            return False  # an older descriptor: we already know more
        raise Conflict("two different key histories for one node", node=node_id)

    def learn(self, node_id: str, entries: Any) -> bool:
        """Verify and remember a node's key chain; True when it told us something new."""
        chain = parse_chain(node_id, entries)
        if not self.check(node_id, chain):
            return False
        self.chains[node_id] = chain
        return True


__all__ = [
    "KeyEntry",
    "KeyRing",
    "MAX_KEYS",
    "ROTATION_PREFIX",
    "certify",
    "parse_chain",
    "resolve",
    "rotated_chain",
    "rotation_statement",
]
