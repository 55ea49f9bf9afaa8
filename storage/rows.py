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
    public: bool  # served to anyone
    scope: str  # public | federation | private
    kind: str | None
    title: str
    search_text: str  # accent-folded, lower-case words
    lat: int | None
    lon: int | None
    federations: tuple[str, ...] = ()  # sorted; stored apart, in record_federations (not a column)

    @property
    def key(self) -> tuple[str, str]:
        return (self.author, self.record_id)

    @property
    def version(self) -> tuple[int, bytes]:
        return (self.issued_at, self.message_id)

    def columns(self) -> dict[str, object]:
        """The values of the ``records`` table's columns."""
        values: dict[str, object] = self._asdict()
        del values["federations"]
        return values


def row_of(record: Record) -> RecordRow:
    body = record.body
    envelope = record.envelope
    location = getattr(body, "location", None)
    scope = record.scope
    return RecordRow(
        author=record.author,
        record_id=record.record_id,
        rtype=record.type,
        issued_at=envelope.issued_at,
        message_id=envelope.message_id,
        envelope=envelope.raw,
        public=record.is_public,
        scope=scope.visibility.value,
        kind=getattr(body, "kind", None),
        title=getattr(body, "title", None) or getattr(body, "name", None) or "",
        search_text=fold(" ".join(str(v) for f in _SEARCH_FIELDS if (v := getattr(body, f, None)))),
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
        federations=tuple(sorted(scope.federations)),
    )
