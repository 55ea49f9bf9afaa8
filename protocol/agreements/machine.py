"""The generic agreement machine: a chain of signed events, judged by a table.

An agreement is a hash-linked chain of envelopes of type ``agreement.event``,
each addressed to the other parties. The event body is::

    {"agreement": <16 bytes>, "kind": <str>, "seq": <int>, "prev": <32 bytes>,
     "action": <str>, "data": <map>}

``seq`` counts from 0 (the opening event, which has no ``prev``); ``prev`` is
the message id of the event before. As in h11, the rules live in data: each
kind declares a ``TransitionTable`` mapping ``(state, action)`` to who may act,
what the data must look like, where the agreement goes next and an optional
pure ``effect`` recording facts. ``apply`` is a pure function
``(state | None, event) -> state`` that raises a typed ``ProtocolError`` and
changes nothing when the event does not fit; ``replay`` rebuilds a chain.

Negotiation is generic. A *propose* step carries terms and the proposer's
``seal_sig`` over the agreement document those terms make (see ``sealed``);
an *accept* step names the pending proposal event and carries the acceptor's
``seal_sig`` over the same document, which seals the agreement. Proposals
lapse at their terms' ``expires``: an answer issued later is refused.

Events are not judged for freshness (they may wait in an outbox and travel
later inside a fresh message); their time is the envelope's ``iat``, which
must not go backwards along the chain. ``apply`` does not check envelope
signatures (callers pass what ``open_envelope`` verified) but does check the
co-signatures of the sealed document.

Convened kinds (campaigns, federations) have many participants and one
writer. The kind names an ``authority`` role whose node alone adds events;
any other participant signs a *statement* (an ``agreement.statement``
envelope addressed to the authority, naming the agreement) and the authority
*embeds* it, unchanged, in an event of its chain. The machine verifies the
embedded signature (with ``open_statement``), refuses a statement embedded
twice or dated after its carrying event, and hands it to the kind's
statement rule. The authority orders the chain but cannot forge what a
participant said, and everyone who holds the chain replays the same state.
Participants beyond the fixed ``parties`` are the state's ``members`` (node
id -> role), added and removed by the kind's effects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from operator import attrgetter
from typing import Annotated, Any

from pydantic import Field

from ..envelope import Envelope, open_envelope, seal
from ..errors import (
    Conflict,
    Expired,
    Forbidden,
    InvalidMessage,
    LocalProtocolError,
    NotAllowed,
    OutOfOrder,
    UnknownType,
    WrongAudience,
)
from ..identity import SigningKey
from ..schema import Body, Hash32, NilFree, parse
from ._frozen import FrozenMap
from .sealed import (
    AGREEMENT_ID_LENGTH,
    AgreementId,
    Name,
    SealedAgreement,
    Signature,
    check_party_signature,
    sign_document,
    terms_document,
)

EVENT_TYPE = "agreement.event"
STATEMENT_TYPE = "agreement.statement"
MAX_SEQ = 9_999  # a kind's default bound on its chain (incidents may repeat); far above any real loan
MAX_CHAIN = 1_000_000  # no kind's chain is longer (a federation's whole life)
MAX_STATEMENT = 64 * 1024

StatementOpener = Callable[[bytes], Envelope]


class EventBody(NilFree):
    agreement: AgreementId
    kind: Name
    seq: Annotated[int, Field(ge=0, le=MAX_CHAIN)]
    prev: Hash32 | None = None
    action: Name
    data: dict[str, Any]


class Step(Enum):
    """What the machine itself does for an action, beyond the kind's effect."""

    RECORD = "record"  # just move and record facts
    PROPOSE = "propose"  # data has ``terms`` and ``seal_sig``: becomes the pending proposal
    ACCEPT = "accept"  # data has ``proposal`` and ``seal_sig``: seals the pending proposal
    EMBED = "embed"  # data has ``statement``: a participant's signed statement, judged by the kind's rule


class StatementBody(NilFree):
    """What a participant of a convened agreement says, for the authority to embed."""

    agreement: AgreementId
    kind: Name
    action: Name
    data: dict[str, Any]


class Embedding(Body):
    """The data of every embed step: the statement's envelope, exactly as its author signed it."""

    statement: Annotated[bytes, Field(min_length=1, max_length=MAX_STATEMENT)]


class Acceptance(Body):
    """The data of every accept step."""

    proposal: Hash32  # message id of the pending proposal event
    seal_sig: Signature


@dataclass(frozen=True, slots=True)
class Proposal:
    """The terms awaiting an answer (the terms themselves are ``AgreementState.terms``)."""

    proposer: str  # role
    event: bytes  # message id of the proposing event
    signature: bytes  # the proposer's seal_sig over ``document``
    expires: int  # ms; answers issued later are refused
    document: bytes  # the agreement document these terms make
    key: str | None = None  # the proposer's signing key, when not its genesis key


@dataclass(frozen=True, slots=True)
class AgreementState:
    """Where an agreement stands after its last event: a frozen value."""

    id: bytes
    kind: str
    parties: FrozenMap[str, str]  # role -> node id
    name: str  # the state's name in the kind's table
    seq: int
    head: bytes  # message id of the last event
    iat: int  # issue time of the last event
    terms: Any  # the kind's terms model: pending or, once sealed, agreed
    proposal: Proposal | None
    sealed: SealedAgreement | None
    facts: FrozenMap[str, Any]  # kind-specific record of what happened
    members: FrozenMap[str, str] = FrozenMap()  # convened kinds: participant node id -> role
    embedded: frozenset[bytes] = frozenset()  # message ids of the statements in the chain

    def role_of(self, node_id: str) -> str | None:
        role = next((role for role, node in self.parties.items() if node == node_id), None)
        return role if role is not None else self.members.get(node_id)

    def others(self, node_id: str) -> tuple[str, ...]:
        """Who receives the events ``node_id`` issues: every other party and member."""
        nodes = dict.fromkeys((*self.parties.values(), *self.members))
        return tuple(node for node in nodes if node != node_id)

    def node_of(self, role: str) -> str:
        return self.parties[role]


Effect = Callable[[AgreementState, Envelope, Any], AgreementState]


@dataclass(frozen=True, slots=True)
class StatementRule:
    """How a kind judges one statement action: who may say it, its data, its pure effect.

    ``roles`` None lets anyone state it (a first pledge comes from a node not yet
    a member): the effect then decides. The effect receives the state and the
    statement's envelope (its issuer and ``iat`` are the author's).
    """

    data: type[Body]
    effect: Effect
    roles: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    roles: frozenset[str]
    data: type[Body]
    to: str
    step: Step = Step.RECORD
    # Pure; receives the state already moved to ``to`` and returns it with its facts.
    # It may raise a ProtocolError for rules that depend on the state (nothing changes then).
    effect: Effect | None = None


@dataclass(frozen=True, eq=False)
class Kind:
    """One kind of agreement: its roles and transition table.

    Data models follow the step: an opening's data carries ``parties`` (role ->
    node id); a propose step's data carries ``terms`` (the kind's terms model,
    whose expiry ``expiry`` reads) and ``seal_sig``; an accept step's data is
    ``Acceptance``. An action is the same step wherever it appears.
    """

    name: str
    roles: tuple[str, ...]
    openings: Mapping[str, Transition]  # action -> transition from no agreement
    table: Mapping[tuple[str, str], Transition]  # (state, action) -> transition
    terminal: frozenset[str]
    pending: frozenset[str]  # states where a proposal awaits an answer and can lapse
    expiry: Callable[[Any], int] = attrgetter("expires")
    # The role whose node orders the chain (and, for loans, keeps the calendar); in a
    # convened kind, the only one that adds events: the others make statements.
    authority: str | None = None
    statements: Mapping[str, StatementRule] = field(default_factory=dict)  # action -> rule
    max_seq: int = MAX_SEQ
    steps: Mapping[str, Step] = field(init=False)
    action_roles: Mapping[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        steps: dict[str, Step] = {}
        roles: dict[str, frozenset[str]] = {}
        for (_, action), tr in [*((("", a), t) for a, t in self.openings.items()), *self.table.items()]:
            if steps.setdefault(action, tr.step) is not tr.step:
                raise ValueError(f"{self.name}: action {action!r} must be the same step everywhere")
            roles[action] = roles.get(action, frozenset()) | tr.roles
        object.__setattr__(self, "steps", FrozenMap(steps))
        object.__setattr__(self, "action_roles", FrozenMap(roles))


KINDS: dict[str, Kind] = {}


def with_facts(state: AgreementState, **facts: Any) -> AgreementState:
    """``state`` with these facts set (the kinds' effects record what happened this way)."""
    return replace(state, facts=FrozenMap({**state.facts, **facts}))


def register_kind(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidMessage(f"unknown agreement kind {name!r}", known=sorted(KINDS))
    return kind


# -- applying events ----------------------------------------------------------


def apply(
    state: AgreementState | None, event: Envelope, *, open_statement: StatementOpener = open_envelope
) -> AgreementState:
    """The state after ``event``, or a typed ProtocolError (``state`` is a value: untouched).

    ``open_statement`` verifies an embedded statement's signature (pass one with
    the key ring to accept rotated keys, or ``stored_envelope`` when replaying
    what this node verified before storing it).
    """
    body = _parse_event(event)
    kind = kind_of(body.kind)
    if body.seq > kind.max_seq:
        raise InvalidMessage(f"a {kind.name} chain holds at most {kind.max_seq + 1} events", seq=body.seq)
    if state is None:
        return _open(kind, body, event, open_statement)
    if body.agreement != state.id or body.kind != state.kind:
        raise InvalidMessage("event belongs to another agreement", agreement=state.id, kind=state.kind)
    if body.seq != state.seq + 1 or body.prev != state.head:
        raise OutOfOrder(
            "event does not follow the agreement's last event",
            expected_seq=state.seq + 1,
            expected_prev=state.head,
            seq=body.seq,
        )
    role = state.role_of(event.issuer)
    if role is None:
        raise Forbidden("only the parties of an agreement can move it forward", issuer=event.issuer)
    transition = _transition(kind, state.name, body.action, role)
    _check_audience(kind, state, event)
    data = parse(transition.data, body.data)
    if event.issued_at < state.iat:
        raise OutOfOrder("event is dated before the previous one", previous_iat=state.iat, iat=event.issued_at)
    return _advance(kind, state, transition, role, event, body, data, open_statement)


def replay(events: Iterable[Envelope], *, open_statement: StatementOpener = open_envelope) -> AgreementState:
    """Rebuild and validate a whole chain, from its opening event."""
    state: AgreementState | None = None
    for event in events:
        state = apply(state, event, open_statement=open_statement)
    if state is None:
        raise InvalidMessage("an agreement chain holds at least its opening event")
    return state


def effective_state(state: AgreementState, now_ms: int) -> str:
    """The state's name as read at ``now_ms``: a lapsed request or offer reads as "expired"."""
    kind = kind_of(state.kind)
    if state.name in kind.pending and state.proposal is not None and now_ms > state.proposal.expires:
        return "expired"
    return state.name


def is_closed(state: AgreementState) -> bool:
    return state.name in kind_of(state.kind).terminal


def _parse_event(event: Envelope) -> EventBody:
    if event.type != EVENT_TYPE:
        raise UnknownType(f"not an agreement event: {event.type!r}", expected=EVENT_TYPE)
    body: EventBody = parse(EventBody, dict(event.body))
    if (body.seq == 0) != (body.prev is None):
        raise InvalidMessage('"prev" is absent from the opening event (seq 0) and present in every later one')
    return body


def _open(kind: Kind, body: EventBody, event: Envelope, open_statement: StatementOpener) -> AgreementState:
    if body.seq != 0:
        raise OutOfOrder("the agreement is unknown here: send its chain from the opening event", expected_seq=0)
    transition = kind.openings.get(body.action)
    if transition is None:
        raise NotAllowed(f"a {kind.name} agreement opens with {sorted(kind.openings)}", action=body.action)
    data = parse(transition.data, body.data)
    parties = _parties(kind, data.parties)
    blank = AgreementState(
        id=body.agreement,
        kind=kind.name,
        parties=parties,
        name="",
        seq=-1,
        head=b"",
        iat=0,
        terms=None,
        proposal=None,
        sealed=None,
        facts=FrozenMap(),
    )
    role = blank.role_of(event.issuer)
    if role is None:
        raise Forbidden("the opener of an agreement must be one of its parties", issuer=event.issuer)
    if role not in transition.roles:
        raise NotAllowed(f"the {role} cannot {body.action}", allowed_roles=sorted(transition.roles))
    _check_audience(kind, blank, event)
    return _advance(kind, blank, transition, role, event, body, data, open_statement)


def _parties(kind: Kind, parties: Mapping[str, str]) -> FrozenMap[str, str]:
    if set(parties) != set(kind.roles):
        raise InvalidMessage(f"a {kind.name} agreement has the parties {list(kind.roles)}", roles=sorted(parties))
    if len(set(parties.values())) != len(parties):
        raise InvalidMessage("each party of an agreement is a different node")
    return FrozenMap({role: parties[role] for role in kind.roles})


def _transition(kind: Kind, state_name: str, action: str, role: str) -> Transition:
    allowed_roles = kind.action_roles.get(action)
    if allowed_roles is None:
        raise InvalidMessage(f"unknown action {action!r} for a {kind.name} agreement", known=sorted(kind.steps))
    if state_name in kind.terminal:
        raise NotAllowed(f"the agreement is closed ({state_name}): nothing more can happen", state=state_name)
    if role not in allowed_roles:
        raise NotAllowed(f"only the {' or '.join(sorted(allowed_roles))} can {action}", role=role, action=action)
    transition = kind.table.get((state_name, action))
    if transition is None:
        allowed = sorted(a for (s, a) in kind.table if s == state_name)
        raise NotAllowed(f"cannot {action} while {state_name}", state=state_name, allowed=allowed)
    if role not in transition.roles:
        raise NotAllowed(
            f"the {role} cannot {action} while {state_name}", state=state_name, allowed_roles=sorted(transition.roles)
        )
    return transition


def is_convened(kind: Kind) -> bool:
    """A kind whose participants make statements for its authority to embed (campaigns, federations)."""
    return bool(kind.statements)


def _audience(kind: Kind, state: AgreementState, issuer: str) -> tuple[str, ...]:
    """Whom an event names: the other parties; none in a convened kind, whose participants may be
    hundreds and change along the chain (they are the state's members; the outbox delivers to them)."""
    return () if is_convened(kind) else state.others(issuer)


def _check_audience(kind: Kind, state: AgreementState, event: Envelope) -> None:
    if is_convened(kind):
        if event.audience:
            raise WrongAudience("an event of a convened agreement names no audience: it goes to every participant")
        return
    expected = set(state.others(event.issuer))
    audience = event.audience
    if len(audience) != len(set(audience)) or set(audience) != expected:
        raise WrongAudience("an agreement event is addressed to exactly the other parties", expected=sorted(expected))


def _advance(
    kind: Kind,
    state: AgreementState,
    transition: Transition,
    role: str,
    event: Envelope,
    body: EventBody,
    data: Any,
    open_statement: StatementOpener,
) -> AgreementState:
    terms, proposal, sealed = state.terms, state.proposal, state.sealed
    if transition.step is not Step.RECORD and proposal is not None and event.issued_at > proposal.expires:
        raise Expired("the pending proposal lapsed before this answer", expires=proposal.expires, iat=event.issued_at)
    if transition.step is Step.PROPOSE:
        # The document is built from the terms map exactly as it travelled.
        document = terms_document(state.id, kind.name, state.parties, body.data["terms"])
        # The co-signature is made with the key that signed the event (a successor after a rotation).
        check_party_signature(event.issuer, document, data.seal_sig, event.payload.get("key"))
        expires = kind.expiry(data.terms)
        if expires <= event.issued_at:
            raise InvalidMessage("a proposal must expire after it is made", expires=expires, iat=event.issued_at)
        terms = data.terms
        proposal = Proposal(role, event.message_id, data.seal_sig, expires, document, event.payload.get("key"))
    elif transition.step is Step.ACCEPT:
        if proposal is None:
            raise NotAllowed("there is no proposal to accept")
        if data.proposal != proposal.event:
            raise Conflict("this acceptance answers another proposal than the pending one", pending=proposal.event)
        if role == proposal.proposer:
            raise NotAllowed("a party cannot accept its own proposal")
        acceptor_key = event.payload.get("key")
        check_party_signature(event.issuer, proposal.document, data.seal_sig, acceptor_key)
        proposer = state.parties[proposal.proposer]
        signatures = {proposer: proposal.signature, event.issuer: data.seal_sig}
        keys = {node: key for node, key in ((proposer, proposal.key), (event.issuer, acceptor_key)) if key}
        sealed = SealedAgreement(proposal.document, FrozenMap(signatures), FrozenMap(keys))
        proposal = None
    elif transition.to not in kind.pending:
        proposal = None
    moved = replace(
        state,
        name=transition.to,
        seq=body.seq,
        head=event.message_id,
        iat=event.issued_at,
        terms=terms,
        proposal=proposal,
        sealed=sealed,
    )
    if transition.step is Step.EMBED:
        moved = _embed(kind, moved, event, data, open_statement)
    return transition.effect(moved, event, data) if transition.effect else moved


def _embed(
    kind: Kind, state: AgreementState, event: Envelope, data: Embedding, open_statement: StatementOpener
) -> AgreementState:
    """Judge a participant's statement carried by the authority's event, and apply its rule."""
    statement = open_statement(data.statement)
    if statement.type != STATEMENT_TYPE:
        raise UnknownType(f"not an agreement statement: {statement.type!r}", expected=STATEMENT_TYPE)
    said: StatementBody = parse(StatementBody, dict(statement.body))
    if said.agreement != state.id or said.kind != state.kind:
        raise InvalidMessage("the statement belongs to another agreement", agreement=state.id, kind=state.kind)
    if statement.audience != (event.issuer,):
        raise WrongAudience("a statement is addressed to the agreement's authority alone", expected=[event.issuer])
    if statement.issued_at > event.issued_at:
        raise OutOfOrder("a statement is embedded after it is made", statement_iat=statement.issued_at)
    if statement.message_id in state.embedded:
        raise Conflict("this statement is already in the chain", statement=statement.message_id)
    rule = kind.statements.get(said.action)
    if rule is None:
        raise InvalidMessage(f"unknown statement {said.action!r} for a {kind.name} agreement", known=sorted(kind.statements))
    if rule.roles is not None and state.role_of(statement.issuer) not in rule.roles:
        raise NotAllowed(f"only a {' or '.join(sorted(rule.roles))} can {said.action}", issuer=statement.issuer)
    said_data = parse(rule.data, said.data)
    judged = rule.effect(replace(state, embedded=state.embedded | {statement.message_id}), statement, said_data)
    return judged


# -- building events ----------------------------------------------------------


def _as_map(value: Mapping[str, Any] | Body) -> dict[str, Any]:
    return value.to_wire() if isinstance(value, Body) else dict(value)


def open_agreement(
    key: SigningKey,
    kind: Kind,
    action: str,
    parties: Mapping[str, str],
    data: Mapping[str, Any],
    *,
    now_ms: int,
    agreement_id: bytes | None = None,
) -> Envelope:
    """The opening event (seq 0) of a new agreement; signs its terms when the action proposes."""
    agreement_id = os.urandom(AGREEMENT_ID_LENGTH) if agreement_id is None else agreement_id
    data = {**data, "parties": dict(parties)}
    if kind.steps.get(action) is Step.PROPOSE:
        data["terms"] = _as_map(data["terms"])
        document = terms_document(agreement_id, kind.name, parties, data["terms"])
        data["seal_sig"] = sign_document(key, document)
    body = {"agreement": agreement_id, "kind": kind.name, "seq": 0, "action": action, "data": data}
    audience = [] if is_convened(kind) else [node for node in parties.values() if node != key.node_id]
    return seal(key, EVENT_TYPE, body, now_ms=now_ms, audience=audience)


def next_event(
    key: SigningKey, state: AgreementState, action: str, data: Mapping[str, Any], *, now_ms: int
) -> Envelope:
    """The event ``key`` issues next on ``state``: fills the chain fields and, for proposals
    and acceptances, the co-signature. It does not judge legality: ``apply`` does."""
    if state.role_of(key.node_id) is None:
        raise LocalProtocolError("only a party can add to an agreement", node=key.node_id)
    kind = kind_of(state.kind)
    if state.seq + 1 > kind.max_seq:
        raise LocalProtocolError(f"a {kind.name} chain holds at most {kind.max_seq + 1} events")
    step = kind.steps.get(action)
    data = dict(data)
    if step is Step.PROPOSE and "terms" in data:
        data["terms"] = _as_map(data["terms"])
        document = terms_document(state.id, state.kind, state.parties, data["terms"])
        data.setdefault("seal_sig", sign_document(key, document))
    elif step is Step.ACCEPT and state.proposal is not None:
        data.setdefault("proposal", state.proposal.event)
        data.setdefault("seal_sig", sign_document(key, state.proposal.document))
    body = {
        "agreement": state.id,
        "kind": state.kind,
        "seq": state.seq + 1,
        "prev": state.head,
        "action": action,
        "data": data,
    }
    return seal(key, EVENT_TYPE, body, now_ms=now_ms, audience=_audience(kind, state, key.node_id))


def make_statement(
    key: SigningKey,
    agreement_id: bytes,
    kind: str,
    authority: str,
    action: str,
    data: Mapping[str, Any] | Body,
    *,
    now_ms: int,
) -> Envelope:
    """A participant's signed statement for the authority node ``authority`` to embed.

    It names the agreement, so it cannot be carried into another one; the
    author need not hold the chain (a first pledge).
    """
    body = {"agreement": bytes(agreement_id), "kind": kind, "action": action, "data": _as_map(data)}
    return seal(key, STATEMENT_TYPE, body, now_ms=now_ms, audience=[authority])


def embed(key: SigningKey, state: AgreementState, statement: bytes, *, action: str = "record", now_ms: int) -> Envelope:
    """The authority's event carrying ``statement`` (its ``action`` is the kind's embed step)."""
    return next_event(key, state, action, {"statement": statement}, now_ms=now_ms)
