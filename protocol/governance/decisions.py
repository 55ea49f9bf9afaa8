"""Decision rules and their tallies: sociocratic consent and ballots, pure and exact.

A federation's charter gives one ``DecisionRule`` per kind of decision. The
functions here judge what members said — objections, ballots — and nothing
else: no clock is read (times are passed in) and every ratio is a
``fractions.Fraction``, so every node that holds the same signed statements
computes the same outcome, bit for bit.

Consent (domain brief §6): a round opens with the proposal (or its latest
amendment); clarifying questions run until ``questions_until``, then
objections until ``closes``. An objection carries a reason and the aim it
protects; it stays *open* until its author withdraws it (*withdrawn*) or the
proposer amends the proposal (*integrated*: the new version answers it, and
the objector may object again to that version). The proposal is adopted iff
no objection is open when the window closes.

Ballot: one member, one vote, among the members at the round's opening;
choices ``for``, ``against`` and ``abstain``. The quorum is the share of that
electorate who voted (an abstention counts for the quorum). The result is
the share of ``for`` among the votes expressed (``for`` + ``against``); with
college weighting, each college's own ``for`` share (one member one vote
inside the college) counts for the college's weight, and colleges where
nobody expressed a vote have their weight shared among the others in
proportion to their weights (that is, the result is the weighted mean over
the colleges that expressed a vote). Adopted iff the quorum is reached and
the result is at least ``majority_percent`` % and strictly more than half:
a tie never passes.
"""

from __future__ import annotations

from calendar import monthrange, timegm
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..errors import InvalidMessage
from ..schema import NilFree

DAY_MS = 86_400_000
MAX_WINDOW_MS = 366 * DAY_MS

Method = Literal["consent", "ballot"]
Choice = Literal["for", "against", "abstain"]
CHOICES: tuple[Choice, ...] = ("for", "against", "abstain")
Outcome = Literal["adopted", "rejected"]
ObjectionStatus = Literal["open", "withdrawn", "integrated"]

Duration = Annotated[int, Field(ge=0, le=MAX_WINDOW_MS)]
PositiveDuration = Annotated[int, Field(ge=1, le=MAX_WINDOW_MS)]
Percent = Annotated[int, Field(ge=0, le=100)]
MajorityPercent = Annotated[int, Field(ge=50, le=100)]
Months = Annotated[int, Field(ge=1, le=120)]

_CONSENT_ONLY = ("questions_ms", "objections_ms")
_BALLOT_ONLY = ("voting_ms", "quorum_percent", "majority_percent", "weighted")


class DecisionRule(NilFree):
    """How one kind of decision is taken, as the charter states it (durations in ms)."""

    method: Method
    questions_ms: Duration | None = None  # consent: clarifying questions, from the round's opening
    objections_ms: PositiveDuration | None = None  # consent: the objection round that follows
    voting_ms: PositiveDuration | None = None  # ballot: how long the ballot stays open
    quorum_percent: Percent | None = None  # ballot: share of the electorate who must vote
    majority_percent: MajorityPercent | None = None  # ballot: share of the expressed votes needed
    weighted: bool | None = None  # ballot: weigh the colleges (absent: false)
    review_months: Months | None = None  # an adopted decision is reviewed after this (required for consent)

    @model_validator(mode="after")
    def _fits_method(self) -> DecisionRule:
        own, other = (_CONSENT_ONLY, _BALLOT_ONLY) if self.method == "consent" else (_BALLOT_ONLY, _CONSENT_ONLY)
        required = own if self.method == "consent" else own[:3]
        missing = [name for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.method} rule states {', '.join(missing)}")
        extra = [name for name in other if getattr(self, name) is not None]
        if extra:
            raise ValueError(f"a {self.method} rule has no {', '.join(extra)}")
        if self.method == "consent" and self.review_months is None:
            raise ValueError("a consent rule states review_months: every consent decision has a review date")
        return self


# -- windows ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A round's times (ms): it opens, questions end (consent), and it closes."""

    opens: int
    questions_until: int  # a ballot has no questions phase: equal to ``opens``
    closes: int


def window(rule: DecisionRule, opened_at: int) -> Window:
    """The round's window for a proposal (or amendment) made at ``opened_at``."""
    if rule.method == "consent":
        assert rule.questions_ms is not None and rule.objections_ms is not None  # the rule's validator
        questions_until = opened_at + rule.questions_ms
        return Window(opened_at, questions_until, questions_until + rule.objections_ms)
    assert rule.voting_ms is not None
    return Window(opened_at, opened_at, opened_at + rule.voting_ms)


Phase = Literal["questions", "objections", "voting", "ended"]


def phase(rule: DecisionRule, round_window: Window, at_ms: int) -> Phase:
    """Where a round stands at ``at_ms``: [opens, questions_until) questions, then objections
    until ``closes`` (consent); [opens, closes) voting (ballot); from ``closes`` on, ended."""
    if at_ms >= round_window.closes:
        return "ended"
    if rule.method == "ballot":
        return "voting"
    return "questions" if at_ms < round_window.questions_until else "objections"


def review_date(at_ms: int, months: int) -> int:
    """``at_ms`` plus ``months`` calendar months in UTC, the day clamped to the month's last
    (31 January + 1 month = 28 or 29 February), same time of day."""
    seconds, millis = divmod(at_ms, 1000)
    moment = datetime.fromtimestamp(seconds, UTC)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    moved = moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))
    return timegm(moved.utctimetuple()) * 1000 + millis


# -- consent ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Objection:
    """A reasoned objection to one version of a proposal."""

    number: int  # 1, 2, … within the proposal
    by: str  # the objecting member's node id
    reason: str  # why the proposal cannot go ahead as it stands (required)
    aim: str  # the federation's aim the objection protects
    at: int  # when it was embedded (ms)
    version: int  # the proposal's version it objects to
    status: ObjectionStatus = "open"
    closed_at: int | None = None  # when it was withdrawn or integrated


def integrate(objections: Iterable[Objection], at_ms: int) -> tuple[Objection, ...]:
    """The objections once the proposer amended the proposal: every open one is integrated."""
    return tuple(replace(o, status="integrated", closed_at=at_ms) if o.status == "open" else o for o in objections)


def withdraw(objections: Iterable[Objection], number: int, at_ms: int) -> tuple[Objection, ...]:
    return tuple(replace(o, status="withdrawn", closed_at=at_ms) if o.number == number else o for o in objections)


@dataclass(frozen=True, slots=True)
class ConsentTally:
    adopted: bool
    open_objections: tuple[int, ...]  # their numbers: each one blocks

    @property
    def outcome(self) -> Outcome:
        return "adopted" if self.adopted else "rejected"


def consent_tally(objections: Iterable[Objection]) -> ConsentTally:
    """Consent holds iff no objection is open."""
    blocking = tuple(o.number for o in objections if o.status == "open")
    return ConsentTally(adopted=not blocking, open_objections=blocking)


# -- ballots ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollegeTally:
    college: str
    electorate: int
    votes_for: int
    against: int
    abstain: int
    weight: Fraction  # the college's stated weight (a share of 1), before any redistribution
    share: Fraction | None  # for / (for + against); None when nobody in the college expressed a vote


@dataclass(frozen=True, slots=True)
class BallotTally:
    electorate: int  # members at the round's opening
    voted: int  # ballots cast, abstentions included
    votes_for: int
    against: int
    abstain: int
    participation: Fraction  # voted / electorate
    quorum_reached: bool
    share: Fraction | None  # the result: (weighted) share of "for" among expressed votes; None if none expressed
    adopted: bool
    colleges: tuple[CollegeTally, ...] = ()  # weighted ballots only

    @property
    def outcome(self) -> Outcome:
        return "adopted" if self.adopted else "rejected"


def college_weights(colleges: Iterable[tuple[str, int | None]]) -> dict[str, Fraction]:
    """Each college's weight as a share of 1: the charter's percentages, or equal shares when it states none."""
    listed = list(colleges)
    if not listed:
        return {}
    if all(percent is not None for _, percent in listed):
        return {college: Fraction(percent or 0, 100) for college, percent in listed}
    return {college: Fraction(1, len(listed)) for college, _ in listed}


def ballot_tally(
    rule: DecisionRule,
    electorate: Mapping[str, str],
    ballots: Mapping[str, Choice],
    weights: Mapping[str, Fraction] | None = None,
) -> BallotTally:
    """The ballot's result: ``electorate`` is node id -> college at the round's opening,
    ``ballots`` node id -> choice, ``weights`` college -> share of 1 (used when the rule is weighted)."""
    if rule.method != "ballot" or rule.quorum_percent is None or rule.majority_percent is None:
        raise InvalidMessage("a ballot tally needs a ballot rule")
    strangers = sorted(set(ballots) - set(electorate))
    if strangers:
        raise InvalidMessage("ballots from outside the electorate", voters=strangers)
    counts = {choice: sum(1 for c in ballots.values() if c == choice) for choice in CHOICES}
    eligible, voted = len(electorate), len(ballots)
    participation = Fraction(voted, eligible) if eligible else Fraction(0)
    quorum_reached = eligible > 0 and participation >= Fraction(rule.quorum_percent, 100)
    colleges: tuple[CollegeTally, ...] = ()
    if rule.weighted:
        colleges = _college_tallies(electorate, ballots, weights or {})
        share = _weighted_share(colleges)
    else:
        expressed = counts["for"] + counts["against"]
        share = Fraction(counts["for"], expressed) if expressed else None
    passes = share is not None and share >= Fraction(rule.majority_percent, 100) and share > Fraction(1, 2)
    return BallotTally(
        electorate=eligible,
        voted=voted,
        votes_for=counts["for"],
        against=counts["against"],
        abstain=counts["abstain"],
        participation=participation,
        quorum_reached=quorum_reached,
        share=share,
        adopted=quorum_reached and passes,
        colleges=colleges,
    )


def _college_tallies(
    electorate: Mapping[str, str], ballots: Mapping[str, Choice], weights: Mapping[str, Fraction]
) -> tuple[CollegeTally, ...]:
    missing = sorted(set(electorate.values()) - set(weights))
    if missing:
        raise InvalidMessage("a weighted ballot weighs every college of its electorate", colleges=missing)
    tallies = []
    for college in sorted(weights):
        members = [node for node, c in electorate.items() if c == college]
        chosen = [ballots[node] for node in members if node in ballots]
        votes_for, against = chosen.count("for"), chosen.count("against")
        expressed = votes_for + against
        tallies.append(
            CollegeTally(
                college=college,
                electorate=len(members),
                votes_for=votes_for,
                against=against,
                abstain=chosen.count("abstain"),
                weight=weights[college],
                share=Fraction(votes_for, expressed) if expressed else None,
            )
        )
    return tuple(tallies)


def _weighted_share(colleges: Iterable[CollegeTally]) -> Fraction | None:
    """Σ weight × share over the colleges that expressed a vote, divided by the sum of their
    weights: a silent college's weight goes to the others in proportion to their own."""
    expressed = [c for c in colleges if c.share is not None and c.weight > 0]
    total = sum((c.weight for c in expressed), Fraction(0))
    if not expressed or total == 0:
        return None
    return sum((c.weight * c.share for c in expressed if c.share is not None), Fraction(0)) / total


__all__ = [
    "CHOICES",
    "BallotTally",
    "Choice",
    "CollegeTally",
    "ConsentTally",
    "DecisionRule",
    "Method",
    "Objection",
    "ObjectionStatus",
    "Outcome",
    "Phase",
    "Window",
    "ballot_tally",
    "college_weights",
    "consent_tally",
    "integrate",
    "phase",
    "review_date",
    "window",
    "withdraw",
]
