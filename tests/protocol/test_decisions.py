"""Decision tallies: consent and ballots, exact and pure (protocol/governance/decisions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from protocol import InvalidMessage
from protocol.governance.decisions import (
    DecisionRule,
    Objection,
    ballot_tally,
    college_weights,
    consent_tally,
    integrate,
    phase,
    review_date,
    window,
    withdraw,
)
from protocol.schema import parse

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
CONSENT = {"method": "consent", "questions_ms": 1_000, "objections_ms": 5_000, "review_months": 12}


def ballot_rule(quorum: int = 50, majority: int = 50, *, weighted: bool = False) -> DecisionRule:
    rule = {"method": "ballot", "voting_ms": 10_000, "quorum_percent": quorum, "majority_percent": majority}
    if weighted:
        rule["weighted"] = True
    return parse(DecisionRule, rule)


def objection(number: int, status: str = "open") -> Objection:
    return Objection(number, f"node{number}", "Le budget n'est pas prévu", "Équilibre financier", T0, 1, status)  # type: ignore[arg-type]


# -- rules --------------------------------------------------------------------


def test_a_rule_states_exactly_what_its_method_needs() -> None:
    assert parse(DecisionRule, CONSENT).method == "consent"
    for broken in (
        {**CONSENT, "voting_ms": 1000},  # a ballot field on a consent rule
        {"method": "consent", "questions_ms": 0, "objections_ms": 1000},  # no review date
        {"method": "ballot", "voting_ms": 1000, "quorum_percent": 50},  # no majority
        {"method": "ballot", "voting_ms": 1000, "quorum_percent": 50, "majority_percent": 40},  # below half
        {"method": "vote", "voting_ms": 1000},
        {**CONSENT, "objections_ms": 0},  # an objection round lasts
    ):
        with pytest.raises(InvalidMessage):
            parse(DecisionRule, broken)


def test_consent_phases_run_questions_then_objections_then_end() -> None:
    rule = parse(DecisionRule, CONSENT)
    w = window(rule, T0)
    assert (w.opens, w.questions_until, w.closes) == (T0, T0 + 1_000, T0 + 6_000)
    assert phase(rule, w, T0) == "questions"
    assert phase(rule, w, T0 + 999) == "questions"
    assert phase(rule, w, T0 + 1_000) == "objections"
    assert phase(rule, w, T0 + 5_999) == "objections"
    assert phase(rule, w, T0 + 6_000) == "ended"
    ballot = ballot_rule()
    assert phase(ballot, window(ballot, T0), T0) == "voting"
    assert phase(ballot, window(ballot, T0), T0 + 10_000) == "ended"


def test_review_dates_move_by_calendar_months_and_clamp_the_day() -> None:
    def at(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)

    assert review_date(at("2026-01-31T10:15:00"), 1) == at("2026-02-28T10:15:00")
    assert review_date(at("2028-01-31T10:15:00"), 1) == at("2028-02-29T10:15:00")  # leap year
    assert review_date(at("2026-03-15T00:00:00") + 123, 12) == at("2027-03-15T00:00:00") + 123
    assert review_date(at("2026-11-30T00:00:00"), 3) == at("2027-02-28T00:00:00")


# -- consent ------------------------------------------------------------------


def test_consent_holds_iff_no_objection_stays_open() -> None:
    assert consent_tally(()).adopted
    blocked = consent_tally([objection(1), objection(2, "withdrawn")])
    assert not blocked.adopted and blocked.open_objections == (1,) and blocked.outcome == "rejected"
    assert consent_tally([objection(1, "withdrawn"), objection(2, "integrated")]).outcome == "adopted"


def test_an_amendment_integrates_open_objections_and_a_withdrawal_closes_one() -> None:
    objections = (objection(1), objection(2, "withdrawn"))
    integrated = integrate(objections, T0 + 50)
    assert [o.status for o in integrated] == ["integrated", "withdrawn"]
    assert integrated[0].closed_at == T0 + 50 and integrated[1].closed_at is None
    assert [o.status for o in withdraw((objection(1), objection(2)), 2, T0)] == ["open", "withdrawn"]


# -- ballots ------------------------------------------------------------------

ELECTORATE = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y", "f": "z"}


def test_one_member_one_vote_with_quorum_and_majority_over_expressed_votes() -> None:
    rule = ballot_rule(quorum=50, majority=50)
    result = ballot_tally(rule, ELECTORATE, {"a": "for", "b": "for", "c": "against", "d": "abstain"})
    assert (result.voted, result.votes_for, result.against, result.abstain) == (4, 2, 1, 1)
    assert result.participation == Fraction(4, 6) and result.quorum_reached
    assert result.share == Fraction(2, 3)  # abstentions count for the quorum, not for the majority
    assert result.adopted and result.outcome == "adopted"


def test_a_missed_quorum_fails_even_when_everyone_who_voted_agreed() -> None:
    result = ballot_tally(ballot_rule(quorum=50), ELECTORATE, {"a": "for", "b": "for"})
    assert result.participation == Fraction(1, 3) and not result.quorum_reached
    assert result.share == 1 and not result.adopted
    # Exactly the quorum is enough: 3 of 6 is 50 %.
    assert ballot_tally(ballot_rule(quorum=50), ELECTORATE, {"a": "for", "b": "for", "c": "abstain"}).adopted


def test_ties_fail_and_qualified_majorities_are_exact() -> None:
    tie = ballot_tally(ballot_rule(quorum=0), ELECTORATE, {"a": "for", "b": "against"})
    assert tie.share == Fraction(1, 2) and not tie.adopted
    two_thirds = {"a": "for", "b": "for", "c": "against"}
    assert ballot_tally(ballot_rule(quorum=0, majority=66), ELECTORATE, two_thirds).adopted  # 66.67 % ≥ 66 %
    assert not ballot_tally(ballot_rule(quorum=0, majority=67), ELECTORATE, two_thirds).adopted
    assert not ballot_tally(ballot_rule(quorum=0), ELECTORATE, {"a": "abstain"}).adopted  # nothing expressed
    unanimity = ballot_rule(quorum=0, majority=100)
    assert ballot_tally(unanimity, ELECTORATE, {"a": "for", "b": "for"}).adopted
    assert not ballot_tally(unanimity, ELECTORATE, {"a": "for", "b": "for", "c": "against"}).adopted


def test_college_weights_count_each_colleges_share_and_share_out_a_silent_colleges_weight() -> None:
    weights = college_weights([("x", 50), ("y", 30), ("z", 20)])
    assert weights == {"x": Fraction(1, 2), "y": Fraction(3, 10), "z": Fraction(1, 5)}
    rule = ballot_rule(quorum=50, weighted=True)
    # x: 1 for, 2 against → 1/3; y: 2 for → 1; z (the single member) silent.
    ballots = {"a": "for", "b": "against", "c": "against", "d": "for", "e": "for"}
    result = ballot_tally(rule, ELECTORATE, ballots, weights)
    assert result.votes_for == 3 and result.against == 2  # one member one vote alone would say 3/5
    # z's weight goes to x and y in proportion: (1/2·1/3 + 3/10·1) / (1/2 + 3/10) = 7/12.
    assert result.share == Fraction(7, 12) and result.adopted
    by_college = {c.college: c for c in result.colleges}
    assert by_college["x"].share == Fraction(1, 3) and by_college["z"].share is None
    # The same ballots where the salaried college weighs more: rejected.
    heavier_x = college_weights([("x", 80), ("y", 10), ("z", 10)])
    assert not ballot_tally(rule, ELECTORATE, ballots, heavier_x).adopted
    # A college that only abstains expressed nothing either.
    assert ballot_tally(rule, ELECTORATE, {**ballots, "f": "abstain"}, weights).share == Fraction(7, 12)


def test_colleges_without_stated_weights_weigh_the_same() -> None:
    assert college_weights([("x", None), ("y", None)]) == {"x": Fraction(1, 2), "y": Fraction(1, 2)}
    rule = ballot_rule(quorum=0, weighted=True)
    # x: 3 against; y: 1 for → (1/2·0 + 1/2·1) = 1/2: a tie between colleges fails.
    tie = ballot_tally(rule, {"a": "x", "b": "x", "c": "x", "d": "y"},
                       {"a": "against", "b": "against", "c": "against", "d": "for"}, college_weights([("x", None), ("y", None)]))
    assert tie.share == Fraction(1, 2) and not tie.adopted


def test_a_ballot_tally_refuses_votes_from_outside_the_electorate() -> None:
    with pytest.raises(InvalidMessage):
        ballot_tally(ballot_rule(), ELECTORATE, {"stranger": "for"})
    with pytest.raises(InvalidMessage):
        ballot_tally(parse(DecisionRule, CONSENT), ELECTORATE, {})
