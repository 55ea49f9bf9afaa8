"""The loan kind: lending equipment, a vehicle or a room (ValueFlows ``transferCustody``).

Two roles: the *owner* holds the resource and is the authority for its
calendar; the *borrower* asks for it. The same kind covers hourly room
bookings (a period of hours) and partial-quantity loans (``quantity`` of a
resource held in several units).

    (open) --request(B)--> requested --offer(O)--> offered --counter(B)--> requested ...
    requested --accept(O)--> sealed        offered --accept(B)--> sealed
    requested --decline(O)--> declined    offered --decline(B)--> declined
    requested|offered --withdraw(B)--> withdrawn
    sealed --handover(O)--> in_custody --return(O)--> returned
    in_custody|returned --incident(O)--> (same state)
    sealed --cancel(O|B)--> cancelled
    returned --close(O|B)--> closing --close(the other)--> closed

``declined``, ``withdrawn``, ``cancelled`` and ``closed`` are final. Terms
are proposed with the proposer's co-signature and sealed by the other
party's (see ``machine`` and ``sealed``). The owner records handover, return
and incidents: it holds the resource and answers for its condition; the
borrower's recourse is its own rating and comment when closing, both signed
into the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from ..envelope import Envelope
from ..errors import InvalidMessage, NotAllowed
from ..identity import SigningKey
from ..schema import (
    Body,
    Hash32,
    Millis,
    Money,
    NilFree,
    NodeId,
    RecordId,
    ShortText,
    parse,
)
from ..availability import Period
from ._frozen import FrozenMap
from .machine import (
    Acceptance,
    AgreementState,
    Kind,
    Step,
    Transition,
    open_agreement,
    register_kind,
    with_facts,
)
from .sealed import MAX_PARTIES, Name, Signature

KIND = "loan"
OWNER = "owner"
BORROWER = "borrower"
# States in which the owner's calendar holds the resource for the loan (an offer, tentatively).
HOLDING_STATES = frozenset({"offered", "sealed", "in_custody"})
MINUTE_MS = 60_000

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Comment = Annotated[str, Field(max_length=2000)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000_000)]
Rating = Annotated[int, Field(ge=1, le=5)]
Parties = Annotated[dict[Name, NodeId], Field(min_length=2, max_length=MAX_PARTIES)]


# -- terms --------------------------------------------------------------------


class Pickup(Body):
    place: ShortText
    at: Millis


class CancellationRule(Body):
    """Cancelling after ``free_until`` costs ``fee``."""

    free_until: Millis
    fee: Money


class LoanTerms(NilFree):
    resource: RecordId  # the owner's record id
    period: Period
    quantity: Quantity
    purpose: Text | None = None
    fee: Money
    deposit: Money
    conditions: Annotated[str, Field(min_length=1, max_length=5000)] | None = None
    pickup: Pickup | None = None
    cancellation: CancellationRule | None = None
    expires: Millis  # when this proposal lapses


# -- event data ---------------------------------------------------------------


class LoanRequest(Body):
    parties: Parties
    terms: LoanTerms
    seal_sig: Signature


class LoanProposal(Body):
    terms: LoanTerms
    seal_sig: Signature


class Reason(Body):
    reason: Text


class Withdrawal(NilFree):
    reason: Text | None = None


class CustodyReport(NilFree):
    """What the owner saw at handover or return; photos stay off-protocol, committed by SHA-256."""

    at: Millis
    condition: Text
    photos: Annotated[tuple[Hash32, ...], Field(min_length=1, max_length=32)] | None = None


class IncidentReport(Body):
    kind: Annotated[str, Field(pattern=r"^(damage|loss)$")]
    description: Text
    deposit_kept: Money
    reason: Text


class Closing(NilFree):
    rating: Rating
    comment: Comment | None = None


# -- facts --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ending:
    """How a loan ended early: declined, withdrawn or cancelled."""

    by: str  # role
    at: int  # the event's iat
    reason: str | None
    fee_due: Money | None = None  # cancellation only


def cancellation_fee(terms: LoanTerms, at_ms: int) -> Money:
    """What a borrower owes for cancelling at ``at_ms`` under ``terms``."""
    rule = terms.cancellation
    if rule is None:
        return Money(amount=0, currency=terms.fee.currency)
    return rule.fee if at_ms > rule.free_until else Money(amount=0, currency=rule.fee.currency)


def lateness_minutes(terms: LoanTerms, returned_at: int) -> int:
    """Whole minutes after the period's end (0 when on time)."""
    return max(0, (returned_at - terms.period.end) // MINUTE_MS)


def _role(state: AgreementState, event: Envelope) -> str:
    role = state.role_of(event.issuer)
    assert role is not None  # the machine checked it
    return role


def _end(state: AgreementState, event: Envelope, data: Reason | Withdrawal) -> AgreementState:
    return with_facts(state, ended=Ending(_role(state, event), event.issued_at, data.reason))


def _cancel(state: AgreementState, event: Envelope, data: Reason) -> AgreementState:
    role = _role(state, event)
    # The rule binds the borrower; an owner who cancels owes nothing under it.
    if role == BORROWER:
        fee = cancellation_fee(state.terms, event.issued_at)
    else:
        fee = Money(amount=0, currency=state.terms.fee.currency)
    return with_facts(state, ended=Ending(role, event.issued_at, data.reason, fee))


def _not_after_event(report: CustodyReport, event: Envelope, what: str) -> None:
    if report.at > event.issued_at:
        raise InvalidMessage(f"a {what} is recorded once it happened", at=report.at, iat=event.issued_at)


def _handover(state: AgreementState, event: Envelope, data: CustodyReport) -> AgreementState:
    _not_after_event(data, event, "handover")
    return with_facts(state, handover=data)


def _return(state: AgreementState, event: Envelope, data: CustodyReport) -> AgreementState:
    _not_after_event(data, event, "return")
    if data.at < state.facts["handover"].at:
        raise InvalidMessage("a return comes after the handover", handover_at=state.facts["handover"].at)
    return with_facts(state, returned=data, lateness_minutes=lateness_minutes(state.terms, data.at))


def _incident(state: AgreementState, event: Envelope, data: IncidentReport) -> AgreementState:
    deposit: Money = state.terms.deposit
    if data.deposit_kept.currency != deposit.currency:
        raise InvalidMessage("deposit kept is in the deposit's currency", currency=deposit.currency)
    kept: Money = state.facts.get("deposit_kept", Money(amount=0, currency=deposit.currency))
    total = kept.amount + data.deposit_kept.amount
    if total > deposit.amount:
        raise NotAllowed(
            "cannot keep more than the deposit", deposit=deposit.amount, already_kept=kept.amount, asked=total
        )
    incidents = (*state.facts.get("incidents", ()), data)
    return with_facts(state, incidents=incidents, deposit_kept=Money(amount=total, currency=deposit.currency))


def _close(state: AgreementState, event: Envelope, data: Closing) -> AgreementState:
    role = _role(state, event)
    ratings: FrozenMap[str, Closing] = state.facts.get("ratings", FrozenMap())
    if role in ratings:
        raise NotAllowed(f"the {role} already closed this loan; the other party closes it now")
    return with_facts(state, ratings=ratings.set(role, data))


# -- the table ----------------------------------------------------------------

_O = frozenset({OWNER})
_B = frozenset({BORROWER})
_OB = _O | _B

LOAN = register_kind(
    Kind(
        name=KIND,
        roles=(OWNER, BORROWER),
        openings={"request": Transition(_B, LoanRequest, "requested", Step.PROPOSE)},
        table={
            ("requested", "offer"): Transition(_O, LoanProposal, "offered", Step.PROPOSE),
            ("offered", "counter"): Transition(_B, LoanProposal, "requested", Step.PROPOSE),
            ("requested", "accept"): Transition(_O, Acceptance, "sealed", Step.ACCEPT),
            ("offered", "accept"): Transition(_B, Acceptance, "sealed", Step.ACCEPT),
            # Declining answers the other party's proposal; a borrower takes back its own with withdraw.
            ("requested", "decline"): Transition(_O, Reason, "declined", effect=_end),
            ("offered", "decline"): Transition(_B, Reason, "declined", effect=_end),
            ("requested", "withdraw"): Transition(_B, Withdrawal, "withdrawn", effect=_end),
            ("offered", "withdraw"): Transition(_B, Withdrawal, "withdrawn", effect=_end),
            ("sealed", "handover"): Transition(_O, CustodyReport, "in_custody", effect=_handover),
            ("sealed", "cancel"): Transition(_OB, Reason, "cancelled", effect=_cancel),
            ("in_custody", "return"): Transition(_O, CustodyReport, "returned", effect=_return),
            ("in_custody", "incident"): Transition(_O, IncidentReport, "in_custody", effect=_incident),
            ("returned", "incident"): Transition(_O, IncidentReport, "returned", effect=_incident),
            ("returned", "close"): Transition(_OB, Closing, "closing", effect=_close),
            ("closing", "close"): Transition(_OB, Closing, "closed", effect=_close),
        },
        terminal=frozenset({"declined", "withdrawn", "cancelled", "closed"}),
        pending=frozenset({"requested", "offered"}),
        authority=OWNER,  # its node keeps the resource's calendar
    )
)


def parse_terms(terms: Mapping[str, Any] | LoanTerms) -> LoanTerms:
    """Validate loan terms (InvalidMessage naming the field)."""
    return terms if isinstance(terms, LoanTerms) else parse(LoanTerms, dict(terms))


def open_request(
    key: SigningKey,
    owner_node_id: str,
    terms: Mapping[str, Any] | LoanTerms,
    *,
    now_ms: int,
    agreement_id: bytes | None = None,
) -> Envelope:
    """A borrower's opening request to ``owner_node_id``, co-signed for ``terms``."""
    parties = {OWNER: owner_node_id, BORROWER: key.node_id}
    return open_agreement(key, LOAN, "request", parties, {"terms": terms}, now_ms=now_ms, agreement_id=agreement_id)
