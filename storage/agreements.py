"""Agreements this node is a party to: signed event chains, calendar bookings, the outbox.

Functions take the caller's session; the caller owns the transaction, so an
event, the agreement's new state, its booking and its outbox entry commit
together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, or_, select, update
from sqlmodel import Session

from .models import Agreement, AgreementEvent, Booking, OutboxEntry, SupersededEvent

OUTBOX_BACKOFF_MS = (1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000)


class NewEvent(NamedTuple):
    """A verified event about to join its chain."""

    agreement_id: bytes
    seq: int
    message_id: bytes
    issuer: str
    action: str
    issued_at: int
    envelope: bytes


def get(session: Session, agreement_id: bytes) -> Agreement | None:
    return session.get(Agreement, agreement_id)


def chain(session: Session, agreement_id: bytes) -> list[bytes]:
    """The agreement's event envelopes in chain order."""
    stmt = (
        select(AgreementEvent.envelope)
        .where(AgreementEvent.agreement_id == agreement_id)
        .order_by(AgreementEvent.seq)  # type: ignore[arg-type]
    )
    return [bytes(raw) for raw in session.scalars(stmt)]


def chain_from(session: Session, agreement_id: bytes, seq: int) -> list[bytes]:
    """The agreement's event envelopes from position ``seq`` on, in chain order."""
    stmt = (
        select(AgreementEvent.envelope)
        .where(AgreementEvent.agreement_id == agreement_id, AgreementEvent.seq >= seq)  # type: ignore[operator]
        .order_by(AgreementEvent.seq)  # type: ignore[arg-type]
    )
    return [bytes(raw) for raw in session.scalars(stmt)]


def message_id_at(session: Session, agreement_id: bytes, seq: int) -> bytes | None:
    """The message id of the agreement's event at position ``seq``, if we hold one."""
    stmt = select(AgreementEvent.message_id).where(
        AgreementEvent.agreement_id == agreement_id, AgreementEvent.seq == seq
    )
    found = session.scalar(stmt)
    return bytes(found) if found is not None else None


def event_seq(session: Session, message_id: bytes) -> int | None:
    """The position of an event we already hold (a redelivery), or None."""
    stmt = select(AgreementEvent.seq).where(AgreementEvent.message_id == message_id)
    return session.scalar(stmt)


def append(
    session: Session,
    event: NewEvent,
    *,
    kind: str,
    our_role: str,
    parties: Mapping[str, str],
    state: str,
    resource: str | None,
    title: str,
    now_ms: int,
) -> Agreement:
    """Add an event at the head of its chain and record the agreement's new state."""
    session.add(AgreementEvent(**event._asdict(), received_ms=now_ms))
    row = session.get(Agreement, event.agreement_id)
    counterpart = next((node for role, node in sorted(parties.items()) if role != our_role), "")
    if row is None:
        row = Agreement(
            id=event.agreement_id,
            kind=kind,
            our_role=our_role,
            counterpart=counterpart,
            parties=json.dumps(dict(sorted(parties.items()))),
            state=state,
            seq=event.seq,
            head=event.message_id,
            resource=resource,
            title=title,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
    else:
        row.state, row.seq, row.head, row.updated_ms = state, event.seq, event.message_id, now_ms
        row.refusal = None
    session.add(row)
    return row


def drop_from(session: Session, agreement_id: bytes, seq: int, *, now_ms: int) -> None:
    """Take our chain's events from ``seq`` on out of the chain (never acknowledged, overtaken by the
    authority's). They are kept aside: we signed them, and our log holds them."""
    in_tail = (AgreementEvent.agreement_id == agreement_id, AgreementEvent.seq >= seq)  # type: ignore[operator]
    dropped = list(session.scalars(select(AgreementEvent).where(*in_tail)))
    for event in dropped:
        session.add(SupersededEvent(message_id=event.message_id, agreement_id=agreement_id, seq=event.seq,
                                    envelope=event.envelope, superseded_ms=now_ms))
    session.execute(delete(AgreementEvent).where(*in_tail))
    if dropped:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.message_id.in_([e.message_id for e in dropped]), OutboxEntry.delivered_ms.is_(None))  # type: ignore[attr-defined, union-attr]
            .values(delivered_ms=0, last_error="superseded")
        )
    session.flush()


def signed_event(session: Session, message_id: bytes) -> bytes | None:
    """The envelope of an event we hold, in a chain or superseded (what a log leaf stands for)."""
    held = session.scalar(select(AgreementEvent.envelope).where(AgreementEvent.message_id == message_id))
    if held is None:
        held = session.scalar(select(SupersededEvent.envelope).where(SupersededEvent.message_id == message_id))
    return bytes(held) if held is not None else None


def acknowledged(session: Session, message_ids: Sequence[bytes]) -> bool:
    """True when a peer confirmed holding one of these events of ours."""
    if not message_ids:
        return False
    stmt = select(OutboxEntry.id).where(
        OutboxEntry.message_id.in_(list(message_ids)),  # type: ignore[attr-defined]
        OutboxEntry.delivered_ms.is_not(None),  # type: ignore[union-attr]
        OutboxEntry.delivered_ms > 0,  # type: ignore[operator]
        OutboxEntry.last_error == "",
    )
    return session.scalar(stmt.limit(1)) is not None


def set_refusal(session: Session, agreement_id: bytes, refusal: Mapping[str, Any] | None, *, now_ms: int) -> None:
    session.execute(
        update(Agreement)
        .where(Agreement.id == agreement_id)  # type: ignore[arg-type]
        .values(refusal=None if refusal is None else json.dumps(refusal, ensure_ascii=False), updated_ms=now_ms)
    )


def listing(session: Session, *, limit: int = 500) -> list[Agreement]:
    stmt = select(Agreement).order_by(Agreement.updated_ms.desc()).limit(limit)  # type: ignore[attr-defined]
    return list(session.scalars(stmt))


# ---- bookings: the owner's calendar -------------------------------------------------------------


def hold(
    session: Session,
    agreement_id: bytes,
    *,
    resource: str,
    start_ms: int,
    end_ms: int,
    quantity: int,
    state: str,
    expires_ms: int | None = None,
) -> None:
    """Make an agreement hold (or keep holding) part of a resource's stock."""
    row = session.get(Booking, agreement_id) or Booking(
        agreement_id=agreement_id, resource=resource, start_ms=start_ms, end_ms=end_ms, quantity=quantity, state=state
    )
    row.resource, row.start_ms, row.end_ms, row.quantity = resource, start_ms, end_ms, quantity
    row.state, row.expires_ms = state, expires_ms
    session.add(row)


def release(session: Session, agreement_id: bytes) -> None:
    session.execute(delete(Booking).where(Booking.agreement_id == agreement_id))  # type: ignore[arg-type]


def bookings(
    session: Session, resource: str, *, start_ms: int, end_ms: int, now_ms: int, exclude: bytes | None = None
) -> list[Booking]:
    """Bookings of a resource that overlap [start, end) and still hold stock at ``now_ms``."""
    stmt = select(Booking).where(
        Booking.resource == resource,
        Booking.end_ms > start_ms,  # type: ignore[operator]
        Booking.start_ms < end_ms,  # type: ignore[operator]
        or_(Booking.expires_ms.is_(None), Booking.expires_ms > now_ms),  # type: ignore[union-attr, operator]
    )
    if exclude is not None:
        stmt = stmt.where(Booking.agreement_id != exclude)  # type: ignore[arg-type]
    return list(session.scalars(stmt.order_by(Booking.start_ms)))  # type: ignore[arg-type]


def all_bookings(session: Session, resource: str | None = None) -> list[Booking]:
    stmt = select(Booking)
    if resource is not None:
        stmt = stmt.where(Booking.resource == resource)
    return list(session.scalars(stmt.order_by(Booking.start_ms)))  # type: ignore[arg-type]


# ---- outbox: events on their way to peers ------------------------------------------------------


def enqueue(session: Session, peer: str, agreement_id: bytes, message_id: bytes, envelope: bytes, *, now_ms: int) -> None:
    session.add(
        OutboxEntry(
            peer=peer,
            agreement_id=agreement_id,
            message_id=message_id,
            envelope=envelope,
            created_ms=now_ms,
            next_attempt_ms=now_ms,
        )
    )


def due(session: Session, *, now_ms: int, limit: int = 100) -> list[OutboxEntry]:
    """Undelivered entries whose next attempt has come, oldest first (chain order per agreement)."""
    stmt = (
        select(OutboxEntry)
        .where(OutboxEntry.delivered_ms.is_(None), OutboxEntry.next_attempt_ms <= now_ms)  # type: ignore[union-attr, operator]
        .order_by(OutboxEntry.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    return list(session.scalars(stmt))


def pending(session: Session, peer: str | None = None) -> list[OutboxEntry]:
    stmt = select(OutboxEntry).where(OutboxEntry.delivered_ms.is_(None))  # type: ignore[union-attr]
    if peer is not None:
        stmt = stmt.where(OutboxEntry.peer == peer)
    return list(session.scalars(stmt.order_by(OutboxEntry.id)))  # type: ignore[arg-type]


def pending_count(session: Session, agreement_id: bytes) -> int:
    """How many of this agreement's events still wait to reach the other party."""
    stmt = select(func.count()).where(
        OutboxEntry.agreement_id == agreement_id, OutboxEntry.delivered_ms.is_(None)  # type: ignore[arg-type, union-attr]
    )
    return int(session.scalar(stmt) or 0)


def delivered(session: Session, entry_ids: Sequence[int], *, now_ms: int) -> None:
    if entry_ids:
        session.execute(
            update(OutboxEntry).where(OutboxEntry.id.in_(entry_ids)).values(delivered_ms=now_ms)  # type: ignore[union-attr]
        )


def delivered_events(session: Session, peer: str, message_ids: Sequence[bytes], *, now_ms: int) -> None:
    """The peer holds these events (it sent or acknowledged them): nothing left to deliver."""
    if message_ids:
        session.execute(
            update(OutboxEntry)
            .where(
                and_(OutboxEntry.peer == peer, OutboxEntry.message_id.in_(list(message_ids))),  # type: ignore[attr-defined]
                OutboxEntry.delivered_ms.is_(None),  # type: ignore[union-attr]
            )
            .values(delivered_ms=now_ms)
        )


def failed(session: Session, entry_id: int, error: str, *, now_ms: int, final: bool = False) -> None:
    """A delivery attempt failed: retry later with backoff, or give up when the peer refused for good."""
    row = session.get(OutboxEntry, entry_id)
    if row is None:
        return
    row.attempts += 1
    row.last_error = error[:500]
    if final:
        row.delivered_ms = now_ms  # a refusal is an answer: stop retrying, the agreement shows why
    else:
        row.next_attempt_ms = now_ms + OUTBOX_BACKOFF_MS[min(row.attempts - 1, len(OUTBOX_BACKOFF_MS) - 1)]
    session.add(row)


def wake(session: Session, peer: str, *, now_ms: int) -> None:
    """A peer came back: retry what waits for it now rather than at its backoff time."""
    session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.peer == peer, OutboxEntry.delivered_ms.is_(None))  # type: ignore[union-attr]
        .values(next_attempt_ms=now_ms)
    )
