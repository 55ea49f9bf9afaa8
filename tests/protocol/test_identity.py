"""Keys, node ids and fingerprints."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import (
    InvalidMessage,
    SigningKey,
    fingerprint,
    is_node_id,
    node_id_from_public_key,
    public_key_from_node_id,
)
from protocol.identity import verify_signature

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
SEED = bytes(range(32))


def test_pem_round_trip_keeps_the_key_byte_for_byte() -> None:
    key = SigningKey.from_seed(SEED)
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    again = SigningKey.from_pem(pem)
    assert again.seed() == SEED
    assert again.public_raw == key.public_raw and again.node_id == key.node_id
    assert again.to_pem() == pem
    assert again.sign(b"m") == key.sign(b"m")
    # The file is standard PKCS#8: another reader gets the same key.
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ) == SEED


def test_pem_round_trip_of_a_generated_key() -> None:
    key = SigningKey.generate()
    assert SigningKey.from_pem(key.to_pem()).seed() == key.seed()
    assert SigningKey.generate().node_id != key.node_id


def test_from_pem_refuses_what_is_not_an_ed25519_private_key() -> None:
    with pytest.raises(InvalidMessage):
        SigningKey.from_pem(b"not a key")
    public_pem = SigningKey.from_seed(SEED).private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidMessage):
        SigningKey.from_pem(public_pem)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidMessage, match="Ed25519"):
        SigningKey.from_pem(ec_pem)


def test_node_id_is_lowercase_unpadded_base32_of_the_raw_key() -> None:
    key = SigningKey.from_seed(SEED)
    assert len(key.public_raw) == 32
    assert key.node_id == base64.b32encode(key.public_raw).decode().rstrip("=").lower()
    assert re.fullmatch(r"[a-z2-7]{52}", key.node_id)
    assert node_id_from_public_key(key.public_raw) == key.node_id
    assert public_key_from_node_id(key.node_id) == key.public_raw
    assert is_node_id(key.node_id)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_node_id_needs_a_32_byte_key(length: int) -> None:
    with pytest.raises(InvalidMessage):
        node_id_from_public_key(bytes(length))


def test_last_character_padding_bits_must_be_zero() -> None:
    """52 chars carry 260 bits for 256: the last character's 4 low bits are padding."""
    node_id = SigningKey.from_seed(SEED).node_id
    accepted = []
    for char in ALPHABET:
        candidate = node_id[:-1] + char
        if is_node_id(candidate):
            accepted.append(char)
        else:
            with pytest.raises(InvalidMessage, match="canonical"):
                public_key_from_node_id(candidate)
    assert accepted == ["a", "q"]  # 0b00000 and 0b10000
    # The two accepted spellings name two different keys, never one key twice.
    a, q = (public_key_from_node_id(node_id[:-1] + c) for c in "aq")
    assert a != q and a[:-1] == q[:-1]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 51,
        "a" * 53,
        "A" * 52,
        "a" * 51 + "1",
        "a" * 52 + "====",
        " " + "a" * 51,
        "a" * 51 + "\n",
    ],
)
def test_malformed_node_ids_are_refused(value: str) -> None:
    assert not is_node_id(value)
    with pytest.raises(InvalidMessage):
        public_key_from_node_id(value)


@pytest.mark.parametrize("value", [None, 5, b"a" * 52, {}, [], ("a",), {"k": "v"}])
def test_non_strings_are_not_node_ids(value: object) -> None:
    # Decoded payload values may be maps or arrays: the answer must be a typed error, never TypeError.
    assert is_node_id(value) is False
    with pytest.raises(InvalidMessage):
        public_key_from_node_id(value)  # type: ignore[arg-type]


def test_fingerprint_format_and_derivation() -> None:
    node_id = SigningKey.from_seed(SEED).node_id
    fp = fingerprint(node_id)
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", fp)
    digest = hashlib.sha256(public_key_from_node_id(node_id)).digest()
    assert fp.replace("-", "") == base64.b32encode(digest[:10]).decode()
    assert fingerprint(SigningKey.from_seed(bytes(32)).node_id) != fp
    with pytest.raises(InvalidMessage):
        fingerprint("not-a-node-id")


def test_verify_signature() -> None:
    key = SigningKey.from_seed(SEED)
    sig = key.sign(b"hello")
    assert verify_signature(key.public_raw, sig, b"hello")
    assert not verify_signature(key.public_raw, sig, b"hellO")
    assert not verify_signature(key.public_raw, sig[:63], b"hello")
    assert not verify_signature(key.public_raw, sig + b"\x00", b"hello")
    assert not verify_signature(SigningKey.from_seed(bytes(32)).public_raw, sig, b"hello")
    high_bit = bytearray(sig)
    high_bit[63] |= 0x80
    assert not verify_signature(key.public_raw, bytes(high_bit), b"hello")
    # R || S+L is the same signature to a lax verifier: a strict one refuses S >= L (no malleability).
    order = 2**252 + 27742317777372353535851937790883648493
    malleated = sig[:32] + (int.from_bytes(sig[32:], "little") + order).to_bytes(32, "little")
    assert malleated != sig
    assert not verify_signature(key.public_raw, malleated, b"hello")


def test_signing_key_repr_hides_the_private_key() -> None:
    key = SigningKey.from_seed(SEED)
    assert "private" not in repr(key) and key.node_id in repr(key)
