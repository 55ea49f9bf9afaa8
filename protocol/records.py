"""Catalogue records: what an association publishes to the federation.

A record is a signed envelope whose payload type ``t`` is one of
``RECORD_TYPES`` and whose ``body`` has an ``id`` chosen by its author. The
pair (issuer, id) names the record; each signed version is dated by the
payload's ``iat`` and the newest wins, ties broken by the larger message id,
so every node converges on the same version whatever order versions arrive
in. A tombstone is a version that carries no content: it supersedes what came
before and cannot be undone by an older version.

Records describe what the *association* offers or needs: no field is meant
for a person's name, email or phone (GDPR; see docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .availability import AvailabilityRules
from .envelope import Envelope, check_fresh, FreshnessWindow
from .errors import InvalidMessage, UnknownType
from .keys import KeyEntry, parse_chain
from .schema import Body, Hash32, Label, Location, LongText, Millis, Money, NodeId, RecordId, ShortText, Unit, Url, parse

DESCRIPTOR_ID = "node"
DENYLIST_ID = "denylist"


class ResourceKind(str, Enum):
    EQUIPMENT = "equipment"
    VEHICLE = "vehicle"
    SPACE = "space"
    SKILL = "skill"
    OTHER = "other"


class Visibility(str, Enum):
    PUBLIC = "public"  # served to peers and relayed
    FEDERATION = "federation"  # served and relayed only to members of the record's federations
    PRIVATE = "private"  # kept on the node: listed locally, never served


Kind = Annotated[str, Field(pattern=r"^(equipment|vehicle|space|skill|other)$")]
VisibilityName = Annotated[str, Field(pattern=r"^(public|federation|private)$")]
# A federation is named by the 16-byte id of its charter (an agreement of kind
# "federation"), written as 32 lowercase hex characters.
FederationId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
MAX_FEDERATIONS = 8
FederationIds = Annotated[tuple[FederationId, ...], Field(min_length=1, max_length=MAX_FEDERATIONS)]


class Scoped(Body):
    """Who may hold a record besides its author: everyone, members of some federations, or nobody."""

    visibility: VisibilityName | None = None
    # validate_default: the check below must also run when the field is absent.
    federations: FederationIds | None = Field(default=None, validate_default=True)

    @field_validator("federations")
    @classmethod
    def _federations_match_visibility(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if "visibility" not in info.data:
            return value  # the visibility itself is invalid and reported as such
        scoped = info.data["visibility"] == Visibility.FEDERATION.value
        if scoped and value is None:
            raise PydanticCustomError("federations", "required when visibility is federation")
        if not scoped and value is not None:
            raise PydanticCustomError("federations", "only allowed when visibility is federation")
        if value is not None and len(set(value)) != len(value):
            raise PydanticCustomError("federations", "a federation is listed twice")
        return value


@dataclass(frozen=True, slots=True)
class Scope:
    """Who may hold a record besides its author; ``federations`` is empty unless visibility is federation."""

    visibility: Visibility
    federations: frozenset[str] = frozenset()

    @property
    def travels(self) -> bool:
        """True when the record may leave its author's node at all."""
        return self.visibility is not Visibility.PRIVATE

    def covers(self, other: Scope) -> bool:
        """True when every node that may hold a record of scope ``other`` may hold one of this scope.

        A record's new version must cover the one it replaces: nodes outside a
        narrowed scope would keep the older version for ever.
        """
        if self.visibility is Visibility.PUBLIC or other.visibility is Visibility.PRIVATE:
            return True
        if self.visibility is Visibility.FEDERATION and other.visibility is Visibility.FEDERATION:
            return self.federations >= other.federations
        return False


def scope_of(body: Any) -> Scope:
    """The scope a record body states: absent visibility means public (descriptors, deny-lists)."""
    visibility = Visibility(getattr(body, "visibility", None) or Visibility.PUBLIC.value)
    return Scope(visibility, frozenset(getattr(body, "federations", None) or ()))


Quantity = Annotated[int, Field(ge=1, le=1_000_000_000)]


class CatalogueEntry(Scoped):
    """Fields shared by everything an association lists: what it is, how much, where, for whom."""

    id: RecordId
    kind: Kind
    title: ShortText
    description: LongText | None = None
    category: Label | None = None
    quantity: Quantity | None = None
    unit: Unit | None = None
    location: Location | None = None


class ResourceBody(CatalogueEntry):
    """An EconomicResource the association can lend or share (ValueFlows)."""

    conditions: LongText | None = None
    replacement_value: Money | None = None
    availability: AvailabilityRules | None = None  # how it may be booked (protocol/availability.py)


class IntentBody(CatalogueEntry):
    """An offer or a need (a ValueFlows Intent) published by the association."""

    resource: RecordId | None = None  # one of the author's own resources, when it is about one
    valid_until: Millis | None = None
    # A need that announces a co-funding campaign: the campaign's agreement id (32 hex), organised by the author.
    campaign: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None


class TombstoneBody(Scoped):
    """The deletion of a record: it names the record and, so that it travels no further than
    the record did, the record's scope; nothing else."""

    id: RecordId


class DescriptorBody(Body):
    """Who a node is and how to reach it: the association, not its people."""

    id: Annotated[str, Field(pattern=f"^{DESCRIPTOR_ID}$")]
    name: ShortText
    description: LongText | None = None
    territory: Label | None = None
    location: Location | None = None
    contact: Annotated[str, Field(max_length=200)] | None = None  # the association's public contact
    endpoints: Annotated[tuple[Url, ...], Field(max_length=8)]
    protocols: Annotated[tuple[Annotated[int, Field(ge=1, le=1000)], ...], Field(min_length=1, max_length=8)]
    keys: Annotated[tuple[KeyEntry, ...], Field(min_length=1, max_length=16)]


class DenyEntry(Body):
    node: NodeId
    since: Millis  # messages and records this node issues from then on are refused
    reason: Annotated[str, Field(max_length=200)] | None = None  # about the association, never a person


class DenyListBody(Body):
    """The nodes this node refuses to deal with: published, so anyone can see whom and since when."""

    id: Annotated[str, Field(pattern=f"^{DENYLIST_ID}$")]
    entries: Annotated[tuple[DenyEntry, ...], Field(max_length=1000)]


RECORD_TYPES: dict[str, type[Body]] = {
    "descriptor": DescriptorBody,
    "denylist": DenyListBody,
    "resource": ResourceBody,
    "offer": IntentBody,
    "need": IntentBody,
    "tombstone": TombstoneBody,
}

# Singleton records: these ids belong to one type only, so no other record can replace or delete them.
RESERVED_IDS: dict[str, str] = {DESCRIPTOR_ID: "descriptor", DENYLIST_ID: "denylist"}

# Records may be dated a little ahead of our clock (skew), never far ahead.
RECORD_FUTURE_MS = FreshnessWindow().future_ms


@dataclass(frozen=True, slots=True)
class Record:
    """A verified record: its envelope plus the validated body."""

    envelope: Envelope
    body: Any

    @property
    def author(self) -> str:
        return self.envelope.issuer

    @property
    def record_id(self) -> str:
        return self.body.id

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def version(self) -> tuple[int, bytes]:
        return version_of(self.envelope)

    @property
    def scope(self) -> Scope:
        return scope_of(self.body)

    @property
    def is_public(self) -> bool:
        """Served to anyone (neither federation-scoped nor private)."""
        return self.scope.visibility is Visibility.PUBLIC


def version_of(envelope: Envelope) -> tuple[int, bytes]:
    """The total order of a record's versions: issue time, then message id."""
    return (envelope.issued_at, envelope.message_id)


def supersedes(candidate: tuple[int, bytes], current: tuple[int, bytes]) -> bool:
    """True when a version ``candidate`` replaces ``current`` (strictly newer)."""
    return candidate > current


def parse_record(envelope: Envelope, *, now_ms: int, future_ms: int = RECORD_FUTURE_MS) -> Record:
    """Validate a verified envelope as a catalogue record.

    Raises UnknownType for a type that is not a record, InvalidMessage for a
    bad body or a record addressed to an audience, Stale for a record dated in
    the future beyond the allowed skew.
    """
    model = RECORD_TYPES.get(envelope.type)
    if model is None:
        raise UnknownType(f"not a record type: {envelope.type!r}", known=sorted(RECORD_TYPES))
    if "aud" in envelope.payload:
        raise InvalidMessage("records are public documents and carry no audience")
    if envelope.issued_at - now_ms > future_ms:
        check_fresh(envelope.issued_at, now_ms=now_ms, window=FreshnessWindow(past_ms=2**62, future_ms=future_ms))
    body = parse(model, dict(envelope.body))
    if envelope.type == "descriptor":
        parse_chain(envelope.issuer, body.keys)  # the key history must start at the node id and verify
    reserved_for = RESERVED_IDS.get(body.id)
    if reserved_for is not None and reserved_for != envelope.type:
        raise InvalidMessage(f"the id {body.id!r} is reserved for the node's {reserved_for} record")
    return Record(envelope, body)


def descriptor_endpoints(record: Record) -> tuple[str, ...]:
    if record.type != "descriptor":
        raise InvalidMessage("not a node descriptor")
    return tuple(record.body.endpoints)


__all__ = [
    "DENYLIST_ID",
    "DESCRIPTOR_ID",
    "DenyListBody",
    "DescriptorBody",
    "FederationId",
    "Hash32",
    "IntentBody",
    "KeyEntry",
    "MAX_FEDERATIONS",
    "RECORD_TYPES",
    "Record",
    "ResourceBody",
    "ResourceKind",
    "Scope",
    "TombstoneBody",
    "Visibility",
    "descriptor_endpoints",
    "parse_record",
    "scope_of",
    "supersedes",
    "version_of",
]
