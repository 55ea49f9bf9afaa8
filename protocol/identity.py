"""Node identities: Ed25519 keys, node ids and human fingerprints.

A node id is the 32-byte raw Ed25519 public key in lowercase RFC 4648 base32
without padding: 52 characters from ``a-z2-7``, safe in DNS labels and URLs.
The fingerprint is what two humans read to each other on the phone.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import InvalidMessage

NODE_ID_LENGTH = 52
_NODE_ID_RE = re.compile(r"[a-z2-7]{52}")
_PRIVATE_KEY_PEM_HEADER = b"-----BEGIN PRIVATE KEY-----"


def node_id_from_public_key(raw: bytes) -> str:
    """The node id of a 32-byte raw Ed25519 public key."""
    if len(raw) != 32:
        raise InvalidMessage("an Ed25519 public key is 32 bytes")
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def public_key_from_node_id(node_id: str) -> bytes:
    """The raw public key a node id encodes; InvalidMessage if it is not a node id."""
    # Checked before the cache: decoded values may be unhashable (a map), and
    # lru_cache would raise TypeError instead of a protocol error.
    if not isinstance(node_id, str):
        raise InvalidMessage("a node id is a string", node_id=repr(node_id)[:80])
    return _public_key_from_node_id(node_id)


@lru_cache(maxsize=65536)
def _public_key_from_node_id(node_id: str) -> bytes:
    if not _NODE_ID_RE.fullmatch(node_id):
        raise InvalidMessage("a node id is 52 characters of lowercase base32 (a-z, 2-7)", node_id=str(node_id)[:80])
    raw = base64.b32decode(node_id.upper() + "====")
    # The last character carries 4 padding bits (52 x 5 = 260 bits for 256) that must be zero,
    # or two ids would name one key.
    if node_id_from_public_key(raw) != node_id:
        raise InvalidMessage("node id is not in canonical base32 form", node_id=node_id)
    return raw


def is_node_id(value: object) -> bool:
    try:
        public_key_from_node_id(value)  # type: ignore[arg-type]
    except InvalidMessage:
        return False
    return True


def fingerprint(node_id: str) -> str:
    """A short human fingerprint: the first 10 bytes of SHA-256 of the key, as 4 groups of 4 base32 chars."""
    digest = hashlib.sha256(public_key_from_node_id(node_id)).digest()
    text = base64.b32encode(digest[:10]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


@lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(signature) != 64:
        return False
    try:
        _public_key(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """A node's Ed25519 private key, with its public half and ids precomputed.

    ``key_id`` names this key; ``node_id`` names the node it signs for. They
    are equal for a node's first (genesis) key; after a rotation the node
    keeps its id and signs with a successor key (see protocol/keys.py).
    """

    private: Ed25519PrivateKey = field(repr=False)
    public_raw: bytes
    node_id: str
    key_id: str

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Rebuild a key from its 32-byte seed (used by test vectors)."""
        return cls.from_private(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> SigningKey:
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key_id = node_id_from_public_key(raw)
        return cls(private=private, public_raw=raw, node_id=key_id, key_id=key_id)

    def for_node(self, node_id: str) -> SigningKey:
        """This key signing for ``node_id``, whose genesis key it succeeds."""
        return replace(self, node_id=node_id)

    @property
    def is_genesis(self) -> bool:
        return self.key_id == self.node_id

    def seed(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def to_pem(self) -> bytes:
        """PKCS#8 PEM, the form the key file holds (readable by openssl)."""
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        if not data.lstrip().startswith(_PRIVATE_KEY_PEM_HEADER):
            raise InvalidMessage("not a PEM private key file")
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise InvalidMessage("the key file does not hold an Ed25519 key")
        return cls.from_private(private)
