"""Real signed records for tests (real keys, real signatures)."""

from __future__ import annotations

from typing import Any

from protocol import Record, SigningKey, parse_record, seal

T0 = 1_764_140_000_000  # 2025-11-26T07:33:20Z, a fixed "now" for pure tests


def record(key: SigningKey, rtype: str, body: dict[str, Any], *, at: int = T0) -> Record:
    return parse_record(seal(key, rtype, body, now_ms=at), now_ms=at)


def resource(key: SigningKey, record_id: str, title: str, *, at: int = T0, **fields: Any) -> Record:
    body = {"id": record_id, "kind": fields.pop("kind", "equipment"), "title": title, **fields}
    return record(key, "resource", body, at=at)


def tombstone(key: SigningKey, record_id: str, *, at: int) -> Record:
    return record(key, "tombstone", {"id": record_id}, at=at)


def descriptor(key: SigningKey, name: str, *, at: int = T0, endpoints: tuple[str, ...] = ()) -> Record:
    body = {
        "id": "node",
        "name": name,
        "endpoints": list(endpoints),
        "protocols": [1],
        "keys": [{"key": key.node_id, "since": 0}],
    }
    return record(key, "descriptor", body, at=at)
