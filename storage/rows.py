"""The stored form of a verified record: the envelope bytes plus columns derived from them.

Pure (no database): it is computed where records are verified, possibly in
another process, and handed to ``records.ingest``.
"""

from __future__ import annotations

from typing import NamedTuple

from protocol import Record

from .text import fold

_SEARCH_FIELDS = ("title", "description", "category", "conditions", "unit")


class RecordRow(NamedTuple):
    author: str
    record_id: str
    rtype: str
    issued_at: int
    message_id: bytes
    envelope: bytes
    public: bool
    kind: str | None
    title: str
    search_text: str  # accent-folded, lower-case words
    lat: int | None
    lon: int | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.author, self.record_id)

    @property
    def version(self) -> tuple[int, bytes]:
        return (self.issued_at, self.message_id)


def row_of(record: Record) -> RecordRow:
    body = record.body
    envelope = record.envelope
    location = getattr(body, "location", None)
    return RecordRow(
        author=record.author,
        record_id=record.record_id,
        rtype=record.type,
        issued_at=envelope.issued_at,
        message_id=envelope.message_id,
        envelope=envelope.raw,
        public=record.is_public,
        kind=getattr(body, "kind", None),
        title=getattr(body, "title", None) or getattr(body, "name", None) or "",
        search_text=fold(" ".join(str(v) for f in _SEARCH_FIELDS if (v := getattr(body, f, None)))),
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
    )
