"""The campaign kind: signed pledges, the pure tally (caps, lines, modes) and what the chain refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    BadSignature,
    Conflict,
    Forbidden,
    InvalidMessage,
    SigningKey,
    WrongAudience,
    decode,
    encode,
    open_envelope,
    seal,
)
from protocol.agreements import (
    AgreementState,
    apply,
    embed,
    make_statement,
    next_event,
    open_agreement,
    replay,
)
from protocol.agreements.campaign import (
    CAMPAIGN,
    Contribution,
    conclusion_of,
    parse_terms,
    resolve_caps,
    tally,
)
from protocol.envelope import Envelope
from protocol.errors import Expired, NotAllowed, OutOfOrder

BIKES = SigningKey.from_seed(b"\x61" * 32)  # the cycling association: organiser
FOOD = SigningKey.from_seed(b"\x62" * 32)  # the food bank
YOUTH = SigningKey.from_seed(b"\x63" * 32)  # the youth centre
OUTSIDER = SigningKey.from_seed(b"\x64" * 32)
T0 = 1_767_225_600_000
DAY = 86_400_000
DEADLINE = T0 + 30 * DAY


def terms(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Vélo cargo partagé",
        "purpose": "Un vélo cargo électrique pour trois associations",
        "beneficiaries": ({"name": "Atelier vélo solidaire"},),
        "currency": "EUR",
        "target": 500_000,
        "minimum": 350_000,
        "deadline": DEADLINE,
        "mode": "all_or_nothing",
        "lines": (
            {"id": "velo", "title": "Vélo cargo", "min": 350_000, "max": 350_000},
            {"id": "remorque", "title": "Remorque", "min": 0, "max": 90_000},
            {"id": "entretien", "title": "Entretien", "min": 0, "max": 60_000},
        ),
        "stretch_goals": ({"amount": 600_000, "title": "Deuxième batterie"},),
        "eligibility": {"scope": "public"},
    }
    base.update(changes)
    return base


class Campaign:
    """A campaign's chain as the organiser builds it: statements signed by their authors, embedded."""

    def __init__(self, **changes: Any) -> None:
        opening = open_agreement(BIKES, CAMPAIGN, "open", {"organiser": BIKES.node_id}, {"terms": terms(**changes)}, now_ms=T0)
        self.state: AgreementState = apply(None, opening)
        self.events: list[Envelope] = [opening]
        self.clock = T0

    def tick(self) -> int:
        self.clock += 1_000
        return self.clock

    def statement(self, key: SigningKey, action: str, data: dict[str, Any], at: int | None = None) -> Envelope:
        return make_statement(key, self.state.id, "campaign", BIKES.node_id, action, data, now_ms=at or self.tick())

    def embed(self, statement: Envelope | bytes, at: int | None = None) -> AgreementState:
        raw = statement if isinstance(statement, bytes) else statement.raw
        event = embed(BIKES, self.state, raw, now_ms=at or self.tick())
        self.state = apply(self.state, event)
        self.events.append(event)
        return self.state

    def say(self, key: SigningKey, action: str, data: dict[str, Any]) -> Envelope:
        statement = self.statement(key, action, data)
        self.embed(statement)
        return statement

    def act(self, action: str, data: dict[str, Any], at: int | None = None) -> AgreementState:
        event = next_event(BIKES, self.state, action, data, now_ms=at or self.tick())
        self.state = apply(self.state, event)
        self.events.append(event)
        return self.state

    def conclude(self) -> AgreementState:
        self.clock = max(self.clock, DEADLINE)
        return self.act("conclude", conclusion_of(self.state))


def money(value: int, **more: Any) -> dict[str, Any]:
    return {"type": "money", "value": value, **more}


# -- the tally ----------------------------------------------------------------------------------


def test_a_campaign_that_reaches_its_minimum_binds_every_pledge_and_fills_its_lines_in_order() -> None:
    c = Campaign()
    c.say(BIKES, "pledge", money(250_000))
    c.say(FOOD, "pledge", money(150_000))
    c.say(YOUTH, "pledge", {"type": "work", "value": 60_000, "hours": 40, "line": "entretien"})
    progress = tally(c.state)
    assert (progress.pledged, progress.counted, progress.reached, progress.target_reached) == (460_000, 460_000, True, False)
    assert (progress.percent_of_minimum, progress.percent_of_target) == (131, 92)
    assert {x.status for x in progress.contributions} == {"pending"} and progress.bound == 0
    assert c.state.role_of(FOOD.node_id) == "contributor"  # it receives the chain from now on

    c.conclude()
    final = tally(c.state)
    assert c.state.name == "succeeded"
    assert (final.total, final.bound, final.released, final.outstanding) == (460_000, 460_000, 0, 460_000)
    assert {x.status for x in final.contributions} == {"bound"}
    assert [(line.id, line.allocated, line.min_reached) for line in final.lines] == [
        ("velo", 350_000, True), ("remorque", 50_000, True), ("entretien", 60_000, True)]
    assert final.unallocated == 0
    assert dict(final.by_type) == {"money": 400_000, "work": 60_000, "equipment": 0} and final.hours == 40
    assert [g.reached for g in final.stretch_goals] == [False]


def test_earmarks_above_a_line_maximum_join_the_general_funds_and_stretch_goals_are_reached() -> None:
    c = Campaign()
    c.say(FOOD, "pledge", money(200_000, line="remorque"))  # 110 000 above the trailer's maximum
    c.say(BIKES, "pledge", money(450_000))
    c.conclude()
    final = tally(c.state)
    assert final.total == 650_000
    assert [(line.id, line.earmarked, line.allocated) for line in final.lines] == [
        ("velo", 0, 350_000), ("remorque", 200_000, 90_000), ("entretien", 0, 60_000)]
    assert final.unallocated == 150_000
    assert [g.reached for g in final.stretch_goals] == [True]


def test_all_or_nothing_below_the_minimum_lapses_and_releases_every_pledge() -> None:
    c = Campaign()
    c.say(FOOD, "pledge", money(200_000))
    c.say(YOUTH, "pledge", money(100_000))
    c.conclude()
    final = tally(c.state)
    assert c.state.name == "lapsed"
    assert (final.reached, final.total, final.bound, final.released) == (False, 0, 0, 300_000)
    assert {x.status for x in final.contributions} == {"released"}
    with pytest.raises(NotAllowed):  # closed for good: nothing more, not even a payment
        c.say(FOOD, "paid", {"amount": 1_000, "method": "transfer", "date": c.clock})


def test_keep_it_all_pays_out_below_the_minimum_except_pledges_made_on_that_condition() -> None:
    c = Campaign(mode="keep_it_all")
    c.say(FOOD, "pledge", money(200_000))
    c.say(YOUTH, "pledge", money(100_000, conditions={"if_minimum": True}))
    c.conclude()
    final = tally(c.state)
    assert c.state.name == "succeeded"
    assert (final.reached, final.total, final.bound, final.released) == (False, 200_000, 200_000, 100_000)
    status = {x.key: x.status for x in final.contributions}
    assert status == {FOOD.node_id: "bound", YOUTH.node_id: "released"}


def test_a_conditional_pledge_helps_reach_the_minimum_and_then_counts() -> None:
    c = Campaign()
    c.say(FOOD, "pledge", money(300_000))
    c.say(YOUTH, "pledge", money(60_000, conditions={"if_minimum": True}))
    c.conclude()
    assert c.state.name == "succeeded" and tally(c.state).bound == 360_000


def test_a_capped_pledge_counts_at_most_its_share_of_the_final_total() -> None:
    c = Campaign()
    c.say(BIKES, "pledge", money(200_000))
    c.say(FOOD, "pledge", money(300_000, conditions={"cap_percent": 50}))
    # T = 200 000 + min(300 000, T / 2)  →  T = 400 000, the food bank counts for 200 000.
    progress = tally(c.state)
    assert (progress.pledged, progress.counted) == (500_000, 400_000)
    food = next(x for x in progress.contributions if x.key == FOOD.node_id)
    assert (food.value, food.counted) == (300_000, 200_000)
    c.conclude()
    assert dict(c.state.facts["outcome"].bound) == {BIKES.node_id: 200_000, FOOD.node_id: 200_000}


def test_caps_resolve_exactly_even_when_they_bind_together() -> None:
    def item(key: str, value: int, cap: int | None = None) -> Contribution:
        return Contribution(key, "pledge", "money", value, None, False, cap)

    assert resolve_caps([item("a", 1_000), item("b", 1_000, 10)]) == {"a": 1_000, "b": 111}
    assert resolve_caps([item("a", 1_000, 50), item("b", 500, 50)]) == {"a": 500, "b": 500}
    assert resolve_caps([item("a", 10**15, 99)]) == {"a": 0}  # a lone capped pledge can never be 99 % of itself
    assert resolve_caps([]) == {}
    big = resolve_caps([item("a", 10**15, 30), item("b", 10**15, 70)])
    assert sum(big.values()) == 1_428_571_428_571_420  # the largest multiple of 10 that fits both caps


def _greatest_fixed_point(items: list[tuple[int, int | None]]) -> int:
    def f(total: int) -> int:
        return sum(v if p is None else min(v, p * total // 100) for v, p in items)

    return max(t for t in range(sum(v for v, _ in items) + 1) if f(t) == t)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.one_of(st.none(), st.integers(1, 100))), max_size=5))
def test_caps_give_the_greatest_total_every_cap_allows(items: list[tuple[int, int | None]]) -> None:
    contributions = [Contribution(str(i), "pledge", "money", v, None, False, p) for i, (v, p) in enumerate(items)]
    counted = resolve_caps(contributions)
    total = sum(counted.values())
    assert total == _greatest_fixed_point(items)
    for c in contributions:
        assert counted[c.key] <= c.value
        if c.cap_percent is not None:
            assert counted[c.key] <= c.cap_percent * total // 100


# -- amend, withdraw, conclusion -----------------------------------------------------------------


def test_amended_and_withdrawn_pledges_count_as_their_last_word() -> None:
    c = Campaign()
    c.say(FOOD, "pledge", money(100_000))
    c.say(YOUTH, "pledge", money(50_000))
    c.say(FOOD, "amend", money(180_000, line="remorque"))
    c.say(YOUTH, "withdraw", {"reason": "Budget voté en baisse"})
    progress = tally(c.state)
    assert progress.pledged == 180_000 and [x.key for x in progress.contributions] == [FOOD.node_id]
    with pytest.raises(NotAllowed):
        c.say(YOUTH, "amend", money(10_000))  # nothing left to amend
    c.say(YOUTH, "pledge", money(20_000))  # it may pledge again before the deadline
    assert tally(c.state).pledged == 200_000
    with pytest.raises(Conflict):
        c.say(FOOD, "pledge", money(1_000))  # a second pledge: amend instead


def test_the_deadline_and_the_withdrawal_limit_are_judged_on_the_statement_and_its_embedding() -> None:
    c = Campaign(withdraw_until=DEADLINE - 10 * DAY)
    c.say(FOOD, "pledge", money(100_000))
    late = c.statement(FOOD, "withdraw", {}, at=DEADLINE - 5 * DAY)
    with pytest.raises(Expired):
        c.embed(late, at=DEADLINE - 5 * DAY + 1)
    with pytest.raises(Expired):
        c.embed(c.statement(FOOD, "amend", money(10), at=DEADLINE - 5 * DAY), at=DEADLINE - 5 * DAY + 1)
    after = c.statement(YOUTH, "pledge", money(100_000), at=DEADLINE + 1)
    with pytest.raises(Expired):
        c.embed(after, at=DEADLINE + 2)
    assert tally(c.state).pledged == 100_000


def test_a_pledge_backdated_before_the_deadline_but_embedded_after_it_is_refused() -> None:
    c = Campaign()
    backdated = c.statement(FOOD, "pledge", money(100_000), at=DEADLINE - 60_000)
    with pytest.raises(Expired):
        c.embed(backdated, at=DEADLINE + 1)
    assert tally(c.state).pledged == 0


def test_a_statement_held_back_and_embedded_late_is_refused() -> None:
    c = Campaign()
    old = c.statement(FOOD, "pledge", money(100_000), at=T0 + 1)
    with pytest.raises(OutOfOrder):
        c.embed(old, at=T0 + 11 * 60_000)


def test_a_conclusion_contradicting_the_signed_pledges_is_refused_and_changes_nothing() -> None:
    c = Campaign()
    c.say(FOOD, "pledge", money(200_000))
    before = c.state
    for claim in ({"reached": True, "total": 350_000}, {"reached": False, "total": 1}):
        with pytest.raises(Conflict) as refused:
            c.act("conclude", claim, at=DEADLINE)
        assert refused.value.details["expected"] == {"reached": False, "total": 0}
    assert c.state is before
    with pytest.raises(NotAllowed):  # and not before the deadline, whatever it claims
        c.act("conclude", conclusion_of(c.state), at=DEADLINE - 1)
    c.act("conclude", {"reached": False, "total": 0}, at=DEADLINE)
    assert c.state.name == "lapsed"


def test_cancel_before_the_deadline_releases_everything_and_close_ends_a_success() -> None:
    c = Campaign()
    c.say(FOOD, "pledge", money(200_000))
    with pytest.raises(NotAllowed):
        c.act("cancel", {"reason": "Trop tard"}, at=DEADLINE)
    c.act("cancel", {"reason": "Le vélo a été donné par la mairie"})
    assert c.state.name == "cancelled" and tally(c.state).released == 200_000


# -- who may say what ------------------------------------------------------------------------------


def test_a_forged_pledge_is_refused() -> None:
    c = Campaign()
    genuine = c.statement(FOOD, "pledge", money(100_000))
    outer = decode(genuine.raw)
    payload = decode(outer["p"])
    payload["body"]["data"]["value"] = 10_000_000  # the organiser inflates the food bank's pledge
    forged = encode({"p": encode(payload), "s": outer["s"]})
    with pytest.raises(BadSignature):
        c.embed(forged)
    assert tally(c.state).pledged == 0


def test_a_statement_for_another_campaign_or_embedded_twice_is_refused() -> None:
    c, other = Campaign(), Campaign()
    with pytest.raises(InvalidMessage):
        c.embed(other.statement(FOOD, "pledge", money(100_000)))
    pledge = c.say(FOOD, "pledge", money(100_000))
    with pytest.raises(Conflict):
        c.embed(pledge)
    assert tally(c.state).pledged == 100_000


def test_listed_nodes_only_and_the_organiser_alone_imports() -> None:
    c = Campaign(eligibility={"scope": "nodes", "nodes": (FOOD.node_id,)})
    assert c.state.role_of(FOOD.node_id) == "invited"  # it holds the chain from the opening
    with pytest.raises(Forbidden):
        c.say(OUTSIDER, "pledge", money(1_000))
    c.say(FOOD, "pledge", money(1_000))
    c.say(BIKES, "pledge", money(1_000))  # the organiser may always pledge
    batch = {"platform": "HelloAsso", "reference": "export-1", "count": 3, "amount": 7_500,
             "period": {"start": T0, "end": T0 + DAY}}
    with pytest.raises(NotAllowed):
        c.say(FOOD, "import", batch)
    c.say(BIKES, "import", batch)
    c.say(BIKES, "import", {**batch, "count": 4, "amount": 9_000})  # the same export again replaces it
    assert tally(c.state).pledged == 11_000
    with pytest.raises(InvalidMessage):
        c.say(BIKES, "import", {**batch, "reference": "late", "period": {"start": T0, "end": DEADLINE + 1}})


def test_co_organisers_sign_before_the_campaign_opens() -> None:
    c = Campaign(co_organisers=(YOUTH.node_id,))
    assert c.state.name == "draft" and c.state.role_of(YOUTH.node_id) == "co_organiser"
    with pytest.raises(NotAllowed):
        c.say(FOOD, "pledge", money(1_000))
    with pytest.raises(NotAllowed):
        c.say(FOOD, "cosign", {"opening": c.state.facts["opening"]})  # not a co-organiser
    with pytest.raises(InvalidMessage):
        c.say(YOUTH, "cosign", {"opening": bytes(32)})  # another opening than this campaign's
    c.say(YOUTH, "cosign", {"opening": c.state.facts["opening"]})
    assert c.state.name == "open"
    c.say(FOOD, "pledge", money(1_000))


def test_payments_are_recorded_by_contributors_and_confirmed_by_the_organiser_or_a_beneficiary() -> None:
    c = Campaign(beneficiaries=({"node": YOUTH.node_id, "name": "Maison des jeunes"},))
    c.say(FOOD, "pledge", money(400_000))
    with pytest.raises(NotAllowed):  # nothing is owed before the campaign succeeds
        c.say(FOOD, "paid", {"amount": 1_000, "method": "transfer", "date": c.clock})
    c.conclude()
    paid = c.say(FOOD, "paid", {"amount": 300_000, "method": "transfer", "reference": "VIR 1", "date": c.clock})
    with pytest.raises(NotAllowed):
        c.say(FOOD, "paid", {"amount": 100_001, "method": "transfer", "date": c.clock})  # above the bound pledge
    with pytest.raises(NotAllowed):
        c.say(OUTSIDER, "paid", {"amount": 1, "method": "cash", "date": c.clock})  # owes nothing
    with pytest.raises(NotAllowed):
        c.say(FOOD, "received", {"payment": paid.message_id, "amount": 300_000})  # not its to confirm
    with pytest.raises(NotAllowed):
        c.say(YOUTH, "received", {"payment": paid.message_id, "amount": 300_001})
    c.say(YOUTH, "received", {"payment": paid.message_id, "amount": 300_000})
    with pytest.raises(Conflict):
        c.say(BIKES, "received", {"payment": paid.message_id, "amount": 300_000})
    books = tally(c.state)
    assert (books.bound, books.paid, books.confirmed, books.outstanding) == (400_000, 300_000, 300_000, 100_000)


def test_anyone_holding_the_chain_replays_the_same_tally() -> None:
    c = Campaign(mode="keep_it_all")
    c.say(FOOD, "pledge", money(200_000, conditions={"cap_percent": 60}))
    c.say(YOUTH, "pledge", {"type": "equipment", "value": 30_000, "description": "Local vélo, un an"})
    c.say(BIKES, "pledge", money(100_000))
    c.conclude()
    assert replay(c.events) == c.state and tally(replay(c.events)) == tally(c.state)


# -- terms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"minimum": 600_000},  # above the target
        {"currency": "euro"},
        {"mode": "some"},
        {"lines": ({"id": "velo", "title": "Vélo", "min": 400_000, "max": 500_000},)},  # mins above the minimum
        {"lines": ({"id": "velo", "title": "Vélo", "min": 0, "max": 100_000},)},  # maxes below the target
        {"lines": ({"id": "a", "title": "A", "min": 2, "max": 1},)},
        {"stretch_goals": ({"amount": 400_000, "title": "Sous la cible"},)},
        {"eligibility": {"scope": "nodes"}},
        {"eligibility": {"scope": "public", "federations": ("ab" * 16,)}},
        {"withdraw_until": DEADLINE + 1},
        {"beneficiaries": ({},)},
    ],
)
def test_incoherent_terms_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage):
        parse_terms(terms(**changes))


def test_a_campaign_opens_before_its_deadline_and_pledges_name_real_lines() -> None:
    with pytest.raises(InvalidMessage):
        apply(None, open_agreement(BIKES, CAMPAIGN, "open", {"organiser": BIKES.node_id},
                                   {"terms": terms(deadline=T0 - 1)}, now_ms=T0))
    c = Campaign()
    with pytest.raises(InvalidMessage):
        c.say(FOOD, "pledge", money(1_000, line="bateau"))
    with pytest.raises(InvalidMessage):
        c.say(FOOD, "pledge", {"type": "work", "value": 1_000})  # work states its hours


def test_a_campaign_with_more_contributors_than_an_audience_can_name_still_works() -> None:
    # Events of a convened chain name no audience: they go to every participant, here 120.
    c = Campaign()
    pledgers = [SigningKey.generate() for _ in range(120)]
    for key in pledgers:
        c.say(key, "pledge", money(2_000))
    assert tally(c.state).pledged == 240_000
    assert len(c.state.others(BIKES.node_id)) == 120 and all(not e.audience for e in c.events)
    assert replay([open_envelope(e.raw) for e in c.events]).facts == c.state.facts
    # An event that names an audience anyway is refused.
    named = seal(BIKES, "agreement.event", dict(next_event(BIKES, c.state, "cancel", {"reason": "test"}, now_ms=c.tick()).body),
                 now_ms=c.tick(), audience=[pledgers[0].node_id])
    with pytest.raises(WrongAudience):
        apply(c.state, named)
