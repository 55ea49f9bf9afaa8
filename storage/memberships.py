"""Federation members, as the signed charter chains this node holds state them.

This table is what the node judges by when it serves, relays or accepts a
federation-scoped record: it never takes a peer's word for who is a member.
Whoever follows a federation's charter chain calls ``replace_members`` with the
member set the chain states after each accepted event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from . import identity
from .models import FederationMember, SyncCursor

M = FederationMember.__table__


def replace_members(session: Session, federation_id: str, members: Mapping[str, str]) -> None:
    """Make ``members`` (node id -> role) the whole member set of a federation, in the caller's transaction.

    When the set gains a node (us, or another) and we belong to the federation
    afterwards, the change feeds of its members are followed again from 0:
    records of this federation we could not hold before (or refused while our
    copy of the charter lagged behind theirs) lie behind our cursors; pulling
    again stores only news. Feeds of nodes outside the federation cannot hold
    anything new for us: they stay where they are.
    """
    before = members_of(session, federation_id)
    session.execute(delete(M).where(M.c.federation_id == federation_id))
    if members:
        session.execute(
            insert(M), [{"federation_id": federation_id, "node_id": n, "role": r} for n, r in members.items()]
        )
    us = identity.get(session)
    if us is not None and us.node_id in members and set(members) - before:
        feeds = SyncCursor.__table__
        session.execute(update(feeds).where(feeds.c.peer_id.in_(list(members))).values(cursor=0))


def members_of(session: Session, federation_id: str) -> frozenset[str]:
    return frozenset(session.scalars(select(M.c.node_id).where(M.c.federation_id == federation_id)))


def federations_of(session: Session, node_id: str) -> frozenset[str]:
    return frozenset(session.scalars(select(M.c.federation_id).where(M.c.node_id == node_id)))


def memberships_among(session: Session, federation_ids: Iterable[str], node_ids: Iterable[str]) -> set[tuple[str, str]]:
    """The (federation id, node id) pairs that hold, among these federations and these nodes: one query."""
    federation_ids, node_ids = set(federation_ids), set(node_ids)
    if not federation_ids or not node_ids:
        return set()
    rows = session.execute(
        select(M.c.federation_id, M.c.node_id).where(M.c.federation_id.in_(federation_ids), M.c.node_id.in_(node_ids))
    )
    return {(federation_id, node_id) for federation_id, node_id in rows}
