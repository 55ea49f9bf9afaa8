"""Convened agreements: the authority embeds participants' signed statements, and nothing else gets in."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import pytest
from pydantic import Field

from protocol import BadSignature, Conflict, InvalidMessage, SigningKey, WrongAudience, decode, encode
from protocol.agreements import (
    AgreementState,
    Embedding,
    FrozenMap,
    Kind,
    StatementRule,
    Step,
    Transition,
    apply,
    embed,
    make_statement,
    next_event,
    open_agreement,
    register_kind,
    replay,
)
from protocol.envelope import Envelope, stored_envelope
from protocol.errors import LocalProtocolError, NotAllowed, OutOfOrder
from protocol.schema import Body

CONVENER = SigningKey.from_seed(b"\x41" * 32)
ALICE = SigningKey.from_seed(b"\x42" * 32)
BOB = SigningKey.from_seed(b"\x43" * 32)
T0 = 1_767_225_600_000


class Open(Body):
    parties: dict[str, str]
    terms: dict[str, Any]


class Join(Body):
    pass


class Count(Body):
    n: Annotated[int, Field(ge=1, le=10)]


def _join(state: AgreementState, statement: Envelope, data: Join) -> AgreementState:
    return replace(state, members=state.members.set(statement.issuer, "member"))


def _count(state: AgreementState, statement: Envelope, data: Count) -> AgreementState:
    total = state.facts.get("total", 0) + data.n
    return replace(state, facts=FrozenMap({**state.facts, "total": total}))


def _no_terms(state: AgreementState, event: Envelope, data: Open) -> AgreementState:
    return state


_C = frozenset({"convener"})
TALLY = register_kind(
    Kind(
        name="test-tally",
        roles=("convener",),
        openings={"open": Transition(_C, Open, "open", effect=_no_terms)},
        table={
            ("open", "record"): Transition(_C, Embedding, "open", Step.EMBED),
            ("open", "close"): Transition(_C, Join, "closed"),
        },
        terminal=frozenset({"closed"}),
        pending=frozenset(),
        authority="convener",
        statements={
            "join": StatementRule(Join, _join),
            "count": StatementRule(Count, _count, roles=frozenset({"member"})),
        },
        max_seq=6,
    )
)


def _opened() -> tuple[AgreementState, list[Envelope]]:
    opening = open_agreement(CONVENER, TALLY, "open", {"convener": CONVENER.node_id}, {"terms": {}}, now_ms=T0)
    return apply(None, opening), [opening]


def _say(key: SigningKey, state: AgreementState, action: str, data: dict[str, Any], at: int) -> Envelope:
    return make_statement(key, state.id, state.kind, CONVENER.node_id, action, data, now_ms=at)


def _embed(state: AgreementState, statement: Envelope, at: int) -> tuple[AgreementState, Envelope]:
    event = embed(CONVENER, state, statement.raw, now_ms=at)
    return apply(state, event), event


def test_statements_join_members_who_then_receive_the_chain_and_count() -> None:
    state, chain = _opened()
    state, e1 = _embed(state, _say(ALICE, state, "join", {}, T0 + 1), T0 + 2)
    state, e2 = _embed(state, _say(ALICE, state, "count", {"n": 3}, T0 + 3), T0 + 4)
    assert state.role_of(ALICE.node_id) == "member"
    assert state.facts["total"] == 3
    assert state.others(CONVENER.node_id) == (ALICE.node_id,)  # the next event goes to Alice
    # Anyone holding the chain replays the same state, verifying the embedded signatures.
    again = replay([*chain, e1, e2])
    assert again.facts["total"] == 3 and again.members == state.members


def test_a_statement_from_a_non_member_is_refused_where_the_rule_names_roles() -> None:
    state, _ = _opened()
    with pytest.raises(NotAllowed):
        _embed(state, _say(BOB, state, "count", {"n": 1}, T0 + 1), T0 + 2)


def test_the_same_statement_cannot_be_embedded_twice() -> None:
    state, _ = _opened()
    join = _say(ALICE, state, "join", {}, T0 + 1)
    state, _ = _embed(state, join, T0 + 2)
    count = _say(ALICE, state, "count", {"n": 2}, T0 + 3)
    state, _ = _embed(state, count, T0 + 4)
    with pytest.raises(Conflict):
        _embed(state, count, T0 + 5)
    assert state.facts["total"] == 2


def test_a_forged_statement_is_refused() -> None:
    state, _ = _opened()
    join = _say(ALICE, state, "join", {}, T0 + 1)
    outer = decode(join.raw)
    forged = encode({"p": outer["p"], "s": bytes(64)})
    with pytest.raises(BadSignature):
        apply(state, embed(CONVENER, state, forged, now_ms=T0 + 2))
    # Replaying stored bytes skips the check only when asked (our own database).
    assert apply(state, embed(CONVENER, state, forged, now_ms=T0 + 2), open_statement=stored_envelope)


def test_a_statement_for_another_agreement_or_authority_is_refused() -> None:
    state, _ = _opened()
    other, _ = _opened()
    with pytest.raises(InvalidMessage):
        _embed(state, _say(ALICE, other, "join", {}, T0 + 1), T0 + 2)
    misaddressed = make_statement(ALICE, state.id, state.kind, BOB.node_id, "join", {}, now_ms=T0 + 1)
    with pytest.raises(WrongAudience):
        _embed(state, misaddressed, T0 + 2)


def test_a_statement_dated_after_its_embedding_is_refused() -> None:
    state, _ = _opened()
    with pytest.raises(OutOfOrder):
        _embed(state, _say(ALICE, state, "join", {}, T0 + 10), T0 + 5)


def test_only_the_authority_embeds() -> None:
    state, _ = _opened()
    state, _ = _embed(state, _say(ALICE, state, "join", {}, T0 + 1), T0 + 2)
    statement = _say(ALICE, state, "count", {"n": 1}, T0 + 3)
    event = next_event(ALICE, state, "record", {"statement": statement.raw}, now_ms=T0 + 4)
    with pytest.raises(NotAllowed):
        apply(state, event)


def test_unknown_statement_action_and_bad_data_are_refused() -> None:
    state, _ = _opened()
    state, _ = _embed(state, _say(ALICE, state, "join", {}, T0 + 1), T0 + 2)
    with pytest.raises(InvalidMessage):
        _embed(state, _say(ALICE, state, "dance", {}, T0 + 3), T0 + 4)
    with pytest.raises(InvalidMessage):
        _embed(state, _say(ALICE, state, "count", {"n": 99}, T0 + 3), T0 + 4)


def test_a_kind_bounds_its_chain() -> None:
    state, _ = _opened()
    state, _ = _embed(state, _say(ALICE, state, "join", {}, T0 + 1), T0 + 2)
    for i in range(5):
        state, _ = _embed(state, _say(ALICE, state, "count", {"n": 1}, T0 + 10 + 2 * i), T0 + 11 + 2 * i)
    assert state.seq == 6
    with pytest.raises(LocalProtocolError):
        embed(CONVENER, state, _say(ALICE, state, "count", {"n": 1}, T0 + 30).raw, now_ms=T0 + 31)
