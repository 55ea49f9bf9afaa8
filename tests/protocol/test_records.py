"""Catalogue records: bodies, parse_record, versions."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import (
    InvalidMessage,
    SigningKey,
    Stale,
    UnknownType,
    open_envelope,
    parse_record,
    seal,
    supersedes,
    version_of,
)
from protocol.keys import certify
from protocol.records import RECORD_TYPES, Scope, Visibility, descriptor_endpoints

FOOD = SigningKey.from_seed(b"\x11" * 32)
CLUB = SigningKey.from_seed(b"\x22" * 32)
FOOD_ROTATED = SigningKey.from_seed(b"\x33" * 32)
ROTATION_CERT = certify(FOOD, FOOD.node_id, FOOD_ROTATED.key_id, 10)
T0 = 1_767_225_600_000
MIN = 60_000

MINIBUS = {"id": "minibus-9", "kind": "vehicle", "title": "Minibus 9 places"}
F = "5e1f0c9a2b7d4e3f8a6b1c2d3e4f5061"  # federation ids: 16 bytes in lowercase hex
G = "a0b1c2d3e4f5061728394a5b6c7d8e9f"
SCOPED = {"visibility": "federation", "federations": [F]}


def descriptor(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "node",
        "name": "Banque alimentaire",
        "endpoints": ["https://ba.exemple.org/"],
        "protocols": [1],
        "keys": [{"key": FOOD.node_id, "since": 0}],
    }
    body.update(changes)
    return body


VALID: list[tuple[str, dict[str, Any]]] = [
    ("descriptor", descriptor()),
    (
        "descriptor",
        descriptor(
            description="Aide alimentaire",
            territory="Bondy",
            location={"lat": 48900000, "lon": 2480000},
            contact="contact@ba.exemple.org",
            endpoints=[],
            protocols=[1, 2],
            keys=[
                {"key": FOOD.node_id, "since": 5, "until": 10},
                {"key": FOOD_ROTATED.key_id, "since": 10, "cert": ROTATION_CERT},
            ],
        ),
    ),
    ("resource", MINIBUS),
    (
        "resource",
        {
            **MINIBUS,
            "description": "Permis B",
            "category": "transport",
            "quantity": 1,
            "unit": "véhicule",
            "location": {"lat": -90_000_000, "lon": 180_000_000},
            "visibility": "private",
            "conditions": "Plein fait",
            "replacement_value": {"amount": 10**15, "currency": "EUR"},
        },
    ),
    ("resource", {"id": "a", "kind": "equipment", "title": "x"}),
    ("resource", {"id": "Z9_.-" + "a" * 59, "kind": "space", "title": "t" * 200}),
    ("resource", {"id": "graphisme", "kind": "skill", "title": "Graphisme", "quantity": 4, "unit": "h/mois"}),
    ("resource", {"id": "autre", "kind": "other", "title": "Autre", "description": "d" * 5000}),
    ("offer", {**MINIBUS, "id": "o1", "resource": "minibus-9", "valid_until": 2**53 - 1}),
    ("need", {**MINIBUS, "id": "n1", "quantity": 10**9, "unit": "kg"}),
    ("resource", {**MINIBUS, **SCOPED}),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [f"{i:032x}" for i in range(8)]}),
    ("offer", {**MINIBUS, "id": "o2", "visibility": "federation", "federations": [G, F]}),
    ("need", {**MINIBUS, "id": "n2", **SCOPED}),
    ("tombstone", {"id": "minibus-9"}),
    ("tombstone", {"id": "minibus-9", **SCOPED}),
    ("tombstone", {"id": "minibus-9", "visibility": "private"}),
    ("denylist", {"id": "denylist", "entries": []}),
    ("denylist", {"id": "denylist", "entries": [{"node": "a" * 52, "since": 0, "reason": "usurpation"}]}),
]

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("resource", {**MINIBUS, "colour": "white"}, "colour"),
    ("resource", {**MINIBUS, "description": None}, "nil"),
    ("resource", {**MINIBUS, "quantity": "1"}, "quantity"),
    ("resource", {**MINIBUS, "quantity": True}, "quantity"),
    ("resource", {**MINIBUS, "quantity": 0}, "quantity"),
    ("resource", {**MINIBUS, "quantity": 10**9 + 1}, "quantity"),
    ("resource", {**MINIBUS, "kind": "car"}, "kind"),
    ("resource", {**MINIBUS, "kind": "vehicles"}, "kind"),
    ("resource", {**MINIBUS, "kind": " vehicle"}, "kind"),
    ("resource", {**MINIBUS, "visibility": "members"}, "visibility"),
    ("resource", {**MINIBUS, "visibility": "federation"}, "federations: required"),
    ("resource", {**MINIBUS, "visibility": "public", "federations": [F]}, "federations: only allowed"),
    ("resource", {**MINIBUS, "visibility": "private", "federations": [F]}, "federations: only allowed"),
    ("resource", {**MINIBUS, "federations": [F]}, "federations: only allowed"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": []}, "federations"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": F}, "federations"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [F, F]}, "listed twice"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [f"{i:032x}" for i in range(9)]},
     "federations"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [F.upper()]}, "federations.0"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [F[:30]]}, "federations.0"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [F + "00"]}, "federations.0"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": [bytes.fromhex(F)]}, "federations.0"),
    ("resource", {**MINIBUS, "visibility": "federation", "federations": ["x" * 32]}, "federations.0"),
    ("offer", {**MINIBUS, "visibility": "federation"}, "federations"),
    ("need", {**MINIBUS, "federations": [F]}, "federations"),
    ("resource", {"id": "a", "kind": "other"}, "title"),
    ("resource", {**MINIBUS, "title": ""}, "title"),
    ("resource", {**MINIBUS, "title": "t" * 201}, "title"),
    ("resource", {**MINIBUS, "unit": ""}, "unit"),
    ("resource", {**MINIBUS, "category": "c" * 101}, "category"),
    ("resource", {**MINIBUS, "id": "mini bus"}, "id"),
    ("resource", {**MINIBUS, "id": "../etc"}, "id"),
    ("resource", {**MINIBUS, "id": "a" * 65}, "id"),
    ("resource", {**MINIBUS, "id": ""}, "id"),
    ("resource", {**MINIBUS, "location": {"lat": 90_000_001, "lon": 0}}, "lat"),
    ("resource", {**MINIBUS, "location": {"lat": 0, "lon": -180_000_001}}, "lon"),
    ("resource", {**MINIBUS, "location": {"lat": 0, "lon": 0, "alt": 0}}, "alt"),
    ("resource", {**MINIBUS, "location": {"lat": 0, "lon": None}}, "location.lon"),
    ("resource", {**MINIBUS, "replacement_value": {"amount": 1, "currency": "eur"}}, "currency"),
    ("resource", {**MINIBUS, "replacement_value": {"amount": 1, "currency": "xEURx"}}, "currency"),
    ("resource", {**MINIBUS, "replacement_value": {"amount": 10**15 + 1, "currency": "EUR"}}, "amount"),
    ("resource", {**MINIBUS, "valid_until": 1}, "valid_until"),
    ("offer", {**MINIBUS, "resource": "a/b"}, "resource"),
    ("need", {**MINIBUS, "valid_until": -1}, "valid_until"),
    ("tombstone", {"id": "minibus-9", "kind": "vehicle"}, "kind"),
    ("tombstone", {}, "id"),
    ("tombstone", {"id": "denylist"}, "reserved"),
    ("tombstone", {"id": "minibus-9", "visibility": "federation"}, "federations"),
    ("denylist", {"id": "deny", "entries": []}, "id"),
    ("denylist", {"id": "denylist", "entries": [{"node": "a" * 52}]}, "since"),
    ("descriptor", descriptor(id="noeud"), "id"),
    ("descriptor", descriptor(name=""), "name"),
    ("descriptor", descriptor(contact="c" * 201), "contact"),
    ("descriptor", descriptor(endpoints=["ftp://x.org/"]), "endpoints"),
    ("descriptor", descriptor(endpoints=["javascript:alert(1)//http://x.org"]), "endpoints"),
    ("descriptor", descriptor(endpoints=["http://x.org/#frag"]), "endpoints"),
    ("descriptor", descriptor(endpoints=["http://x.org/"] * 9), "endpoints"),
    ("descriptor", descriptor(protocols=[]), "protocols"),
    ("descriptor", descriptor(protocols=[0]), "protocols"),
    ("descriptor", descriptor(keys=[]), "keys"),
    ("descriptor", descriptor(keys=[{"key": "x" * 52, "since": 0}]), "key"),
    ("descriptor", descriptor(keys=[{"key": FOOD.node_id[:-1] + "7", "since": 0}]), "key"),
    ("descriptor", descriptor(keys=[{"key": FOOD.node_id}]), "since"),
    ("descriptor", descriptor(keys=[{"key": CLUB.node_id, "since": 0}]), "first key"),
    (
        "descriptor",
        descriptor(keys=[{"key": FOOD.node_id, "since": 5, "until": 10}, {"key": FOOD_ROTATED.key_id, "since": 10}]),
        "certificate",
    ),
    (
        "descriptor",
        descriptor(
            keys=[
                {"key": FOOD.node_id, "since": 5, "until": 11},
                {"key": FOOD_ROTATED.key_id, "since": 10, "cert": ROTATION_CERT},
            ]
        ),
        "ends exactly",
    ),
]


def record(t: str, body: dict[str, Any], *, key: SigningKey = FOOD, iat: int = T0, **kw: Any) -> Any:
    return open_envelope(seal(key, t, body, now_ms=iat, **kw).raw)


@pytest.mark.parametrize(("t", "body"), VALID)
def test_valid_records(t: str, body: dict[str, Any]) -> None:
    rec = parse_record(record(t, body), now_ms=T0)
    assert rec.type == t and rec.author == FOOD.node_id and rec.record_id == body["id"]
    assert isinstance(rec.body, RECORD_TYPES[t])
    assert rec.body.to_wire() == record(t, body).body  # nothing added, nothing lost


@pytest.mark.parametrize(("t", "body", "field"), INVALID)
def test_invalid_records(t: str, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        parse_record(record(t, body), now_ms=T0)
    assert field in str(info.value)
    assert info.value.code == "invalid"


def test_every_record_type_is_covered() -> None:
    assert {t for t, _ in VALID} == set(RECORD_TYPES) == {t for t, _, _ in INVALID}


def test_visibility() -> None:
    assert parse_record(record("resource", MINIBUS), now_ms=T0).is_public
    assert parse_record(record("resource", {**MINIBUS, "visibility": "public"}), now_ms=T0).is_public
    assert not parse_record(record("resource", {**MINIBUS, "visibility": "private"}), now_ms=T0).is_public
    assert not parse_record(record("resource", {**MINIBUS, **SCOPED}), now_ms=T0).is_public


def test_scope_says_who_may_hold_a_record() -> None:
    def scope_of(t: str, body: dict[str, Any]) -> Scope:
        return parse_record(record(t, body), now_ms=T0).scope

    assert scope_of("resource", MINIBUS) == Scope(Visibility.PUBLIC)
    assert scope_of("descriptor", descriptor()) == Scope(Visibility.PUBLIC)
    assert scope_of("resource", {**MINIBUS, "visibility": "private"}) == Scope(Visibility.PRIVATE)
    both = scope_of("offer", {**MINIBUS, "visibility": "federation", "federations": [G, F]})
    assert both == Scope(Visibility.FEDERATION, frozenset({F, G}))
    assert scope_of("tombstone", {"id": "x", **SCOPED}) == Scope(Visibility.FEDERATION, frozenset({F}))
    assert not Scope(Visibility.PRIVATE).travels and both.travels and Scope(Visibility.PUBLIC).travels


def test_a_scope_may_widen_never_narrow() -> None:
    public, private = Scope(Visibility.PUBLIC), Scope(Visibility.PRIVATE)
    in_f = Scope(Visibility.FEDERATION, frozenset({F}))
    in_f_and_g = Scope(Visibility.FEDERATION, frozenset({F, G}))
    in_g = Scope(Visibility.FEDERATION, frozenset({G}))
    widening = [(public, in_f), (public, private), (in_f, private), (in_f_and_g, in_f), (in_f, in_f),
                (private, private)]
    narrowing = [(in_f, public), (private, public), (private, in_f), (in_f, in_f_and_g), (in_g, in_f)]
    assert all(new.covers(old) for new, old in widening)
    assert not any(new.covers(old) for new, old in narrowing)


def test_descriptor_endpoints() -> None:
    rec = parse_record(record("descriptor", descriptor()), now_ms=T0)
    assert descriptor_endpoints(rec) == ("https://ba.exemple.org/",)
    with pytest.raises(InvalidMessage):
        descriptor_endpoints(parse_record(record("resource", MINIBUS), now_ms=T0))


def test_unknown_record_type() -> None:
    for t in ["event", "hello", "changes-reply"]:
        with pytest.raises(UnknownType):
            parse_record(record(t, MINIBUS), now_ms=T0)


def test_records_carry_no_audience() -> None:
    with pytest.raises(InvalidMessage, match="audience"):
        parse_record(record("resource", MINIBUS, audience=[CLUB.node_id]), now_ms=T0)


def test_future_dated_records_are_refused_past_the_skew() -> None:
    parse_record(record("resource", MINIBUS, iat=T0 + 2 * MIN), now_ms=T0)
    with pytest.raises(Stale) as info:
        parse_record(record("resource", MINIBUS, iat=T0 + 2 * MIN + 1), now_ms=T0)
    assert info.value.details["delta_ms"] == 2 * MIN + 1
    parse_record(record("resource", MINIBUS, iat=T0 + 10 * MIN), now_ms=T0, future_ms=10 * MIN)


def test_old_records_stay_valid() -> None:
    # Records are documents, not messages: age does not make them stale.
    rec = parse_record(record("resource", MINIBUS, iat=0), now_ms=T0)
    assert rec.version[0] == 0


# ---------------------------------------------------------------------------
# versions


def test_newest_issue_time_wins() -> None:
    old = record("resource", MINIBUS, iat=T0)
    new = record("resource", {**MINIBUS, "title": "Nouveau"}, iat=T0 + 1)
    assert version_of(new) > version_of(old)
    assert supersedes(version_of(new), version_of(old))
    assert not supersedes(version_of(old), version_of(new))
    # iat dominates: an older version wins no tie-break, whatever its message id.
    assert supersedes((T0 + 1, b"\x00" * 32), (T0, b"\xff" * 32))


def test_tie_on_issue_time_is_broken_by_the_larger_message_id() -> None:
    versions = [record("resource", {**MINIBUS, "title": f"v{i}"}, iat=T0) for i in range(8)]
    ids = [v.message_id for v in versions]
    assert len(set(ids)) == 8
    winner = max(versions, key=version_of)
    assert winner.message_id == max(ids)  # bytes compare unsigned, lexicographically
    for v in versions:
        if v is not winner:
            assert supersedes(version_of(winner), version_of(v))
            assert not supersedes(version_of(v), version_of(winner))


def test_a_version_does_not_supersede_itself() -> None:
    v = version_of(record("resource", MINIBUS))
    assert not supersedes(v, v)


def test_tombstone_supersedes_and_older_versions_do_not_resurrect() -> None:
    res = record("resource", MINIBUS, iat=T0)
    tomb = record("tombstone", {"id": "minibus-9"}, iat=T0 + 1)
    late = record("resource", {**MINIBUS, "title": "ancien"}, iat=T0 - 1)
    held = None
    for env in [res, tomb, late]:
        rec = parse_record(env, now_ms=T0)
        if held is None or supersedes(rec.version, held.version):
            held = rec
    assert held is not None and held.type == "tombstone"
    assert held.body.to_wire() == {"id": "minibus-9"}  # a tombstone carries no content
