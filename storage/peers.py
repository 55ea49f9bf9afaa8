"""Peers we know of, their reachability, and how far we have pulled each one."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import Session, select

from .models import Peer, SyncCursor

# Exponential backoff for unreachable peers: 5 s, 10 s, … capped at one hour.
BACKOFF_BASE_MS = 5_000
BACKOFF_MAX_MS = 3_600_000
# A peer that failed this many times in a row is "gone" and no longer tried,
# unless an operator named it as a seed (seeds are only ever backed off).
GONE_AFTER_FAILURES = 12

ACTIVE_STATES = ("new", "active", "unreachable")
MAX_ADDRESSES = 8


@dataclass(frozen=True, slots=True)
class PeerView:
    node_id: str
    name: str
    addresses: list[str]
    source: str
    state: str
    last_seen_ms: int | None
    failures: int
    last_error: str
    cursor: int


def addresses_of(peer: Peer) -> list[str]:
    return list(json.loads(peer.addresses))


def upsert(
    session: Session,
    node_id: str,
    *,
    addresses: list[str],
    source: str,
    now_ms: int,
    name: str | None = None,
    descriptor: bytes | None = None,
) -> Peer:
    """Add a peer or merge what we learnt about it (known addresses keep their order)."""
    peer = session.get(Peer, node_id)
    if peer is None:
        peer = Peer(node_id=node_id, source=source, addresses="[]", next_attempt_ms=now_ms)
    merged = addresses_of(peer)
    for address in addresses:
        if address not in merged:
            merged.append(address)
    peer.addresses = json.dumps(merged[:MAX_ADDRESSES])
    # A seed stays a seed whatever else we learn of it.
    if peer.source != "seed":
        peer.source = source
    if name is not None:
        peer.name = name[:200]
    if descriptor is not None:
        peer.descriptor = descriptor
    if source == "seed":
        revived = peer.state in ("gone", "refused")
    elif source == "inbound":
        revived = peer.state in ("gone", "unreachable")
    else:
        revived = peer.state == "gone" and source == "mdns"
    if revived:
        # An operator naming a peer again, a peer that just said hello to us (it is back after a
        # network cut), or a gone peer seen again on the local network gets a fresh chance.
        peer.state, peer.failures, peer.next_attempt_ms = "new", 0, now_ms
    session.add(peer)
    return peer


def learn(session: Session, node_id: str, *, addresses: list[str], name: str, now_ms: int) -> None:
    """A node heard of through another (its signed descriptor): add it if new, else merge its addresses."""
    if not addresses:
        return
    if get(session, node_id) is None:
        upsert(session, node_id, addresses=addresses, source="exchange", now_ms=now_ms, name=name)
    else:
        _merge_addresses(session, node_id, addresses)


def _merge_addresses(session: Session, node_id: str, addresses: list[str]) -> None:
    peer = session.get(Peer, node_id)
    if peer is None or peer.state == "refused":
        return
    merged = addresses_of(peer)
    merged += [a for a in addresses if a not in merged]
    peer.addresses = json.dumps(merged[:MAX_ADDRESSES])
    session.add(peer)


def get(session: Session, node_id: str) -> Peer | None:
    return session.get(Peer, node_id)


def due(session: Session, now_ms: int) -> list[Peer]:
    """Peers worth contacting now: not gone, not refused, and past their backoff."""
    stmt = select(Peer).where(Peer.state.in_(ACTIVE_STATES), Peer.next_attempt_ms <= now_ms)  # type: ignore[attr-defined]
    return [p for p in session.exec(stmt) if addresses_of(p)]


def mark_success(session: Session, node_id: str, address: str, *, now_ms: int, name: str | None = None) -> None:
    peer = session.get(Peer, node_id)
    if peer is None:
        return
    addresses = addresses_of(peer)
    if address in addresses:
        addresses.remove(address)
    peer.addresses = json.dumps([address, *addresses])
    peer.state, peer.failures, peer.last_error = "active", 0, ""
    peer.last_seen_ms = peer.last_attempt_ms = now_ms
    peer.next_attempt_ms = now_ms
    if name is not None:
        peer.name = name[:200]
    session.add(peer)


def mark_failure(session: Session, node_id: str, error: str, *, now_ms: int) -> Peer | None:
    """Count a failed contact and schedule the next attempt further away."""
    peer = session.get(Peer, node_id)
    if peer is None:
        return None
    peer.failures += 1
    peer.last_attempt_ms = now_ms
    peer.last_error = error[:500]
    peer.next_attempt_ms = now_ms + min(BACKOFF_BASE_MS * 2 ** (peer.failures - 1), BACKOFF_MAX_MS)
    peer.state = "gone" if peer.failures >= GONE_AFTER_FAILURES and peer.source != "seed" else "unreachable"
    session.add(peer)
    return peer


def forget_addresses(session: Session, node_id: str, addresses: list[str], reason: str, *, now_ms: int) -> bool:
    """Drop addresses that answered as another node; True when none is left and the peer is refused.

    A refused peer is not contacted again until an operator names it again (see ``upsert``).
    """
    peer = session.get(Peer, node_id)
    if peer is None:
        return False
    left = [a for a in addresses_of(peer) if a not in addresses]
    peer.addresses = json.dumps(left)
    peer.last_error, peer.last_attempt_ms = reason[:500], now_ms
    if not left:
        peer.state = "refused"
    session.add(peer)
    return not left


def get_cursor(session: Session, peer_id: str) -> int:
    row = session.get(SyncCursor, peer_id)
    return row.cursor if row else 0


def set_cursor(session: Session, peer_id: str, cursor: int, *, now_ms: int) -> None:
    row = session.get(SyncCursor, peer_id) or SyncCursor(peer_id=peer_id)
    row.cursor, row.updated_ms = cursor, now_ms
    session.add(row)


def list_all(session: Session) -> list[PeerView]:
    cursors = {c.peer_id: c.cursor for c in session.exec(select(SyncCursor))}
    return [
        PeerView(
            node_id=p.node_id,
            name=p.name,
            addresses=addresses_of(p),
            source=p.source,
            state=p.state,
            last_seen_ms=p.last_seen_ms,
            failures=p.failures,
            last_error=p.last_error,
            cursor=cursors.get(p.node_id, 0),
        )
        for p in session.exec(select(Peer).order_by(Peer.name, Peer.node_id))
    ]
