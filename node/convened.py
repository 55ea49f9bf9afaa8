"""Convened agreements on this node: many participants, one writer (campaigns, federations).

The authority's node alone adds events to a convened chain (protocol/agreements/machine.py).
Every other participant *says* something by signing a statement and sending it to the
authority, which judges it with the kind's rule, embeds it in a new event and commits
that event — with its outbox entries to every participant — before it answers. The
answer carries the embedding event, so the author knows its statement is in the chain
(or gets the typed refusal, and nothing changed anywhere).
"""

from __future__ import annotations

import asyncio

from collections.abc import Mapping
from typing import Any

from protocol import Envelope, Forbidden, InvalidMessage, ProtocolError, Stale
from protocol.agreements import (
    STATEMENT_TYPE,
    AgreementState,
    Kind,
    apply,
    embed,
    kind_of,
    make_statement,
    open_agreement,
)

from protocol.envelope import stored_envelope

from storage import agreements as stored
from storage import peers, session

from .agreements import EVENT_FUTURE_MS, Progress, _commit, load_state, take_events
from .clock import now_ms
from .peers import IdentityMismatch, Refused, Unreachable
from .runtime import Node

EMBED_ACTION = "record"  # the embed step's action in every convened kind


class AuthorityUnreachable(ProtocolError):
    """The authority's node did not answer: the statement was not recorded (say it again later)."""

    code = "unreachable"
    http_status = 503


# ---- database side (under the node's agreement lock) ------------------------------------------


def open_as_authority(
    node: Node, kind: Kind, action: str, parties: Mapping[str, str], data: Mapping[str, Any], now: int
) -> Progress:
    """Open a convened agreement that this node will order (its opening names us as the authority)."""
    if kind.authority is None or parties.get(kind.authority) != node.node_id:
        raise InvalidMessage(f"this node opens a {kind.name} as its {kind.authority}")
    event = open_agreement(node.key, kind, action, parties, data, now_ms=now)
    with session(node.engine) as s, s.begin():
        state = apply(None, event, open_statement=node.open_statement)
        _commit(s, node, None, state, event, now)
        return Progress(state, event.raw)


def embed_statement(node: Node, statement: Envelope, now: int) -> Progress:
    """As the authority, judge a verified statement and commit the event that embeds it."""
    agreement_id = statement_agreement(statement)
    with session(node.engine) as s, s.begin():
        state = load_state(s, agreement_id)
        if state is None:
            raise InvalidMessage("no such agreement here", agreement=agreement_id.hex())
        authority = kind_of(state.kind).authority
        if authority is None or state.parties.get(authority) != node.node_id:
            raise Forbidden("this node is not the authority of that agreement: send the statement to it")
        if statement.issued_at - now > EVENT_FUTURE_MS:
            raise Stale("statement dated in the future: check the clock", server_time=now,
                        delta_ms=statement.issued_at - now)
        # An author whose clock runs a little ahead is not refused: the embedding is dated no earlier
        # than the statement, nor than the chain's head (which such a statement may have moved ahead).
        when = max(now, statement.issued_at, state.iat)
        event = embed(node.key, state, statement.raw, action=EMBED_ACTION, now_ms=when)
        moved = apply(state, event, open_statement=node.open_statement)
        _commit(s, node, state, moved, event, now)
        return Progress(moved, event.raw)


def statement_agreement(statement: Envelope) -> bytes:
    if statement.type != STATEMENT_TYPE:
        raise InvalidMessage(f"not an agreement statement: {statement.type!r}")
    body = statement.body if isinstance(statement.body, Mapping) else {}
    value = body.get("agreement")
    if type(value) is not bytes or len(value) != 16:
        raise InvalidMessage("a statement names its agreement (16 bytes)")
    return value


def current_state(node: Node, agreement_id: bytes) -> AgreementState | None:
    with session(node.engine) as s:
        return load_state(s, agreement_id)


def _addresses(node: Node, peer_id: str) -> list[str]:
    with session(node.engine) as s:
        row = peers.get(s, peer_id)
        return peers.addresses_of(row) if row is not None else []


# ---- event loop side ---------------------------------------------------------------------------


async def convene(node: Node, kind: Kind, action: str, parties: Mapping[str, str], data: Mapping[str, Any]) -> Progress:
    """Open a convened agreement as its authority; the opening travels to every participant."""
    async with node.agreement_lock:
        progress = await node.run(open_as_authority, node, kind, action, parties, data, now_ms())
    node.deliver_soon()
    return progress


async def take_statement(node: Node, statement: Envelope) -> Progress:
    """A statement reached us as the authority: embed it (committed) and let it travel."""
    async with node.agreement_lock:
        progress = await node.run(embed_statement, node, statement, now_ms())
    node.deliver_soon()
    return progress


async def say(
    node: Node, agreement_id: bytes, kind: str, authority: str, action: str, data: Mapping[str, Any]
) -> bytes:
    """Sign a statement on a convened agreement and have its authority embed it.

    Returns the embedding event. When we are the authority it is embedded
    here; otherwise it goes to the authority's node, which commits before it
    answers. A refusal is raised as the authority's typed error; an
    unreachable authority as AuthorityUnreachable (nothing was recorded).
    """
    statement = make_statement(node.key, agreement_id, kind, authority, action, data, now_ms=now_ms())
    if authority == node.node_id:
        return (await take_statement(node, statement)).event
    event = await _send(node, authority, statement)
    # Hold the chain as soon as we can (the authority's outbox brings it anyway).
    held = await node.run(_holds, node, agreement_id)
    if held:
        await take_events(node, [event], authority)
    return event


HELD_WAIT_S = 3.0  # how long an answer waits for our own copy of the chain to hold the authority's event


def _holds_event(node: Node, message_id: bytes) -> bool:
    with session(node.engine) as s:
        return stored.event_seq(s, message_id) is not None


async def until_held(node: Node, event: bytes, timeout_s: float = HELD_WAIT_S) -> bool:
    """Wait (bounded) until our copy of the chain holds the authority's ``event``: a newcomer may
    need the chain from its opening first, which the authority's outbox brings. False on timeout."""
    message_id = stored_envelope(event).message_id
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await node.run(_holds_event, node, message_id):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _holds(node: Node, agreement_id: bytes) -> bool:
    with session(node.engine) as s:
        return stored.get(s, agreement_id) is not None


async def _send(node: Node, authority: str, statement: Envelope) -> bytes:
    if node.synchronizer is None:
        raise AuthorityUnreachable("this node does not talk to peers")
    addresses = await node.run(_addresses, node, authority)
    last = "no known address for the authority's node yet"
    for address in addresses:
        try:
            _, reply = await node.synchronizer.client.request(address, authority, "statement", {"statement": statement.raw})
        except (Unreachable, IdentityMismatch) as exc:
            last = str(exc)
            continue
        except Refused as exc:
            raise exc.error from None
        return bytes(reply.event)
    raise AuthorityUnreachable(f"the authority's node did not answer: {last}", authority=authority)


__all__ = [
    "EMBED_ACTION",
    "AuthorityUnreachable",
    "convene",
    "current_state",
    "embed_statement",
    "open_as_authority",
    "say",
    "statement_agreement",
    "take_statement",
    "until_held",
]
