"""Signed envelopes: the one container for everything that crosses a node.

An envelope is the canonical map ``{"p": <payload bytes>, "s": <signature>}``.
The payload is itself canonical msgpack, kept as ``bin`` so the signature
covers exact bytes and never a re-serialisation. The signature is Ed25519 over
``SIGNING_PREFIX + payload``; the message id is SHA-256 of the payload bytes.

Every payload carries the protocol version ``v``, a type ``t``, the issuer
``iss``, the issue time ``iat`` (ms since the Unix epoch), a random ``nonce``
and a ``body``; a payload addressed to some nodes carries their ids in
``aud``; a payload signed by a key other than the issuer's genesis key names
that key in ``key`` (see protocol/keys.py). Messages (requests and replies) are addressed and checked for
freshness and replay; records are not addressed and are versioned by ``iat``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .encoding import DEFAULT_LIMITS, Limits, decode, encode
from .errors import BadSignature, InvalidMessage, LocalProtocolError, Stale, WrongAudience
from .identity import SigningKey, is_node_id, public_key_from_node_id, verify_signature
from .keys import KeyRing, parse_chain, resolve

PROTOCOL_VERSION = 1
SIGNING_PREFIX = b"maillage/v1 signed payload\x00"
NONCE_LENGTH = 16
MAX_AUDIENCE = 64
ENVELOPE_OVERHEAD = 128  # generous bound on the envelope bytes around a payload

_PAYLOAD_KEYS_REQUIRED = frozenset({"v", "t", "iss", "iat", "nonce", "body"})
_PAYLOAD_KEYS_ALLOWED = _PAYLOAD_KEYS_REQUIRED | {"aud", "key"}


@dataclass(frozen=True, slots=True)
class FreshnessWindow:
    """How far an issue time may lag behind or run ahead of our clock, in ms."""

    past_ms: int = 5 * 60 * 1000
    future_ms: int = 2 * 60 * 1000


DEFAULT_WINDOW = FreshnessWindow()


class Envelope(NamedTuple):
    """A verified (or freshly signed) message: exact bytes plus the decoded payload.

    Immutable; a NamedTuple because one is built for every record a node
    ingests and a tuple is the cheapest frozen value Python constructs.
    """

    raw: bytes  # the whole envelope, as it travels
    payload_bytes: bytes
    signature: bytes
    payload: Mapping[str, Any]
    message_id: bytes  # SHA-256 of payload_bytes

    @property
    def type(self) -> str:
        return self.payload["t"]

    @property
    def issuer(self) -> str:
        return self.payload["iss"]

    @property
    def issued_at(self) -> int:
        return self.payload["iat"]

    @property
    def nonce(self) -> bytes:
        return self.payload["nonce"]

    @property
    def audience(self) -> tuple[str, ...]:
        return tuple(self.payload.get("aud", ()))

    @property
    def body(self) -> Mapping[str, Any]:
        return self.payload["body"]


def message_id(payload_bytes: bytes) -> bytes:
    return hashlib.sha256(payload_bytes).digest()


def seal(
    key: SigningKey,
    msg_type: str,
    body: Mapping[str, Any],
    *,
    now_ms: int,
    audience: tuple[str, ...] | list[str] | None = None,
    nonce: bytes | None = None,
) -> Envelope:
    """Build, encode and sign a payload issued by ``key`` at ``now_ms``."""
    payload: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "t": msg_type,
        "iss": key.node_id,
        "iat": now_ms,
        "nonce": os.urandom(NONCE_LENGTH) if nonce is None else nonce,
        "body": dict(body),
    }
    if audience:
        payload["aud"] = list(audience)
    if not key.is_genesis:
        payload["key"] = key.key_id
    _check_payload_shape(payload, error=LocalProtocolError)
    payload_bytes = encode(payload)
    signature = key.sign(SIGNING_PREFIX + payload_bytes)
    raw = encode({"p": payload_bytes, "s": signature})
    return Envelope(raw, payload_bytes, signature, decode(payload_bytes), message_id(payload_bytes))


def open_envelope(raw: bytes, limits: Limits = DEFAULT_LIMITS, *, keys: KeyRing | None = None) -> Envelope:
    """Decode an envelope and check its signature against its issuer's key.

    ``keys`` holds the certified key chains of nodes that rotated their keys:
    with it, a payload signed by a successor key verifies, and one signed by a
    key after its end of validity is refused (RetiredKey). A descriptor signed
    by a successor key certifies itself with the chain it carries.
    Does not judge freshness or audience: see ``check_message``.
    """
    split = _split_envelope(raw) if len(raw) <= limits.max_bytes else None
    if split is None:
        # Not the one canonical shape: decode fully so the error names what is wrong.
        outer = decode(raw, limits)
        if type(outer) is not dict or outer.keys() != {"p", "s"}:
            raise InvalidMessage('an envelope is a map with exactly the keys "p" and "s"')
        if type(outer["p"]) is not bytes or type(outer["s"]) is not bytes:
            raise InvalidMessage('envelope "p" and "s" must be binary')
        raise BadSignature("an Ed25519 signature is 64 bytes")
    payload_bytes, signature = split
    payload = decode(payload_bytes, limits)
    _check_payload_shape(payload, error=InvalidMessage)
    if keys is None and "key" not in payload:
        issuer_key = public_key_from_node_id(payload["iss"])
    else:
        issuer_key = _signing_key(payload, keys)
    if not verify_signature(issuer_key, signature, SIGNING_PREFIX + payload_bytes):
        raise BadSignature("signature does not match the payload and its issuer", issuer=payload["iss"])
    return Envelope(raw, payload_bytes, signature, payload, message_id(payload_bytes))


def _signing_key(payload: Mapping[str, Any], keys: KeyRing | None) -> bytes:
    """The public key a payload must be signed with, from the key ring or the descriptor itself."""
    issuer = payload["iss"]
    chain = keys.chain(issuer) if keys is not None else None
    if payload["t"] == "descriptor" and "key" in payload:
        own = parse_chain(issuer, payload["body"].get("keys"))
        if keys is not None:
            keys.check(issuer, own)  # a descriptor may not contradict the history we hold
        if chain is None or len(own) >= len(chain):
            chain = own
    return resolve(chain, issuer, payload.get("key"), payload["iat"])


def stored_envelope(raw: bytes) -> Envelope:
    """An envelope this node verified before storing it, read back without checking it again.

    Only for bytes from our own database (agreement chains replayed at every
    step): anything that comes from outside goes through ``open_envelope``.
    """
    split = _split_envelope(raw)
    if split is None:
        raise InvalidMessage("stored envelope is not canonical: the database was changed underneath")
    payload_bytes, signature = split
    return Envelope(bytes(raw), payload_bytes, signature, decode(payload_bytes), message_id(payload_bytes))


_SIGNATURE_TRAILER = b"\xa1s\xc4\x40"  # "s": bin8 of 64 bytes


def _split_envelope(raw: bytes) -> tuple[bytes, bytes] | None:
    """Split canonical envelope bytes without a general decode, or None if not canonical.

    The canonical envelope is exactly: fixmap(2), "p", bin (shortest header),
    "s", bin8(64). Anything else is handed to the strict decoder for a precise error.
    """
    raw = bytes(raw)
    if raw[:3] != b"\x82\xa1p" or len(raw) < 3 + 2 + 68:
        return None
    marker = raw[3]
    if marker == 0xC4:
        length, start = raw[4], 5
    elif marker == 0xC5:
        length, start = int.from_bytes(raw[4:6], "big"), 6
        if length < 0x100:
            return None
    elif marker == 0xC6:
        length, start = int.from_bytes(raw[4:8], "big"), 8
        if length < 0x10000:
            return None
    else:
        return None
    end = start + length
    if len(raw) != end + 68 or raw[end : end + 4] != _SIGNATURE_TRAILER:
        return None
    return raw[start:end], raw[end + 4 :]


def check_message(
    envelope: Envelope,
    *,
    recipient: str,
    now_ms: int,
    window: FreshnessWindow = DEFAULT_WINDOW,
) -> None:
    """Check that an addressed message is for ``recipient`` and fresh at ``now_ms``.

    Replay is judged by the caller, which remembers (issuer, nonce) for the window.
    """
    if recipient not in envelope.audience:
        raise WrongAudience("message is not addressed to this node", recipient=recipient)
    check_fresh(envelope.issued_at, now_ms=now_ms, window=window)


def check_fresh(issued_at: int, *, now_ms: int, window: FreshnessWindow = DEFAULT_WINDOW) -> None:
    delta = issued_at - now_ms
    if delta < -window.past_ms or delta > window.future_ms:
        direction = "old" if delta < 0 else "far in the future"
        raise Stale(
            f"issue time is too {direction}: check the clock (delta {delta} ms)",
            server_time=now_ms,
            delta_ms=delta,
            window_past_ms=window.past_ms,
            window_future_ms=window.future_ms,
        )


def _check_payload_shape(payload: Any, *, error: type[Exception]) -> None:
    if type(payload) is not dict:
        raise error("a payload is a map")
    keys = payload.keys()
    if not (_PAYLOAD_KEYS_REQUIRED <= keys <= _PAYLOAD_KEYS_ALLOWED):
        missing, extra = _PAYLOAD_KEYS_REQUIRED - keys, keys - _PAYLOAD_KEYS_ALLOWED
        if missing:
            raise error(f"payload lacks {sorted(missing)}")
        raise error(f"payload has unknown keys {sorted(extra)}")
    if payload["v"] != PROTOCOL_VERSION or type(payload["v"]) is not int:
        raise error(f"unsupported protocol version {payload['v']!r}", supported=[PROTOCOL_VERSION])
    if type(payload["t"]) is not str or not 0 < len(payload["t"]) <= 64:
        raise error('payload "t" must be a non-empty string of at most 64 characters')
    if not is_node_id(payload["iss"]):
        raise error('payload "iss" must be a node id')
    iat = payload["iat"]
    if type(iat) is not int or not 0 <= iat < 2**53:
        raise error('payload "iat" must be milliseconds since the epoch')
    if type(payload["nonce"]) is not bytes or len(payload["nonce"]) != NONCE_LENGTH:
        raise error(f'payload "nonce" must be {NONCE_LENGTH} random bytes')
    if type(payload["body"]) is not dict:
        raise error('payload "body" must be a map')
    if "key" in payload and (not is_node_id(payload["key"]) or payload["key"] == payload["iss"]):
        raise error('payload "key" names a successor key of the issuer, in node-id form (left out for the genesis key)')
    if "aud" in payload:
        aud = payload["aud"]
        if not isinstance(aud, (list, tuple)) or not 0 < len(aud) <= MAX_AUDIENCE:
            raise error(f'payload "aud" must be a non-empty array of at most {MAX_AUDIENCE} node ids')
        if not all(is_node_id(a) for a in aud):
            raise error('payload "aud" must hold node ids')
