"""Key rotation: a node keeps its id, old signatures keep verifying, retired keys stop signing."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import BadSignature, Conflict, InvalidMessage, SigningKey, open_envelope, parse_record, seal
from protocol.errors import RetiredKey, UnknownKey
from protocol.keys import KeyEntry, KeyRing, parse_chain, rotated_chain

GENESIS = SigningKey.from_seed(b"\x41" * 32)
SECOND = SigningKey.from_seed(b"\x42" * 32).for_node(GENESIS.node_id)
THIRD = SigningKey.from_seed(b"\x43" * 32).for_node(GENESIS.node_id)
STRANGER = SigningKey.from_seed(b"\x44" * 32)

T0 = 1_780_000_000_000
ROTATED_AT = T0 + 1000
ROTATED_AGAIN_AT = T0 + 2000

CHAIN_1 = (KeyEntry(key=GENESIS.node_id, since=0),)
CHAIN_2 = rotated_chain(CHAIN_1, GENESIS, SECOND.key_id, ROTATED_AT)
CHAIN_3 = rotated_chain(CHAIN_2, SECOND, THIRD.key_id, ROTATED_AGAIN_AT)


def descriptor(key: SigningKey, chain: tuple[KeyEntry, ...], at: int) -> Any:
    body = {
        "id": "node",
        "name": "Ressourcerie",
        "endpoints": [],
        "protocols": [1],
        "keys": [entry.to_wire() for entry in chain],
    }
    return seal(key, "descriptor", body, now_ms=at)


def resource(key: SigningKey, at: int) -> Any:
    return seal(key, "resource", {"id": "diable", "kind": "equipment", "title": "Diable"}, now_ms=at)


def ring_with(chain: tuple[KeyEntry, ...]) -> KeyRing:
    ring = KeyRing()
    ring.learn(GENESIS.node_id, [entry.to_wire() for entry in chain])
    return ring


def test_a_rotated_key_signs_for_the_same_node_and_names_itself() -> None:
    envelope = resource(SECOND, ROTATED_AT + 1)
    assert envelope.issuer == GENESIS.node_id
    assert envelope.payload["key"] == SECOND.key_id
    assert "key" not in resource(GENESIS, T0).payload
    opened = open_envelope(envelope.raw, keys=ring_with(CHAIN_2))
    assert opened.message_id == envelope.message_id


def test_without_the_rotation_a_successor_key_is_unknown() -> None:
    with pytest.raises(UnknownKey):
        open_envelope(resource(SECOND, ROTATED_AT + 1).raw)
    with pytest.raises(UnknownKey):
        open_envelope(resource(SECOND, ROTATED_AT + 1).raw, keys=KeyRing())


def test_old_records_keep_verifying_and_retired_keys_stop_signing() -> None:
    ring = ring_with(CHAIN_3)
    assert open_envelope(resource(GENESIS, ROTATED_AT - 1).raw, keys=ring)
    assert open_envelope(resource(SECOND, ROTATED_AGAIN_AT - 1).raw, keys=ring)
    assert open_envelope(resource(THIRD, ROTATED_AGAIN_AT).raw, keys=ring)
    with pytest.raises(RetiredKey):
        open_envelope(resource(GENESIS, ROTATED_AT).raw, keys=ring)
    with pytest.raises(RetiredKey):
        open_envelope(resource(SECOND, ROTATED_AGAIN_AT + 5).raw, keys=ring)
    with pytest.raises(RetiredKey):  # a successor cannot sign before it was certified
        open_envelope(resource(THIRD, ROTATED_AGAIN_AT - 1).raw, keys=ring)


def test_a_descriptor_signed_by_a_successor_key_certifies_itself() -> None:
    envelope = descriptor(THIRD, CHAIN_3, ROTATED_AGAIN_AT + 1)
    record = parse_record(open_envelope(envelope.raw), now_ms=ROTATED_AGAIN_AT + 1)
    ring = KeyRing()
    assert ring.learn(record.author, record.body.keys)
    assert ring.chain(GENESIS.node_id) == CHAIN_3
    assert not ring.learn(record.author, record.body.keys)  # nothing new the second time
    # An older descriptor (shorter history) neither fails nor shortens what we know.
    older = descriptor(SECOND, CHAIN_2, ROTATED_AT + 1)
    assert open_envelope(older.raw, keys=ring)
    assert not ring.learn(GENESIS.node_id, [e.to_wire() for e in CHAIN_2])
    assert ring.chain(GENESIS.node_id) == CHAIN_3


def test_the_key_named_in_the_payload_is_covered_by_the_signature() -> None:
    envelope = resource(SECOND, ROTATED_AT + 1)
    forged = envelope.raw.replace(SECOND.key_id.encode(), THIRD.key_id.encode())
    # Two keys of one node are never valid at the same time, so the swap fails on
    # the period before the signature is even checked; either way it is refused.
    with pytest.raises((BadSignature, RetiredKey)):
        open_envelope(forged, keys=ring_with(CHAIN_3))
    stranger = envelope.raw.replace(SECOND.key_id.encode(), STRANGER.key_id.encode())
    with pytest.raises(UnknownKey):
        open_envelope(stranger, keys=ring_with(CHAIN_3))


def test_a_stranger_cannot_certify_a_key_for_a_node() -> None:
    forged = rotated_chain((KeyEntry(key=STRANGER.node_id, since=0),), STRANGER, SECOND.key_id, ROTATED_AT)
    wire = [CHAIN_1[0].model_copy(update={"until": ROTATED_AT}).to_wire(), forged[1].to_wire()]
    with pytest.raises(BadSignature):
        parse_chain(GENESIS.node_id, wire)
    # Nor can a descriptor carrying that chain verify a record signed by the stranger's pick.
    with pytest.raises(BadSignature):
        open_envelope(seal(SECOND, "descriptor", {"keys": wire}, now_ms=ROTATED_AT + 1).raw)


def test_two_key_histories_for_one_node_conflict() -> None:
    other = SigningKey.from_seed(b"\x45" * 32)
    fork = rotated_chain(CHAIN_1, GENESIS, other.key_id, ROTATED_AT + 7)
    ring = ring_with(CHAIN_2)
    with pytest.raises(Conflict):
        ring.learn(GENESIS.node_id, [entry.to_wire() for entry in fork])
    with pytest.raises(Conflict):
        open_envelope(descriptor(other.for_node(GENESIS.node_id), fork, ROTATED_AT + 8).raw, keys=ring)
    assert ring.chain(GENESIS.node_id) == CHAIN_2


def test_only_the_current_key_hands_over() -> None:
    with pytest.raises(InvalidMessage):
        rotated_chain(CHAIN_2, GENESIS, THIRD.key_id, ROTATED_AGAIN_AT)
    with pytest.raises(InvalidMessage):
        rotated_chain(CHAIN_2, SECOND, GENESIS.key_id, ROTATED_AGAIN_AT)
    with pytest.raises(InvalidMessage):
        rotated_chain(CHAIN_2, SECOND, THIRD.key_id, ROTATED_AT)


@pytest.mark.parametrize("bad_key", [GENESIS.node_id, "x" * 52, 7])
def test_a_payload_key_field_names_a_successor(bad_key: object) -> None:
    from protocol import encode
    from protocol.envelope import SIGNING_PREFIX

    payload = dict(resource(SECOND, ROTATED_AT + 1).payload)
    payload["key"] = bad_key
    payload_bytes = encode(payload)
    raw = encode({"p": payload_bytes, "s": SECOND.sign(SIGNING_PREFIX + payload_bytes)})
    with pytest.raises(InvalidMessage):
        open_envelope(raw, keys=ring_with(CHAIN_2))
