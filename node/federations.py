"""Federations on this node: found one, speak in it, and, as its secretariat, close decisions on time.

A federation is a convened agreement (protocol/agreements/federation.py): the
secretariat's node writes the chain, members speak by signed statements
(node/convened.py). Everything a member says — adhering, proposing, asking,
objecting, voting — is committed by the secretariat before the answer comes
back. The secretariat's node also closes each proposal once its window ended,
with the outcome the tally of the signed statements gives (any other outcome
would be refused by every node replaying the chain). After every event, the
node's membership table (storage/memberships.py), by which it scopes records
to federations, is set to the members the chain states.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from protocol import Forbidden, InvalidMessage, ProtocolError
from protocol.agreements import AgreementState
from protocol.agreements import federation as F
from storage import memberships, session
from storage.models import Agreement

from . import agreements, convened
from .agreements import COMMIT_HOOKS, Progress
from .clock import now_ms
from .runtime import Node, wait_or_timeout
from .wire import wire_form

log = logging.getLogger(__name__)

CLOSE_POLL_S = 5.0  # how often the secretariat looks for windows that ended (sooner when one is due)



# ---- membership bookkeeping (in the transaction of each federation event) ------------------------


def _keep_memberships(s: Session, node: Node, before: AgreementState | None, after: AgreementState) -> None:
    members = F.members_of(after)
    if before is not None and F.members_of(before) == members:
        return
    secretariat = after.parties[F.SECRETARIAT]
    roles = {member: F.SECRETARIAT if member == secretariat else F.MEMBER for member in members}
    memberships.replace_members(s, after.id.hex(), roles)


COMMIT_HOOKS[F.KIND] = _keep_memberships


# ---- reading ---------------------------------------------------------------------------------------


def federation_ids(s: Session) -> list[bytes]:
    return list(s.exec(select(Agreement.id).where(Agreement.kind == F.KIND).order_by(Agreement.created_ms)))


class UnknownFederation(InvalidMessage):
    """No federation with this id on this node (we are not one of its participants, or not yet)."""

    http_status = 404


def load(node: Node, federation_id: bytes) -> AgreementState:
    with session(node.engine) as s:
        state = agreements.load_state(s, federation_id)
    if state is None or state.kind != F.KIND:
        raise UnknownFederation("no such federation on this node", federation=federation_id.hex())
    return state


def load_all(node: Node) -> list[AgreementState]:
    with session(node.engine) as s:
        states = [agreements.load_state(s, federation_id) for federation_id in federation_ids(s)]
    return [state for state in states if state is not None]


# ---- acting ----------------------------------------------------------------------------------------


async def found(node: Node, charter: Mapping[str, Any]) -> Progress:
    """Found a federation with this node as its secretariat; founders are invited to adhere."""
    terms = F.parse_charter(wire_form(charter))  # a bad charter is refused before anything is signed
    return await convened.convene(node, F.FEDERATION, "found", {F.SECRETARIAT: node.node_id}, {"terms": terms.to_wire()})


async def speak(node: Node, federation_id: bytes, action: str, data: Mapping[str, Any]) -> AgreementState:
    """Sign a statement in a federation and have its secretariat embed it; our chain as it stands after.

    The secretariat commits before it answers; a refusal comes back as its typed error.
    """
    state, _ = await speak_event(node, federation_id, action, data)
    return state


async def speak_event(
    node: Node, federation_id: bytes, action: str, data: Mapping[str, Any]
) -> tuple[AgreementState, bytes]:
    """``speak``, also returning the secretariat's event that embeds the statement."""
    state = await node.run(load, node, federation_id)
    event = await convened.say(node, federation_id, F.KIND, state.parties[F.SECRETARIAT], action, data)
    return await _until_held(node, federation_id, event), event


async def adhere(node: Node, federation_id: bytes) -> AgreementState:
    """Adhere to the charter as it stands (its digest is what we sign)."""
    state = await node.run(load, node, federation_id)
    return await speak(node, federation_id, "adhere", {"charter": F.charter_digest(F.charter_of(state))})


async def _until_held(node: Node, federation_id: bytes, event: bytes) -> AgreementState:
    """Our copy of the chain once it holds ``event``, or as it stands after a short wait."""
    await convened.until_held(node, event)
    return await node.run(load, node, federation_id)


async def close_now(node: Node, federation_id: bytes, proposal_id: str) -> AgreementState:
    """As the secretariat, close a proposal whose window ended, with the outcome its tally gives."""
    async with node.agreement_lock:
        state = await node.run(load, node, federation_id)
        if state.parties[F.SECRETARIAT] != node.node_id:
            raise Forbidden("only the federation's secretariat closes proposals", secretariat=state.parties[F.SECRETARIAT])
        record = F.proposals_of(state).get(proposal_id)
        if record is None:
            raise InvalidMessage(f"no proposal {proposal_id!r} in this federation", proposal=proposal_id)
        progress = await node.run(agreements.act, node, federation_id, "close", F.closing(record), now_ms())
    node.deliver_soon()
    return progress.state


# ---- the secretariat's closing loop ----------------------------------------------------------------


def wake(node: Node) -> None:
    """Have the closing loop look now (a proposal was made or amended here)."""
    node.decisions_now.set()


def _ours_to_close(node: Node) -> list[bytes]:
    """The federations whose secretariat we are."""
    with session(node.engine) as s:
        stmt = select(Agreement.id).where(Agreement.kind == F.KIND, Agreement.our_role == F.SECRETARIAT)
        return list(s.exec(stmt))


async def close_due(node: Node) -> float | None:
    """Close every proposal whose window ended, in the federations we are the secretariat of.

    Returns the seconds until the next window ends (None when no proposal is open). Loading a
    federation's state costs a few look-ups: the node keeps the latest state of each chain.
    """
    now = now_ms()
    upcoming: list[int] = []
    for federation_id in await node.run(_ours_to_close, node):
        state = await node.run(load, node, federation_id)
        for proposal_id in F.due(state, now):
            try:
                state = await close_now(node, federation_id, proposal_id)
            except ProtocolError as exc:  # e.g. amended meanwhile: the new window is judged when it ends
                log.info("proposal %s of federation %s not closed: %s", proposal_id, federation_id.hex(), exc.message)
                state = await node.run(load, node, federation_id)
        next_close = _next_close(state)
        if next_close is not None:
            upcoming.append(next_close)
    return max(0.0, (min(upcoming) - now_ms()) / 1000) if upcoming else None


def _next_close(state: AgreementState) -> int | None:
    ends = [p.window.closes for p in F.proposals_of(state).values() if p.status == "open"]
    return min(ends) if ends else None


async def close_decisions_forever(node: Node) -> None:
    """The secretariat's loop: close proposals as their windows end (started by node/app.py)."""
    while True:
        try:
            until_next = await close_due(node)
        except Exception:  # a bug must not stop closing for good
            log.exception("closing federation proposals failed")
            until_next = None
        delay = CLOSE_POLL_S if until_next is None else min(CLOSE_POLL_S, until_next + 0.01)
        await wait_or_timeout(node.decisions_now, delay)


__all__ = [
    "adhere",
    "close_decisions_forever",
    "close_due",
    "close_now",
    "federation_ids",
    "found",
    "load",
    "load_all",
    "speak",
    "speak_event",
    "wake",
]
