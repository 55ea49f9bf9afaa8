"""HTTP framing shared by the federation server and the peer client."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from protocol import InvalidMessage, ProtocolError, encode

CONTENT_TYPE = "application/x-maillage+msgpack"
FEDERATION_PREFIX = "/fed/v1"


def wire_form(value: Any) -> Any:
    """A JSON value as it reads once signed and decoded: arrays become tuples (the schemas are strict)."""
    if isinstance(value, Mapping):
        return {k: wire_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(wire_form(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """A protocol value as JSON: bytes in hex, frozen maps and tuples as objects and lists."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if hasattr(value, "to_wire"):
        return plain(value.to_wire())
    return value


def agreement_id_from_hex(text: str, what: str = "agreement") -> bytes:
    """A 16-byte agreement id (a loan's, a campaign's, a federation's) from its 32 hexadecimal characters."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 16:
        article = "an" if what[0] in "aeiou" else "a"
        raise InvalidMessage(f"{article} {what} id is 32 hexadecimal characters", **{what: text[:64]})
    return value


def envelope_response(raw: bytes) -> web.Response:
    return web.Response(body=raw, content_type=CONTENT_TYPE)


def error_response(error: ProtocolError) -> web.Response:
    """A rejection: canonical msgpack {code, message, details?} with the code's HTTP status."""
    headers = {}
    retry = error.details.get("retry_after_ms")
    if error.code == "rate-limited" and isinstance(retry, int):
        headers["Retry-After"] = str(max(1, retry // 1000))
    return web.Response(
        status=error.http_status, body=encode(error.to_wire()), content_type=CONTENT_TYPE, headers=headers
    )
