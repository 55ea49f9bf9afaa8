"""The territorial fund: a federation's pool of money, kept as a double-entry ledger.

The fund lives in the federation's chain (a convened agreement whose authority
is the *secretariat*). This module gives the federation kind what it plugs in:

* ``STATEMENTS`` — what members sign: ``contribute`` (a pledge of money, counted
  once received), ``withdraw_contribution`` (its author takes back a pledge not
  yet received), ``apply`` (an application to an open call) and ``received``
  (the beneficiary confirms a distribution arrived);
* ``EVENTS`` — what the secretariat records, in state ``active``:
  ``receive_contribution`` (the treasurer saw the money arrive), ``external``
  (a grant from a funder outside Maillage, e.g. a local authority: it has no
  node to sign with, so the secretariat records it and answers for it, with
  the reference of the grant agreement), ``open_call``, ``close_call``,
  ``distribute`` and ``release`` (an allocation's unpaid remainder returns to
  the fund, e.g. an abandoned project);
* ``DECISION_KINDS`` and ``adopt`` — what members decide: ``fund_criteria``
  (the allocation criteria later calls apply) and ``fund_allocation`` (the
  amounts granted to a call's applications).

Accounts and movements. Every movement is one ``Entry`` from a source account
to a destination account, so the ledger balances by construction and anyone
can recheck it (``check_balanced``)::

    contributor:<node> --receive_contribution--> fund
    external:<funder>  --external-------------> fund
    fund               --fund_allocation------> allocated:<application>
    allocated:<app>    --release--------------> fund
    allocated:<app>    --distribute-----------> beneficiary:<node>

An account's balance is what came in minus what went out: contributors' and
funders' accounts are negative (what they gave), ``fund`` is the money not yet
granted, ``allocated:<app>`` what was granted and not yet paid, and
``beneficiary:<node>`` what was paid out. The money the fund *holds* is
``fund`` plus every ``allocated:`` account. Pledges are commitments, not
movements: they enter the ledger when the secretariat confirms the money.

The fund has one currency: the charter's when it names one, else the first
amount the fund sees. Every effect is pure and returns the state with a new
``facts["fund"]``, or raises a typed ProtocolError and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import Field

from ..agreements._frozen import FrozenMap
from ..agreements.machine import AgreementState, StatementRule, Transition, with_facts
from ..envelope import Envelope
from ..errors import (
    Conflict,
    Expired,
    Forbidden,
    InvalidMessage,
    LocalProtocolError,
    NotAllowed,
)
from ..schema import Body, Millis, Money, NilFree, RecordId, ShortText, parse

FACT = "fund"  # the key of the fund in the federation's facts
ACTIVE = "active"  # the federation's state in which the fund operates
SECRETARIAT = "secretariat"  # the federation's authority role

FUND = "fund"
CONTRIBUTOR = "contributor:"
EXTERNAL = "external:"
ALLOCATED = "allocated:"
BENEFICIARY = "beneficiary:"

# Domain brief §4 (fonds de dotation): thresholds in euro cents.
AUDITOR_THRESHOLD = 10_000_00  # resources of the year above it: statutory auditor and substitute
COMMITTEE_THRESHOLD = 1_000_000_00  # endowment above it: advisory investment committee
ALERT_CURRENCY = "EUR"
# The French financial year ends at midnight in Paris, always winter time (UTC+1) on 1 January.
PARIS_WINTER = timezone(timedelta(hours=1))

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Description = Annotated[str, Field(min_length=1, max_length=5000)]
Reference = Annotated[str, Field(min_length=1, max_length=200)]  # a transfer's or grant agreement's reference
CallId = RecordId
ApplicationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/[1-9][0-9]{0,8}$", max_length=74)]
ContributionId = Annotated[str, Field(pattern=r"^c[1-9][0-9]{0,8}$")]
DistributionId = Annotated[str, Field(pattern=r"^d[1-9][0-9]{0,8}$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2
Method = Literal["transfer", "cheque", "card", "cash", "direct_debit", "platform", "other"]
Weight = Annotated[int, Field(ge=1, le=1000)]
Score = Annotated[int, Field(ge=0, le=1_000_000)]
CriteriaVersion = Annotated[int, Field(ge=1, le=1_000_000)]


class FundError(LocalProtocolError):
    """A fund whose ledger does not check (a bug, or a state built by hand): never a peer's fault."""

    code = "unbalanced"


# -- what members sign (statements) -------------------------------------------


class Contribute(NilFree):
    """A member's pledge of money into the fund; it counts once the secretariat confirms it arrived."""

    amount: Money
    method: Method
    reference: Reference | None = None  # e.g. the transfer's reference, to match the bank statement
    note: Text | None = None


class WithdrawContribution(NilFree):
    contribution: ContributionId
    reason: Text | None = None


class BudgetLine(Body):
    label: ShortText
    amount: Money


class Apply(NilFree):
    """A member's application to an open call."""

    call: CallId
    title: ShortText
    project: Description
    amount: Money  # requested from the fund
    budget: Annotated[tuple[BudgetLine, ...], Field(min_length=1, max_length=50)] | None = None  # the whole project's


class Received(NilFree):
    """The beneficiary confirms a distribution arrived."""

    distribution: DistributionId
    note: Text | None = None


# -- what the secretariat records (events) ------------------------------------


class ReceiveContribution(NilFree):
    contribution: ContributionId
    amount: Money | None = None  # what arrived, when less than pledged
    reference: Reference | None = None  # the bank statement's line


class ExternalContribution(NilFree):
    """Money from a funder outside Maillage (a local authority's grant, a foundation, a company)."""

    funder: ShortText
    amount: Money
    reference: Reference  # the grant agreement or receipt that proves it
    public: bool = False  # a public body's money (a subsidy)
    authorisation: Reference | None = None  # the authorisation a fonds de dotation needs for public money
    country: Country | None = None  # the funder's country, for foreign funding (France when absent)
    note: Text | None = None


class OpenCall(NilFree):
    id: CallId
    title: ShortText
    budget: Money
    deadline: Millis
    criteria: CriteriaVersion | None = None  # the adopted criteria it applies: the latest when absent
    description: Description | None = None


class CloseCall(NilFree):
    call: CallId
    reason: Text | None = None


class Distribute(NilFree):
    application: ApplicationId  # whose allocation is paid
    amount: Money
    reference: Reference  # the transfer's reference


class Release(Body):
    application: ApplicationId
    amount: Money
    reason: Text


# -- what members decide (decision payloads) ----------------------------------


class Criterion(Body):
    id: RecordId
    title: ShortText
    weight: Weight


class FundCriteria(Body):
    """Allocation criteria; calls opened after their adoption apply them."""

    criteria: Annotated[tuple[Criterion, ...], Field(min_length=1, max_length=50)]
    eligibility: Description


class Grant(NilFree):
    application: ApplicationId
    amount: Money  # 0 records a scored application that gets nothing
    score: Score | None = None


class FundAllocation(Body):
    call: CallId
    allocations: Annotated[tuple[Grant, ...], Field(min_length=1, max_length=500)]


# -- the fund's state ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One movement: ``amount`` leaves ``source`` and enters ``destination``."""

    at: int  # ms: the date of the signed event that made it
    source: str
    destination: str
    amount: Money
    reference: bytes  # message id of the signed statement or event that made it
    movement: str  # contribution | external | allocation | release | distribution


@dataclass(frozen=True, slots=True)
class Contribution:
    id: str
    account: str  # contributor:<node> or external:<funder>
    pledged: Money
    pledged_at: int
    method: str
    reference: str | None
    note: str | None
    statement: bytes | None  # the pledge's message id (None for an external contribution)
    status: str = "pledged"  # pledged | received | withdrawn
    received: Money | None = None
    received_at: int | None = None
    receipt: bytes | None = None  # message id of the event that confirmed it
    public: bool = False
    authorisation: str | None = None
    country: str | None = None

    @property
    def node(self) -> str | None:
        return self.account.removeprefix(CONTRIBUTOR) if self.account.startswith(CONTRIBUTOR) else None

    @property
    def external(self) -> bool:
        return self.account.startswith(EXTERNAL)


@dataclass(frozen=True, slots=True)
class Criteria:
    version: int
    adopted_at: int
    event: bytes
    criteria: tuple[Criterion, ...]
    eligibility: str


@dataclass(frozen=True, slots=True)
class Call:
    id: str
    title: str
    budget: Money
    deadline: int
    criteria: int  # the criteria version it applies
    opened_at: int
    event: bytes
    description: str | None = None
    closed_at: int | None = None

    def open_at(self, at_ms: int) -> bool:
        return self.closed_at is None and at_ms <= self.deadline


@dataclass(frozen=True, slots=True)
class Application:
    id: str  # <call>/<n>
    call: str
    applicant: str  # node id
    title: str
    project: str
    requested: Money
    budget: tuple[BudgetLine, ...]
    applied_at: int
    statement: bytes


@dataclass(frozen=True, slots=True)
class Allocation:
    """One adopted ``fund_allocation`` decision."""

    call: str
    adopted_at: int
    event: bytes
    grants: tuple[Grant, ...]


@dataclass(frozen=True, slots=True)
class Distribution:
    id: str
    application: str
    beneficiary: str  # node id
    amount: Money
    reference: str
    at: int
    event: bytes
    received_at: int | None = None
    confirmation: bytes | None = None  # the beneficiary's statement


@dataclass(frozen=True, slots=True)
class FundState:
    """The fund as a frozen value: what was pledged, decided and moved, and the balances that follow."""

    currency: str | None = None
    entries: tuple[Entry, ...] = ()
    balances: FrozenMap[str, int] = field(default_factory=FrozenMap)  # account -> cents, from ``entries``
    contributions: FrozenMap[str, Contribution] = field(default_factory=FrozenMap)
    criteria: tuple[Criteria, ...] = ()
    calls: FrozenMap[str, Call] = field(default_factory=FrozenMap)
    applications: FrozenMap[str, Application] = field(default_factory=FrozenMap)
    allocations: tuple[Allocation, ...] = ()
    granted: FrozenMap[str, int] = field(default_factory=FrozenMap)  # application -> cents granted in total
    distributions: FrozenMap[str, Distribution] = field(default_factory=FrozenMap)

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    @property
    def available(self) -> int:
        """Cents not yet granted: what a new allocation may use."""
        return self.balance(FUND)

    @property
    def held(self) -> int:
        """Cents the fund holds: not yet granted plus granted and not yet paid."""
        return self.available + sum(v for a, v in self.balances.items() if a.startswith(ALLOCATED))

    def money(self, cents: int) -> Money:
        return Money(amount=cents, currency=self.currency or ALERT_CURRENCY)


EMPTY = FundState()


def fund_of(state: AgreementState) -> FundState:
    fund = state.facts.get(FACT)
    return fund if isinstance(fund, FundState) else EMPTY


def currency_of(state: AgreementState) -> str | None:
    """The fund's currency: fixed by its first amount, else the charter's (None before either)."""
    return fund_of(state).currency or _charter_currency(state)


def ledger(state: AgreementState) -> tuple[Entry, ...]:
    return fund_of(state).entries


@dataclass(frozen=True, slots=True)
class Balance:
    """One account's position: what entered it (debits), what left it (credits), in the fund's currency."""

    currency: str
    debits: int
    credits: int

    @property
    def amount(self) -> int:
        """Signed cents: negative for a contributor's or funder's account (what it gave)."""
        return self.debits - self.credits


def balances(state: AgreementState) -> Mapping[str, Balance]:
    """Every account's position, recomputed from the ledger, sorted by account."""
    fund = fund_of(state)
    debits: dict[str, int] = {}
    credits: dict[str, int] = {}
    for entry in fund.entries:
        debits[entry.destination] = debits.get(entry.destination, 0) + entry.amount.amount
        credits[entry.source] = credits.get(entry.source, 0) + entry.amount.amount
    currency = fund.currency or ALERT_CURRENCY
    return FrozenMap(
        {a: Balance(currency, debits.get(a, 0), credits.get(a, 0)) for a in sorted({*debits, *credits})}
    )


def check_balanced(fund: FundState) -> None:
    """Recompute the ledger from its entries; raise FundError when anything does not add up.

    Per currency, debits equal credits (every account's balance sums to zero);
    at no point does ``fund`` or an ``allocated:`` account go negative; the
    cached balances match; every entry moves a positive amount in the fund's
    currency between two different accounts; received contributions and
    distributions are exactly the ledger's movements.
    """
    debits: dict[str, int] = {}
    credits: dict[str, int] = {}
    running: dict[str, int] = {}
    for index, entry in enumerate(fund.entries):
        money = entry.amount
        if money.amount <= 0 or entry.source == entry.destination:
            raise FundError("an entry moves a positive amount between two accounts", entry=index)
        if money.currency != fund.currency:
            raise FundError("an entry is not in the fund's currency", entry=index, currency=money.currency)
        debits[money.currency] = debits.get(money.currency, 0) + money.amount
        credits[money.currency] = credits.get(money.currency, 0) + money.amount
        running[entry.source] = running.get(entry.source, 0) - money.amount
        running[entry.destination] = running.get(entry.destination, 0) + money.amount
        if running[entry.source] < 0 and _must_stay_positive(entry.source):
            raise FundError(f"{entry.source} went negative", entry=index, balance=running[entry.source])
    if debits != credits or sum(running.values()) != 0:
        raise FundError("debits and credits differ", debits=debits, credits=credits)
    if {a: v for a, v in running.items() if v} != {a: v for a, v in fund.balances.items() if v}:
        raise FundError("the balances do not follow from the entries")
    movements = {_entry_key(e) for e in fund.entries}
    for c in fund.contributions.values():
        if (c.status == "received") != ((c.account, FUND, c.receipt) in movements):
            raise FundError("a contribution is received exactly when the ledger holds it", contribution=c.id)
    for d in fund.distributions.values():
        if (ALLOCATED + d.application, BENEFICIARY + d.beneficiary, d.event) not in movements:
            raise FundError("a distribution is missing from the ledger", distribution=d.id)
    for application, granted in fund.granted.items():
        paid = sum(d.amount.amount for d in fund.distributions.values() if d.application == application)
        if paid > granted:
            raise FundError("an application was paid more than it was granted", application=application)


def _must_stay_positive(account: str) -> bool:
    return account == FUND or account.startswith(ALLOCATED)


def _entry_key(entry: Entry) -> tuple[str, str, bytes]:
    return (entry.source, entry.destination, entry.reference)


# -- shared checks --------------------------------------------------------------


def _store(state: AgreementState, fund: FundState) -> AgreementState:
    return with_facts(state, **{FACT: fund})


def _members(state: AgreementState) -> Mapping[str, Any]:
    members = state.facts.get("members")
    return members if isinstance(members, Mapping) else FrozenMap()


def _charter_currency(state: AgreementState) -> str | None:
    charter = state.facts.get("charter")
    value = charter.get("currency") if isinstance(charter, Mapping) else getattr(charter, "currency", None)
    return value if isinstance(value, str) else None


def _active(state: AgreementState, action: str) -> None:
    if state.name != ACTIVE:
        raise NotAllowed(f"the fund operates while the federation is active: cannot {action}", state=state.name)


def _settle_currency(state: AgreementState, fund: FundState, money: Money, what: str) -> FundState:
    """The fund with its currency fixed; ``money`` must be in it (InvalidMessage otherwise)."""
    currency = fund.currency or _charter_currency(state) or money.currency
    if money.currency != currency:
        raise InvalidMessage(
            f"the fund is kept in {currency}: {what} in {money.currency} is refused",
            currency=currency,
            given=money.currency,
        )
    return fund if fund.currency == currency else replace(fund, currency=currency)


def _positive(money: Money, what: str) -> None:
    if money.amount <= 0:
        raise InvalidMessage(f"{what} is a positive amount", amount=money.amount)


def _move(fund: FundState, entry: Entry) -> FundState:
    """Record one movement; refuse one that would overdraw the fund or an allocation."""
    cents = entry.amount.amount
    after = fund.balance(entry.source) - cents
    if after < 0 and _must_stay_positive(entry.source):
        raise Conflict(
            f"{entry.source} holds {fund.balance(entry.source)} cents: cannot move {cents}",
            account=entry.source,
            balance=fund.balance(entry.source),
            amount=cents,
        )
    moved = {**fund.balances, entry.source: after, entry.destination: fund.balance(entry.destination) + cents}
    return replace(fund, entries=(*fund.entries, entry), balances=FrozenMap(moved))


def _next_id(prefix: str, taken: Mapping[str, Any]) -> str:
    return f"{prefix}{len(taken) + 1}"


def _application(fund: FundState, application_id: str) -> Application:
    application = fund.applications.get(application_id)
    if application is None:
        raise InvalidMessage("no such application in this fund", application=application_id)
    return application


def _call(fund: FundState, call_id: str) -> Call:
    call = fund.calls.get(call_id)
    if call is None:
        raise InvalidMessage("no such call in this fund", call=call_id, known=sorted(fund.calls))
    return call


# -- statement effects ----------------------------------------------------------


def _contribute(state: AgreementState, statement: Envelope, data: Contribute) -> AgreementState:
    _active(state, "contribute")
    node = statement.issuer
    if node not in _members(state) and node != state.parties.get(SECRETARIAT):
        raise Forbidden("only the federation's members contribute to its fund", issuer=node)
    _positive(data.amount, "a contribution")
    fund = _settle_currency(state, fund_of(state), data.amount, "a contribution")
    contribution = Contribution(
        id=_next_id("c", fund.contributions),
        account=CONTRIBUTOR + node,
        pledged=data.amount,
        pledged_at=statement.issued_at,
        method=data.method,
        reference=data.reference,
        note=data.note,
        statement=statement.message_id,
    )
    return _store(state, replace(fund, contributions=fund.contributions.set(contribution.id, contribution)))


def _withdraw_contribution(state: AgreementState, statement: Envelope, data: WithdrawContribution) -> AgreementState:
    _active(state, "withdraw a contribution")
    fund = fund_of(state)
    contribution = _contribution(fund, data.contribution)
    if contribution.account != CONTRIBUTOR + statement.issuer:
        raise Forbidden("only its contributor withdraws a contribution", contribution=contribution.id)
    if contribution.status != "pledged":
        raise Conflict(f"this contribution is already {contribution.status}", contribution=contribution.id)
    withdrawn = replace(contribution, status="withdrawn")
    return _store(state, replace(fund, contributions=fund.contributions.set(withdrawn.id, withdrawn)))


def _apply(state: AgreementState, statement: Envelope, data: Apply) -> AgreementState:
    _active(state, "apply")
    node = statement.issuer
    if node not in _members(state):
        raise Forbidden("only the federation's member associations apply to its fund", issuer=node)
    fund = fund_of(state)
    call = _call(fund, data.call)
    if call.closed_at is not None:
        raise NotAllowed("this call is closed", call=call.id)
    if statement.issued_at > call.deadline:
        raise Expired("this call's deadline has passed", call=call.id, deadline=call.deadline)
    _positive(data.amount, "the amount requested")
    fund = _settle_currency(state, fund, data.amount, "an application")
    if data.amount.amount > call.budget.amount:
        raise NotAllowed("an application asks at most the call's budget", budget=call.budget.amount)
    budget = data.budget or ()
    for line in budget:
        _settle_currency(state, fund, line.amount, "a budget line")
    if budget and sum(line.amount.amount for line in budget) < data.amount.amount:
        raise InvalidMessage("the project's budget covers at least the amount requested")
    number = 1 + sum(1 for a in fund.applications.values() if a.call == call.id)
    application = Application(
        id=f"{call.id}/{number}",
        call=call.id,
        applicant=node,
        title=data.title,
        project=data.project,
        requested=data.amount,
        budget=tuple(budget),
        applied_at=statement.issued_at,
        statement=statement.message_id,
    )
    return _store(state, replace(fund, applications=fund.applications.set(application.id, application)))


def _received(state: AgreementState, statement: Envelope, data: Received) -> AgreementState:
    _active(state, "confirm a distribution")
    fund = fund_of(state)
    distribution = fund.distributions.get(data.distribution)
    if distribution is None:
        raise InvalidMessage("no such distribution in this fund", distribution=data.distribution)
    if statement.issuer != distribution.beneficiary:
        raise Forbidden("only its beneficiary confirms a distribution arrived", distribution=distribution.id)
    if distribution.received_at is not None:
        raise Conflict("this distribution is already confirmed", distribution=distribution.id)
    confirmed = replace(distribution, received_at=statement.issued_at, confirmation=statement.message_id)
    return _store(state, replace(fund, distributions=fund.distributions.set(confirmed.id, confirmed)))


def _contribution(fund: FundState, contribution_id: str) -> Contribution:
    contribution = fund.contributions.get(contribution_id)
    if contribution is None:
        raise InvalidMessage("no such contribution in this fund", contribution=contribution_id)
    return contribution


# -- event effects (the secretariat's) --------------------------------------------


def _receive_contribution(state: AgreementState, event: Envelope, data: ReceiveContribution) -> AgreementState:
    fund = fund_of(state)
    contribution = _contribution(fund, data.contribution)
    if contribution.status != "pledged":
        raise Conflict(f"this contribution is already {contribution.status}", contribution=contribution.id)
    amount = data.amount or contribution.pledged
    _positive(amount, "a received contribution")
    fund = _settle_currency(state, fund, amount, "a received contribution")
    if amount.amount > contribution.pledged.amount:
        raise NotAllowed("more arrived than was pledged: record the difference as a new contribution",
                         pledged=contribution.pledged.amount)
    entry = Entry(event.issued_at, contribution.account, FUND, amount, event.message_id, "contribution")
    received = replace(
        contribution, status="received", received=amount, received_at=event.issued_at, receipt=event.message_id
    )
    fund = _move(fund, entry)
    return _store(state, replace(fund, contributions=fund.contributions.set(received.id, received)))


def _external(state: AgreementState, event: Envelope, data: ExternalContribution) -> AgreementState:
    _positive(data.amount, "an external contribution")
    fund = _settle_currency(state, fund_of(state), data.amount, "an external contribution")
    contribution = Contribution(
        id=_next_id("c", fund.contributions),
        account=EXTERNAL + data.funder,
        pledged=data.amount,
        pledged_at=event.issued_at,
        method="transfer",
        reference=data.reference,
        note=data.note,
        statement=None,
        status="received",
        received=data.amount,
        received_at=event.issued_at,
        receipt=event.message_id,
        public=data.public,
        authorisation=data.authorisation,
        country=data.country,
    )
    fund = _move(fund, Entry(event.issued_at, contribution.account, FUND, data.amount, event.message_id, "external"))
    return _store(state, replace(fund, contributions=fund.contributions.set(contribution.id, contribution)))


def _open_call(state: AgreementState, event: Envelope, data: OpenCall) -> AgreementState:
    fund = fund_of(state)
    if data.id in fund.calls:
        raise Conflict("a call with this id already exists", call=data.id)
    if not fund.criteria:
        raise NotAllowed("the members adopt allocation criteria (a fund_criteria decision) before a call opens")
    latest = fund.criteria[-1].version
    if data.criteria is not None and data.criteria != latest:
        raise Conflict("a call applies the criteria in force", criteria=data.criteria, in_force=latest)
    if data.deadline <= event.issued_at:
        raise InvalidMessage("a call's deadline is after its opening", deadline=data.deadline, iat=event.issued_at)
    _positive(data.budget, "a call's budget")
    fund = _settle_currency(state, fund, data.budget, "a call's budget")
    call = Call(data.id, data.title, data.budget, data.deadline, latest, event.issued_at, event.message_id,
                data.description)
    return _store(state, replace(fund, calls=fund.calls.set(call.id, call)))


def _close_call(state: AgreementState, event: Envelope, data: CloseCall) -> AgreementState:
    fund = fund_of(state)
    call = _call(fund, data.call)
    if call.closed_at is not None:
        raise Conflict("this call is already closed", call=call.id)
    closed = replace(call, closed_at=event.issued_at)
    return _store(state, replace(fund, calls=fund.calls.set(closed.id, closed)))


def _distribute(state: AgreementState, event: Envelope, data: Distribute) -> AgreementState:
    fund = fund_of(state)
    application = _application(fund, data.application)
    _positive(data.amount, "a distribution")
    fund = _settle_currency(state, fund, data.amount, "a distribution")
    cents = data.amount.amount
    if cents > fund.held:
        raise Conflict("a distribution cannot exceed what the fund holds", held=fund.held, amount=cents)
    remaining = fund.balance(ALLOCATED + application.id)
    if cents > remaining:
        raise NotAllowed(
            "a distribution cannot exceed what the adopted allocation grants, minus what was already paid",
            application=application.id,
            granted=fund.granted.get(application.id, 0),
            remaining=remaining,
            amount=cents,
        )
    distribution = Distribution(
        id=_next_id("d", fund.distributions),
        application=application.id,
        beneficiary=application.applicant,
        amount=data.amount,
        reference=data.reference,
        at=event.issued_at,
        event=event.message_id,
    )
    entry = Entry(event.issued_at, ALLOCATED + application.id, BENEFICIARY + application.applicant, data.amount,
                  event.message_id, "distribution")
    fund = _move(fund, entry)
    return _store(state, replace(fund, distributions=fund.distributions.set(distribution.id, distribution)))


def _release(state: AgreementState, event: Envelope, data: Release) -> AgreementState:
    fund = fund_of(state)
    application = _application(fund, data.application)
    _positive(data.amount, "a release")
    fund = _settle_currency(state, fund, data.amount, "a release")
    remaining = fund.balance(ALLOCATED + application.id)
    if data.amount.amount > remaining:
        raise NotAllowed("only what is granted and not yet paid returns to the fund", remaining=remaining)
    entry = Entry(event.issued_at, ALLOCATED + application.id, FUND, data.amount, event.message_id, "release")
    return _store(state, _move(fund, entry))


# -- decisions ------------------------------------------------------------------


DECISION_KINDS: Mapping[str, type[Body]] = FrozenMap(
    {"fund_criteria": FundCriteria, "fund_allocation": FundAllocation}
)


def adopt(state: AgreementState, decision_kind: str, payload: Body | Mapping[str, Any], at_ms: int) -> AgreementState:
    """Apply an adopted fund decision; the state's ``head`` (the event adopting it) is the entries' reference.

    Raises a typed ProtocolError when the decision cannot apply to the fund as
    it stands (e.g. an allocation beyond the available balance): nothing changes.
    """
    model = DECISION_KINDS.get(decision_kind)
    if model is None:
        raise InvalidMessage(f"not a fund decision: {decision_kind!r}", known=sorted(DECISION_KINDS))
    parsed = payload if isinstance(payload, model) else parse(model, dict(payload) if isinstance(payload, Mapping) else payload)
    if isinstance(parsed, FundCriteria):
        return _adopt_criteria(state, parsed, at_ms)
    return _adopt_allocation(state, parsed, at_ms)


def _adopt_criteria(state: AgreementState, data: FundCriteria, at_ms: int) -> AgreementState:
    ids = [c.id for c in data.criteria]
    if len(set(ids)) != len(ids):
        raise InvalidMessage("each criterion has its own id", ids=ids)
    fund = fund_of(state)
    version = Criteria(len(fund.criteria) + 1, at_ms, state.head, data.criteria, data.eligibility)
    return _store(state, replace(fund, criteria=(*fund.criteria, version)))


def _adopt_allocation(state: AgreementState, data: FundAllocation, at_ms: int) -> AgreementState:
    fund = fund_of(state)
    call = _call(fund, data.call)
    if call.open_at(at_ms):
        raise NotAllowed("a call's allocation is decided once it is closed or past its deadline", call=call.id)
    seen: set[str] = set()
    granted = dict(fund.granted)
    for grant in data.allocations:
        application = _application(fund, grant.application)
        if application.call != call.id:
            raise InvalidMessage("an allocation grants applications to its own call", application=application.id)
        if application.id in seen:
            raise InvalidMessage("an allocation names each application once", application=application.id)
        seen.add(application.id)
        if grant.amount.amount and application.applicant not in _members(state):
            raise NotAllowed("the fund grants money to member associations only: this applicant left",
                             application=application.id, applicant=application.applicant)
        fund = _settle_currency(state, fund, grant.amount, "an allocation")
        granted[application.id] = granted.get(application.id, 0) + grant.amount.amount
        if granted[application.id] > application.requested.amount:
            raise NotAllowed("an application is granted at most what it requested", application=application.id,
                             requested=application.requested.amount, granted=granted[application.id])
    total = sum(g.amount.amount for g in data.allocations)
    already = sum(fund.granted.get(a.id, 0) for a in fund.applications.values() if a.call == call.id)
    if already + total > call.budget.amount:
        raise NotAllowed("allocations exceed the call's budget", budget=call.budget.amount, already=already,
                         total=total)
    if total > fund.available:
        raise Conflict("allocations exceed the fund's available balance", available=fund.available, total=total)
    for grant in data.allocations:
        if grant.amount.amount:
            entry = Entry(at_ms, FUND, ALLOCATED + grant.application, grant.amount, state.head, "allocation")
            fund = _move(fund, entry)
    allocation = Allocation(call.id, at_ms, state.head, data.allocations)
    return _store(state, replace(fund, allocations=(*fund.allocations, allocation), granted=FrozenMap(granted)))


# -- what the federation kind merges --------------------------------------------

STATEMENTS: Mapping[str, StatementRule] = FrozenMap(
    {
        "contribute": StatementRule(Contribute, _contribute),
        "withdraw_contribution": StatementRule(WithdrawContribution, _withdraw_contribution),
        "apply": StatementRule(Apply, _apply),
        "received": StatementRule(Received, _received),
    }
)

_S = frozenset({SECRETARIAT})

EVENTS: Mapping[tuple[str, str], Transition] = FrozenMap(
    {
        (ACTIVE, "receive_contribution"): Transition(_S, ReceiveContribution, ACTIVE, effect=_receive_contribution),
        (ACTIVE, "external"): Transition(_S, ExternalContribution, ACTIVE, effect=_external),
        (ACTIVE, "open_call"): Transition(_S, OpenCall, ACTIVE, effect=_open_call),
        (ACTIVE, "close_call"): Transition(_S, CloseCall, ACTIVE, effect=_close_call),
        (ACTIVE, "distribute"): Transition(_S, Distribute, ACTIVE, effect=_distribute),
        (ACTIVE, "release"): Transition(_S, Release, ACTIVE, effect=_release),
    }
)


# -- the activity report (domain brief §4) ----------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    code: str  # auditor | investment-committee | public-funding-authorisation
    message_fr: str
    message_en: str
    value: int  # cents, or a count
    threshold: int


@dataclass(frozen=True, slots=True)
class Gift:
    contribution: str
    account: str  # contributor:<node> or external:<funder>
    amount: Money
    at: int
    public: bool
    country: str | None
    authorisation: str | None


@dataclass(frozen=True, slots=True)
class GrantPaid:
    application: str
    call: str
    title: str
    amount: Money  # paid in the year


@dataclass(frozen=True, slots=True)
class BeneficiaryGrants:
    beneficiary: str  # node id: the operator completes name, address, email, phone and nature
    total: Money
    grants: tuple[GrantPaid, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of a year's activity report (rapport d'activité) and the fund's legal alerts."""

    year: int
    currency: str
    start: int  # ms, inclusive (1 January, midnight in Paris)
    end: int  # ms, exclusive
    resources: Money  # received in the year
    from_members: Money
    from_external: Money
    public: Money
    foreign: Money
    gifts: tuple[Gift, ...]
    distributed: Money
    beneficiaries: tuple[BeneficiaryGrants, ...]
    allocated: Money  # granted by decisions adopted in the year
    held_at_end: Money  # the endowment at year end
    available_at_end: Money
    alerts: tuple[Alert, ...]


def year_bounds(year: int) -> tuple[int, int]:
    """A financial year in ms: from 1 January midnight in Paris to the next."""
    start = datetime(year, 1, 1, tzinfo=PARIS_WINTER)
    end = datetime(year + 1, 1, 1, tzinfo=PARIS_WINTER)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def report(state: AgreementState, year: int) -> Report:
    """The activity-report figures of ``year`` (calendar year, Paris time), computed from the ledger alone."""
    fund = fund_of(state)
    start, end = year_bounds(year)
    money = fund.money
    gifts = tuple(
        Gift(c.id, c.account, c.received, c.received_at, c.public, c.country, c.authorisation)
        for c in fund.contributions.values()
        if c.received is not None and c.received_at is not None and start <= c.received_at < end
    )
    in_year = [e for e in fund.entries if start <= e.at < end]
    paid: dict[str, list[GrantPaid]] = {}
    for d in fund.distributions.values():
        if start <= d.at < end:
            application = fund.applications[d.application]
            paid.setdefault(d.beneficiary, []).append(
                GrantPaid(application.id, application.call, application.title, d.amount)
            )
    beneficiaries = tuple(
        BeneficiaryGrants(node, money(sum(g.amount.amount for g in grants)), tuple(_merge_grants(grants, money)))
        for node, grants in sorted(paid.items())
    )
    at_end = _replayed(fund.entries, end)
    held = at_end.get(FUND, 0) + sum(v for a, v in at_end.items() if a.startswith(ALLOCATED))
    resources = sum(g.amount.amount for g in gifts)
    figures = Report(
        year=year,
        currency=fund.currency or ALERT_CURRENCY,
        start=start,
        end=end,
        resources=money(resources),
        from_members=money(sum(g.amount.amount for g in gifts if g.account.startswith(CONTRIBUTOR))),
        from_external=money(sum(g.amount.amount for g in gifts if g.account.startswith(EXTERNAL))),
        public=money(sum(g.amount.amount for g in gifts if g.public)),
        foreign=money(sum(g.amount.amount for g in gifts if g.country not in (None, "FR"))),
        gifts=gifts,
        distributed=money(sum(e.amount.amount for e in in_year if e.movement == "distribution")),
        beneficiaries=beneficiaries,
        allocated=money(
            sum(e.amount.amount for e in in_year if e.movement == "allocation")
        ),
        held_at_end=money(held),
        available_at_end=money(at_end.get(FUND, 0)),
        alerts=(),
    )
    return replace(figures, alerts=alerts(figures))


def alerts(figures: Report) -> tuple[Alert, ...]:
    """The legal thresholds of a fonds de dotation the year's figures cross (amounts in euros only)."""
    found: list[Alert] = []
    if figures.currency == ALERT_CURRENCY and figures.resources.amount > AUDITOR_THRESHOLD:
        found.append(Alert(
            "auditor",
            "Ressources de l'exercice supérieures à 10 000 € : un commissaire aux comptes et un suppléant sont "
            "obligatoires ; comptes à publier dans les 6 mois.",
            "Resources of the year above €10,000: a statutory auditor and a substitute are required; "
            "accounts published within 6 months.",
            figures.resources.amount,
            AUDITOR_THRESHOLD,
        ))
    if figures.currency == ALERT_CURRENCY and figures.held_at_end.amount > COMMITTEE_THRESHOLD:
        found.append(Alert(
            "investment-committee",
            "Dotation supérieure à 1 M€ : un comité consultatif chargé de la politique de placement est obligatoire.",
            "Endowment above €1M: an advisory investment committee is required.",
            figures.held_at_end.amount,
            COMMITTEE_THRESHOLD,
        ))
    unauthorised = [g for g in figures.gifts if g.public and g.authorisation is None]
    if unauthorised:
        found.append(Alert(
            "public-funding-authorisation",
            "Fonds publics reçus sans référence d'autorisation : un fonds de dotation ne peut recevoir de fonds "
            "publics que sur autorisation ministérielle.",
            "Public money received without an authorisation reference: an endowment fund may receive public "
            "money only with a ministerial authorisation.",
            len(unauthorised),
            0,
        ))
    return tuple(found)


def _replayed(entries: Iterable[Entry], before: int) -> dict[str, int]:
    totals: dict[str, int] = {}
    for e in entries:
        if e.at < before:
            totals[e.source] = totals.get(e.source, 0) - e.amount.amount
            totals[e.destination] = totals.get(e.destination, 0) + e.amount.amount
    return totals


def _merge_grants(grants: list[GrantPaid], money: Any) -> list[GrantPaid]:
    """One line per application (several payments of one grant add up)."""
    merged: dict[str, GrantPaid] = {}
    for g in grants:
        prior = merged.get(g.application)
        merged[g.application] = g if prior is None else replace(prior, amount=money(prior.amount.amount + g.amount.amount))
    return sorted(merged.values(), key=lambda g: g.application)


__all__ = [
    "ACTIVE",
    "DECISION_KINDS",
    "EVENTS",
    "FACT",
    "STATEMENTS",
    "Alert",
    "Application",
    "Balance",
    "Call",
    "Contribution",
    "Criteria",
    "Distribution",
    "Entry",
    "FundError",
    "FundState",
    "Report",
    "adopt",
    "balances",
    "check_balanced",
    "currency_of",
    "fund_of",
    "ledger",
    "report",
    "year_bounds",
]
