"""Agreements on this node: a signed event in → the machine judges it → one transaction out.

Each function runs on a database thread, under the node's agreement lock, so
judging an event against the chain and the calendar and committing it is one
step no concurrent request can slip into. In that transaction go the event,
the agreement's new state, the calendar booking (when we own the resource)
and the outbox entries that will carry our own events to the other party;
nothing is acknowledged before it commits.

Ordering: the owner's node is the authority for a loan's chain and calendar.
If both parties act at once on the same step, the owner refuses the
borrower's event (``out-of-order``); the borrower's node, on receiving the
owner's event for that step, drops its own unacknowledged one and says so.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from protocol import Envelope, Forbidden, InvalidMessage, ProtocolError, Stale, open_envelope
from protocol.agreements import LOAN, AgreementState, apply, kind_of, next_event, open_request, parse_terms, replay
from protocol.agreements.loan import BORROWER, HOLDING_STATES, OWNER
from protocol.availability import AvailabilityRules, Booking, Period, check_request, refusal_reasons
from protocol.envelope import stored_envelope
from protocol.errors import NotAllowed
from protocol.merkle import leaf_hash
from protocol.records import RECORD_FUTURE_MS

from storage import agreements, log, memberships, peers, records, session
from storage.agreements import NewEvent
from storage.models import Agreement

from .clock import now_ms
from .runtime import Node
from .transparency import check_can_append

# How we came to know a node that makes it one of our federation (see the "peers" auto-accept policy).
FEDERATION_SOURCES = frozenset({"seed", "exchange", "mdns"})
EVENT_FUTURE_MS = RECORD_FUTURE_MS  # clock skew we tolerate on an event's date
JOINING = "joining"  # our role in a convened chain we are catching up on, until it makes us a member
FORMER = "former"  # our role once a convened chain no longer counts us (a member removed by decision)


# Kind-specific bookkeeping done in the same transaction as each event (e.g. a federation's
# membership table): kind name -> hook(session, node, state before, state after).
CommitHook = Callable[[Session, Node, "AgreementState | None", AgreementState], None]
COMMIT_HOOKS: dict[str, CommitHook] = {}


def authority_role(kind: str) -> str | None:
    """The party whose node orders a kind's chain (and keeps a loan's calendar)."""
    return kind_of(kind).authority


@dataclass(frozen=True, slots=True)
class Progress:
    """What one step did: the agreement's new state, the event added, and our answers to it."""

    state: AgreementState
    event: bytes  # the event just added (ours or the peer's)
    answers: tuple[bytes, ...] = ()  # events we added in answer, e.g. an automatic acceptance
    duplicate: bool = False  # the event was already held: nothing changed


# ---- reading ---------------------------------------------------------------------------------


def open_chain(raws: Sequence[bytes]) -> list[Envelope]:
    """A chain from our database: every event was verified before it was stored."""
    return [stored_envelope(raw) for raw in raws]


class _StateCache:
    """The latest states rebuilt, by agreement: a long chain (a federation's, a large campaign's)
    is then extended by its new events instead of replayed from its opening at every step.

    Entries are checked against the database before use: a cached state counts only while the
    chain we hold still has its head at its position (the hash links vouch for everything
    before), so a rolled-back transaction or a dropped tail costs a full replay, never a wrong
    state. States are frozen values; one lock for the database threads.
    """

    def __init__(self, size: int = 256) -> None:
        self._states: OrderedDict[bytes, AgreementState] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, agreement_id: bytes) -> AgreementState | None:
        with self._lock:
            return self._states.get(agreement_id)

    def put(self, state: AgreementState) -> None:
        with self._lock:
            self._states[state.id] = state
            self._states.move_to_end(state.id)
            while len(self._states) > self._size:
                self._states.popitem(last=False)


_STATES = _StateCache()


def load_state(s: Session, agreement_id: bytes) -> AgreementState | None:
    """The agreement's state from the chain we hold (None when we hold none)."""
    row = agreements.get(s, agreement_id)
    cached = _STATES.get(agreement_id)
    if row is not None and cached is not None and cached.seq <= row.seq:
        if agreements.message_id_at(s, agreement_id, cached.seq) == cached.head:
            state = cached
            for raw in agreements.chain_from(s, agreement_id, cached.seq + 1):
                state = apply(state, stored_envelope(raw), open_statement=stored_envelope)
            _STATES.put(state)
            return state
    raws = agreements.chain(s, agreement_id)
    if not raws:
        return None
    state = replay(open_chain(raws), open_statement=stored_envelope)
    _STATES.put(state)
    return state


def agreement_id_of(event: Envelope) -> bytes:
    value = event.body.get("agreement") if isinstance(event.body, Mapping) else None
    if type(value) is not bytes or len(value) != 16:
        raise InvalidMessage("an agreement event names its agreement (16 bytes)")
    return value


# ---- our own steps ---------------------------------------------------------------------------


def request_loan(node: Node, owner: str, terms: Mapping[str, Any], now: int) -> Progress:
    """Open a loan request to ``owner`` (we are the borrower)."""
    if owner == node.node_id:
        raise InvalidMessage("a node cannot borrow from itself")
    event = open_request(node.key, owner, parse_terms(terms), now_ms=now)
    with session(node.engine) as s, s.begin():
        state = apply(None, event, open_statement=node.open_statement)
        _commit(s, node, None, state, event, now)
        return Progress(state, event.raw)


def act(node: Node, agreement_id: bytes, action: str, data: Mapping[str, Any], now: int) -> Progress:
    """Take the next step of an agreement as this node (offer, accept, handover, close …)."""
    with session(node.engine) as s, s.begin():
        state = load_state(s, agreement_id)
        if state is None:
            raise InvalidMessage("no such agreement here", agreement=agreement_id.hex())
        row = agreements.get(s, agreement_id)
        if row is not None and summary(row, state, now)["state"] == "refused":
            raise NotAllowed("the owner refused this request outright: it holds nothing of it; ask again")
        # Never dated before the chain's head (a peer's clock may run a little ahead of ours).
        event = next_event(node.key, state, action, data, now_ms=max(now, state.iat))
        moved = apply(state, event, open_statement=node.open_statement)
        _commit(s, node, state, moved, event, now)
        return Progress(moved, event.raw)


# ---- a peer's steps --------------------------------------------------------------------------


def receive(node: Node, event: Envelope, sender: str, now: int) -> Progress:
    """Judge and store an event a party sent us; answer it if our policy says so.

    An event we already hold is acknowledged again and changes nothing (an
    outbox may deliver twice). Raises a typed ProtocolError, storing nothing,
    when the event does not fit the chain, the parties or the calendar.
    """
    agreement_id = agreement_id_of(event)
    with session(node.engine) as s, s.begin():
        if agreements.event_seq(s, event.message_id) is not None:
            state = load_state(s, agreement_id)
            assert state is not None
            if state.role_of(sender) is None:
                raise Forbidden("only the parties of an agreement exchange its events")
            return Progress(state, event.raw, duplicate=True)
        if event.issued_at - now > EVENT_FUTURE_MS:
            # Later events may not be dated before this one: a far-future date would block the chain.
            raise Stale("event dated in the future: check the clock", server_time=now, delta_ms=event.issued_at - now)
        state, overtaken = _yield_to_authority(s, node, load_state(s, agreement_id), event, now)
        moved = apply(state, event, open_statement=node.open_statement)
        ours = moved.role_of(node.node_id) is not None or _joining(node, moved, event) or _leaving(node, state)
        if moved.role_of(sender) is None or not ours:
            raise Forbidden("only the parties of an agreement exchange its events")
        _commit(s, node, state, moved, event, now)
        if overtaken:
            message = f"overtaken by the other party before it arrived: {overtaken}"
            agreements.set_refusal(s, moved.id, {"code": "out-of-order", "message": message}, now_ms=now)
        if not _accepts_at_once(s, node, moved, event):
            return Progress(moved, event.raw)
        answer = next_event(node.key, moved, "accept", {}, now_ms=max(now, moved.iat))
        sealed = apply(moved, answer)
        _commit(s, node, moved, sealed, answer, now)
        return Progress(sealed, event.raw, (answer.raw,))


def _accepts_at_once(s: Session, node: Node, state: AgreementState, event: Envelope) -> bool:
    """Our policy: accept a loan request that fits the calendar when the requester is trusted:
    anyone ("*"), the nodes of our federation ("peers": nodes we found through our seeds, peer
    exchange or the local network, not merely ones that called us), or chosen node ids."""
    if state.kind != LOAN.name or state.name != "requested" or state.role_of(node.node_id) != OWNER:
        return False
    policy = node.config.auto_accept
    if "*" in policy or event.issuer in policy:
        return True
    if "peers" in policy:
        peer = peers.get(s, event.issuer)
        return peer is not None and peer.state != "refused" and peer.source in FEDERATION_SOURCES
    return False


def _yield_to_authority(
    s: Session, node: Node, state: AgreementState | None, event: Envelope, now: int
) -> tuple[AgreementState | None, str]:
    """Drop our own unacknowledged events that the authority's event overtook (both acted at once).

    Returns the state to apply the event to and the overtaken actions ("" when none).
    """
    if state is None or state.role_of(node.node_id) == authority_role(state.kind):
        return state, ""
    seq = event.body.get("seq")
    if state.role_of(event.issuer) != authority_role(state.kind) or type(seq) is not int or not 0 < seq <= state.seq:
        return state, ""
    raws = agreements.chain(s, state.id)
    overtaken = open_chain(raws[seq:])
    if any(e.issuer != node.node_id for e in overtaken) or agreements.acknowledged(s, [e.message_id for e in overtaken]):
        return state, ""  # the authority already holds them: let apply() refuse the event as out of order
    agreements.drop_from(s, state.id, seq, now_ms=now)
    return replay(open_chain(raws[:seq]), open_statement=stored_envelope), ", ".join(str(e.body.get("action")) for e in overtaken)


# ---- one transaction per step ----------------------------------------------------------------


def _joining(node: Node, state: AgreementState, event: Envelope) -> bool:
    """A convened chain's authority catching a newcomer up from the chain's start: the events
    before the one that makes us a member (a contributor's own pledge, an admission) come first."""
    authority = authority_role(state.kind)
    return authority is not None and event.issuer == state.parties.get(authority) != node.node_id


def _leaving(node: Node, before: AgreementState | None) -> bool:
    """We took part until this event: the event that takes us out (a removal) is ours to hold."""
    return before is not None and before.role_of(node.node_id) is not None


def _commit(s: Session, node: Node, before: AgreementState | None, after: AgreementState, event: Envelope, now: int) -> None:
    """Check the calendar, then store the event, the new state, the booking and our outbox entries."""
    our_role = after.role_of(node.node_id)
    if our_role is None and _leaving(node, before):
        our_role = FORMER
    elif our_role is None and _joining(node, after, event):
        our_role = JOINING
    if our_role is None:
        raise Forbidden("this node is not a party to the agreement")
    resource, title = _resource_of(s, after)
    check_can_append(node)
    if after.kind == LOAN.name and our_role == OWNER:
        _keep_calendar(s, node, before, after, event, now)
    log.append(s, leaf_hash(event.raw), event.message_id, now_ms=now)  # same transaction as the event
    row = agreements.append(
        s,
        NewEvent(after.id, after.seq, event.message_id, event.issuer, str(event.body["action"]), event.issued_at, event.raw),
        kind=after.kind,
        our_role=our_role,
        parties=dict(after.parties),
        state=after.name,
        resource=resource,
        title=title,
        now_ms=now,
    )
    row.our_role = our_role  # a newcomer's role once the chain makes it a member (or a member's new role)
    hook = COMMIT_HOOKS.get(after.kind)
    if hook is not None:
        hook(s, node, before, after)
    if event.issuer == node.node_id:
        # Those the event takes out of the chain (a removed member) receive it too: it is their last.
        leaving = [peer for peer in before.others(node.node_id) if after.role_of(peer) is None] if before else []
        for peer in (*after.others(node.node_id), *leaving):
            agreements.enqueue(s, peer, after.id, event.message_id, event.raw, now_ms=now)


def _resource_of(s: Session, state: AgreementState) -> tuple[str | None, str]:
    if state.kind != LOAN.name or state.terms is None:
        # Convened kinds are named by their terms (a campaign's title, a federation's name).
        return None, str(getattr(state.terms, "title", None) or getattr(state.terms, "name", None) or "")
    owner = state.parties[OWNER]
    held = records.get(s, owner, state.terms.resource)
    title = held.title if held is not None and held.rtype == "resource" else state.terms.resource
    return state.terms.resource, title


def _keep_calendar(s: Session, node: Node, before: AgreementState | None, after: AgreementState, event: Envelope, now: int) -> None:
    """As the owner, refuse what does not fit the resource's calendar and hold what was agreed."""
    terms = after.terms
    if after.name not in HOLDING_STATES:
        agreements.release(s, after.id)
        if after.name == "requested":  # a request or counter-offer: answer at once if it cannot fit
            _check_fits(s, node, after, now)
        return
    if after.name in ("offered", "sealed") and (before is None or before.name != after.name):
        # Also when the borrower accepts our offer: its hold may have lapsed while the acceptance travelled.
        _check_fits(s, node, after, now)
    expires = after.proposal.expires if after.name == "offered" and after.proposal is not None else None
    agreements.hold(
        s,
        after.id,
        resource=terms.resource,
        start_ms=terms.period.start,
        end_ms=terms.period.end,
        quantity=terms.quantity,
        state=after.name,
        expires_ms=expires,
    )


def _check_fits(s: Session, node: Node, state: AgreementState, now: int) -> None:
    terms = state.terms
    rules = availability_rules(s, node.node_id, terms.resource, requester=state.parties[BORROWER])
    margin = (rules.buffer_minutes or 0) * 60_000
    held = agreements.bookings(
        s, terms.resource, start_ms=terms.period.start - margin, end_ms=terms.period.end + margin, now_ms=now, exclude=state.id
    )
    bookings = [Booking(Period(start=b.start_ms, end=b.end_ms), b.quantity, b.agreement_id) for b in held]
    period = Period(start=terms.period.start, end=terms.period.end)
    check_request(rules, bookings, period, terms.quantity, now)


def availability_rules(s: Session, node_id: str, resource_id: str, *, requester: str) -> AvailabilityRules:
    """The booking rules of one of our resources (stock from its quantity when it states none),
    for ``requester`` (a borrower, a searching node): only what it may see is offered to it."""
    held = records.get(s, node_id, resource_id)
    if held is None or held.rtype != "resource" or not _offered_to(s, held, requester):
        # A private resource is not offered to peers, nor a federation's to non-members: it is not
        # booked, nor its calendar told (and the answer does not say it exists).
        raise InvalidMessage(f"no resource {resource_id!r} to lend here", resource=resource_id)
    body = records.body_of(held.envelope)
    if "availability" in body:
        return AvailabilityRules.model_validate(dict(body["availability"]))
    return AvailabilityRules(unit="hour", stock=int(body.get("quantity", 1)))


def _offered_to(s: Session, held: Any, requester: str) -> bool:
    """Whether a resource's scope lets ``requester`` book it: public, or a federation it belongs to."""
    if held.scope == "public":
        return True
    if held.scope != "federation":
        return False
    federations = records.federations_of_record(s, held.author, held.record_id)
    return bool(memberships.memberships_among(s, federations, [requester]))


def free_or_why(
    node: Node, resources: Sequence[str], start: int, end: int, quantity: int, now: int, *, requester: str
) -> dict[str, list[str]]:
    """For each of our resources, the reasons it cannot be booked for [start, end) (empty: it is free).

    Answers federated availability searches; it judges like a request would,
    without holding anything.
    """
    period = Period.between(start, end)
    answers: dict[str, list[str]] = {}
    with session(node.engine) as s:
        for resource in resources:
            try:
                rules = availability_rules(s, node.node_id, resource, requester=requester)
            except InvalidMessage:
                answers[resource] = ["unknown"]
                continue
            margin = (rules.buffer_minutes or 0) * 60_000
            held = agreements.bookings(s, resource, start_ms=start - margin, end_ms=end + margin, now_ms=now)
            bookings = [Booking(Period(start=b.start_ms, end=b.end_ms), b.quantity, b.agreement_id) for b in held]
            answers[resource] = refusal_reasons(rules, bookings, period, quantity, now)
    return answers


# ---- what operators see ----------------------------------------------------------------------


def summary(row: Agreement, state: AgreementState | None, now: int) -> dict[str, Any]:
    """An agreement as the local API lists it (JSON-ready)."""
    from protocol.agreements import effective_state

    refused_opening = row.refusal is not None and row.seq == 0 and row.our_role != authority_role(row.kind)
    out: dict[str, Any] = {
        "id": row.id.hex(),
        "kind": row.kind,
        "role": row.our_role,
        "counterpart": row.counterpart,
        # A request the authority refused outright never reached its chain: it is over.
        "state": "refused" if refused_opening else effective_state(state, now) if state is not None else row.state,
        "resource": row.resource,
        "title": row.title,
        "seq": row.seq,
        "updated_ms": row.updated_ms,
    }
    if state is not None and state.terms is not None and hasattr(state.terms, "to_wire"):
        out["terms"] = state.terms.to_wire()
    if row.refusal:
        out["refusal"] = json.loads(row.refusal)
    return out


def refusal_of(exc: ProtocolError) -> dict[str, Any]:
    refusal: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        refusal["details"] = exc.details
    return refusal


__all__ = [
    "authority_role",
    "BORROWER",
    "OWNER",
    "Progress",
    "act",
    "availability_rules",
    "load_state",
    "receive",
    "refusal_of",
    "request_loan",
    "summary",
]


# ---- async entry points (event loop side) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Taken:
    """What became of a batch of events a party sent: held, the first refusal, our answers."""

    accepted: tuple[bytes, ...]  # message ids we hold now
    refused: tuple[int, ProtocolError] | None  # (index in the batch, why); later events were not judged
    answers: tuple[bytes, ...]  # our own events made in answer


async def take_events(node: Node, raws: Sequence[bytes], sender: str) -> Taken:
    """Judge a party's events in order, each in its own transaction, stopping at the first refusal."""
    accepted: list[bytes] = []
    answers: list[bytes] = []
    for index, raw in enumerate(raws):
        try:
            event = open_envelope(raw, keys=node.keyring)
            async with node.agreement_lock:
                progress = await node.run(receive, node, event, sender, now_ms())
        except ProtocolError as exc:
            return Taken(tuple(accepted), (index, exc), tuple(answers))
        accepted.append(event.message_id)
        answers.extend(progress.answers)
    return Taken(tuple(accepted), None, tuple(answers))


async def take_step(node: Node, agreement_id: bytes, action: str, data: Mapping[str, Any]) -> Progress:
    """Our operator's step on an agreement, committed and queued for the other party."""
    async with node.agreement_lock:
        progress = await node.run(act, node, agreement_id, action, data, now_ms())
    node.deliver_soon()
    return progress


async def open_loan(node: Node, owner: str, terms: Mapping[str, Any]) -> Progress:
    async with node.agreement_lock:
        progress = await node.run(request_loan, node, owner, terms, now_ms())
    node.deliver_soon()
    return progress
