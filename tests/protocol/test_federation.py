"""The federation kind: charter, adhesion, consent and ballot decisions, refusals and replay (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pytest

from protocol import (
    BadSignature,
    Conflict,
    Forbidden,
    InvalidMessage,
    SIGNING_PREFIX,
    ProtocolError,
    SigningKey,
    WrongAudience,
    decode,
    encode,
)
from protocol.agreements import (
    AgreementState,
    apply,
    embed,
    make_statement,
    next_event,
    replay,
)
from protocol.agreements import federation as F
from protocol.errors import Expired, NotAllowed
from protocol.governance.decisions import review_date

SECRETARIAT = SigningKey.from_seed(b"\x51" * 32)  # the federation's secretariat (a salaried team)
CLUB = SigningKey.from_seed(b"\x52" * 32)  # a sports club (volunteers)
FOOD = SigningKey.from_seed(b"\x53" * 32)  # a food bank (beneficiaries)
GARDEN = SigningKey.from_seed(b"\x54" * 32)  # a community garden asking to join
TOWN = SigningKey.from_seed(b"\x55" * 32)  # a town hall, later
OUTSIDER = SigningKey.from_seed(b"\x56" * 32)
T0 = 1_767_225_600_000
SEC = 1_000
CONSENT = {"method": "consent", "questions_ms": 2 * SEC, "objections_ms": 5 * SEC, "review_months": 12}
BALLOT = {"method": "ballot", "voting_ms": 10 * SEC, "quorum_percent": 50, "majority_percent": 50, "weighted": True}
UNWEIGHTED = {"method": "ballot", "voting_ms": 10 * SEC, "quorum_percent": 75, "majority_percent": 50}


def charter(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Fédération du Pays de Rance",
        "territory": "Pays de Rance",
        "purpose": "Mutualiser le matériel et les compétences des associations du territoire",
        "colleges": (
            {"id": "salaries", "title": "Salariés", "weight_percent": 40},
            {"id": "benevoles", "title": "Bénévoles", "weight_percent": 30},
            {"id": "beneficiaires", "title": "Bénéficiaires", "weight_percent": 30},
        ),
        "founders": {SECRETARIAT.node_id: "salaries", CLUB.node_id: "benevoles", FOOD.node_id: "beneficiaires"},
        "rules": {"admit": CONSENT, "remove": CONSENT, "amend_charter": CONSENT, "link": CONSENT,
                  "general": BALLOT, "fund_criteria": UNWEIGHTED},
    }
    return {**base, **changes}


class Chain:
    """A federation's chain as its secretariat writes it; every step goes through ``apply``."""

    def __init__(self, terms: Mapping[str, Any] | None = None) -> None:
        self.now = T0
        self.events = [F.found(SECRETARIAT, terms or charter(), now_ms=T0)]
        self.state: AgreementState = apply(None, self.events[0])

    def at(self, ms: int) -> Chain:
        self.now = max(self.now, ms)
        return self

    def statement(self, key: SigningKey, action: str, data: Mapping[str, Any]) -> bytes:
        self.now += 10
        return make_statement(key, self.state.id, F.KIND, SECRETARIAT.node_id, action, data, now_ms=self.now).raw

    def embed(self, raw: bytes) -> AgreementState:
        event = embed(SECRETARIAT, self.state, raw, now_ms=self.now)
        self.state = apply(self.state, event)  # raises, and nothing changes, when refused
        self.events.append(event)
        return self.state

    def say(self, key: SigningKey, action: str, **data: Any) -> AgreementState:
        return self.embed(self.statement(key, action, data))

    def record(self, action: str, **data: Any) -> AgreementState:
        event = next_event(SECRETARIAT, self.state, action, data, now_ms=self.now)
        self.state = apply(self.state, event)
        self.events.append(event)
        return self.state

    def adhere(self, *keys: SigningKey) -> None:
        for key in keys:
            self.say(key, "adhere", charter=F.charter_digest(F.charter_of(self.state)))

    def proposal(self, proposal_id: str) -> F.ProposalRecord:
        return F.proposals_of(self.state)[proposal_id]

    def close_due(self, proposal_id: str) -> AgreementState:
        self.at(self.proposal(proposal_id).window.closes)
        return self.record("close", **F.closing(self.proposal(proposal_id)))


def founded() -> Chain:
    chain = Chain()
    chain.adhere(SECRETARIAT, CLUB, FOOD)
    return chain


def refused(chain: Chain, error: type[ProtocolError], fn: Any, *args: Any, **kwargs: Any) -> ProtocolError:
    """``fn`` raises ``error`` and the chain is as it was."""
    before, length = chain.state, len(chain.events)
    with pytest.raises(error) as caught:
        fn(*args, **kwargs)
    assert chain.state is before and len(chain.events) == length
    return caught.value


# -- founding and adhesion -------------------------------------------------------


def test_a_federation_forms_with_invited_founders_and_is_active_once_every_founder_adhered() -> None:
    chain = Chain()
    state = chain.state
    assert state.kind == "federation" and state.name == "forming" and state.terms.name == "Fédération du Pays de Rance"
    assert dict(state.parties) == {"secretariat": SECRETARIAT.node_id}
    assert dict(state.members) == {CLUB.node_id: "invited", FOOD.node_id: "invited"}
    assert dict(F.members_of(state)) == {}
    # Nothing is decided while the federation forms.
    chain.adhere(SECRETARIAT, CLUB)
    refused(chain, NotAllowed, chain.say, CLUB, "propose", kind="general", title="Fête", text="Une fête")
    chain.adhere(FOOD)
    assert chain.state.name == "active"
    assert dict(chain.state.members) == {CLUB.node_id: "member", FOOD.node_id: "member"}
    assert dict(F.members_of(chain.state)) == {
        SECRETARIAT.node_id: "salaries", CLUB.node_id: "benevoles", FOOD.node_id: "beneficiaires"}


def test_only_invited_nodes_adhere_once_and_for_the_charter_in_force() -> None:
    chain = Chain()
    digest = F.charter_digest(F.charter_of(chain.state))
    refused(chain, Forbidden, chain.say, OUTSIDER, "adhere", charter=digest)
    refused(chain, Conflict, chain.say, CLUB, "adhere", charter=b"\x00" * 32)
    chain.say(CLUB, "adhere", charter=digest)
    refused(chain, Conflict, chain.say, CLUB, "adhere", charter=digest)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"colleges": ({"id": "a", "title": "A", "weight_percent": 60}, {"id": "b", "title": "B", "weight_percent": 30})},
         "add up to 100"),
        ({"colleges": ({"id": "a", "title": "A", "weight_percent": 60}, {"id": "b", "title": "B"})}, "every college"),
        ({"scic": True, "colleges": ({"id": "a", "title": "A", "weight_percent": 50},
                                      {"id": "b", "title": "B", "weight_percent": 50})}, "three colleges"),
        ({"scic": True, "colleges": ({"id": "a", "title": "A", "weight_percent": 60},
                                      {"id": "b", "title": "B", "weight_percent": 30},
                                      {"id": "c", "title": "C", "weight_percent": 10})}, "between 10 and 50"),
        ({"rules": {"admit": CONSENT}}, "remove, amend_charter"),
        ({"colleges": ({"id": "a", "title": "A"}, {"id": "a", "title": "A bis"})}, "own id"),
    ],
)
def test_a_charter_that_breaks_its_own_rules_is_refused(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidMessage, match=why):
        F.found(SECRETARIAT, charter(**changes), now_ms=T0)


def test_a_scic_charter_with_three_colleges_weighing_10_to_50_percent_is_accepted() -> None:
    chain = Chain(charter(scic=True))
    assert chain.state.terms.scic is True


def test_the_secretariat_is_a_founder_and_founders_sit_in_known_colleges() -> None:
    without_us = charter(founders={CLUB.node_id: "benevoles"})
    with pytest.raises(InvalidMessage, match="secretariat"):
        apply(None, F.found(SECRETARIAT, without_us, now_ms=T0))
    unknown = charter(founders={SECRETARIAT.node_id: "salaries", CLUB.node_id: "elus"})
    with pytest.raises(InvalidMessage, match="colleges"):
        apply(None, F.found(SECRETARIAT, unknown, now_ms=T0))


# -- consent ---------------------------------------------------------------------

ADMIT_GARDEN = {"node": GARDEN.node_id, "college": "benevoles"}


def test_consent_an_objection_blocks_the_proposer_amends_and_the_new_version_is_adopted() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="jardin", kind="admit", title="Admettre le jardin partagé",
              text="Le jardin partagé rejoint la fédération.", payload=ADMIT_GARDEN)
    opened = chain.proposal("jardin").window
    assert (opened.questions_until - opened.opens, opened.closes - opened.questions_until) == (2 * SEC, 5 * SEC)

    # Clarifying questions first; objections wait for their round.
    chain.say(FOOD, "ask", proposal="jardin", text="Le jardin a-t-il une assurance ?")
    refused(chain, NotAllowed, chain.say, FOOD, "object", proposal="jardin", reason="Pas d'assurance", aim="Sécurité")
    chain.say(CLUB, "answer", proposal="jardin", question=1, text="Oui, auprès de la MAIF.")
    refused(chain, NotAllowed, chain.say, FOOD, "answer", proposal="jardin", question=1, text="Non")  # the proposer answers

    # The objection round: a reason is required; then the objection blocks.
    chain.at(opened.questions_until)
    refused(chain, InvalidMessage, chain.say, FOOD, "object", proposal="jardin", reason="   ", aim="Sécurité")
    chain.say(FOOD, "object", proposal="jardin", reason="Le jardin n'a pas de local pour stocker le matériel prêté",
              aim="Prendre soin du matériel commun")
    assert F.tally(chain.proposal("jardin")).outcome == "rejected"
    refused(chain, NotAllowed, chain.record, "close", proposal="jardin", outcome="rejected")  # the round is still open

    # The proposer integrates the objection: the round restarts from the amendment.
    chain.say(CLUB, "amend", proposal="jardin",
              text="Le jardin partagé rejoint la fédération ; le matériel emprunté est stocké au local du club.")
    amended = chain.proposal("jardin")
    assert amended.version == 2 and amended.window.opens == chain.now
    assert [o.status for o in amended.objections] == ["integrated"]
    assert amended.history[0].text == "Le jardin partagé rejoint la fédération."
    assert F.tally(amended).outcome == "adopted"

    # The objector may object again to the new version, then withdraw once reassured.
    chain.at(amended.window.questions_until)
    chain.say(FOOD, "object", proposal="jardin", reason="Qui a la clé du local ?", aim="Prendre soin du matériel commun")
    refused(chain, NotAllowed, chain.say, CLUB, "withdraw_objection", proposal="jardin", objection=2)  # only its author
    chain.say(FOOD, "withdraw_objection", proposal="jardin", objection=2)
    assert [o.status for o in chain.proposal("jardin").objections] == ["integrated", "withdrawn"]

    # At the end of the window: adopted, with a review date 12 months after the window closed.
    chain.at(amended.window.closes)
    review = review_date(amended.window.closes, 12)
    refused(chain, Conflict, chain.record, "close", proposal="jardin", outcome="rejected")
    refused(chain, Conflict, chain.record, "close", proposal="jardin", outcome="adopted", review_at=review + 1)
    chain.record("close", proposal="jardin", outcome="adopted", review_at=review)
    closed = chain.proposal("jardin")
    assert (closed.status, closed.review_at, closed.applied) == ("adopted", review, True)

    # The garden is invited: nobody joins without its own signature.
    assert chain.state.members[GARDEN.node_id] == "invited" and GARDEN.node_id not in F.members_of(chain.state)
    refused(chain, Forbidden, chain.say, GARDEN, "propose", kind="general", title="Fête", text="Une fête")
    chain.adhere(GARDEN)
    assert chain.state.members[GARDEN.node_id] == "member" and F.members_of(chain.state)[GARDEN.node_id] == "benevoles"
    # Late statements on a closed proposal are refused.
    refused(chain, NotAllowed, chain.say, FOOD, "object", proposal="jardin", reason="Trop tard", aim="Aucun")


def test_an_objection_standing_at_the_end_of_the_window_rejects_the_proposal() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="retrait", kind="remove", title="Retirer la banque alimentaire",
              text="Elle ne participe plus.", payload={"node": FOOD.node_id})
    chain.at(chain.proposal("retrait").window.questions_until)
    chain.say(SECRETARIAT, "object", proposal="retrait", reason="Elle distribue encore chaque semaine",
              aim="Aider les familles du territoire")
    closes = chain.proposal("retrait").window.closes
    chain.at(closes)
    # Objections made after the window are refused (the round is judged as it ended).
    refused(chain, Expired, chain.say, FOOD, "object", proposal="retrait", reason="Non", aim="Rester")
    refused(chain, Expired, chain.say, SECRETARIAT, "withdraw_objection", proposal="retrait", objection=1)
    refused(chain, Conflict, chain.record, "close", proposal="retrait", outcome="adopted")
    assert F.closing(chain.proposal("retrait")) == {"proposal": "retrait", "outcome": "rejected"}
    chain.record("close", proposal="retrait", outcome="rejected")
    assert chain.proposal("retrait").status == "rejected" and FOOD.node_id in F.members_of(chain.state)


def test_a_proposal_that_could_not_take_effect_is_refused() -> None:
    chain = founded()
    refused(chain, Conflict, chain.say, CLUB, "propose", kind="admit", title="Admettre", text="Déjà là",
            payload={"node": FOOD.node_id, "college": "benevoles"})
    refused(chain, InvalidMessage, chain.say, CLUB, "propose", kind="admit", title="Admettre", text="Collège inconnu",
            payload={"node": GARDEN.node_id, "college": "elus"})
    refused(chain, NotAllowed, chain.say, CLUB, "propose", kind="remove", title="Retirer", text="Le secrétariat",
            payload={"node": SECRETARIAT.node_id})
    refused(chain, Forbidden, chain.say, OUTSIDER, "propose", kind="general", title="Fête", text="Une fête")
    no_rule = Chain(charter(rules={"admit": CONSENT, "remove": CONSENT, "amend_charter": CONSENT}))
    no_rule.adhere(SECRETARIAT, CLUB, FOOD)
    refused(no_rule, NotAllowed, no_rule.say, CLUB, "propose", kind="general", title="Fête", text="Une fête")
    chain.say(CLUB, "propose", id="p", kind="general", title="Fête", text="Une fête")
    refused(chain, Conflict, chain.say, FOOD, "propose", id="p", kind="general", title="Autre", text="Autre")


# -- ballots ---------------------------------------------------------------------


def test_a_weighted_ballot_counts_colleges_and_refuses_strangers_and_second_ballots() -> None:
    chain = founded()
    chain.say(FOOD, "propose", id="velo", kind="general", title="Acheter un vélo cargo commun",
              text="La fédération achète un vélo cargo partagé.")
    record = chain.proposal("velo")
    assert dict(record.electorate) == dict(F.members_of(chain.state))
    # A node admitted now would not vote on it: the electorate is the members at the opening.
    chain.say(SECRETARIAT, "vote", proposal="velo", choice="against")
    chain.say(CLUB, "vote", proposal="velo", choice="for")
    chain.say(FOOD, "vote", proposal="velo", choice="for")
    refused(chain, Forbidden, chain.say, OUTSIDER, "vote", proposal="velo", choice="for")
    refused(chain, Conflict, chain.say, CLUB, "vote", proposal="velo", choice="against")
    refused(chain, NotAllowed, chain.say, CLUB, "object", proposal="velo", reason="Non", aim="Aucun")
    refused(chain, InvalidMessage, chain.say, CLUB, "vote", proposal="velo", choice="peut-être")
    result = F.tally(chain.proposal("velo"))
    # One member one vote alone: 2 of 3. Weighted: salaried 40 % against, volunteers 30 % and beneficiaries 30 % for.
    assert result.share == Fraction(3, 5) and result.adopted  # type: ignore[union-attr]
    chain.at(record.window.closes)
    refused(chain, Expired, chain.say, SECRETARIAT, "vote", proposal="velo", choice="for")
    refused(chain, Conflict, chain.record, "close", proposal="velo", outcome="rejected")
    chain.close_due("velo")
    assert chain.proposal("velo").status == "adopted"


def test_a_ballot_that_misses_its_quorum_is_rejected_and_cannot_be_closed_as_adopted() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="criteres", kind="fund_criteria", title="Critères du fonds",
              text="Trois critères pour le fonds territorial.",
              payload={"criteria": ({"id": "impact", "title": "Impact local", "weight": 3},),
                       "eligibility": "Associations membres à jour de leur adhésion"})
    chain.say(CLUB, "vote", proposal="criteres", choice="for")
    chain.say(FOOD, "vote", proposal="criteres", choice="for")  # 2 of 3 voted: the quorum is 75 %
    result = F.tally(chain.proposal("criteres"))
    assert not result.quorum_reached and result.share == 1 and not result.adopted  # type: ignore[union-attr]
    chain.at(chain.proposal("criteres").window.closes)
    refused(chain, Conflict, chain.record, "close", proposal="criteres", outcome="adopted")
    chain.record("close", proposal="criteres", outcome="rejected")
    assert chain.proposal("criteres").status == "rejected"
    assert "fund" not in chain.state.facts or not chain.state.facts["fund"].criteria


def test_an_adopted_fund_decision_is_handed_to_the_fund() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="criteres", kind="fund_criteria", title="Critères du fonds", text="Critères.",
              payload={"criteria": ({"id": "impact", "title": "Impact local", "weight": 3},),
                       "eligibility": "Associations membres"})
    for key in (SECRETARIAT, CLUB, FOOD):
        chain.say(key, "vote", proposal="criteres", choice="for")
    chain.close_due("criteres")
    assert chain.proposal("criteres").applied is True
    assert chain.state.facts["fund"].criteria[0].criteria[0].id == "impact"


def test_amending_a_ballot_restarts_it_with_a_fresh_electorate_and_no_ballots() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="fete", kind="general", title="Fête du territoire", text="En juin.")
    chain.say(FOOD, "vote", proposal="fete", choice="against")
    stale = chain.statement(SECRETARIAT, "vote", {"proposal": "fete", "choice": "for"})  # signed on version 1
    chain.say(CLUB, "amend", proposal="fete", text="En septembre.")
    assert chain.proposal("fete").ballots == {} and chain.proposal("fete").version == 2
    refused(chain, Conflict, chain.embed, stale)  # a ballot on the old text does not count for the new one
    chain.say(FOOD, "vote", proposal="fete", choice="for")


# -- the other decisions -------------------------------------------------------------


def test_charter_amendments_removals_and_links_happen_through_adopted_decisions() -> None:
    chain = founded()
    before = F.charter_digest(F.charter_of(chain.state))
    new_colleges = ({"id": "salaries", "title": "Salariés", "weight_percent": 40},
                    {"id": "benevoles", "title": "Bénévoles", "weight_percent": 30},
                    {"id": "beneficiaires", "title": "Bénéficiaires", "weight_percent": 20},
                    {"id": "collectivites", "title": "Collectivités", "weight_percent": 10})
    chain.say(CLUB, "propose", id="college", kind="amend_charter", title="Un collège des collectivités",
              text="Les collectivités locales ont leur collège.", payload={"colleges": new_colleges})
    chain.say(FOOD, "propose", id="lien", kind="link", title="Lien avec la fédération du Clos Poulet",
              text="Nous échangeons nos catalogues.",
              payload={"federation": "ab" * 16, "name": "Fédération du Clos Poulet", "secretariat": TOWN.node_id})
    chain.say(CLUB, "propose", id="retrait", kind="remove", title="Retirer la banque alimentaire",
              text="Elle a fusionné.", payload={"node": FOOD.node_id})
    for proposal in ("college", "lien", "retrait"):
        chain.close_due(proposal)
    charter_now = F.charter_of(chain.state)
    assert [c.id for c in charter_now.colleges][-1] == "collectivites" and chain.state.terms == charter_now
    assert F.charter_digest(charter_now) != before
    assert chain.state.facts["links"]["ab" * 16].name == "Fédération du Clos Poulet"
    assert FOOD.node_id not in F.members_of(chain.state) and FOOD.node_id not in chain.state.members
    # A removed member is no longer in the audience of the chain, and speaks no more.
    assert FOOD.node_id not in chain.state.others(SECRETARIAT.node_id)
    refused(chain, Forbidden, chain.say, FOOD, "propose", kind="general", title="Encore", text="Encore")


def test_a_decision_that_no_longer_applies_is_adopted_without_effect_and_says_why() -> None:
    chain = founded()
    for proposal_id in ("un", "deux"):
        chain.say(CLUB, "propose", id=proposal_id, kind="admit", title="Admettre le jardin", text="Le jardin.",
                  payload=ADMIT_GARDEN)
    chain.close_due("un")
    chain.close_due("deux")
    second = chain.proposal("deux")
    assert (second.status, second.applied) == ("adopted", False) and "already" in (second.note or "")


# -- what the machine refuses ---------------------------------------------------------


def test_forged_misaddressed_foreign_and_repeated_statements_are_refused() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="velo", kind="general", title="Vélo cargo", text="Un vélo cargo.")
    genuine = chain.statement(CLUB, "vote", {"proposal": "velo", "choice": "for"})
    # Forged: the payload says "against" but the signature is the club's over "for".
    outer = decode(genuine)
    forged = encode({"p": outer["p"].replace(b"for", b"xyz"), "s": outer["s"]})
    refused(chain, BadSignature, chain.embed, forged)
    # Signed by another key than the issuer's: the statement claims the club but the outsider signed it.
    # A valid signature of these very bytes, but by the outsider's key, not the club's it names.
    impostor = encode({"p": outer["p"], "s": OUTSIDER.sign(SIGNING_PREFIX + outer["p"])})
    refused(chain, BadSignature, chain.embed, impostor)
    # Addressed to another node than the secretariat, or naming another federation.
    misaddressed = make_statement(CLUB, chain.state.id, F.KIND, FOOD.node_id, "vote",
                                  {"proposal": "velo", "choice": "for"}, now_ms=chain.now).raw
    refused(chain, WrongAudience, chain.embed, misaddressed)
    other = make_statement(CLUB, b"\x01" * 16, F.KIND, SECRETARIAT.node_id, "vote",
                           {"proposal": "velo", "choice": "for"}, now_ms=chain.now).raw
    refused(chain, InvalidMessage, chain.embed, other)
    chain.embed(genuine)
    refused(chain, Conflict, chain.embed, genuine)  # the same statement twice
    # Only the secretariat writes the chain.
    event = next_event(CLUB, chain.state, "close", {"proposal": "velo", "outcome": "adopted"}, now_ms=chain.now)
    refused(chain, NotAllowed, lambda: apply(chain.state, event))


def test_replaying_the_events_gives_the_same_federation_and_the_same_outcomes() -> None:
    chain = founded()
    chain.say(CLUB, "propose", id="jardin", kind="admit", title="Admettre le jardin", text="Le jardin.",
              payload=ADMIT_GARDEN)
    chain.at(chain.proposal("jardin").window.questions_until)
    chain.say(FOOD, "object", proposal="jardin", reason="Pas de local", aim="Le matériel commun")
    chain.say(CLUB, "amend", proposal="jardin", text="Le jardin, avec le local du club.")
    chain.say(FOOD, "propose", id="velo", kind="general", title="Vélo cargo", text="Un vélo cargo.")
    chain.say(CLUB, "vote", proposal="velo", choice="for")
    chain.say(SECRETARIAT, "vote", proposal="velo", choice="against")
    chain.close_due("jardin")
    chain.close_due("velo")
    chain.adhere(GARDEN)
    replayed = replay(chain.events)
    assert replayed.facts == chain.state.facts and replayed.members == chain.state.members
    assert replayed.name == "active" and replayed.head == chain.state.head
    outcomes = {p.id: (p.status, p.review_at) for p in F.proposals_of(replayed).values()}
    assert outcomes == {"jardin": ("adopted", review_date(chain.proposal("jardin").window.closes, 12)),
                        "velo": ("rejected", None)}  # weighted: salaried 40 % against vs 30 % for
    # The chain travels as bytes: replaying the decoded bytes gives the same again.
    from protocol import open_envelope

    assert replay([open_envelope(e.raw) for e in chain.events]).facts == chain.state.facts
