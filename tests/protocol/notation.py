"""Helpers shared by the protocol tests.

``from_typed`` / ``to_typed`` implement the typed JSON notation of
docs/vectors/README.md independently of the generator, and ``ref_pack`` is a
second, hand-written canonical msgpack encoder (with optional deliberate
non-canonical choices) that the tests compare our encoder with.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any


def from_typed(node: Mapping[str, Any]) -> Any:
    kind = node["type"]
    if kind == "nil":
        return None
    if kind == "bool":
        assert type(node["value"]) is bool
        return node["value"]
    if kind == "int":
        assert isinstance(node["value"], str)
        return int(node["value"])
    if kind == "str":
        return node["value"]
    if kind == "bin":
        return bytes.fromhex(node["hex"])
    if kind == "array":
        return tuple(from_typed(item) for item in node["items"])
    if kind == "map":
        out: dict[str, Any] = {}
        for key, value in node["entries"]:
            assert isinstance(key, str) and key not in out, key
            out[key] = from_typed(value)
        return out
    raise AssertionError(f"unknown type in vector notation: {kind!r}")


def to_typed(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "nil"}
    if type(value) is bool:
        return {"type": "bool", "value": value}
    if type(value) is int:
        return {"type": "int", "value": str(value)}
    if type(value) is str:
        return {"type": "str", "value": value}
    if type(value) is bytes:
        return {"type": "bin", "hex": value.hex()}
    if isinstance(value, (tuple, list)):
        return {"type": "array", "items": [to_typed(v) for v in value]}
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: k.encode("utf-8"))
        return {"type": "map", "entries": [[k, to_typed(value[k])] for k in keys]}
    raise AssertionError(f"not a protocol value: {type(value).__name__}")


def hex_input(case: Mapping[str, Any]) -> bytes:
    """The input bytes of an invalid-encoding vector ("hex" or "hex_parts")."""
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    return b"".join(bytes.fromhex(part["hex"]) * part["times"] for part in case["hex_parts"])


# ---------------------------------------------------------------------------
# A reference canonical packer, written from docs/protocol.md.


def uint_forms(n: int) -> list[bytes]:
    """Every msgpack encoding of a non-negative integer, shortest (canonical) first."""
    forms = []
    if n < 0x80:
        forms.append(bytes([n]))
    for marker, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
        if n < 1 << (8 * size):
            forms.append(bytes([marker]) + n.to_bytes(size, "big"))
    for marker, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
        if n < 1 << (8 * size - 1):
            forms.append(bytes([marker]) + n.to_bytes(size, "big", signed=True))
    return forms


def int_forms(n: int) -> list[bytes]:
    """Every msgpack encoding of an integer, the canonical one first."""
    if n >= 0:
        return uint_forms(n)
    forms = []
    if n >= -32:
        forms.append(bytes([n & 0xFF]))
    for marker, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
        if n >= -(1 << (8 * size - 1)):
            forms.append(bytes([marker]) + n.to_bytes(size, "big", signed=True))
    return forms


def length_headers(n: int, fix: int | None, fix_max: int, markers: tuple[int, ...]) -> list[bytes]:
    """Every header for a str/bin/array/map of length n, the canonical one first."""
    forms = []
    if fix is not None and n <= fix_max:
        forms.append(bytes([fix | n]))
    for marker, size in zip(markers, (1, 2, 4) if len(markers) == 3 else (2, 4)):
        if n < 1 << (8 * size):
            forms.append(bytes([marker]) + n.to_bytes(size, "big"))
    return forms


def str_headers(n: int) -> list[bytes]:
    return length_headers(n, 0xA0, 31, (0xD9, 0xDA, 0xDB))


def bin_headers(n: int) -> list[bytes]:
    return length_headers(n, None, -1, (0xC4, 0xC5, 0xC6))


def array_headers(n: int) -> list[bytes]:
    return length_headers(n, 0x90, 15, (0xDC, 0xDD))


def map_headers(n: int) -> list[bytes]:
    return length_headers(n, 0x80, 15, (0xDE, 0xDF))


def mutations(value: Any) -> list[str]:
    """The non-canonical re-encodings ``ref_pack`` can apply to this node."""
    if value is None or type(value) is bool:
        return []
    if type(value) is int:
        return [f"int:{i}" for i in range(1, len(int_forms(value)))] + ["float64", "float32"]
    if type(value) is str:
        return [f"header:{i}" for i in range(1, len(str_headers(len(value.encode()))))]
    if type(value) is bytes:
        return [f"header:{i}" for i in range(1, len(bin_headers(len(value))))]
    if isinstance(value, (list, tuple)):
        return [f"header:{i}" for i in range(1, len(array_headers(len(value))))]
    out = [f"header:{i}" for i in range(1, len(map_headers(len(value))))]
    if len(value) >= 2:
        out += ["swap", "duplicate"]
    return out


def nodes(value: Any) -> list[Any]:
    """The value's nodes in pre-order (the order ref_pack numbers them)."""
    out = [value]
    if isinstance(value, (list, tuple)):
        for item in value:
            out += nodes(item)
    elif isinstance(value, Mapping):
        for key in sorted(value, key=lambda k: k.encode()):
            out += nodes(value[key])
    return out


def ref_pack(value: Any, target: int = -1, mutation: str = "") -> bytes:
    """Pack canonically; the node numbered ``target`` (pre-order) gets ``mutation``."""
    counter = [0]

    def pick(forms: list[bytes], index: int) -> bytes:
        return forms[index]

    def pack(v: Any) -> bytes:
        index = counter[0]
        counter[0] += 1
        mut = mutation if index == target else ""
        choice = int(mut.split(":")[1]) if ":" in mut else 0
        if v is None:
            return b"\xc0"
        if v is True:
            return b"\xc3"
        if v is False:
            return b"\xc2"
        if type(v) is int:
            if mut == "float64":
                return b"\xcb" + struct.pack(">d", float(v))
            if mut == "float32":
                return b"\xca" + struct.pack(">f", float(v))
            return pick(int_forms(v), choice)
        if type(v) is str:
            data = v.encode("utf-8")
            return pick(str_headers(len(data)), choice) + data
        if type(v) is bytes:
            return pick(bin_headers(len(v)), choice) + v
        if isinstance(v, (list, tuple)):
            return pick(array_headers(len(v)), choice) + b"".join(pack(item) for item in v)
        if isinstance(v, Mapping):
            keys = sorted(v, key=lambda k: k.encode("utf-8"))
            # Keys are packed unmutated: count only values as nodes, as `nodes` does.
            entries = [[pack_key(k), pack(v[k])] for k in keys]
            if mut == "swap":
                entries[0], entries[1] = entries[1], entries[0]
            elif mut == "duplicate":
                entries[1][0] = entries[0][0]
            return pick(map_headers(len(v)), choice) + b"".join(k + val for k, val in entries)
        raise AssertionError(f"not a protocol value: {type(v).__name__}")

    def pack_key(k: str) -> bytes:
        data = k.encode("utf-8")
        return str_headers(len(data))[0] + data

    return pack(value)
