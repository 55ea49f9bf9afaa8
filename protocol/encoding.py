"""Canonical msgpack: the one byte form of every value that crosses a node.

msgpack alone is not deterministic, so Maillage fixes one form (see
docs/protocol.md, "Canonical encoding"): maps have string keys only, sorted by
their UTF-8 bytes, without duplicates; integers use their shortest form;
strings are UTF-8 ``str``; binary is ``bin``; no floats, no ext types; depth and
sizes are bounded. The decoder accepts only bytes that re-encode to
themselves, so two implementations never disagree on what was signed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
from msgpack import Timestamp

from .errors import InvalidMessage, LocalProtocolError, NonCanonical, TooLarge

# The types a canonical value may be built from (decoded arrays are tuples).
Value = None | bool | int | str | bytes | tuple["Value", ...] | list["Value"] | Mapping[str, "Value"]

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds a decoder enforces before and while it parses."""

    max_bytes: int = 1 << 20
    max_depth: int = 16
    max_str: int = 64 * 1024
    max_bin: int = 1 << 20
    max_array: int = 10_000
    max_map: int = 256


DEFAULT_LIMITS = Limits()


def encode(value: Any, *, max_depth: int = DEFAULT_LIMITS.max_depth) -> bytes:
    """Encode ``value`` canonically; raise LocalProtocolError for what cannot be encoded."""
    return msgpack.packb(_canonical(value, max_depth), use_bin_type=True)


def _canonical(value: Any, depth_left: int) -> Any:
    # bool is a subclass of int: test it first so True stays a msgpack bool.
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise LocalProtocolError(f"integer out of the 64-bit range: {value}")
        return value
    if depth_left <= 0:
        raise LocalProtocolError("value nested too deeply")
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise LocalProtocolError(f"map keys must be strings, got {type(key).__name__}")
        ordered = sorted(value, key=lambda k: k.encode("utf-8"))
        return {k: _canonical(value[k], depth_left - 1) for k in ordered}
    if isinstance(value, (list, tuple)):
        return [_canonical(item, depth_left - 1) for item in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise LocalProtocolError(f"type {type(value).__name__} has no canonical encoding")


_NEEDS_CHECK = frozenset({dict, tuple, float, Timestamp})


def _check_tree(value: Any, depth_left: int) -> None:
    """Reject floats, ext values, non-string or unsorted map keys, and nesting deeper than allowed.

    Runs after a plain C-speed unpack, descending only into values that need a
    look; duplicates and non-shortest forms are caught afterwards by the
    re-encoding comparison. UTF-8 preserves code point order, so sorting Python
    strings sorts their UTF-8 bytes.
    """
    kind = type(value)
    if kind is dict:
        keys = [*value]
        if keys:
            if type(keys[0]) is not str:
                raise NonCanonical("map keys must be strings")
            try:
                ordered = sorted(keys)
            except TypeError:
                raise NonCanonical("map keys must be strings") from None
            if keys != ordered:
                raise NonCanonical("map keys are not sorted by their UTF-8 bytes")
        children: Any = value.values()
    elif kind is tuple:
        children = value
    elif kind is float:
        raise NonCanonical("floats are not allowed; use integers")
    elif kind is Timestamp:
        # msgpack decodes the timestamp ext type (-1) itself, without calling ext_hook.
        raise NonCanonical("ext types are not allowed (type -1, timestamp)")
    else:
        return
    if depth_left <= 0:
        raise TooLarge("value nested too deeply")
    for child in children:
        if type(child) in _NEEDS_CHECK:
            _check_tree(child, depth_left - 1)


_local = threading.local()


def _packer() -> msgpack.Packer:
    """One reusable packer per thread (building a Packer per call costs a third of a pack)."""
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    return packer


def _reject_ext(code: int, data: bytes) -> Any:
    raise NonCanonical(f"ext types are not allowed (type {code})")


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode canonical bytes strictly; arrays come back as tuples.

    Raises TooLarge when a limit is exceeded, InvalidMessage for bytes that are
    not one msgpack value, NonCanonical for a value that is not in canonical form.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidMessage("expected bytes")
    if len(data) > limits.max_bytes:
        raise TooLarge(f"message of {len(data)} bytes exceeds {limits.max_bytes}", limit=limits.max_bytes)
    if not data:
        raise InvalidMessage("empty message")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=False,
            strict_map_key=False,  # non-string keys get a precise error from _check_tree
            ext_hook=_reject_ext,
            max_str_len=limits.max_str,
            max_bin_len=limits.max_bin,
            max_array_len=limits.max_array,
            max_map_len=limits.max_map,
        )
    except (NonCanonical, TooLarge):
        raise
    except UnicodeDecodeError as exc:
        raise NonCanonical("string is not valid UTF-8") from exc
    except msgpack.StackError as exc:
        raise TooLarge("value nested too deeply") from exc
    except msgpack.ExtraData as exc:
        raise InvalidMessage("trailing bytes after the value") from exc
    except ValueError as exc:
        # msgpack reports both truncation and exceeded length limits as ValueError.
        text = str(exc)
        if "exceeds max" in text:
            raise TooLarge(f"a length limit was exceeded: {text}") from exc
        raise InvalidMessage(f"malformed msgpack: {text}") from exc
    except TypeError as exc:
        # Without a pairs hook, a map used as a map key fails to hash inside msgpack.
        if "unhashable" in str(exc):
            raise NonCanonical("map keys must be strings") from exc
        raise InvalidMessage(f"malformed msgpack: {exc}") from exc
    except Exception as exc:  # msgpack raises assorted types for garbage input
        raise InvalidMessage(f"malformed msgpack: {exc}") from exc
    _check_tree(value, limits.max_depth)
    if _packer().pack(value) != bytes(data):
        raise NonCanonical("bytes are not in canonical form (duplicate key, or an integer or length not in shortest form)")
    return value
