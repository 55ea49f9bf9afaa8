"""Federation endpoints: signed bytes in → protocol verifies → storage commits → signed bytes out.

Every request is an envelope addressed to this node, fresh, never seen before
(its nonce is remembered in the same transaction as its effect), from a peer
within its rate. Every reply is an envelope addressed to the requester that
names the request it answers. Nothing is acknowledged before it is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from protocol import (
    Envelope,
    Forbidden,
    InvalidMessage,
    ProtocolError,
    TooLarge,
    check_message,
    open_envelope,
    parse_message,
    parse_record,
    seal,
)
from protocol.messages import MAX_BATCH, REPLY_TYPES
from protocol.reconcile import Item, SortedItems, respond

from storage import counters, nonces, peers, records, session

from . import catalogue, transparency
from .clock import now_ms
from .agreements import free_or_why, take_events
from .convened import take_statement
from .keys import open_signed
from .runtime import NODE, Node
from .verification import verify_received
from .wire import CONTENT_TYPE, FEDERATION_PREFIX, envelope_response, error_response

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 768 * 1024  # room for the envelope around a page of records under the 1 MiB limit


@web.middleware
async def protocol_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every typed protocol error into its wire form; nothing else leaks out."""
    try:
        return await handler(request)
    except ProtocolError as exc:
        log.info("refused %s from %s: %s %s", request.path, request.remote, exc.code, exc.message)
        return error_response(exc)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused as soon as it exceeds ``limit`` (declared or streamed)."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"request body of {request.content_length} bytes exceeds {limit}", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body exceeds {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_request(request: web.Request, expected_type: str) -> tuple[Node, Envelope, Any]:
    node = request.config_dict[NODE]
    node.limiter.check(f"ip:{request.remote}")
    raw = await read_body(request, node.config.max_body_bytes)
    envelope = open_signed(raw, node.keyring)
    check_message(envelope, recipient=node.node_id, now_ms=now_ms(), window=node.config.window)
    if envelope.issuer in node.denied:
        raise Forbidden("this node is on our deny-list", since=node.denied[envelope.issuer])
    node.limiter.check(f"peer:{envelope.issuer}")
    return node, envelope, parse_message(envelope, expected_type)


def _remember(s: Any, node: Node, envelope: Envelope, now: int) -> None:
    expires = envelope.issued_at + node.config.window.past_ms + 1
    nonces.remember(s, envelope.issuer, envelope.nonce, expires_ms=expires, now_ms=now)


def _reply(node: Node, request: Envelope, body: dict[str, Any]) -> web.Response:
    body = {**body, "reply_to": request.message_id}
    reply = seal(node.key, REPLY_TYPES[request.type], body, now_ms=now_ms(), audience=[request.issuer])
    return envelope_response(reply.raw)


async def hello(request: web.Request) -> web.Response:
    """Handshake: learn the caller (its signed descriptor) and tell it who we are."""
    node, envelope, body = await _read_request(request, "hello")
    now = now_ms()
    descriptor = parse_record(open_envelope(body.descriptor, keys=node.keyring), now_ms=now)
    if descriptor.type != "descriptor" or descriptor.author != envelope.issuer:
        raise InvalidMessage("hello must carry the sender's own descriptor")
    node.keyring.learn(descriptor.author, descriptor.body.keys)

    def commit() -> None:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)
            records.ingest(s, [descriptor], now_ms=now)
            peers.upsert(
                s,
                envelope.issuer,
                addresses=list(descriptor.body.endpoints),
                source="inbound",
                now_ms=now,
                name=descriptor.body.name,
                descriptor=descriptor.envelope.raw,
            )

    await node.run(commit)
    if node.outbox is not None:  # the peer is back: what waits for it need not wait for its backoff
        node.spawn(node.outbox.wake(envelope.issuer))
    own = await node.run(catalogue.own_descriptor, node.engine, node.node_id)
    return _reply(node, envelope, {"descriptor": own})


async def changes(request: web.Request) -> web.Response:
    """A page of the records we hold (own and relayed) that the caller may have, after its cursor."""
    node, envelope, body = await _read_request(request, "changes")
    now = now_ms()

    def read() -> records.ChangePage:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)
            return records.changes_since(
                s, body.since, limit=body.limit, max_bytes=MAX_REPLY_BYTES, peer=envelope.issuer
            )

    page = await node.run(read)
    return _reply(node, envelope, {"records": page.records, "next": page.next, "more": page.more})


async def push(request: web.Request) -> web.Response:
    """Signed records offered by a peer: each is checked on its own; the good ones are committed."""
    node, envelope, body = await _read_request(request, "push")
    now = now_ms()
    good, bad = await verify_received(node, body.records, now)

    def commit() -> catalogue.Received:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)
            return catalogue.store_received(s, good, now=now, own_id=node.node_id)

    received = await node.run(commit)
    result = received.ingest
    if result.stored:
        log.info("stored %d records pushed by %s", result.stored, envelope.issuer)
        # Gossip: pass what was news to us on to a few other peers (what they hold already stops there).
        node.forward_soon(list(result.stored_envelopes), came_from=envelope.issuer)
    bad = sorted([*bad, *_refused_for_scope(body.records, received)], key=lambda r: r.index)
    rejected = [{"index": r.index, "code": r.code, "message": r.message} for r in bad]
    return _reply(node, envelope, {"stored": result.stored, "unchanged": result.unchanged, "rejected": rejected})


def _refused_for_scope(raws: Sequence[bytes], received: catalogue.Received) -> list[catalogue.Rejected]:
    """The records refused for their scope, at their positions in the push."""
    return [catalogue.Rejected(raws.index(row.envelope), exc.code, exc.message) for row, exc in received.out_of_scope]


async def reconcile(request: web.Request) -> web.Response:
    """One round of set reconciliation: answer the frame and send the records the caller lacks."""
    node, envelope, body = await _read_request(request, "reconcile")
    now = now_ms()

    def answer() -> dict[str, Any]:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)
            cursor = counters.current(s, "records")
            # Reconcile over what this peer may have: our public records and those of its federations.
            local = SortedItems(Item(t, m) for t, m in records.versions_for(s, envelope.issuer))
            frame, have, _ = respond(local, body.frame)
            found, truncated = records.envelopes_for(
                s, envelope.issuer, have, max_bytes=MAX_REPLY_BYTES, max_count=MAX_BATCH
            )
        reply: dict[str, Any] = {"records": found, "truncated": truncated, "cursor": cursor}
        if frame is not None:
            reply["frame"] = frame
        return reply

    return _reply(node, envelope, await node.run(answer))


async def agreement(request: web.Request) -> web.Response:
    """Agreement events from a party: each judged against its chain (and our calendar) and committed
    before it is acknowledged; our answers (an automatic acceptance) come back in the reply."""
    node, envelope, body = await _read_request(request, "agreement")
    now = now_ms()

    def remember() -> None:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)

    await node.run(remember)
    taken = await take_events(node, body.events, envelope.issuer)
    reply: dict[str, Any] = {"accepted": list(taken.accepted), "events": list(taken.answers)}
    if taken.refused is not None:
        index, error = taken.refused
        log.info("refused agreement event from %s: %s %s", envelope.issuer, error.code, error.message)
        refusal: dict[str, Any] = {"index": index, "code": error.code, "message": error.message[:500]}
        if error.details:
            refusal["details"] = error.details
        reply["refused"] = refusal
    if taken.answers:
        node.deliver_soon()
    return _reply(node, envelope, reply)


async def availability(request: web.Request) -> web.Response:
    """Which of our resources are free for a period: a read-only answer for federated search."""
    node, envelope, body = await _read_request(request, "availability")
    now = now_ms()

    def answer() -> dict[str, list[str]]:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)
        resources = list(dict.fromkeys(body.resources))
        return free_or_why(node, resources, body.period.start, body.period.end, body.quantity, now,
                           requester=envelope.issuer)

    answers = await node.run(answer)
    free = [resource for resource, reasons in answers.items() if not reasons]
    unavailable = [{"resource": r, "reasons": reasons[:16]} for r, reasons in answers.items() if reasons]
    return _reply(node, envelope, {"free": free, "unavailable": unavailable})


async def _answer(request: web.Request, expected_type: str) -> tuple[Node, Envelope, Any]:
    """A read-only request: checked and its nonce remembered before it is answered."""
    node, envelope, body = await _read_request(request, expected_type)
    now = now_ms()

    def remember() -> None:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)

    await node.run(remember)
    return node, envelope, body


async def checkpoint(request: web.Request) -> web.Response:
    """Our latest signed checkpoint (signed now if the log grew), or the latest we witnessed of ``origin``."""
    node, envelope, body = await _answer(request, "checkpoint")
    if body.origin is None or body.origin == node.node_id:
        raw, cosignatures = await node.run(transparency.own_checkpoint, node)
    else:
        raw, cosignatures = await node.run(transparency.witnessed_checkpoint, node, body.origin)
    reply: dict[str, Any] = {"cosignatures": cosignatures}
    if raw is not None:
        reply["checkpoint"] = raw
    return _reply(node, envelope, reply)


async def log_proof(request: web.Request) -> web.Response:
    node, envelope, body = await _answer(request, "log-proof")
    return _reply(node, envelope, await node.run(transparency.proofs, node, body.size, body.message_id, body.old_size))


async def cosign(request: web.Request) -> web.Response:
    node, envelope, body = await _answer(request, "cosign")
    stored = await node.run(transparency.store_cosignature, node, body.cosignature, envelope.issuer)
    return _reply(node, envelope, {"stored": stored})


async def equivocation(request: web.Request) -> web.Response:
    """A proof that some node forked its log, passed on by a peer: checked here from the envelopes alone."""
    node, envelope, body = await _answer(request, "equivocation")
    accepted = await node.run(transparency.accept_equivocation, node, body.first, body.second, envelope.issuer)
    return _reply(node, envelope, {"accepted": accepted})


async def statement(request: web.Request) -> web.Response:
    """A participant's statement for a convened agreement we are the authority of: judged, embedded
    and committed (with its outbox entries to every participant) before the embedding event is sent back."""
    node, envelope, body = await _read_request(request, "statement")
    said = node.open_statement(body.statement)
    if said.issuer != envelope.issuer:
        raise Forbidden("a statement is delivered by its author")
    now = now_ms()

    def remember() -> None:
        with session(node.engine) as s, s.begin():
            _remember(s, node, envelope, now)

    await node.run(remember)
    progress = await take_statement(node, said)
    return _reply(node, envelope, {"event": progress.event})


async def descriptor(request: web.Request) -> web.Response:
    """Our signed descriptor, for anyone (it is public and self-authenticating)."""
    node = request.config_dict[NODE]
    node.limiter.check(f"ip:{request.remote}")
    return envelope_response(await node.run(catalogue.own_descriptor, node.engine, node.node_id))


def create_app() -> web.Application:
    """The federation sub-application, mounted at FEDERATION_PREFIX: signatures only, no sessions."""
    app = web.Application(middlewares=[protocol_errors])
    app.add_routes(
        [
            web.post("/hello", hello),
            web.post("/changes", changes),
            web.post("/push", push),
            web.post("/reconcile", reconcile),
            web.post("/agreement", agreement),
            web.post("/statement", statement),
            web.post("/availability", availability),
            web.post("/checkpoint", checkpoint),
            web.post("/log-proof", log_proof),
            web.post("/cosign", cosign),
            web.post("/equivocation", equivocation),
            web.get("/descriptor", descriptor),
        ]
    )
    return app


__all__ = ["CONTENT_TYPE", "FEDERATION_PREFIX", "create_app", "read_body"]
