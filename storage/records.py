"""Catalogue records: bulk ingest of verified versions, the change feed, search.

Ingest is the hot path of replication: it goes through SQLAlchemy Core with
one round trip per step (read current versions, allocate sequence numbers,
insert, update), never row by row through the ORM.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, func, insert, or_, select, update
from sqlmodel import Session

from protocol import Record, decode, supersedes

from .counters import allocate
from .models import CatalogueRecord, FederationMember, RecordFederation
from .rows import RecordRow, row_of
from .text import fold, words

T = CatalogueRecord.__table__
RF = RecordFederation.__table__
FM = FederationMember.__table__
SEARCHABLE_TYPES = ("resource", "offer", "need")
KM_PER_DEGREE = 111.32


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int  # versions newer than what we held (new records included)
    unchanged: int  # versions we already held, or older ones
    stored_envelopes: tuple[bytes, ...] = field(default=(), compare=False)  # the newer versions, to pass on


@dataclass(frozen=True, slots=True)
class ChangePage:
    records: list[bytes]
    next: int
    more: bool


@dataclass(frozen=True, slots=True)
class SearchHit:
    author: str
    author_name: str
    record_id: str
    rtype: str
    body: dict[str, Any]
    issued_at: int
    score: int
    distance_km: float | None


def ingest(session: Session, items: Sequence[Record | RecordRow], *, now_ms: int) -> IngestResult:
    """Store each record version that is newer than the one we hold, in the caller's transaction."""
    newest: dict[tuple[str, str], RecordRow] = {}
    for item in items:
        row = item if isinstance(item, RecordRow) else row_of(item)
        held = newest.get(row.key)
        if held is None or supersedes(row.version, held.version):
            newest[row.key] = row
    if not newest:
        return IngestResult(0, len(items))
    # author IN (…) AND record_id IN (…) is answered from the primary key index on
    # SQLite and PostgreSQL alike (a row-value IN makes SQLite scan the table);
    # the few cross-product rows it may add are dropped here.
    current: dict[tuple[str, str], tuple[int, bytes]] = {}
    scoped_before: set[tuple[str, str]] = set()  # held versions that have rows in record_federations
    for author, record_id, issued_at, message_id, scope in session.execute(
        select(T.c.author, T.c.record_id, T.c.issued_at, T.c.message_id, T.c.scope).where(
            T.c.author.in_({a for a, _ in newest}), T.c.record_id.in_({r for _, r in newest})
        )
    ):
        if (author, record_id) in newest:
            current[(author, record_id)] = (issued_at, message_id)
            if scope == "federation":
                scoped_before.add((author, record_id))
    fresh = [r for k, r in newest.items() if k not in current]
    newer = [r for k, r in newest.items() if k in current and supersedes(r.version, current[k])]
    winners = fresh + newer
    if not winners:
        return IngestResult(0, len(items))
    first_seq = allocate(session, "records", len(winners))
    values = [{**row.columns(), "seq": first_seq + i, "received_ms": now_ms} for i, row in enumerate(winners)]
    if fresh:
        session.execute(insert(T), values[: len(fresh)])
    if newer:
        session.execute(
            update(T)
            .where(and_(T.c.author == bindparam("b_author"), T.c.record_id == bindparam("b_record_id")))
            .values({c: bindparam(c) for c in values[0] if c not in ("author", "record_id")}),
            [{**v, "b_author": v["author"], "b_record_id": v["record_id"]} for v in values[len(fresh) :]],
        )
    _link_federations(session, winners, replaced=[r.key for r in newer if r.key in scoped_before])
    return IngestResult(len(winners), len(items) - len(winners), tuple(row.envelope for row in winners))


def _link_federations(session: Session, winners: Sequence[RecordRow], *, replaced: Sequence[tuple[str, str]]) -> None:
    """Keep record_federations in step with the versions just stored (rows only for federation scopes)."""
    if replaced:
        session.execute(
            delete(RF).where(RF.c.author == bindparam("b_author"), RF.c.record_id == bindparam("b_record_id")),
            [{"b_author": author, "b_record_id": record_id} for author, record_id in replaced],
        )
    links = [
        {"author": row.author, "record_id": row.record_id, "federation_id": federation}
        for row in winners
        for federation in row.federations
    ]
    if links:
        session.execute(insert(RF), links)


def visible_to(peer: str | None) -> ColumnElement[bool]:
    """SQL condition: records we may hand to ``peer`` (None: to anyone, so public ones only).

    Public records, and federation-scoped ones when the peer is a member of one
    of their federations per our federation_members table; never private ones.
    """
    if peer is None:
        return T.c.public
    member = exists().where(
        RF.c.author == T.c.author,
        RF.c.record_id == T.c.record_id,
        FM.c.federation_id == RF.c.federation_id,
        FM.c.node_id == peer,
    )
    return or_(T.c.public, and_(T.c.scope == "federation", member))


def changes_since(session: Session, since: int, *, limit: int, max_bytes: int, peer: str | None = None) -> ChangePage:
    """Record versions we may hand to ``peer`` with a sequence number above ``since``, in order,
    bounded in count and bytes."""
    rows = session.execute(
        select(T.c.seq, T.c.envelope).where(T.c.seq > since, visible_to(peer)).order_by(T.c.seq).limit(limit + 1)
    ).all()
    page: list[bytes] = []
    size = 0
    cursor = since
    for seq, envelope in rows[:limit]:
        if page and size + len(envelope) > max_bytes:
            return ChangePage(page, cursor, True)
        page.append(envelope)
        size += len(envelope)
        cursor = seq
    return ChangePage(page, cursor, len(rows) > limit)


def versions_for(session: Session, peer: str | None) -> list[tuple[int, bytes]]:
    """(issue time, message id) of every record version we may hand to ``peer``: the set we reconcile with it."""
    rows = session.execute(select(T.c.issued_at, T.c.message_id).where(visible_to(peer)))
    return [(t, bytes(m)) for t, m in rows]


def visible_message_ids(session: Session, peer: str | None, message_ids: Iterable[bytes]) -> set[bytes]:
    """Those of these message ids whose versions we hold and may hand to ``peer``."""
    wanted = sorted(set(message_ids))
    found: set[bytes] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(select(T.c.message_id).where(T.c.message_id.in_(chunk), visible_to(peer)))
        found.update(bytes(m) for (m,) in rows)
    return found


def envelopes_for(
    session: Session,
    peer: str | None,
    message_ids: Iterable[bytes],
    *,
    max_bytes: int | None = None,
    max_count: int | None = None,
) -> tuple[list[bytes], bool]:
    """The envelopes with these message ids that we may hand to ``peer``, within the budgets if given;
    True if some did not fit."""
    wanted = sorted(message_ids)
    found: list[bytes] = []
    size = 0
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for (envelope,) in session.execute(select(T.c.envelope).where(T.c.message_id.in_(chunk), visible_to(peer))):
            over_bytes = max_bytes is not None and size + len(envelope) > max_bytes
            if found and (over_bytes or len(found) == max_count):
                return found, True
            found.append(envelope)
            size += len(envelope)
    return found, False


def get(session: Session, author: str, record_id: str) -> CatalogueRecord | None:
    return session.get(CatalogueRecord, (author, record_id))


def list_by_author(session: Session, author: str, *, include_tombstones: bool = False) -> list[CatalogueRecord]:
    stmt = select(CatalogueRecord).where(CatalogueRecord.author == author)
    if not include_tombstones:
        stmt = stmt.where(CatalogueRecord.rtype != "tombstone")
    return list(session.scalars(stmt.order_by(CatalogueRecord.record_id)))


def federations_of_record(session: Session, author: str, record_id: str) -> tuple[str, ...]:
    """The federations the version we hold of a federation-scoped record is meant for, sorted (empty otherwise)."""
    rows = session.scalars(
        select(RF.c.federation_id)
        .where(RF.c.author == author, RF.c.record_id == record_id)
        .order_by(RF.c.federation_id)
    )
    return tuple(rows)


def count(session: Session, *, public_only: bool = False) -> int:
    stmt = select(func.count()).select_from(T)
    if public_only:
        stmt = stmt.where(T.c.public)
    return int(session.scalar(stmt) or 0)


def body_of(envelope: bytes) -> dict[str, Any]:
    """The body of a stored envelope (it was verified when it was ingested)."""
    return dict(decode(decode(envelope)["p"])["body"])


def author_names(session: Session, authors: Iterable[str]) -> dict[str, str]:
    """Association names from the authors' signed descriptors."""
    authors = list(set(authors))
    if not authors:
        return {}
    rows = session.execute(
        select(T.c.author, T.c.title).where(T.c.rtype == "descriptor", T.c.author.in_(authors))
    )
    return {author: title for author, title in rows}


def search(
    session: Session,
    query: str,
    *,
    kind: str | None = None,
    near: tuple[int, int] | None = None,
    radius_km: float | None = None,
    limit: int = 50,
    candidates: int = 2000,
) -> list[SearchHit]:
    """Full-text search over resources, offers and needs, accent-folded and ranked.

    Every query word must occur (as a word prefix or inside a word); words found
    in the title weigh more. ``near`` is (lat, lon) in micro-degrees; with
    ``radius_km`` only records within that distance are kept, nearest first on ties.
    """
    terms = words(query)
    stmt = select(CatalogueRecord).where(CatalogueRecord.rtype.in_(SEARCHABLE_TYPES))
    for term in terms:
        stmt = stmt.where(CatalogueRecord.search_text.like(f"%{term}%"))
    if kind:
        stmt = stmt.where(CatalogueRecord.kind == kind)
    if near is not None and radius_km is not None:
        lat, lon = near
        dlat = radius_km / KM_PER_DEGREE * 1e6
        dlon = dlat / max(math.cos(math.radians(lat / 1e6)), 0.01)
        stmt = stmt.where(
            CatalogueRecord.lat.between(int(lat - dlat), int(lat + dlat)),  # type: ignore[union-attr]
            CatalogueRecord.lon.between(int(lon - dlon), int(lon + dlon)),  # type: ignore[union-attr]
        )
    rows = list(session.scalars(stmt.order_by(CatalogueRecord.issued_at.desc()).limit(candidates)))  # type: ignore[attr-defined]
    names = author_names(session, (r.author for r in rows))
    hits: list[SearchHit] = []
    for row in rows:
        distance = None
        if near is not None and row.lat is not None and row.lon is not None:
            distance = haversine_km(near, (row.lat, row.lon))
            if radius_km is not None and distance > radius_km:
                continue
        elif radius_km is not None:
            continue
        hits.append(
            SearchHit(
                author=row.author,
                author_name=names.get(row.author, ""),
                record_id=row.record_id,
                rtype=row.rtype,
                body=body_of(row.envelope),
                issued_at=row.issued_at,
                score=_score(terms, fold(row.title), row.search_text),
                distance_km=distance,
            )
        )
    hits.sort(key=lambda h: (-h.score, h.distance_km if h.distance_km is not None else math.inf, -h.issued_at))
    return hits[:limit]


def _score(terms: list[str], title: str, text: str) -> int:
    title_words = title.split()
    text_words = text.split()
    score = 0
    for term in terms:
        if term in title_words:
            score += 4
        elif any(w.startswith(term) for w in title_words):
            score += 3
        elif term in text_words:
            score += 2
        else:
            score += 1
    if len(terms) > 1 and " ".join(terms) in title:
        score += 2
    return score


def haversine_km(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Great-circle distance between two (lat, lon) points given in micro-degrees."""
    lat1, lon1, lat2, lon2 = (math.radians(v / 1e6) for v in (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))
