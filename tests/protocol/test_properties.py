"""Property tests of the canonical encoding and of signed envelopes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocol import (
    NonCanonical,
    ProtocolError,
    SigningKey,
    decode,
    encode,
    open_envelope,
    seal,
)
from protocol.encoding import INT_MAX, INT_MIN

from .notation import mutations, nodes, ref_pack, to_typed

KEY = SigningKey.from_seed(bytes(range(32)))
PEER = SigningKey.from_seed(bytes(range(1, 33)))
T0 = 1_767_225_600_000

# Every msgpack integer width boundary, and its neighbours.
_EDGES = [0, 0x7F, 0xFF, 0xFFFF, 0xFFFF_FFFF, 2**63 - 1, 2**64 - 1, -1, -32, -128, -32768, -(2**31), -(2**63)]
BOUNDARY_INTS = sorted({e + d for e in _EDGES for d in (-1, 0, 1) if INT_MIN <= e + d <= INT_MAX})

ints = st.one_of(st.sampled_from(BOUNDARY_INTS), st.integers(INT_MIN, INT_MAX), st.integers(-40, 300))
texts = st.one_of(
    st.text(max_size=12),  # fixstr
    st.text(min_size=28, max_size=140),  # fixstr/str8/str16 depending on the bytes
    st.text(alphabet="é", min_size=127, max_size=129),  # 254..258 bytes: the str8/str16 boundary
)
binaries = st.one_of(st.binary(max_size=12), st.binary(min_size=250, max_size=300))  # bin8, bin16
keys = st.text(max_size=6)  # unicode keys, including "" and astral characters
scalars = st.one_of(st.none(), st.booleans(), ints, texts, binaries)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
        st.lists(ints, min_size=14, max_size=18),  # fixarray / array16 boundary
        st.dictionaries(st.text(min_size=1, max_size=3), ints, min_size=14, max_size=18),  # fixmap / map16
    )


def depth(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


values = st.recursive(scalars, _containers, max_leaves=30).filter(lambda v: depth(v) <= 16)


def deep(n: int) -> Any:
    value: Any = 0
    for i in range(n):
        value = [value] if i % 2 else {"k": value}
    return value


values_with_depth = st.one_of(values, st.integers(1, 16).map(deep))


# ---------------------------------------------------------------------------
# canonical encoding


@settings(max_examples=300)
@given(values_with_depth)
def test_round_trip(value: Any) -> None:
    data = encode(value)
    decoded = decode(data)
    assert to_typed(decoded) == to_typed(value)  # distinguishes True from 1, bytes from str
    assert encode(decoded) == data


@settings(max_examples=300)
@given(values_with_depth)
def test_encoder_matches_the_written_specification(value: Any) -> None:
    """Our encoder and a packer written from docs/protocol.md agree byte for byte."""
    assert encode(value) == ref_pack(value)


@st.composite
def non_canonical(draw: st.DrawFn) -> tuple[Any, bytes, str]:
    value = draw(values)
    choices = [(i, m) for i, node in enumerate(nodes(value)) for m in mutations(node)]
    assume(choices)
    index, mutation = draw(st.sampled_from(choices))
    return value, ref_pack(value, index, mutation), mutation


@settings(max_examples=500, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(non_canonical())
def test_any_non_canonical_re_encoding_is_refused(case: tuple[Any, bytes, str]) -> None:
    value, data, mutation = case
    assert data != encode(value), mutation
    with pytest.raises(NonCanonical) as info:
        decode(data)
    assert info.value.code == "non-canonical"


def test_each_mutation_kind_is_exercised() -> None:
    """The mutator really produces every kind of non-canonical form (guards the property above)."""
    sample = {"a": [300, -200, "x" * 40, b"\x00" * 3, {"k": 1, "l": 2}], "b": ""}
    kinds = {m.split(":")[0] for node in nodes(sample) for m in mutations(node)}
    assert kinds == {"int", "float64", "float32", "header", "swap", "duplicate"}
    for i, node in enumerate(nodes(sample)):
        for m in mutations(node):
            with pytest.raises(NonCanonical):
                decode(ref_pack(sample, i, m))


@settings(max_examples=1000)
@given(st.binary(max_size=64))
def test_decoder_only_raises_protocol_errors_on_random_bytes(data: bytes) -> None:
    try:
        decode(data)
    except ProtocolError:
        pass


@settings(max_examples=300)
@given(values, st.data())
def test_decoder_only_raises_protocol_errors_on_damaged_values(value: Any, data: st.DataObject) -> None:
    encoded = bytearray(encode(value))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        pos = data.draw(st.integers(0, len(encoded)))
        if op == "set" and pos < len(encoded):
            encoded[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            encoded[pos:pos] = data.draw(st.binary(min_size=1, max_size=9))
        elif op == "delete" and pos < len(encoded):
            del encoded[pos]
        elif op == "truncate":
            del encoded[pos:]
    try:
        result = decode(bytes(encoded))
    except ProtocolError:
        return
    assert encode(result) == bytes(encoded)  # anything accepted is canonical


# ---------------------------------------------------------------------------
# signed envelopes


bodies = st.dictionaries(keys, values, max_size=4).filter(lambda b: depth(b) <= 14)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _refused(data: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        open_envelope(data)
    return info.value


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(bodies, st.booleans(), st.data())
def test_any_single_bit_change_of_an_envelope_is_refused(body: dict[str, Any], addressed: bool, data: st.DataObject) -> None:
    env = seal(KEY, "resource", body, now_ms=T0, audience=[PEER.node_id] if addressed else None)
    assert open_envelope(env.raw).message_id == env.message_id
    bit = data.draw(st.integers(0, len(env.raw) * 8 - 1))
    _refused(_flip(env.raw, bit))


@pytest.mark.parametrize("description_length", [0, 300])  # bin8 and bin16 payload headers
def test_every_single_bit_change_of_an_envelope_is_refused(description_length: int) -> None:
    body = {"id": "minibus-9", "kind": "vehicle", "title": "Minibus", "quantity": 1}
    if description_length:
        body["description"] = "d" * description_length
    env = seal(KEY, "resource", body, now_ms=T0, nonce=bytes(16))
    codes = set()
    for bit in range(len(env.raw) * 8):
        codes.add(_refused(_flip(env.raw, bit)).code)
    # Flips in the signed bytes must surface as bad signatures, not only as parse errors.
    assert "bad-signature" in codes
    assert codes <= {"bad-signature", "invalid", "non-canonical", "too-large"}


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_open_envelope_only_raises_protocol_errors_on_random_bytes(data: bytes) -> None:
    try:
        open_envelope(data)
    except ProtocolError:
        return
    raise AssertionError("random bytes were accepted as a signed envelope")


@given(values)
def test_open_envelope_refuses_any_signed_non_payload(value: Any) -> None:
    """Correctly signed bytes that are not a valid payload are refused with a protocol error."""
    from protocol import SIGNING_PREFIX

    payload = encode(value)
    raw = encode({"p": payload, "s": KEY.sign(SIGNING_PREFIX + payload)})
    assume(not (isinstance(value, dict) and {"v", "t", "iss", "iat", "nonce", "body"} <= value.keys()))
    with pytest.raises(ProtocolError):
        open_envelope(raw)


_SAMPLE = seal(KEY, "push", {"records": [b"\x01" * 40, b"\x02" * 300]}, now_ms=T0, audience=[PEER.node_id], nonce=bytes(16))


@settings(max_examples=300)
@given(st.data())
def test_any_damage_to_an_envelope_is_refused(data: st.DataObject) -> None:
    raw = bytearray(_SAMPLE.raw)
    for _ in range(data.draw(st.integers(1, 3))):
        if not raw:
            break
        op = data.draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        pos = data.draw(st.integers(0, len(raw) - 1))
        if op == "set":
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del raw[pos]
        else:
            del raw[pos:]
    assume(bytes(raw) != _SAMPLE.raw)
    _refused(bytes(raw))
