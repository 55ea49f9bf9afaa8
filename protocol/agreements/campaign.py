"""The campaign kind: associations co-fund a common project with signed, conditional pledges.

A campaign is a *convened* agreement: its organiser's node alone adds events;
everyone else signs statements the organiser embeds (see ``machine``). The
opening states the terms (purpose, beneficiaries, minimum and target in cents,
deadline, mode, budget lines, stretch goals, who may pledge, co-organisers).

    (open) --open(O)--> draft --cosign(every co-organiser)--> open
                        (no co-organiser: straight to open)
    open: pledge, amend, withdraw (contributors); import (organiser); invite (O)
    open --conclude(O, at or after the deadline)--> succeeded | lapsed
    draft|open --cancel(O)--> cancelled        (open: only before the deadline)
    succeeded: paid (contributors), received (organiser, beneficiary nodes)
    succeeded --close(O)--> closed

``lapsed``, ``cancelled`` and ``closed`` are final. Totals come from the
signed pledges only: ``tally(state)`` is a pure function anyone holding the
chain computes, and the organiser's conclusion is refused when it claims
another outcome than the tally gives. The exact counting rules (caps, budget
lines, stretch goals, modes) are specified in docs/cofunding.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Annotated, Any

from pydantic import Field, model_validator

from ..envelope import Envelope
from ..errors import (
    Conflict,
    Expired,
    Forbidden,
    InvalidMessage,
    NotAllowed,
    OutOfOrder,
)
from ..records import FederationIds
from ..schema import Body, Currency, Hash32, Millis, NilFree, NodeId, RecordId, ShortText, parse
from ._frozen import FrozenMap
from .machine import (
    AgreementState,
    Embedding,
    Kind,
    StatementRule,
    Step,
    Transition,
    register_kind,
    with_facts,
)
from .sealed import Name

KIND = "campaign"
ORGANISER = "organiser"
# Members (participants beyond the organiser): they receive the chain.
CO_ORGANISER = "co_organiser"
BENEFICIARY = "beneficiary"
INVITED = "invited"
CONTRIBUTOR = "contributor"

MAX_SEQ = 100_000  # a campaign with many small pledges, payments and receipts
STATEMENT_WINDOW_MS = 10 * 60_000  # a statement is embedded within 10 minutes of being signed
MAX_CENTS = 10**15
MAX_LINES = 32
MAX_GOALS = 16
MAX_CO_ORGANISERS = 16
MAX_BENEFICIARIES = 16
MAX_LISTED_NODES = 256
MAX_INVITED = 1024

MONEY, WORK, EQUIPMENT = "money", "work", "equipment"
ALL_OR_NOTHING, KEEP_IT_ALL = "all_or_nothing", "keep_it_all"
PUBLIC, FEDERATIONS, NODES = "public", "federations", "nodes"
PENDING, BOUND, RELEASED = "pending", "bound", "released"
CONCLUDED = frozenset({"succeeded", "lapsed", "closed"})
PAYING = frozenset({"succeeded", "closed"})  # states in which counted pledges are bound

Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]
PositiveCents = Annotated[int, Field(ge=1, le=MAX_CENTS)]
Text = Annotated[str, Field(min_length=1, max_length=5000)]
Hours = Annotated[int, Field(ge=1, le=100_000)]
Percent = Annotated[int, Field(ge=1, le=100)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]
ContributionType = Annotated[str, Field(pattern=r"^(money|work|equipment)$")]
Mode = Annotated[str, Field(pattern=r"^(all_or_nothing|keep_it_all)$")]
Scope = Annotated[str, Field(pattern=r"^(public|federations|nodes)$")]
PaymentMethod = Annotated[str, Field(pattern=r"^(transfer|cheque|cash|card|platform|in_kind|other)$")]


def _unique(values: Iterable[Any], what: str) -> None:
    values = list(values)
    if len(set(values)) != len(values):
        raise ValueError(f"{what}: listed twice")


# -- terms --------------------------------------------------------------------


class Beneficiary(NilFree):
    """Who the money is for: an association's node, or a named legal person outside the network
    (a town's cycling service, a cooperative); never a natural person."""

    node: NodeId | None = None
    name: ShortText | None = None

    @model_validator(mode="after")
    def _named(self) -> Beneficiary:
        if self.node is None and self.name is None:
            raise ValueError("a beneficiary is a node, a name, or both")
        return self


class BudgetLine(Body):
    id: RecordId
    title: ShortText
    min: Cents
    max: Cents

    @model_validator(mode="after")
    def _ordered(self) -> BudgetLine:
        if self.min > self.max:
            raise ValueError(f"line {self.id}: min is above max")
        return self


class StretchGoal(Body):
    amount: PositiveCents
    title: ShortText


class Eligibility(NilFree):
    """Who may pledge: anyone, members of some federations (judged by the organiser's node from
    the federation chains it holds), or listed nodes. Organisers may always pledge."""

    scope: Scope
    federations: FederationIds | None = None
    nodes: Annotated[tuple[NodeId, ...], Field(min_length=1, max_length=MAX_LISTED_NODES)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Eligibility:
        if (self.scope == FEDERATIONS) != (self.federations is not None):
            raise ValueError("federations: required with scope federations, and only then")
        if (self.scope == NODES) != (self.nodes is not None):
            raise ValueError("nodes: required with scope nodes, and only then")
        _unique(self.federations or (), "federations")
        _unique(self.nodes or (), "nodes")
        return self


class CampaignTerms(NilFree):
    title: ShortText
    purpose: Text
    beneficiaries: Annotated[tuple[Beneficiary, ...], Field(min_length=1, max_length=MAX_BENEFICIARIES)]
    currency: Currency  # ISO 4217; every amount of the campaign is in its minor unit
    target: PositiveCents
    minimum: Cents
    deadline: Millis
    mode: Mode
    lines: Annotated[tuple[BudgetLine, ...], Field(min_length=1, max_length=MAX_LINES)] | None = None
    stretch_goals: Annotated[tuple[StretchGoal, ...], Field(min_length=1, max_length=MAX_GOALS)] | None = None
    eligibility: Eligibility
    co_organisers: Annotated[tuple[NodeId, ...], Field(min_length=1, max_length=MAX_CO_ORGANISERS)] | None = None
    withdraw_until: Millis | None = None  # default: the deadline

    @model_validator(mode="after")
    def _coherent(self) -> CampaignTerms:
        if self.minimum > self.target:
            raise ValueError("minimum is above target")
        lines = self.lines or ()
        _unique((line.id for line in lines), "lines")
        if lines and sum(line.min for line in lines) > self.minimum:
            raise ValueError("lines: their minimums add up to more than the campaign's minimum")
        if lines and sum(line.max for line in lines) < self.target:
            raise ValueError("lines: their maximums add up to less than the target")
        amounts = [goal.amount for goal in self.stretch_goals or ()]
        if amounts and (amounts[0] <= self.target or any(a >= b for a, b in pairwise(amounts))):
            raise ValueError("stretch_goals: above the target, in increasing order")
        _unique(self.co_organisers or (), "co_organisers")
        nodes = [b.node for b in self.beneficiaries if b.node is not None]
        _unique(nodes, "beneficiaries")
        if self.withdraw_until is not None and self.withdraw_until > self.deadline:
            raise ValueError("withdraw_until is after the deadline")
        return self

    @property
    def last_change(self) -> int:
        """Until when (inclusive) a pledge may be amended or withdrawn."""
        return self.deadline if self.withdraw_until is None else self.withdraw_until

    def line(self, line_id: str) -> BudgetLine | None:
        return next((line for line in self.lines or () if line.id == line_id), None)

    def beneficiary_nodes(self) -> tuple[str, ...]:
        return tuple(b.node for b in self.beneficiaries if b.node is not None)


# -- event and statement data -------------------------------------------------


class CampaignOpening(NilFree):
    parties: Annotated[dict[Name, NodeId], Field(min_length=1, max_length=1)]
    terms: CampaignTerms
    # Nodes that receive the chain from the start (a federation's members, found by the organiser's node).
    invite: Annotated[tuple[NodeId, ...], Field(min_length=1, max_length=MAX_INVITED)] | None = None


class Invitation(Body):
    nodes: Annotated[tuple[NodeId, ...], Field(min_length=1, max_length=MAX_INVITED)]


class Conclusion(Body):
    """The organiser's claimed outcome: refused unless it is what the signed pledges give."""

    reached: bool  # the minimum was reached
    total: Cents  # what the campaign pays out


class Reason(NilFree):
    reason: Text | None = None


class Cosign(Body):
    opening: Hash32  # message id of the opening event: the terms the co-organiser stands behind


class Conditions(NilFree):
    if_minimum: bool | None = None  # count only if the campaign's minimum is reached
    cap_percent: Percent | None = None  # at most this share of the campaign's final total


class PledgeData(NilFree):
    type: ContributionType
    value: PositiveCents  # in the campaign's currency; in-kind contributions valued
    hours: Hours | None = None  # work
    description: ShortText | None = None  # equipment (what is lent, for how long), optional for work
    line: RecordId | None = None  # the budget line it is earmarked for
    conditions: Conditions | None = None

    @model_validator(mode="after")
    def _shape(self) -> PledgeData:
        if self.type == MONEY and (self.hours is not None or self.description is not None):
            raise ValueError("a money pledge has neither hours nor description")
        if self.type == WORK and self.hours is None:
            raise ValueError("a work pledge states its hours")
        if self.type == EQUIPMENT and (self.description is None or self.hours is not None):
            raise ValueError("an equipment pledge describes the equipment (and states no hours)")
        return self


class PaidData(NilFree):
    amount: PositiveCents
    method: PaymentMethod
    reference: ShortText | None = None  # the transfer's reference, a cheque number; never a person
    date: Millis


class ReceivedData(NilFree):
    payment: Hash32  # message id of the contributor's "paid" statement
    amount: PositiveCents
    date: Millis | None = None


class ImportPeriod(Body):
    start: Millis
    end: Millis

    @model_validator(mode="after")
    def _ordered(self) -> ImportPeriod:
        if self.start > self.end:
            raise ValueError("period: start is after end")
        return self


class ImportData(Body):
    """Aggregated contributions collected on a crowdfunding platform: totals only, no payer."""

    platform: ShortText
    reference: ShortText  # the export it comes from; importing the same reference again replaces it
    count: Count
    amount: Cents
    period: ImportPeriod


# -- facts --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pledge:
    contributor: str
    type: str
    value: int
    hours: int | None
    description: str | None
    line: str | None
    if_minimum: bool
    cap_percent: int | None
    at: int  # the statement's date
    statement: str  # the statement's message id, hex


@dataclass(frozen=True, slots=True)
class PlatformImport:
    platform: str
    reference: str
    count: int
    amount: int
    start: int
    end: int
    at: int
    statement: str


@dataclass(frozen=True, slots=True)
class Payment:
    contributor: str
    amount: int
    method: str
    reference: str | None
    date: int
    at: int


@dataclass(frozen=True, slots=True)
class Receipt:
    by: str
    amount: int
    date: int | None
    at: int


@dataclass(frozen=True, slots=True)
class Outcome:
    reached: bool
    total: int
    at: int
    bound: FrozenMap[str, int]  # contribution key -> amount bound (succeeded only)


@dataclass(frozen=True, slots=True)
class Ending:
    reason: str | None
    at: int


def import_key(platform: str, reference: str) -> str:
    """How an import is named in the tally: it stands for the platform's contributors, not a node."""
    return f"{platform}/{reference}"


# -- the tally ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contribution:
    """One counted item: a node's pledge or a platform import."""

    key: str  # node id, or platform/reference for an import
    source: str  # "pledge" | "import"
    type: str
    value: int
    line: str | None
    if_minimum: bool
    cap_percent: int | None
    hours: int | None = None


@dataclass(frozen=True, slots=True)
class ContributionTally:
    key: str
    source: str
    type: str
    value: int  # what was pledged
    counted: int  # what counts towards the minimum (its cap resolved over every active pledge)
    payable: int  # what it owes under the outcome (now, or at the conclusion)
    status: str  # pending | bound | released
    line: str | None
    if_minimum: bool
    cap_percent: int | None
    hours: int | None
    paid: int
    confirmed: int


@dataclass(frozen=True, slots=True)
class LineTally:
    id: str
    title: str
    min: int
    max: int
    earmarked: int  # from pledges naming this line
    allocated: int  # earmarked, then the general funds (to every min first, then to every max)
    min_reached: bool
    max_reached: bool


@dataclass(frozen=True, slots=True)
class GoalTally:
    amount: int
    title: str
    reached: bool


@dataclass(frozen=True, slots=True)
class Tally:
    currency: str
    mode: str
    state: str
    minimum: int
    target: int
    pledged: int  # every active pledge and import at face value
    counted: int  # caps resolved over every active pledge: what the minimum is judged on
    reached: bool  # counted >= minimum
    total: int  # what pays out: counted when reached; else 0 (all-or-nothing) or the unconditional part
    target_reached: bool
    percent_of_minimum: int  # floor(100 * counted / minimum); 100 when the minimum is 0
    percent_of_target: int
    by_type: FrozenMap[str, int]  # payable per contribution type
    hours: int  # pledged hours of work that are payable
    lines: tuple[LineTally, ...]
    unallocated: int
    stretch_goals: tuple[GoalTally, ...]
    contributions: tuple[ContributionTally, ...]
    bound: int  # promised (once concluded)
    released: int
    paid: int
    confirmed: int
    outstanding: int  # bound - paid


def resolve_caps(items: Sequence[Contribution]) -> dict[str, int]:
    """Each contribution's counted amount: its value, or less where its cap binds.

    A cap of p % limits a contribution to floor(p * T / 100) where T is the sum
    of every counted amount: the total is the greatest integer fixed point
    T = f(T), f(T) = sum(min(value, floor(p * T / 100)) or value). Iterating f
    from the face-value sum descends to it (f is monotone and f(T) <= T above
    it); the jump to floor(100 S / (100 - P)) — S the uncapped and saturated
    part, P the binding caps' percentages — never passes below it and keeps
    the number of steps small.
    """
    total = sum(c.value for c in items)

    def counted(c: Contribution, at: int) -> int:
        return c.value if c.cap_percent is None else min(c.value, c.cap_percent * at // 100)

    while True:
        following = sum(counted(c, total) for c in items)
        if following == total:
            break
        total = following
        binding = {c.key: c.cap_percent for c in items if c.cap_percent is not None and c.value > c.cap_percent * total // 100}
        percent = sum(binding.values())
        if percent < 100:
            free = sum(c.value for c in items if c.key not in binding)
            total = min(total, 100 * free // (100 - percent))
    return {c.key: counted(c, total) for c in items}


def contributions(state: AgreementState) -> list[Contribution]:
    """The active pledges (latest amendment, not withdrawn) then the platform imports, in chain order."""
    found = [
        Contribution(p.contributor, "pledge", p.type, p.value, p.line, p.if_minimum, p.cap_percent, p.hours)
        for p in _pledges(state).values()
    ]
    found += [
        Contribution(import_key(i.platform, i.reference), "import", MONEY, i.amount, None, False, None)
        for i in _imports(state).values()
    ]
    return found


def tally(state: AgreementState) -> Tally:
    """Progress and outcome of a campaign, from its signed statements only (pure)."""
    terms: CampaignTerms = state.terms
    items = contributions(state)
    counted = resolve_caps(items)
    counted_total = sum(counted.values())
    reached = counted_total >= terms.minimum
    if state.name == "cancelled":
        payable: dict[str, int] = {}
    elif reached:
        payable = counted
    elif terms.mode == ALL_OR_NOTHING:
        payable = {}
    else:  # keep-it-all below the minimum: pledges made on condition of the minimum are released
        payable = resolve_caps([c for c in items if not c.if_minimum])
    total = sum(payable.values())
    concluded = state.name in CONCLUDED or state.name == "cancelled"
    paying = state.name in PAYING

    paid, confirmed = _paid_and_confirmed(state)
    rows = []
    for c in items:
        owes = payable.get(c.key, 0)
        status = PENDING if not concluded else BOUND if paying and owes > 0 else RELEASED
        imported = c.source == "import" and paying
        rows.append(
            ContributionTally(
                key=c.key,
                source=c.source,
                type=c.type,
                value=c.value,
                counted=counted[c.key],
                payable=owes,
                status=status,
                line=c.line,
                if_minimum=c.if_minimum,
                cap_percent=c.cap_percent,
                hours=c.hours,
                # The platform collected an import's money and the organiser attests it by importing.
                paid=owes if imported else paid.get(c.key, 0),
                confirmed=owes if imported else confirmed.get(c.key, 0),
            )
        )
    lines, unallocated = _allocate(terms, items, payable)
    bound = total if paying else 0
    by_type = {kind: sum(payable.get(c.key, 0) for c in items if c.type == kind) for kind in (MONEY, WORK, EQUIPMENT)}
    paid_total = sum(r.paid for r in rows)
    return Tally(
        currency=terms.currency,
        mode=terms.mode,
        state=state.name,
        minimum=terms.minimum,
        target=terms.target,
        pledged=sum(c.value for c in items),
        counted=counted_total,
        reached=reached,
        total=total,
        target_reached=counted_total >= terms.target,
        percent_of_minimum=100 * counted_total // terms.minimum if terms.minimum else 100,
        percent_of_target=100 * counted_total // terms.target,
        by_type=FrozenMap(by_type),
        hours=sum(c.hours or 0 for c in items if payable.get(c.key, 0) > 0),
        lines=lines,
        unallocated=unallocated,
        stretch_goals=tuple(GoalTally(g.amount, g.title, total >= g.amount) for g in terms.stretch_goals or ()),
        contributions=tuple(rows),
        bound=bound,
        released=sum(c.value for c in items) - bound if concluded else 0,
        paid=paid_total,
        confirmed=sum(r.confirmed for r in rows),
        outstanding=max(0, bound - paid_total),
    )


def _allocate(
    terms: CampaignTerms, items: Sequence[Contribution], payable: Mapping[str, int]
) -> tuple[tuple[LineTally, ...], int]:
    """Earmarked amounts go to their line up to its max (the excess joins the general funds); the
    general funds fill every line up to its min, in order, then up to its max, in order; what is
    left is unallocated."""
    lines = terms.lines or ()
    earmarked = {line.id: 0 for line in lines}
    general = 0
    for c in items:
        amount = payable.get(c.key, 0)
        if c.line is not None and c.line in earmarked:
            earmarked[c.line] += amount
        else:
            general += amount
    allocated = {}
    for line in lines:
        allocated[line.id] = min(earmarked[line.id], line.max)
        general += earmarked[line.id] - allocated[line.id]
    for bound in ("min", "max"):
        for line in lines:
            room = max(0, getattr(line, bound) - allocated[line.id])
            given = min(room, general)
            allocated[line.id] += given
            general -= given
    out = tuple(
        LineTally(
            line.id,
            line.title,
            line.min,
            line.max,
            earmarked[line.id],
            allocated[line.id],
            allocated[line.id] >= line.min,
            allocated[line.id] >= line.max,
        )
        for line in lines
    )
    return out, general


def _paid_and_confirmed(state: AgreementState) -> tuple[dict[str, int], dict[str, int]]:
    paid: dict[str, int] = {}
    confirmed: dict[str, int] = {}
    receipts = _receipts(state)
    for payment_id, payment in _payments(state).items():
        paid[payment.contributor] = paid.get(payment.contributor, 0) + payment.amount
        receipt = receipts.get(payment_id)
        if receipt is not None:
            confirmed[payment.contributor] = confirmed.get(payment.contributor, 0) + receipt.amount
    return paid, confirmed


def conclusion_of(state: AgreementState) -> dict[str, Any]:
    """The conclusion the organiser signs: what the tally of the open campaign gives."""
    counted = tally(replace(state, name="open"))
    return {"reached": counted.reached, "total": counted.total}


# -- effects ------------------------------------------------------------------


def _pledges(state: AgreementState) -> FrozenMap[str, Pledge]:
    return state.facts.get("pledges", FrozenMap())


def _imports(state: AgreementState) -> FrozenMap[str, PlatformImport]:
    return state.facts.get("imports", FrozenMap())


def _payments(state: AgreementState) -> FrozenMap[str, Payment]:
    return state.facts.get("payments", FrozenMap())


def _receipts(state: AgreementState) -> FrozenMap[str, Receipt]:
    return state.facts.get("receipts", FrozenMap())


def _with_members(state: AgreementState, nodes: Iterable[str], role: str) -> AgreementState:
    """Add ``nodes`` as members with ``role``, leaving parties and existing members as they are."""
    organiser = state.parties[ORGANISER]
    added = {n: role for n in nodes if n != organiser and n not in state.members}
    if not added:
        return state
    return replace(state, members=FrozenMap({**state.members, **added}))


def _open(state: AgreementState, event: Envelope, data: CampaignOpening) -> AgreementState:
    terms = data.terms
    if terms.deadline <= event.issued_at:
        raise InvalidMessage("a campaign's deadline is after its opening", deadline=terms.deadline, iat=event.issued_at)
    if terms.withdraw_until is not None and terms.withdraw_until < event.issued_at:
        raise InvalidMessage("withdraw_until is before the opening", withdraw_until=terms.withdraw_until)
    organiser = state.parties[ORGANISER]
    if organiser in (terms.co_organisers or ()):
        raise InvalidMessage("the organiser is not also a co-organiser")
    state = _with_members(state, terms.co_organisers or (), CO_ORGANISER)
    state = _with_members(state, terms.beneficiary_nodes(), BENEFICIARY)
    state = _with_members(state, terms.eligibility.nodes or (), INVITED)
    state = _with_members(state, data.invite or (), INVITED)
    state = replace(state, terms=terms, name="draft" if terms.co_organisers else "open")
    return with_facts(
        state,
        opening=event.message_id,
        cosigned=(),
        pledges=FrozenMap(),
        withdrawn=FrozenMap(),
        imports=FrozenMap(),
        payments=FrozenMap(),
        receipts=FrozenMap(),
    )


def _invite(state: AgreementState, event: Envelope, data: Invitation) -> AgreementState:
    eligibility = state.terms.eligibility
    if eligibility.scope == NODES:
        outside = sorted(set(data.nodes) - set(eligibility.nodes or ()))
        if outside:
            raise NotAllowed("only the listed nodes may pledge: invite those", nodes=outside[:8])
    return _with_members(state, data.nodes, INVITED)


def _conclude(state: AgreementState, event: Envelope, data: Conclusion) -> AgreementState:
    terms: CampaignTerms = state.terms
    if event.issued_at < terms.deadline:
        raise NotAllowed("a campaign is concluded at or after its deadline", deadline=terms.deadline)
    expected = conclusion_of(state)
    if (data.reached, data.total) != (expected["reached"], expected["total"]):
        raise Conflict("the conclusion contradicts the signed pledges", expected=expected,
                       claimed={"reached": data.reached, "total": data.total})
    succeeded = data.reached or terms.mode == KEEP_IT_ALL
    moved = replace(state, name="succeeded" if succeeded else "lapsed")
    counted = tally(moved)
    bound = FrozenMap({c.key: c.payable for c in counted.contributions if c.status == BOUND})
    return with_facts(moved, outcome=Outcome(data.reached, data.total, event.issued_at, bound))


def _cancel_draft(state: AgreementState, event: Envelope, data: Reason) -> AgreementState:
    return with_facts(state, ended=Ending(data.reason, event.issued_at))


def _cancel_open(state: AgreementState, event: Envelope, data: Reason) -> AgreementState:
    if event.issued_at >= state.terms.deadline:
        raise NotAllowed("past the deadline a campaign is concluded, not cancelled", deadline=state.terms.deadline)
    return _cancel_draft(state, event, data)


def _close(state: AgreementState, event: Envelope, data: Reason) -> AgreementState:
    return with_facts(state, ended=Ending(data.reason, event.issued_at))


# -- statement rules ----------------------------------------------------------


def _in_state(state: AgreementState, names: frozenset[str] | str, action: str) -> None:
    names = frozenset({names}) if isinstance(names, str) else names
    if state.name not in names:
        raise NotAllowed(f"cannot {action} while the campaign is {state.name}", state=state.name, action=action)


def _fresh(state: AgreementState, statement: Envelope) -> None:
    # state.iat is the embedding event's date: a statement cannot be held back and slipped in late.
    if state.iat - statement.issued_at > STATEMENT_WINDOW_MS:
        raise OutOfOrder("a statement is embedded within ten minutes of being signed", iat=statement.issued_at)


def _in_time(state: AgreementState, statement: Envelope, limit: int, what: str) -> None:
    """Both the statement and the organiser's event embedding it (``state.iat``) come by ``limit``:
    an author cannot backdate its way past a deadline, the organiser cannot embed late."""
    at = max(statement.issued_at, state.iat)
    if at > limit:
        raise Expired(f"too late to {what}", limit=limit, iat=statement.issued_at, embedded_at=state.iat)


def may_pledge(state: AgreementState, node_id: str) -> bool:
    """Whether the terms let ``node_id`` pledge, as far as the chain alone can tell (federation
    membership is judged by the organiser's node from the federation chains it holds)."""
    terms: CampaignTerms = state.terms
    if node_id == state.parties[ORGANISER] or node_id in (terms.co_organisers or ()):
        return True
    return terms.eligibility.scope != NODES or node_id in (terms.eligibility.nodes or ())


def _pledge_of(state: AgreementState, statement: Envelope, data: PledgeData) -> Pledge:
    terms: CampaignTerms = state.terms
    if data.line is not None and terms.line(data.line) is None:
        raise InvalidMessage(f"no budget line {data.line!r} in this campaign", lines=[l.id for l in terms.lines or ()])
    conditions = data.conditions or Conditions()
    return Pledge(
        contributor=statement.issuer,
        type=data.type,
        value=data.value,
        hours=data.hours,
        description=data.description,
        line=data.line,
        if_minimum=bool(conditions.if_minimum),
        cap_percent=conditions.cap_percent,
        at=statement.issued_at,
        statement=statement.message_id.hex(),
    )


def _pledge(state: AgreementState, statement: Envelope, data: PledgeData) -> AgreementState:
    _in_state(state, "open", "pledge")
    _fresh(state, statement)
    _in_time(state, statement, state.terms.deadline, "pledge: the deadline passed")
    author = statement.issuer
    if not may_pledge(state, author):
        raise Forbidden("this campaign takes pledges from its listed nodes only", issuer=author)
    if author in _pledges(state):
        raise Conflict("this node already pledged: amend or withdraw its pledge")
    pledge = _pledge_of(state, statement, data)
    withdrawn = state.facts.get("withdrawn", FrozenMap())
    remaining = FrozenMap({k: v for k, v in withdrawn.items() if k != author})
    state = with_facts(state, pledges=_pledges(state).set(author, pledge), withdrawn=remaining)
    if state.members.get(author) == INVITED:  # an invited node that pledges is a contributor now
        state = replace(state, members=state.members.set(author, CONTRIBUTOR))
    return _with_members(state, [author], CONTRIBUTOR)


def _amend(state: AgreementState, statement: Envelope, data: PledgeData) -> AgreementState:
    _in_state(state, "open", "amend a pledge")
    _fresh(state, statement)
    _in_time(state, statement, state.terms.last_change, "amend a pledge")
    if statement.issuer not in _pledges(state):
        raise NotAllowed("this node has no pledge to amend")
    return with_facts(state, pledges=_pledges(state).set(statement.issuer, _pledge_of(state, statement, data)))


def _withdraw(state: AgreementState, statement: Envelope, data: Reason) -> AgreementState:
    _in_state(state, "open", "withdraw a pledge")
    _fresh(state, statement)
    _in_time(state, statement, state.terms.last_change, "withdraw a pledge")
    pledges = _pledges(state)
    if statement.issuer not in pledges:
        raise NotAllowed("this node has no pledge to withdraw")
    remaining = FrozenMap({k: v for k, v in pledges.items() if k != statement.issuer})
    withdrawn = state.facts.get("withdrawn", FrozenMap()).set(statement.issuer, statement.issued_at)
    return with_facts(state, pledges=remaining, withdrawn=withdrawn)


def _cosign(state: AgreementState, statement: Envelope, data: Cosign) -> AgreementState:
    _in_state(state, "draft", "co-sign")
    _fresh(state, statement)
    if data.opening != state.facts["opening"]:
        raise InvalidMessage("this co-signature names another opening than the campaign's")
    cosigned: tuple[str, ...] = state.facts["cosigned"]
    if statement.issuer in cosigned:
        raise Conflict("this co-organiser already co-signed")
    cosigned = (*cosigned, statement.issuer)
    state = with_facts(state, cosigned=cosigned)
    if set(cosigned) == set(state.terms.co_organisers or ()):
        state = replace(state, name="open")
    return state


def _import(state: AgreementState, statement: Envelope, data: ImportData) -> AgreementState:
    _in_state(state, "open", "import platform totals")
    _fresh(state, statement)
    if data.period.end > state.terms.deadline:
        raise InvalidMessage("imported contributions are those made by the deadline", deadline=state.terms.deadline)
    key = import_key(data.platform, data.reference)
    if "/" in data.platform:
        raise InvalidMessage("platform: without a slash")
    record = PlatformImport(
        data.platform,
        data.reference,
        data.count,
        data.amount,
        data.period.start,
        data.period.end,
        statement.issued_at,
        statement.message_id.hex(),
    )
    # The same export imported again (corrected, or completed) replaces the earlier import.
    return with_facts(state, imports=_imports(state).set(key, record))


def _paid(state: AgreementState, statement: Envelope, data: PaidData) -> AgreementState:
    _in_state(state, "succeeded", "record a payment")
    _fresh(state, statement)
    if data.date > statement.issued_at:
        raise InvalidMessage("a payment is recorded once it is made", date=data.date)
    author = statement.issuer
    outcome: Outcome = state.facts["outcome"]
    bound = outcome.bound.get(author, 0)
    if bound == 0:
        raise NotAllowed("this node has no bound pledge to pay")
    already = sum(p.amount for p in _payments(state).values() if p.contributor == author)
    if already + data.amount > bound:
        raise NotAllowed("payments above the bound pledge", bound=bound, paid=already, amount=data.amount)
    payment = Payment(author, data.amount, data.method, data.reference, data.date, statement.issued_at)
    return with_facts(state, payments=_payments(state).set(statement.message_id.hex(), payment))


def _received(state: AgreementState, statement: Envelope, data: ReceivedData) -> AgreementState:
    _in_state(state, "succeeded", "confirm a payment")
    _fresh(state, statement)
    author = statement.issuer
    if author != state.parties[ORGANISER] and author not in state.terms.beneficiary_nodes():
        raise NotAllowed("only the organiser or a beneficiary node confirms a payment", issuer=author)
    payment_id = data.payment.hex()
    payment = _payments(state).get(payment_id)
    if payment is None:
        raise InvalidMessage("no such payment in this campaign", payment=payment_id)
    if payment_id in _receipts(state):
        raise Conflict("this payment is already confirmed", payment=payment_id)
    if data.amount > payment.amount:
        raise NotAllowed("a receipt confirms at most the amount paid", paid=payment.amount, amount=data.amount)
    receipt = Receipt(author, data.amount, data.date, statement.issued_at)
    return with_facts(state, receipts=_receipts(state).set(payment_id, receipt))


# -- the table ----------------------------------------------------------------

_O = frozenset({ORGANISER})


def _embedding(state_name: str) -> Transition:
    return Transition(_O, Embedding, state_name, Step.EMBED)


CAMPAIGN = register_kind(
    Kind(
        name=KIND,
        roles=(ORGANISER,),
        openings={"open": Transition(_O, CampaignOpening, "draft", effect=_open)},
        table={
            ("draft", "record"): _embedding("draft"),
            ("open", "record"): _embedding("open"),
            ("succeeded", "record"): _embedding("succeeded"),
            ("draft", "invite"): Transition(_O, Invitation, "draft", effect=_invite),
            ("open", "invite"): Transition(_O, Invitation, "open", effect=_invite),
            ("open", "conclude"): Transition(_O, Conclusion, "succeeded", effect=_conclude),
            ("draft", "cancel"): Transition(_O, Reason, "cancelled", effect=_cancel_draft),
            ("open", "cancel"): Transition(_O, Reason, "cancelled", effect=_cancel_open),
            ("succeeded", "close"): Transition(_O, Reason, "closed", effect=_close),
        },
        terminal=frozenset({"lapsed", "cancelled", "closed"}),
        pending=frozenset(),
        authority=ORGANISER,
        statements={
            "cosign": StatementRule(Cosign, _cosign, roles=frozenset({CO_ORGANISER})),
            "pledge": StatementRule(PledgeData, _pledge),
            "amend": StatementRule(PledgeData, _amend),
            "withdraw": StatementRule(Reason, _withdraw),
            "import": StatementRule(ImportData, _import, roles=_O),
            "paid": StatementRule(PaidData, _paid),
            "received": StatementRule(ReceivedData, _received),
        },
        max_seq=MAX_SEQ,
    )
)


def parse_terms(terms: Mapping[str, Any] | CampaignTerms) -> CampaignTerms:
    """Validate campaign terms (InvalidMessage naming the field)."""
    return terms if isinstance(terms, CampaignTerms) else parse(CampaignTerms, dict(terms))


__all__ = [
    "CAMPAIGN",
    "CampaignTerms",
    "Contribution",
    "ContributionTally",
    "GoalTally",
    "LineTally",
    "Tally",
    "conclusion_of",
    "contributions",
    "may_pledge",
    "parse_terms",
    "resolve_caps",
    "tally",
]
