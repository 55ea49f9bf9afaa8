"""The federation kind: a signed charter, its members, and the decisions they take together.

A federation is a convened agreement (see ``machine``): its *secretariat*
node alone writes the chain; every member speaks by signed statements the
secretariat embeds. It opens with ``found``, whose terms are the ``Charter``
(name, territory, purpose, colleges with optional weights, founding members,
one ``DecisionRule`` per kind of decision)::

    (open) --found(S)--> forming --record: adhere (every founder)--> active
    active --record: adhere | propose | ask | answer | object |
                     withdraw_objection | amend | vote--> active
    active --close(S)--> active        (+ the fund's events, protocol/governance/fund.py)

Nobody becomes a member without its own signature: founders, and nodes a
decision admits, start *invited* and become members when they ``adhere``,
signing the digest of the charter as it stands. Membership changes and
charter amendments happen only through adopted decisions, judged by
``protocol.governance.decisions``; the secretariat closes each proposal
once its window ended, and the machine refuses a close whose outcome
contradicts the signed objections or ballots.

Facts (other modules read them: storage memberships, the fund)::

    facts["charter"]      Charter as it stands (also ``state.terms``)
    facts["members"]      FrozenMap node id -> college id, adhered members only
    facts["invitations"]  FrozenMap node id -> college id, invited, not adhered yet
    facts["proposals"]    FrozenMap proposal id -> ProposalRecord
    facts["links"]        FrozenMap federation id (hex) -> Link
    facts["fund"]         owned by protocol/governance/fund.py

``state.members`` holds the participants beyond the secretariat (a party):
adhered members (role "member") and invited nodes (role "invited").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from ..encoding import encode
from ..envelope import Envelope
from ..errors import (
    Conflict,
    Expired,
    Forbidden,
    InvalidMessage,
    NotAllowed,
    ProtocolError,
)
from ..governance import fund
from ..governance.decisions import (
    BallotTally,
    Choice,
    ConsentTally,
    DecisionRule,
    Objection,
    Outcome,
    Window,
    ballot_tally,
    college_weights,
    consent_tally,
    integrate,
    phase,
    review_date,
    window,
    withdraw,
)
from ..identity import SigningKey
from ..records import FederationId
from ..schema import Body, Currency, Hash32, Millis, NilFree, NodeId, ShortText, parse
from ._frozen import FrozenMap
from .machine import (
    MAX_CHAIN,
    AgreementState,
    Embedding,
    Kind,
    StatementRule,
    Step,
    Transition,
    open_agreement,
    register_kind,
    with_facts,
)
from .sealed import Name

KIND = "federation"
SECRETARIAT = "secretariat"
INVITED = "invited"
MEMBER = "member"
FORMING = "forming"
ACTIVE = "active"
EMBED_ACTION = "record"

GOVERNANCE_KINDS = ("admit", "remove", "amend_charter", "link", "general")
DECISION_KINDS = (*GOVERNANCE_KINDS, *fund.DECISION_KINDS)
REQUIRED_RULES = ("admit", "remove", "amend_charter")  # membership and the charter change only by decision

DecisionKind = Literal["admit", "remove", "amend_charter", "link", "general", "fund_criteria", "fund_allocation"]
assert set(DecisionKind.__args__) == set(DECISION_KINDS)  # type: ignore[attr-defined]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


Text = Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]
Reason = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_not_blank)]
Title = Annotated[ShortText, AfterValidator(_not_blank)]
CollegeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
ProposalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
Number = Annotated[int, Field(ge=1, le=1_000_000)]


# -- the charter --------------------------------------------------------------


class College(NilFree):
    """A group of members voting together (employees, volunteers, beneficiaries, local authorities…)."""

    id: CollegeId
    title: Title
    weight_percent: Annotated[int, Field(ge=1, le=100)] | None = None


Colleges = Annotated[tuple[College, ...], Field(min_length=1, max_length=32)]
Rules = Annotated[dict[DecisionKind, DecisionRule], Field(min_length=1)]


def _check_colleges(colleges: tuple[College, ...], scic: bool | None) -> None:
    ids = [c.id for c in colleges]
    if len(set(ids)) != len(ids):
        raise ValueError("each college has its own id")
    weights = [c.weight_percent for c in colleges]
    if any(w is not None for w in weights):
        if any(w is None for w in weights):
            raise ValueError("college weights are given for every college or for none")
        if sum(w or 0 for w in weights) != 100:
            raise ValueError("college weights add up to 100")
    if scic:
        # Domain brief §5: a SCIC has at least three colleges, each weighing 10 to 50 % of the votes.
        if len(colleges) < 3:
            raise ValueError("a SCIC has at least three colleges")
        if any(w is None or not 10 <= w <= 50 for w in weights):
            raise ValueError("in a SCIC each college weighs between 10 and 50 %")


class Charter(NilFree):
    """What the founders sign: who the federation is, who its members are, how it decides."""

    name: Title
    territory: Title
    purpose: Text
    colleges: Colleges
    founders: Annotated[dict[NodeId, CollegeId], Field(min_length=1, max_length=256)]  # node id -> college
    rules: Rules  # decision kind -> how it is decided
    scic: bool | None = None  # enforce the SCIC rules on colleges (domain brief §5)
    currency: Currency | None = None  # the territorial fund's currency (ISO 4217)

    @model_validator(mode="after")
    def _consistent(self) -> Charter:
        _check_colleges(self.colleges, self.scic)
        missing = [kind for kind in REQUIRED_RULES if kind not in self.rules]
        if missing:
            raise ValueError(f"the charter states how to decide {', '.join(missing)}")
        return self

    def college_ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.colleges)


class CharterChange(NilFree):
    """An amend_charter payload: the fields that change (the founders are history: they do not)."""

    name: Title | None = None
    territory: Title | None = None
    purpose: Text | None = None
    colleges: Colleges | None = None
    rules: Rules | None = None
    scic: bool | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> CharterChange:
        if not self.to_wire():
            raise ValueError("an amendment of the charter changes at least one field")
        return self


def charter_digest(charter: Charter) -> bytes:
    """SHA-256 of the charter's canonical encoding: what an adhesion signs for."""
    return hashlib.sha256(encode(charter.to_wire())).digest()


def amended(charter: Charter, change: CharterChange) -> Charter:
    return parse(Charter, {**charter.to_wire(), **change.to_wire()})


# -- decision payloads --------------------------------------------------------


class Admission(Body):
    node: NodeId
    college: CollegeId


class Removal(Body):
    node: NodeId


class Link(Body):
    """Another federation (of another territory, say) this one links to."""

    federation: FederationId
    name: Title
    secretariat: NodeId


class NoPayload(Body):
    """A general decision: its text says it all."""


PAYLOADS: Mapping[str, type[Body]] = FrozenMap(
    {
        "admit": Admission,
        "remove": Removal,
        "amend_charter": CharterChange,
        "link": Link,
        "general": NoPayload,
        **fund.DECISION_KINDS,
    }
)


# -- opening and statements ---------------------------------------------------


class Founding(Body):
    parties: Annotated[dict[Name, NodeId], Field(min_length=1, max_length=1)]
    terms: Charter


class Adhesion(Body):
    charter: Hash32  # charter_digest of the charter as it stands


class NewProposal(NilFree):
    id: ProposalId | None = None  # chosen by the proposer, else derived from the statement's message id
    kind: DecisionKind
    title: Title
    text: Text
    payload: dict[str, Any] | None = None
    review_at: Millis | None = None  # an adopted decision's review date, instead of the rule's months


class Ask(Body):
    proposal: ProposalId
    text: Text


class Answer(Body):
    proposal: ProposalId
    question: Number
    text: Text


class Objecting(Body):
    proposal: ProposalId
    reason: Reason  # why the proposal cannot go ahead as it stands
    aim: Reason  # the federation's aim it would harm


class ObjectionWithdrawal(Body):
    proposal: ProposalId
    objection: Number


class Amending(NilFree):
    proposal: ProposalId
    title: Title | None = None
    text: Text | None = None
    payload: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Amending:
        if self.title is None and self.text is None and self.payload is None:
            raise ValueError("an amendment changes the title, the text or the payload")
        return self


class Voting(Body):
    proposal: ProposalId
    choice: Choice


class Closing(NilFree):
    proposal: ProposalId
    outcome: Outcome
    review_at: Millis | None = None


# -- facts --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    number: int
    by: str
    text: str
    at: int
    answer: str | None = None
    answered_at: int | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """An earlier version of a proposal, replaced by an amendment."""

    number: int
    title: str
    text: str
    payload: Body
    opened_at: int


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    """A proposal and everything said about it, as the chain states it."""

    id: str
    kind: str
    proposer: str
    rule: DecisionRule  # the charter's rule when it was proposed: later amendments do not move it
    title: str
    text: str
    payload: Body
    version: int  # 1, then one more per amendment
    window: Window  # the current round's
    electorate: FrozenMap[str, str]  # members (node -> college) at the current round's opening
    weights: FrozenMap[str, Any]  # college -> Fraction, when the rule is weighted
    requested_review_at: int | None = None
    questions: tuple[Question, ...] = ()
    objections: tuple[Objection, ...] = ()
    ballots: FrozenMap[str, str] = field(default_factory=FrozenMap)  # node -> choice, this round
    history: tuple[Version, ...] = ()
    status: Literal["open", "adopted", "rejected"] = "open"
    closed_at: int | None = None
    review_at: int | None = None
    applied: bool | None = None  # adopted: did it take effect (False when it no longer could)
    note: str | None = None  # why an adopted decision did not take effect


@dataclass(frozen=True, slots=True)
class LinkValue:
    federation: str
    name: str
    secretariat: str
    since: int
    decision: str  # the proposal that adopted it


def charter_of(state: AgreementState) -> Charter:
    charter: Charter = state.facts["charter"]
    return charter


def members_of(state: AgreementState) -> FrozenMap[str, str]:
    members: FrozenMap[str, str] = state.facts.get("members", FrozenMap())
    return members


def invitations_of(state: AgreementState) -> FrozenMap[str, str]:
    invitations: FrozenMap[str, str] = state.facts.get("invitations", FrozenMap())
    return invitations


def proposals_of(state: AgreementState) -> FrozenMap[str, ProposalRecord]:
    proposals: FrozenMap[str, ProposalRecord] = state.facts.get("proposals", FrozenMap())
    return proposals


def _proposal(state: AgreementState, proposal_id: str) -> ProposalRecord:
    found = proposals_of(state).get(proposal_id)
    if found is None:
        raise InvalidMessage(f"no proposal {proposal_id!r} in this federation", proposal=proposal_id)
    return found


def _open_proposal(state: AgreementState, proposal_id: str) -> ProposalRecord:
    found = _proposal(state, proposal_id)
    if found.status != "open":
        raise NotAllowed(f"the proposal is closed ({found.status})", proposal=proposal_id, status=found.status)
    return found


def _store(state: AgreementState, record: ProposalRecord) -> AgreementState:
    return with_facts(state, proposals=proposals_of(state).set(record.id, record))


def _member(state: AgreementState, node: str, what: str) -> str:
    """The college of ``node`` if it is an adhered member; Forbidden otherwise."""
    college = members_of(state).get(node)
    if college is None:
        raise Forbidden(f"only the federation's members {what}", issuer=node)
    return college


def _participants(
    state: AgreementState, members: Mapping[str, str], invitations: Mapping[str, str]
) -> FrozenMap[str, str]:
    """``state.members``: every participant but the secretariat (a party), member or invited."""
    secretariat = state.parties[SECRETARIAT]
    roles = {node: INVITED for node in invitations if node != secretariat}
    roles.update({node: MEMBER for node in members if node != secretariat})
    return FrozenMap(roles)


def _with_membership(
    state: AgreementState, members: Mapping[str, str], invitations: Mapping[str, str]
) -> AgreementState:
    moved = with_facts(state, members=FrozenMap(members), invitations=FrozenMap(invitations))
    return replace(moved, members=_participants(state, members, invitations))


# -- effects: founding and adhesion --------------------------------------------


def _found(state: AgreementState, event: Envelope, data: Founding) -> AgreementState:
    charter = data.terms
    secretariat = state.parties[SECRETARIAT]
    if secretariat not in charter.founders:
        raise InvalidMessage("the secretariat is itself a founding member", secretariat=secretariat)
    unknown = sorted(set(charter.founders.values()) - charter.college_ids())
    if unknown:
        raise InvalidMessage("each founder belongs to one of the charter's colleges", colleges=unknown)
    moved = replace(state, terms=charter)
    moved = with_facts(moved, charter=charter, proposals=FrozenMap(), links=FrozenMap())
    return _with_membership(moved, FrozenMap(), FrozenMap(charter.founders))


def _adhere(state: AgreementState, statement: Envelope, data: Adhesion) -> AgreementState:
    node = statement.issuer
    if node in members_of(state):
        raise Conflict("this node already adhered to the federation", node=node)
    college = invitations_of(state).get(node)
    if college is None:
        raise Forbidden("only a founder or a node a decision admitted can adhere", node=node)
    if data.charter != charter_digest(charter_of(state)):
        raise Conflict("the adhesion signs for another charter than the one in force: read it again",
                       charter=charter_digest(charter_of(state)))
    invitations = {n: c for n, c in invitations_of(state).items() if n != node}
    moved = _with_membership(state, members_of(state).set(node, college), invitations)
    charter = charter_of(state)
    if moved.name == FORMING and all(founder in members_of(moved) for founder in charter.founders):
        moved = replace(moved, name=ACTIVE)
    return moved


# -- effects: proposals --------------------------------------------------------


def _payload(kind: str, payload: Mapping[str, Any] | None) -> Body:
    return parse(PAYLOADS[kind], dict(payload or {}))


def _take_effect(state: AgreementState, kind: str, payload: Any, at: int, decision: str) -> AgreementState:
    """What an adopted decision does to the federation (a typed error when it no longer can)."""
    secretariat = state.parties[SECRETARIAT]
    members, invitations = members_of(state), invitations_of(state)
    if kind == "admit":
        if payload.node in members or payload.node in invitations:
            raise Conflict("this node is already a member of the federation, or invited", node=payload.node)
        if payload.college not in charter_of(state).college_ids():
            raise InvalidMessage("no such college in the charter", college=payload.college)
        return _with_membership(state, members, invitations.set(payload.node, payload.college))
    if kind == "remove":
        if payload.node == secretariat:
            raise NotAllowed("the secretariat cannot be removed: it writes the federation's chain")
        if payload.node not in members and payload.node not in invitations:
            raise Conflict("this node is not a member of the federation", node=payload.node)
        keep = {n: c for n, c in members.items() if n != payload.node}
        invited = {n: c for n, c in invitations.items() if n != payload.node}
        return _with_membership(state, keep, invited)
    if kind == "amend_charter":
        charter = amended(charter_of(state), payload)
        orphans = sorted({*members.values(), *invitations.values()} - charter.college_ids())
        if orphans:
            raise NotAllowed("members still belong to colleges the amendment removes", colleges=orphans)
        return with_facts(replace(state, terms=charter), charter=charter)
    if kind == "link":
        if payload.federation == state.id.hex():
            raise InvalidMessage("a federation does not link to itself")
        links: FrozenMap[str, LinkValue] = state.facts.get("links", FrozenMap())
        value = LinkValue(payload.federation, payload.name, payload.secretariat, at, decision)
        return with_facts(state, links=links.set(payload.federation, value))
    if kind in fund.DECISION_KINDS:
        return fund.adopt(state, kind, payload, at)
    return state  # general: the decision is its text


def _check_applicable(state: AgreementState, kind: str, payload: Body, at: int) -> None:
    """Refuse a proposal that could not take effect as things stand (its effect, tried and dropped)."""
    _take_effect(state, kind, payload, at, "")


def _round(state: AgreementState, rule: DecisionRule, at: int) -> tuple[Window, FrozenMap[str, str], FrozenMap[str, Any]]:
    charter = charter_of(state)
    weights = college_weights((c.id, c.weight_percent) for c in charter.colleges) if rule.weighted else {}
    return window(rule, at), members_of(state), FrozenMap(weights)


def _propose(state: AgreementState, statement: Envelope, data: NewProposal) -> AgreementState:
    node, at = statement.issuer, state.iat
    _member(state, node, "make proposals")
    if state.name != ACTIVE:
        raise NotAllowed("the federation is forming: every founder adheres before anything is decided")
    rule = charter_of(state).rules.get(data.kind)
    if rule is None:
        raise NotAllowed(f"the charter has no rule for {data.kind} decisions", kind=data.kind)
    proposal_id = data.id or statement.message_id.hex()[:16]
    if proposal_id in proposals_of(state):
        raise Conflict("a proposal with this id exists already", proposal=proposal_id)
    if data.review_at is not None and data.review_at <= at:
        raise InvalidMessage("a review date lies in the future", review_at=data.review_at)
    payload = _payload(data.kind, data.payload)
    _check_applicable(state, data.kind, payload, at)
    round_window, electorate, weights = _round(state, rule, at)
    record = ProposalRecord(
        id=proposal_id,
        kind=data.kind,
        proposer=node,
        rule=rule,
        title=data.title,
        text=data.text,
        payload=payload,
        version=1,
        window=round_window,
        electorate=electorate,
        weights=weights,
        requested_review_at=data.review_at,
    )
    return _store(state, record)


def _not_ended(record: ProposalRecord, at: int, what: str) -> None:
    if at >= record.window.closes:
        raise Expired(f"the round is over: no more {what}", closes=record.window.closes)


def _ask(state: AgreementState, statement: Envelope, data: Ask) -> AgreementState:
    _member(state, statement.issuer, "ask questions")
    record, at = _open_proposal(state, data.proposal), state.iat
    _not_ended(record, at, "questions")
    if phase(record.rule, record.window, at) == "objections":
        raise NotAllowed("clarifying questions come before the objection round",
                         questions_until=record.window.questions_until)
    question = Question(len(record.questions) + 1, statement.issuer, data.text, at)
    return _store(state, replace(record, questions=(*record.questions, question)))


def _answer(state: AgreementState, statement: Envelope, data: Answer) -> AgreementState:
    record, at = _open_proposal(state, data.proposal), state.iat
    if statement.issuer != record.proposer:
        raise NotAllowed("the proposer answers the questions")
    if not 1 <= data.question <= len(record.questions):
        raise InvalidMessage("no such question", question=data.question)
    question = record.questions[data.question - 1]
    if question.answer is not None:
        raise Conflict("this question is answered already", question=data.question)
    answered = replace(question, answer=data.text, answered_at=at)
    questions = tuple(answered if q.number == data.question else q for q in record.questions)
    return _store(state, replace(record, questions=questions))


def _object(state: AgreementState, statement: Envelope, data: Objecting) -> AgreementState:
    _member(state, statement.issuer, "object")
    record, at = _open_proposal(state, data.proposal), state.iat
    if record.rule.method != "consent":
        raise NotAllowed("this proposal is decided by ballot: vote against it")
    if statement.issuer == record.proposer:
        raise NotAllowed("the proposer amends its proposal rather than objecting to it")
    if statement.issued_at < record.window.opens:
        raise Conflict("this objection was signed before the current version: object to it again")
    _not_ended(record, at, "objections")
    if phase(record.rule, record.window, at) == "questions":
        raise NotAllowed("the objection round opens after the clarifying questions",
                         opens=record.window.questions_until)
    objection = Objection(len(record.objections) + 1, statement.issuer, data.reason, data.aim, at, record.version)
    return _store(state, replace(record, objections=(*record.objections, objection)))


def _withdraw_objection(state: AgreementState, statement: Envelope, data: ObjectionWithdrawal) -> AgreementState:
    record, at = _open_proposal(state, data.proposal), state.iat
    if not 1 <= data.objection <= len(record.objections):
        raise InvalidMessage("no such objection", objection=data.objection)
    objection = record.objections[data.objection - 1]
    if objection.by != statement.issuer:
        raise NotAllowed("only its author withdraws an objection")
    if objection.status != "open":
        raise Conflict(f"this objection is {objection.status} already", objection=data.objection)
    _not_ended(record, at, "withdrawals: the round is judged as it ended")
    return _store(state, replace(record, objections=withdraw(record.objections, data.objection, at)))


def _amend(state: AgreementState, statement: Envelope, data: Amending) -> AgreementState:
    record, at = _open_proposal(state, data.proposal), state.iat
    if statement.issuer != record.proposer:
        raise NotAllowed("only the proposer amends its proposal")
    payload = _payload(record.kind, data.payload) if data.payload is not None else record.payload
    if data.payload is not None:
        _check_applicable(state, record.kind, payload, at)
    earlier = Version(record.version, record.title, record.text, record.payload, record.window.opens)
    round_window, electorate, weights = _round(state, record.rule, at)
    amended_record = replace(
        record,
        title=data.title or record.title,
        text=data.text or record.text,
        payload=payload,
        version=record.version + 1,
        window=round_window,
        electorate=electorate,
        weights=weights,
        objections=integrate(record.objections, at),
        ballots=FrozenMap(),  # a new round: ballots were cast on the text that changed
        history=(*record.history, earlier),
    )
    return _store(state, amended_record)


def _vote(state: AgreementState, statement: Envelope, data: Voting) -> AgreementState:
    node = statement.issuer
    _member(state, node, "vote")
    record, at = _open_proposal(state, data.proposal), state.iat
    if record.rule.method != "ballot":
        raise NotAllowed("this proposal is decided by consent: object to it, or say nothing")
    _not_ended(record, at, "ballots")
    if node not in record.electorate:
        raise NotAllowed("only the members at the ballot's opening vote", opened=record.window.opens)
    if node in record.ballots:
        raise Conflict("this member has voted already: one member, one vote", node=node)
    if statement.issued_at < record.window.opens:
        raise Conflict("this ballot was signed before the current version: vote again")
    return _store(state, replace(record, ballots=record.ballots.set(node, data.choice)))


# -- closing --------------------------------------------------------------------


def tally(record: ProposalRecord) -> ConsentTally | BallotTally:
    """The outcome the signed statements give the proposal's current round."""
    if record.rule.method == "consent":
        return consent_tally(record.objections)
    return ballot_tally(record.rule, record.electorate, record.ballots, record.weights)  # type: ignore[arg-type]


def expected_review(record: ProposalRecord) -> int | None:
    """An adopted decision's review date: the proposer's, else the rule's months after the window closed."""
    if record.requested_review_at is not None:
        return record.requested_review_at
    if record.rule.review_months is None:
        return None
    return review_date(record.window.closes, record.rule.review_months)


def closing(record: ProposalRecord) -> dict[str, Any]:
    """The close data the tally gives (what the secretariat signs once the window ended)."""
    outcome = tally(record).outcome
    data: dict[str, Any] = {"proposal": record.id, "outcome": outcome}
    review = expected_review(record) if outcome == "adopted" else None
    if review is not None:
        data["review_at"] = review
    return data


def due(state: AgreementState, at_ms: int) -> tuple[str, ...]:
    """The open proposals whose window ended by ``at_ms``: the secretariat closes them."""
    return tuple(p.id for p in proposals_of(state).values() if p.status == "open" and at_ms >= p.window.closes)


def _close(state: AgreementState, event: Envelope, data: Closing) -> AgreementState:
    record, at = _open_proposal(state, data.proposal), state.iat
    if at < record.window.closes:
        raise NotAllowed("the round is still open", closes=record.window.closes)
    result = tally(record)
    if data.outcome != result.outcome:
        raise Conflict("the outcome contradicts the signed statements", outcome=data.outcome,
                       expected=result.outcome)
    review = expected_review(record) if result.adopted else None
    if data.review_at is not None and data.review_at != review:
        raise Conflict("the review date is not the one the rule gives", review_at=data.review_at, expected=review)
    closed = replace(record, status=result.outcome, closed_at=at, review_at=review)
    if not result.adopted:
        return _store(state, closed)
    try:
        moved = _take_effect(state, record.kind, record.payload, at, record.id)
    except ProtocolError as exc:
        # Adopted, yet the federation moved since (the node joined meanwhile, the fund ran short):
        # the outcome stands and says why it did not take effect.
        return _store(state, replace(closed, applied=False, note=exc.message))
    return _store(moved, replace(closed, applied=True))


# -- the table ------------------------------------------------------------------

_S = frozenset({SECRETARIAT})

STATEMENTS: Mapping[str, StatementRule] = {
    "adhere": StatementRule(Adhesion, _adhere),
    "propose": StatementRule(NewProposal, _propose),
    "ask": StatementRule(Ask, _ask),
    "answer": StatementRule(Answer, _answer),
    "object": StatementRule(Objecting, _object),
    "withdraw_objection": StatementRule(ObjectionWithdrawal, _withdraw_objection),
    "amend": StatementRule(Amending, _amend),
    "vote": StatementRule(Voting, _vote),
}
assert not set(STATEMENTS) & set(fund.STATEMENTS), "fund statements clash with the federation's"

TABLE: dict[tuple[str, str], Transition] = {
    (FORMING, EMBED_ACTION): Transition(_S, Embedding, FORMING, Step.EMBED),
    (ACTIVE, EMBED_ACTION): Transition(_S, Embedding, ACTIVE, Step.EMBED),
    (ACTIVE, "close"): Transition(_S, Closing, ACTIVE, effect=_close),
}
assert not set(TABLE) & set(fund.EVENTS), "fund events clash with the federation's"

FEDERATION = register_kind(
    Kind(
        name=KIND,
        roles=(SECRETARIAT,),
        openings={"found": Transition(_S, Founding, FORMING, effect=_found)},
        table={**TABLE, **fund.EVENTS},
        terminal=frozenset(),
        pending=frozenset(),
        authority=SECRETARIAT,
        statements={**STATEMENTS, **fund.STATEMENTS},
        max_seq=MAX_CHAIN,
    )
)


def parse_charter(charter: Mapping[str, Any] | Charter) -> Charter:
    """Validate a charter (InvalidMessage naming the field)."""
    return charter if isinstance(charter, Charter) else parse(Charter, dict(charter))


def found(
    key: SigningKey, charter: Mapping[str, Any] | Charter, *, now_ms: int, agreement_id: bytes | None = None
) -> Envelope:
    """The founding event of a federation whose secretariat is ``key``'s node."""
    terms = parse_charter(charter).to_wire()
    parties = {SECRETARIAT: key.node_id}
    return open_agreement(key, FEDERATION, "found", parties, {"terms": terms}, now_ms=now_ms, agreement_id=agreement_id)


__all__ = [
    "ACTIVE",
    "DECISION_KINDS",
    "FEDERATION",
    "FORMING",
    "INVITED",
    "KIND",
    "MEMBER",
    "SECRETARIAT",
    "Admission",
    "Charter",
    "CharterChange",
    "College",
    "Link",
    "LinkValue",
    "ProposalRecord",
    "Question",
    "Removal",
    "Version",
    "amended",
    "charter_digest",
    "charter_of",
    "closing",
    "due",
    "expected_review",
    "found",
    "invitations_of",
    "members_of",
    "parse_charter",
    "proposals_of",
    "tally",
]
