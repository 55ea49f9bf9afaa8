"""The sealed agreement: one canonical document that every party has signed.

The document is the canonical msgpack of::

    {"v": 1, "t": "agreement", "id": <16 bytes>, "kind": <str>,
     "parties": {<role>: <node id>}, "terms": <terms map>}

and each party signs ``SEAL_PREFIX + document`` with its node key. The
document is rebuilt from the exact terms map that travelled in the proposal
event, so every node derives the same bytes without trusting anyone's
re-serialisation. A ``SealedAgreement`` (document + one signature per party)
travels as ``{"doc": bin, "sigs": {<node id>: bin}}`` and can be checked
offline by an auditor who knows nothing of the kind's state machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from ..encoding import decode, encode
from ..errors import BadSignature, InvalidMessage, UnknownKey
from ..identity import SigningKey, public_key_from_node_id, verify_signature
from ..keys import KeyRing
from ..schema import Body, NilFree, NodeId, parse
from ._frozen import FrozenMap

SEAL_PREFIX = b"maillage/v1 agreement\x00"
DOCUMENT_VERSION = 1
AGREEMENT_ID_LENGTH = 16
MAX_DOCUMENT = 64 * 1024
MAX_PARTIES = 16

AgreementId = Annotated[bytes, Field(min_length=AGREEMENT_ID_LENGTH, max_length=AGREEMENT_ID_LENGTH)]
Signature = Annotated[bytes, Field(min_length=64, max_length=64)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]  # kinds, roles, actions, states


def terms_document(agreement_id: bytes, kind: str, parties: Mapping[str, str], terms: Mapping[str, Any]) -> bytes:
    """The canonical bytes every party signs for ``terms``."""
    return encode(
        {
            "v": DOCUMENT_VERSION,
            "t": "agreement",
            "id": bytes(agreement_id),
            "kind": kind,
            "parties": dict(parties),
            "terms": dict(terms),
        }
    )


def sign_document(key: SigningKey, document: bytes) -> bytes:
    """A party's co-signature (``seal_sig``) over a terms document."""
    return key.sign(SEAL_PREFIX + document)


def _verify_party_signature(signer: str, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``message`` is by the key ``signer`` (a node id or a successor key id)."""
    return verify_signature(public_key_from_node_id(signer), signature, message)


def check_party_signature(node_id: str, document: bytes, signature: bytes, key_id: str | None = None) -> None:
    """Raise BadSignature unless ``signature`` is ``node_id``'s co-signature of ``document``.

    ``key_id`` names the key that signed when it is not the node's genesis key
    (the key of the event that carried the co-signature, already tied to the
    node by the caller's key ring).
    """
    if not _verify_party_signature(key_id or node_id, SEAL_PREFIX + document, signature):
        raise BadSignature("co-signature does not match the agreement document and its party", node=node_id)


class AgreementDocument(Body):
    """The decoded document, for auditors: shape only, the terms map is the kind's business."""

    v: Annotated[int, Field(ge=DOCUMENT_VERSION, le=DOCUMENT_VERSION)]
    t: Annotated[str, Field(pattern=r"^agreement$")]
    id: AgreementId
    kind: Name
    parties: Annotated[dict[Name, NodeId], Field(min_length=2, max_length=MAX_PARTIES)]
    terms: dict[str, Any]


class _SealedWire(NilFree):
    doc: Annotated[bytes, Field(min_length=1, max_length=MAX_DOCUMENT)]
    sigs: Annotated[dict[NodeId, Signature], Field(min_length=1, max_length=MAX_PARTIES)]
    keys: Annotated[dict[NodeId, NodeId], Field(min_length=1, max_length=MAX_PARTIES)] | None = None


@dataclass(frozen=True, slots=True)
class SealedAgreement:
    """A terms document and each party's signature of it, keyed by node id.

    ``keys`` names, for a party that signed with a successor key (after a key
    rotation), the key it used; genesis signatures need no entry.
    """

    document: bytes
    signatures: FrozenMap[str, bytes]
    keys: FrozenMap[str, str] = FrozenMap()

    def contents(self) -> AgreementDocument:
        """Decode and shape-check the document (InvalidMessage / NonCanonical if malformed)."""
        doc = parse(AgreementDocument, decode(self.document))
        if len(set(doc.parties.values())) != len(doc.parties):
            raise InvalidMessage("an agreement names each party once")
        return doc

    def verify(self, ring: KeyRing | None = None) -> AgreementDocument:
        """Check, offline, that every party named in the document signed it, and nobody else.

        A signature by a successor key needs that key in the party's certified
        history (``ring``, built from its descriptors). Returns the decoded
        document; raises BadSignature, UnknownKey or InvalidMessage.
        """
        doc = self.contents()
        expected = set(doc.parties.values())
        if set(self.signatures) != expected:
            raise BadSignature(
                "an agreement is sealed by exactly its parties' signatures",
                missing=sorted(expected - set(self.signatures)),
                unexpected=sorted(set(self.signatures) - expected),
            )
        for node_id, signature in self.signatures.items():
            key_id = self.keys.get(node_id)
            if key_id is not None:
                chain = ring.chain(node_id) if ring is not None else None
                if not chain or key_id not in {entry.key for entry in chain}:
                    raise UnknownKey("co-signed with a key not certified for its party", node=node_id, key=key_id)
            check_party_signature(node_id, self.document, signature, key_id)
        return doc

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"doc": self.document, "sigs": dict(self.signatures)}
        if self.keys:
            wire["keys"] = dict(self.keys)
        return wire

    @classmethod
    def from_wire(cls, value: Any) -> SealedAgreement:
        """Shape-check a decoded ``{"doc", "sigs", "keys"?}`` map; call ``verify()`` to check signatures."""
        wire = parse(_SealedWire, value)
        return cls(wire.doc, FrozenMap(wire.sigs), FrozenMap(wire.keys or {}))

    def to_bytes(self) -> bytes:
        return encode(self.to_wire())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealedAgreement:
        return cls.from_wire(decode(raw))
