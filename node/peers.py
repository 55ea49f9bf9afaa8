"""The peer client: one HTTP session for the node, signed requests, verified replies.

A reply is accepted only if it is signed by the node we addressed, addressed
back to us, fresh, and names our request. A peer that answers with another
identity is refused (``IdentityMismatch``), whatever address it was found at.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from protocol import (
    Envelope,
    ProtocolError,
    RemoteProtocolError,
    SigningKey,
    check_message,
    decode,
    error_from_wire,
    parse_reply,
    seal,
)
from protocol.keys import KeyRing

from .clock import now_ms
from .config import NodeConfig
from .keys import open_signed
from .wire import CONTENT_TYPE, FEDERATION_PREFIX

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.2, 1.0)  # a request is tried at most len + 1 times
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class PeerError(Exception):
    """A peer could not be reached or gave an unusable answer."""


class Unreachable(PeerError):
    """Connection refused, timed out, or the peer failed on its side."""


class IdentityMismatch(PeerError):
    """The peer at this address is not the node we meant to reach."""


class Refused(PeerError):
    """The peer answered with a typed rejection."""

    def __init__(self, error: RemoteProtocolError) -> None:
        details = ", ".join(f"{k}={v}" for k, v in sorted(error.details.items()) if isinstance(v, (int, str)))
        super().__init__(f"{error.code}: {error.message}" + (f" ({details})" if details else ""))
        self.error = error


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole reply body, or None as soon as it exceeds ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class PeerClient:
    def __init__(self, key: SigningKey, config: NodeConfig, keyring: KeyRing) -> None:
        self.key = key
        self.config = config
        self.keyring = keyring
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s, connect=5)
        connector = aiohttp.TCPConnector(limit=32, limit_per_host=4)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, raise_for_status=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, address: str, peer_id: str, msg_type: str, body: dict[str, Any]) -> tuple[Envelope, Any]:
        """Send one signed request and return the verified reply envelope and body.

        Transient failures (connection errors, 429, 5xx gateways) are retried a
        bounded number of times, each time as a new message (fresh nonce).
        """
        last: Exception | None = None
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            if attempt:
                await asyncio.sleep(RETRY_DELAYS_S[attempt - 1])
            request = seal(self.key, msg_type, body, now_ms=now_ms(), audience=[peer_id])
            try:
                return await self._exchange(address, peer_id, request)
            except (Unreachable, Refused) as exc:
                last = exc
                if isinstance(exc, Refused) and exc.error.code != "rate-limited":
                    raise
        assert last is not None
        raise last

    async def _exchange(self, address: str, peer_id: str, request: Envelope) -> tuple[Envelope, Any]:
        if self._session is None:
            raise RuntimeError("PeerClient.start() was not awaited")
        url = f"{address}{FEDERATION_PREFIX}/{request.type}"
        try:
            async with self._session.post(url, data=request.raw, headers={"Content-Type": CONTENT_TYPE}) as resp:
                data = await _read_limited(resp, self.config.max_body_bytes)
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from exc
        if data is None:
            raise Unreachable(f"{url}: reply larger than {self.config.max_body_bytes} bytes")
        if status != 200:
            error = self._rejection(data, status)
            if status >= 500 or (status in RETRYABLE_STATUS and error.code != "rate-limited"):
                raise Unreachable(f"{url}: HTTP {status}: {error.message}")
            if error.code == "wrong-audience":
                raise IdentityMismatch(f"{address} says it is not {peer_id}")
            raise Refused(error)
        try:
            reply = open_signed(data, self.keyring)
        except ProtocolError as exc:
            raise Unreachable(f"{url}: unusable reply: {exc.code}: {exc.message}") from exc
        if reply.issuer != peer_id:
            raise IdentityMismatch(f"{address} answered as {reply.issuer}, expected {peer_id}")
        try:
            check_message(reply, recipient=self.key.node_id, now_ms=now_ms(), window=self.config.window)
            return reply, parse_reply(reply, request)
        except ProtocolError as exc:
            raise Unreachable(f"{url}: unusable reply: {exc.code}: {exc.message}") from exc

    @staticmethod
    def _rejection(data: bytes, status: int) -> RemoteProtocolError:
        try:
            body = decode(data)
            if isinstance(body, dict):
                return error_from_wire(body)
        except ProtocolError:
            pass
        from protocol import InvalidMessage

        return InvalidMessage(f"HTTP {status} without a protocol error body")
