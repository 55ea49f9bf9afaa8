"""Maillage protocol: pure, sans-I/O. Time is passed in, never read."""

from .encoding import DEFAULT_LIMITS, Limits, decode, encode
from .envelope import (
    DEFAULT_WINDOW,
    PROTOCOL_VERSION,
    SIGNING_PREFIX,
    Envelope,
    FreshnessWindow,
    check_fresh,
    check_message,
    message_id,
    open_envelope,
    seal,
)
from .errors import (
    BadSignature,
    Conflict,
    Forbidden,
    InvalidMessage,
    LocalProtocolError,
    NonCanonical,
    ProtocolError,
    RateLimited,
    RemoteProtocolError,
    Replay,
    Stale,
    TooLarge,
    UnknownType,
    WrongAudience,
    error_from_wire,
)
from .identity import SigningKey, fingerprint, is_node_id, node_id_from_public_key, public_key_from_node_id
from .messages import MESSAGE_TYPES, REPLY_TYPES, parse_message, parse_reply
from .records import (
    DENYLIST_ID,
    DESCRIPTOR_ID,
    RECORD_TYPES,
    DescriptorBody,
    IntentBody,
    Record,
    ResourceBody,
    ResourceKind,
    TombstoneBody,
    Visibility,
    parse_record,
    supersedes,
    version_of,
)

__all__ = [name for name in dir() if not name.startswith("_")]
