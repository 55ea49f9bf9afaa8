"""Canonical msgpack: exact forms, limits, and what the encoder refuses."""

from __future__ import annotations

import msgpack
import pytest

from protocol import (
    DEFAULT_LIMITS,
    InvalidMessage,
    Limits,
    LocalProtocolError,
    NonCanonical,
    ProtocolError,
    RemoteProtocolError,
    TooLarge,
    decode,
    encode,
)
from protocol.errors import ERROR_CLASSES, error_from_wire


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "cc80"),
        (255, "ccff"),
        (256, "cd0100"),
        (65535, "cdffff"),
        (65536, "ce00010000"),
        (2**32 - 1, "ceffffffff"),
        (2**32, "cf0000000100000000"),
        (2**63, "cf8000000000000000"),
        (2**64 - 1, "cfffffffffffffffff"),
        (-1, "ff"),
        (-32, "e0"),
        (-33, "d0df"),
        (-128, "d080"),
        (-129, "d1ff7f"),
        (-32768, "d18000"),
        (-32769, "d2ffff7fff"),
        (-(2**31), "d280000000"),
        (-(2**31) - 1, "d3ffffffff7fffffff"),
        (-(2**63), "d38000000000000000"),
    ],
)
def test_integers_use_the_shortest_form_of_their_family(value: int, hex_: str) -> None:
    assert encode(value).hex() == hex_
    assert decode(bytes.fromhex(hex_)) == value


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1])
def test_integers_outside_64_bits_cannot_be_encoded(value: int) -> None:
    with pytest.raises(LocalProtocolError):
        encode(value)


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("a" * 31, "bf"),
        ("a" * 32, "d920"),
        ("a" * 255, "d9ff"),
        ("a" * 256, "da0100"),
        (b"", "c400"),
        (b"x" * 256, "c50100"),
        (b"x" * 65536, "c600010000"),
        (list(range(15)), "9f"),
        (list(range(16)), "dc0010"),
        ({f"{i:02d}": 0 for i in range(15)}, "8f"),
        ({f"{i:02d}": 0 for i in range(16)}, "de0010"),
    ],
)
def test_lengths_use_the_shortest_header(value: object, header: str) -> None:
    assert encode(value).hex().startswith(header)


def test_map_keys_are_sorted_by_utf8_bytes() -> None:
    value = {"\U0001f690": 1, "\uff5e": 2, "é": 3, "z": 4, "Z": 5, "": 6, "ab": 7, "a": 8}
    data = encode(value)
    keys = list(msgpack.unpackb(data, raw=True).keys())
    assert keys == sorted(k.encode() for k in value)
    assert keys[-2:] == ["\uff5e".encode(), "\U0001f690".encode()]  # UTF-16 order would swap these
    assert decode(data) == value


def test_tuples_lists_and_bytearrays_encode_alike() -> None:
    assert encode((1, 2)) == encode([1, 2]) == b"\x92\x01\x02"
    assert encode(bytearray(b"ab")) == encode(b"ab") == b"\xc4\x02ab"
    assert encode(True) == b"\xc3" and encode(1) == b"\x01"


@pytest.mark.parametrize("value", [1.0, {"a": 0.5}, {1: "x"}, {b"k": 1}, object(), {1, 2}])
def test_encoder_refuses_values_without_a_canonical_form(value: object) -> None:
    with pytest.raises(LocalProtocolError):
        encode(value)


def test_depth_limit_is_sixteen_containers() -> None:
    ok = b"\x91" * 15 + b"\x90"
    assert decode(ok) is not None
    with pytest.raises(TooLarge):
        decode(b"\x91" * 16 + b"\x90")
    nested: object = []
    for _ in range(15):
        nested = [nested]
    assert encode(nested) == ok
    with pytest.raises(LocalProtocolError):
        encode([nested])
    assert encode([nested], max_depth=17) == b"\x91" * 16 + b"\x90"


def test_depth_counts_the_deepest_branch_only() -> None:
    wide = [[[]] * 3] * 10  # depth 3, many siblings
    assert decode(encode(wide)) == (((), (), ()),) * 10
    assert decode(encode(wide), Limits(max_depth=3)) is not None
    with pytest.raises(TooLarge):
        decode(encode(wide), Limits(max_depth=2))


def test_limits_are_inclusive() -> None:
    limits = Limits(max_bytes=100, max_str=10, max_bin=10, max_array=3, max_map=2)
    for ok, bad in [
        ("a" * 10, "a" * 11),
        (b"a" * 10, b"a" * 11),
        ([0] * 3, [0] * 4),
        ({"a": 0, "b": 0}, {"a": 0, "b": 0, "c": 0}),
    ]:
        assert decode(encode(ok), limits) is not None
        with pytest.raises(TooLarge):
            decode(encode(bad), limits)
    assert decode(encode(b"x" * 98), Limits(max_bytes=100))  # 2-byte header + 98 = 100
    with pytest.raises(TooLarge):
        decode(encode(b"x" * 99), Limits(max_bytes=100))


def test_str_limit_counts_utf8_bytes() -> None:
    with pytest.raises(TooLarge):
        decode(encode("é" * 6), Limits(max_str=11))
    assert decode(encode("é" * 6), Limits(max_str=12)) == "é" * 6


def test_declared_lengths_beyond_limits_are_too_large() -> None:
    with pytest.raises(TooLarge):
        decode(bytes.fromhex("dd7fffffff"))
    with pytest.raises(TooLarge):
        decode(bytes.fromhex("df7fffffff"))


def test_timestamp_ext_is_refused_everywhere() -> None:
    # msgpack decodes ext -1 (timestamp) without calling ext_hook: it must still be refused.
    for hex_ in ["d6ff00000001", "d7ff0000000000000001", "c70cff000000000000000000000001", "91d6ff00000001", "81a161d6ff00000001"]:
        with pytest.raises(NonCanonical, match="ext"):
            decode(bytes.fromhex(hex_))


@pytest.mark.parametrize("data", [b"", "text", 12, None])
def test_decode_refuses_non_bytes_and_empty_input(data: object) -> None:
    with pytest.raises(InvalidMessage):
        decode(data)  # type: ignore[arg-type]


def test_decoded_arrays_are_tuples_and_maps_dicts() -> None:
    assert decode(encode({"a": [1, [2]]})) == {"a": (1, (2,))}
    assert decode(memoryview(encode([1]))) == (1,)


def test_error_classes_codes_and_statuses() -> None:
    expected = {
        "invalid": 400,
        "non-canonical": 400,
        "bad-signature": 401,
        "stale": 401,
        "replay": 409,
        "wrong-audience": 421,
        "unknown-type": 400,
        "too-large": 413,
        "forbidden": 403,
        "rate-limited": 429,
        "conflict": 409,
        "unknown-key": 401,
        "retired-key": 401,
        "out-of-order": 409,
        "not-allowed": 409,
        "expired": 410,
    }
    assert {code: cls.http_status for code, cls in ERROR_CLASSES.items()} == expected
    for code, cls in ERROR_CLASSES.items():
        assert issubclass(cls, RemoteProtocolError) and cls.code == code
    assert LocalProtocolError("x").http_status == 500


def test_error_wire_round_trip() -> None:
    err = TooLarge("too big", limit=10)
    wire = err.to_wire()
    assert wire == {"code": "too-large", "message": "too big", "details": {"limit": 10}}
    assert decode(encode(wire)) == wire
    back = error_from_wire(decode(encode(wire)))
    assert type(back) is TooLarge and back.message == "too big" and back.details == {"limit": 10}
    assert "details" not in NonCanonical("x").to_wire()


@pytest.mark.parametrize("body", [{}, {"code": "teapot", "message": "?"}, {"code": 5}, {"code": "stale", "details": "x"}])
def test_unknown_or_malformed_error_bodies_become_typed_errors(body: dict[str, object]) -> None:
    err = error_from_wire(body)
    assert isinstance(err, ProtocolError)
    if body.get("code") == "stale":
        assert err.code == "stale" and err.details == {}
    else:
        assert err.code == "invalid"


def test_default_limits() -> None:
    assert DEFAULT_LIMITS == Limits(
        max_bytes=1 << 20, max_depth=16, max_str=65536, max_bin=1 << 20, max_array=10_000, max_map=256
    )
