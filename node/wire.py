"""HTTP framing shared by the federation server and the peer client."""

from __future__ import annotations

from aiohttp import web

from protocol import ProtocolError, encode

CONTENT_TYPE = "application/x-maillage+msgpack"
FEDERATION_PREFIX = "/fed/v1"


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
