"""Every bad request to the federation endpoints is refused with its code and changes nothing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest

from node.app import RunningNode
from node.clock import now_ms
from node.wire import CONTENT_TYPE
from protocol import SIGNING_PREFIX, SigningKey, decode, encode, seal

from ..factories import resource
from .harness import make_home, running


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[RunningNode]:
    async with running(make_home(tmp_path, "Banque alimentaire")) as node:
        yield node


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _state(node: RunningNode) -> tuple[int, int]:
    with node.node.engine.connect() as conn:
        records = conn.exec_driver_sql("SELECT count(*) FROM records").scalar_one()
        nonces = conn.exec_driver_sql("SELECT count(*) FROM seen_nonces").scalar_one()
    return int(records), int(nonces)


async def _post(http: aiohttp.ClientSession, node: RunningNode, path: str, data: bytes) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{node.url}/fed/v1/{path}", data=data, headers={"Content-Type": CONTENT_TYPE}) as resp:
        body = await resp.read()
        return resp.status, (decode(body) if resp.status != 200 else {"raw": body})


def _push(sender: SigningKey, node: RunningNode, *, at: int | None = None, audience: list[str] | None = None) -> bytes:
    record = resource(sender, "sono", "Sono", at=now_ms())
    body = {"records": [record.envelope.raw]}
    return seal(sender, "push", body, now_ms=at or now_ms(), audience=audience or [node.node.node_id]).raw


async def test_valid_push_is_stored_and_acknowledged_after_commit(target: RunningNode, http: aiohttp.ClientSession) -> None:
    before = _state(target)
    status, reply = await _post(http, target, "push", _push(SigningKey.generate(), target))
    assert status == 200
    assert _state(target) == (before[0] + 1, before[1] + 1)


async def test_replayed_request_is_refused_and_stores_nothing_more(target: RunningNode, http: aiohttp.ClientSession) -> None:
    request = _push(SigningKey.generate(), target)
    assert (await _post(http, target, "push", request))[0] == 200
    after_first = _state(target)
    status, error = await _post(http, target, "push", request)
    assert (status, error["code"]) == (409, "replay")
    assert _state(target) == after_first


@pytest.mark.parametrize(
    "make_bad, status, code",
    [
        (lambda k, n: _flip(_push(k, n), -1), 401, "bad-signature"),  # a bit of the signature
        (lambda k, n: _flip_in_nonce(_push(k, n)), 401, "bad-signature"),  # a bit inside the payload
        (lambda k, n: _push(k, n, at=now_ms() - 6 * 60_000), 401, "stale"),
        (lambda k, n: _push(k, n, at=now_ms() + 3 * 60_000), 401, "stale"),
        (lambda k, n: _push(k, n, audience=[SigningKey.generate().node_id]), 421, "wrong-audience"),
        (lambda k, n: _non_canonical(k, n), 400, "non-canonical"),
        (lambda k, n: _forged_issuer(k, n), 401, "bad-signature"),
        (lambda k, n: seal(k, "gossip", {}, now_ms=now_ms(), audience=[n.node.node_id]).raw, 400, "unknown-type"),
        (lambda k, n: seal(k, "push", {"records": "x"}, now_ms=now_ms(), audience=[n.node.node_id]).raw, 400, "invalid"),
        (lambda k, n: b"\x92\x01", 400, "invalid"),
        (lambda k, n: b"", 400, "invalid"),
        (lambda k, n: os.urandom(2 << 20), 413, "too-large"),
    ],
    ids=["sig-bit", "payload-bit", "stale", "future", "audience", "non-canonical", "forged-issuer", "unknown-type",
         "wrong-body", "truncated", "empty", "oversized"],
)
async def test_bad_requests_are_refused_with_their_code_and_change_nothing(
    target: RunningNode, http: aiohttp.ClientSession, make_bad: Any, status: int, code: str
) -> None:
    before = _state(target)
    got_status, error = await _post(http, target, "push", make_bad(SigningKey.generate(), target))
    assert (got_status, error["code"]) == (status, code)
    assert isinstance(error["message"], str) and error["message"]
    assert _state(target) == before


async def test_stale_rejection_tells_the_operator_the_server_time_and_delta(target: RunningNode, http: aiohttp.ClientSession) -> None:
    sent_at = now_ms() - 10 * 60_000
    _, error = await _post(http, target, "push", _push(SigningKey.generate(), target, at=sent_at))
    details = error["details"]
    assert abs(details["server_time"] - now_ms()) < 60_000
    assert details["delta_ms"] == sent_at - details["server_time"]


async def test_chunked_oversized_body_is_refused_while_streaming(target: RunningNode, http: aiohttp.ClientSession) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"\x00" * 65536

    before = _state(target)
    async with http.post(f"{target.url}/fed/v1/push", data=chunks()) as resp:
        assert resp.status == 413 and decode(await resp.read())["code"] == "too-large"
    assert _state(target) == before


async def test_forged_record_inside_a_valid_push_is_rejected_alone(target: RunningNode, http: aiohttp.ClientSession) -> None:
    sender, author = SigningKey.generate(), SigningKey.generate()
    good = resource(author, "velo", "Vélo", at=now_ms()).envelope.raw
    forged = bytearray(resource(author, "frigo", "Frigo", at=now_ms()).envelope.raw)
    forged[-1] ^= 1
    request = seal(sender, "push", {"records": [good, bytes(forged)]}, now_ms=now_ms(), audience=[target.node.node_id])
    status, reply = await _post(http, target, "push", request.raw)
    assert status == 200
    body = decode(decode(reply["raw"])["p"])["body"]
    assert body["stored"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "bad-signature")]


async def test_flooding_peer_is_rate_limited(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with running(make_home(tmp_path, "Banque", peer_rate_per_s=1.0, peer_burst=3)) as node:
        sender = SigningKey.generate()
        statuses = [
            (await _post(http, node, "changes", seal(sender, "changes", {"since": 0, "limit": 10}, now_ms=now_ms(),
                                                     audience=[node.node.node_id]).raw))[0]
            for _ in range(5)
        ]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]


def _flip(raw: bytes, index: int) -> bytes:
    data = bytearray(raw)
    data[index] ^= 0x01
    return bytes(data)


def _flip_in_nonce(raw: bytes) -> bytes:
    """Flip a bit of the payload where the shape stays valid, so only the signature can tell."""
    nonce = decode(decode(raw)["p"])["nonce"]
    return _flip(raw, raw.index(nonce) + 3)


def _non_canonical(key: SigningKey, node: RunningNode) -> bytes:
    """A correctly signed payload whose bytes are not canonical (version 1 as uint8, not fixint)."""
    payload = decode(decode(_push(key, node))["p"])
    packer = msgpack.Packer(use_bin_type=True)
    parts = [bytes([0x80 | len(payload)])]
    for name in sorted(payload):
        value = payload[name]
        parts.append(packer.pack(name))
        parts.append(b"\xcc\x01" if name == "v" else encode(value))
    payload_bytes = b"".join(parts)
    signature = key.sign(SIGNING_PREFIX + payload_bytes)
    return encode({"p": payload_bytes, "s": signature})


def _forged_issuer(key: SigningKey, node: RunningNode) -> bytes:
    """Claim to be another node while signing with our own key."""
    victim = SigningKey.generate()
    genuine = seal(victim, "push", {"records": []}, now_ms=now_ms(), audience=[node.node.node_id])
    return encode({"p": genuine.payload_bytes, "s": key.sign(SIGNING_PREFIX + genuine.payload_bytes)})


async def test_private_record_offered_by_a_peer_is_refused_not_stored(target: RunningNode, http: aiohttp.ClientSession) -> None:
    author = SigningKey.generate()
    leaked = resource(author, "coffre", "Coffre-fort", at=now_ms(), visibility="private").envelope.raw
    request = seal(author, "push", {"records": [leaked]}, now_ms=now_ms(), audience=[target.node.node_id])
    before = _state(target)
    status, reply = await _post(http, target, "push", request.raw)
    body = decode(decode(reply["raw"])["p"])["body"]
    assert status == 200 and body["stored"] == 0
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(0, "forbidden")]
    assert _state(target)[0] == before[0]
