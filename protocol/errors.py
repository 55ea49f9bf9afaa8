"""Typed protocol errors.

Every rejection carries a machine-readable ``code`` (stable, part of the wire
protocol), a human message, optional details, and an HTTP status hint. As in
h11, errors say whose fault they are: a ``RemoteProtocolError`` is the peer's
(bad input), a ``LocalProtocolError`` is ours (we were asked to build
something invalid).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProtocolError(Exception):
    """Base of every error the protocol layer raises."""

    code: ClassVar[str] = "invalid"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_wire(self) -> dict[str, Any]:
        """The body of a rejection: code, message and details (details must be encodable)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class RemoteProtocolError(ProtocolError):
    """The bytes or message we received are at fault."""


class LocalProtocolError(ProtocolError):
    """We were asked to produce something the protocol forbids."""

    http_status = 500


class InvalidMessage(RemoteProtocolError):
    code = "invalid"
    http_status = 400


class NonCanonical(RemoteProtocolError):
    code = "non-canonical"
    http_status = 400


class BadSignature(RemoteProtocolError):
    code = "bad-signature"
    http_status = 401


class Stale(RemoteProtocolError):
    code = "stale"
    http_status = 401


class Replay(RemoteProtocolError):
    code = "replay"
    http_status = 409


class WrongAudience(RemoteProtocolError):
    code = "wrong-audience"
    http_status = 421


class UnknownType(RemoteProtocolError):
    code = "unknown-type"
    http_status = 400


class TooLarge(RemoteProtocolError):
    code = "too-large"
    http_status = 413


class Forbidden(RemoteProtocolError):
    code = "forbidden"
    http_status = 403


class RateLimited(RemoteProtocolError):
    code = "rate-limited"
    http_status = 429


class Conflict(RemoteProtocolError):
    code = "conflict"
    http_status = 409


class UnknownKey(RemoteProtocolError):
    """Signed by a key the verifier cannot tie to the issuer (no certified rotation known)."""

    code = "unknown-key"
    http_status = 401


class RetiredKey(RemoteProtocolError):
    """Signed by one of the issuer's keys after that key's end of validity."""

    code = "retired-key"
    http_status = 401


class OutOfOrder(RemoteProtocolError):
    """An agreement event that does not follow the chain's head (wrong sequence or previous hash)."""

    code = "out-of-order"
    http_status = 409


class NotAllowed(RemoteProtocolError):
    """An agreement event the current state does not allow (wrong step, wrong party, or closed)."""

    code = "not-allowed"
    http_status = 409


class Expired(RemoteProtocolError):
    """A request or offer answered after its expiry."""

    code = "expired"
    http_status = 410


ERROR_CLASSES: dict[str, type[RemoteProtocolError]] = {
    cls.code: cls
    for cls in (
        InvalidMessage,
        NonCanonical,
        BadSignature,
        Stale,
        Replay,
        WrongAudience,
        UnknownType,
        TooLarge,
        Forbidden,
        RateLimited,
        Conflict,
        UnknownKey,
        RetiredKey,
        OutOfOrder,
        NotAllowed,
        Expired,
    )
}


def error_from_wire(body: dict[str, Any]) -> RemoteProtocolError:
    """Rebuild a typed error from a peer's rejection body (unknown codes become ``invalid``)."""
    code = body.get("code")
    message = body.get("message")
    details = body.get("details")
    cls = ERROR_CLASSES.get(code, InvalidMessage) if isinstance(code, str) else InvalidMessage
    text = message if isinstance(message, str) else f"peer rejected the request ({code!r})"
    return cls(text, **(details if isinstance(details, dict) else {}))
