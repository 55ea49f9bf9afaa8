"""Signed envelopes, freshness, audience, and request/reply binding."""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack
import pytest

from protocol import (
    DEFAULT_WINDOW,
    SIGNING_PREFIX,
    BadSignature,
    FreshnessWindow,
    InvalidMessage,
    Limits,
    LocalProtocolError,
    NonCanonical,
    SigningKey,
    Stale,
    TooLarge,
    UnknownType,
    WrongAudience,
    check_fresh,
    check_message,
    decode,
    encode,
    message_id,
    open_envelope,
    parse_message,
    parse_reply,
    seal,
)
from protocol.identity import verify_signature
from protocol.messages import MESSAGE_TYPES, REPLY_TYPES

ALICE = SigningKey.from_seed(b"\x01" * 32)  # the requester
BOB = SigningKey.from_seed(b"\x02" * 32)  # the node asked
CAROL = SigningKey.from_seed(b"\x03" * 32)
T0 = 1_767_225_600_000
MIN = 60_000


def request(body: dict[str, Any] | None = None, *, t: str = "changes", iat: int = T0, aud: list[str] | None = None) -> Any:
    return seal(ALICE, t, body or {"since": 0, "limit": 10}, now_ms=iat, audience=aud or [BOB.node_id])


def signed(payload: Any) -> bytes:
    data = encode(payload)
    return encode({"p": data, "s": ALICE.sign(SIGNING_PREFIX + data)})


def base_payload(**changes: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"v": 1, "t": "x", "iss": ALICE.node_id, "iat": T0, "nonce": bytes(16), "body": {}}
    p.update(changes)
    return {k: v for k, v in p.items() if v is not ...}


# ---------------------------------------------------------------------------
# seal and open


def test_seal_produces_the_documented_layout() -> None:
    env = request()
    outer = msgpack.unpackb(env.raw, raw=False)
    assert list(outer) == ["p", "s"] and outer["p"] == env.payload_bytes and outer["s"] == env.signature
    assert env.raw[:3] == b"\x82\xa1p"
    assert env.raw[-68:-64] == b"\xa1s\xc4\x40"
    assert env.message_id == hashlib.sha256(env.payload_bytes).digest() == message_id(env.payload_bytes)
    assert verify_signature(ALICE.public_raw, env.signature, SIGNING_PREFIX + env.payload_bytes)
    assert not verify_signature(ALICE.public_raw, env.signature, env.payload_bytes)  # the prefix is signed too
    payload = decode(env.payload_bytes)
    assert list(payload) == ["aud", "body", "iat", "iss", "nonce", "t", "v"]
    assert payload["aud"] == (BOB.node_id,) and payload["iss"] == ALICE.node_id and payload["v"] == 1
    assert len(payload["nonce"]) == 16


def test_open_returns_what_was_sealed() -> None:
    env = request()
    opened = open_envelope(env.raw)
    assert opened == env
    assert (opened.type, opened.issuer, opened.issued_at) == ("changes", ALICE.node_id, T0)
    assert opened.audience == (BOB.node_id,) and opened.body == {"since": 0, "limit": 10}


def test_nonces_are_random_unless_given() -> None:
    a, b = request(), request()
    assert a.nonce != b.nonce and a.message_id != b.message_id
    fixed = [seal(ALICE, "x", {}, now_ms=T0, nonce=b"n" * 16) for _ in range(2)]
    assert fixed[0].raw == fixed[1].raw  # Ed25519 is deterministic


def test_unaddressed_payload_has_no_aud_key() -> None:
    env = seal(ALICE, "resource", {"id": "a"}, now_ms=T0, audience=[])
    assert "aud" not in env.payload and env.audience == ()


def test_large_payload_uses_bin16_and_bin32_headers_and_still_opens() -> None:
    for size, marker in [(300, 0xC5), (70_000, 0xC6)]:
        env = seal(ALICE, "x", {"blob": b"\x00" * size}, now_ms=T0)
        assert env.raw[3] == marker
        assert open_envelope(env.raw).message_id == env.message_id


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"msg_type": ""}, "t"),
        ({"msg_type": "x" * 65}, "t"),
        ({"now_ms": -1}, "iat"),
        ({"now_ms": 2**53}, "iat"),
        ({"nonce": b"short"}, "nonce"),
        ({"audience": ["not-a-node"]}, "aud"),
        ({"audience": [BOB.node_id] * 65}, "aud"),
        ({"body": {"x": 1.5}}, "float"),
    ],
)
def test_seal_refuses_to_build_an_invalid_payload(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"msg_type": "x", "body": {}, "now_ms": T0}
    args.update(kwargs)
    with pytest.raises(LocalProtocolError, match=match):
        seal(ALICE, args.pop("msg_type"), args.pop("body"), **args)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (base_payload(), None),
        (base_payload(v=2), InvalidMessage),
        (base_payload(v=True), InvalidMessage),
        (base_payload(nonce=...), InvalidMessage),
        (base_payload(extra=1), InvalidMessage),
        (base_payload(iss={}), InvalidMessage),
        (base_payload(iss=[ALICE.node_id]), InvalidMessage),
        (base_payload(aud=[{}]), InvalidMessage),
        (base_payload(aud=[]), InvalidMessage),
        (base_payload(aud=[BOB.node_id] * 64), None),
        (base_payload(iat=True), InvalidMessage),
        (base_payload(iat=2**53 - 1), None),
        (base_payload(body=None), InvalidMessage),
        (base_payload(t="é" * 64), None),  # 64 characters, 128 bytes: the limit counts characters
        ("a payload", InvalidMessage),
        (base_payload(iss=BOB.node_id), BadSignature),  # signed by Alice
    ],
)
def test_open_checks_the_payload_shape_before_the_signature(payload: Any, error: type[Exception] | None) -> None:
    raw = signed(payload)
    if error is None:
        assert open_envelope(raw).payload == decode(encode(payload))
    else:
        with pytest.raises(error):
            open_envelope(raw)


def test_open_refuses_envelopes_not_in_the_one_canonical_shape() -> None:
    env = request()
    p, s = env.payload_bytes, env.signature
    with pytest.raises(NonCanonical):
        open_envelope(msgpack.packb({"s": s, "p": p}, use_bin_type=True))
    with pytest.raises(NonCanonical):
        open_envelope(b"\x82\xa1p\xc6" + len(p).to_bytes(4, "big") + p + b"\xa1s\xc4\x40" + s)
    with pytest.raises(InvalidMessage):
        open_envelope(encode({"p": p, "s": s, "t": 1}))
    with pytest.raises(InvalidMessage):
        open_envelope(encode({"p": p}))
    with pytest.raises(BadSignature):
        open_envelope(encode({"p": p, "s": s[:32]}))
    with pytest.raises(InvalidMessage):
        open_envelope(env.raw + b"\xc0")
    with pytest.raises(InvalidMessage):
        open_envelope(env.raw[:-1])


def test_open_applies_the_limits() -> None:
    env = seal(ALICE, "x", {"blob": b"\x00" * 2000}, now_ms=T0)
    with pytest.raises(TooLarge):
        open_envelope(env.raw, Limits(max_bytes=1000))
    with pytest.raises(TooLarge):
        open_envelope(env.raw, Limits(max_bin=1000))  # the payload's blob
    deep = seal(ALICE, "x", {"a": {"b": {"c": {}}}}, now_ms=T0)
    open_envelope(deep.raw, Limits(max_depth=5))
    with pytest.raises(TooLarge):
        open_envelope(deep.raw, Limits(max_depth=4))


def test_signature_by_the_issuer_of_another_key_is_refused() -> None:
    env = request()
    forged = encode({"p": env.payload_bytes, "s": CAROL.sign(SIGNING_PREFIX + env.payload_bytes)})
    with pytest.raises(BadSignature) as info:
        open_envelope(forged)
    assert info.value.http_status == 401


# ---------------------------------------------------------------------------
# freshness and audience


@pytest.mark.parametrize(
    ("now", "fresh"),
    [
        (T0, True),
        (T0 + 5 * MIN, True),  # exactly 5 minutes old
        (T0 + 5 * MIN + 1, False),
        (T0 - 2 * MIN, True),  # exactly 2 minutes ahead of our clock
        (T0 - 2 * MIN - 1, False),
        (0, False),
    ],
)
def test_freshness_window_boundaries(now: int, fresh: bool) -> None:
    env = request()
    if fresh:
        check_message(env, recipient=BOB.node_id, now_ms=now)
        check_fresh(T0, now_ms=now)
    else:
        with pytest.raises(Stale) as info:
            check_message(env, recipient=BOB.node_id, now_ms=now)
        assert info.value.details["server_time"] == now
        assert info.value.details["delta_ms"] == T0 - now
        assert info.value.details["window_past_ms"] == 300_000
        assert info.value.details["window_future_ms"] == 120_000
        assert info.value.http_status == 401


def test_freshness_window_is_configurable() -> None:
    window = FreshnessWindow(past_ms=1000, future_ms=0)
    check_fresh(T0, now_ms=T0 + 1000, window=window)
    with pytest.raises(Stale):
        check_fresh(T0, now_ms=T0 + 1001, window=window)
    with pytest.raises(Stale):
        check_fresh(T0 + 1, now_ms=T0, window=window)
    assert DEFAULT_WINDOW == FreshnessWindow(300_000, 120_000)


def test_wrong_audience() -> None:
    env = request(aud=[BOB.node_id, CAROL.node_id])
    check_message(env, recipient=CAROL.node_id, now_ms=T0)
    with pytest.raises(WrongAudience) as info:
        check_message(env, recipient=ALICE.node_id, now_ms=T0)
    assert info.value.http_status == 421
    unaddressed = seal(ALICE, "changes", {"since": 0, "limit": 1}, now_ms=T0)
    with pytest.raises(WrongAudience):
        check_message(unaddressed, recipient=BOB.node_id, now_ms=T0)


def test_audience_is_checked_before_freshness() -> None:
    with pytest.raises(WrongAudience):
        check_message(request(), recipient=CAROL.node_id, now_ms=T0 + 60 * MIN)


# ---------------------------------------------------------------------------
# messages and replies


def test_every_request_type_has_a_reply_type() -> None:
    assert set(REPLY_TYPES) | set(REPLY_TYPES.values()) == set(MESSAGE_TYPES)


def reply(req: Any, body: dict[str, Any], *, t: str = "changes-reply", key: SigningKey = BOB) -> Any:
    return seal(key, t, body, now_ms=T0 + 10, audience=[req.issuer])


def test_reply_binding() -> None:
    req = request()
    good = reply(req, {"reply_to": req.message_id, "records": [], "next": 0, "more": False})
    opened = open_envelope(good.raw)
    check_message(opened, recipient=ALICE.node_id, now_ms=T0 + 20)
    body = parse_reply(opened, req)
    assert body.reply_to == req.message_id and body.more is False

    other = request()
    stolen = reply(other, {"reply_to": other.message_id, "records": [], "next": 0, "more": False})
    with pytest.raises(InvalidMessage, match="reply_to"):
        parse_reply(open_envelope(stolen.raw), req)

    wrong_type = reply(req, {"reply_to": req.message_id, "stored": 0, "unchanged": 0, "rejected": []}, t="push-reply")
    with pytest.raises(InvalidMessage, match="expected"):
        parse_reply(open_envelope(wrong_type.raw), req)

    unknown = reply(req, {"reply_to": req.message_id}, t="changes-answer")
    with pytest.raises(UnknownType):
        parse_reply(open_envelope(unknown.raw), req)

    missing = reply(req, {"records": [], "next": 0, "more": False})
    with pytest.raises(InvalidMessage, match="reply_to"):
        parse_reply(open_envelope(missing.raw), req)


def test_reply_to_another_requester_fails_the_audience_check() -> None:
    req = request()
    misdirected = seal(BOB, "changes-reply", {"reply_to": req.message_id, "records": [], "next": 0, "more": False},
                       now_ms=T0, audience=[CAROL.node_id])
    with pytest.raises(WrongAudience):
        check_message(open_envelope(misdirected.raw), recipient=ALICE.node_id, now_ms=T0)


@pytest.mark.parametrize(
    ("t", "body", "ok"),
    [
        ("hello", {"descriptor": b"\x01"}, True),
        ("hello", {"descriptor": b""}, False),
        ("hello", {"descriptor": b"\x01" * (64 * 1024 + 1)}, False),
        ("changes", {"since": 0, "limit": 1000}, True),
        ("changes", {"since": 2**63 - 1, "limit": 1}, True),
        ("changes", {"since": 2**63, "limit": 1}, False),
        ("changes", {"since": 0, "limit": 1, "extra": 1}, False),
        ("changes", {"since": 0, "limit": True}, False),
        ("push", {"records": [b"\x01"] * 1000}, True),
        ("push", {"records": [b"\x01"] * 1001}, False),
    ],
)
def test_request_bodies(t: str, body: dict[str, Any], ok: bool) -> None:
    env = open_envelope(request(body, t=t).raw)
    if ok:
        assert parse_message(env, t).to_wire() == decode(encode(body))
    else:
        with pytest.raises(InvalidMessage):
            parse_message(env, t)


def test_message_at_the_wrong_endpoint() -> None:
    env = open_envelope(request().raw)
    with pytest.raises(InvalidMessage, match="expected"):
        parse_message(env, "push")
    gossip = open_envelope(request({}, t="gossip").raw)
    with pytest.raises(UnknownType):
        parse_message(gossip, "push")


def test_message_body_errors_name_the_field() -> None:
    env = open_envelope(request({"since": "0", "limit": 1}).raw)
    with pytest.raises(InvalidMessage) as info:
        parse_message(env, "changes")
    assert info.value.details["problems"][0]["field"] == "since"
    assert decode(encode(info.value.to_wire()))["code"] == "invalid"  # details are encodable


def test_a_stored_envelope_reads_back_as_it_was_verified_and_refuses_altered_framing() -> None:
    from protocol.envelope import stored_envelope

    key = SigningKey.from_seed(b"\x51" * 32)
    sealed = seal(key, "resource", {"id": "x", "kind": "other", "title": "Tente"}, now_ms=1_780_000_000_000)
    assert stored_envelope(sealed.raw) == open_envelope(sealed.raw)
    with pytest.raises(InvalidMessage):
        stored_envelope(sealed.raw + b"\x00")
