"""Audit bundles, checked offline: a real loan chain, real keys (one party rotated its key), two logs."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ProtocolError, SigningKey, seal
from protocol.agreements import (
    EVENT_TYPE,
    AgreementState,
    apply,
    next_event,
    open_request,
)
from protocol.audit import (
    LogAudit,
    dumps,
    encode_bundle,
    from_json,
    load_bundle,
    make_bundle,
    party_log,
    proof_entry,
    to_json,
    unreachable_log,
    verify_bundle,
)
from protocol.checkpoints import (
    CHECKPOINT_TYPE,
    COSIGNATURE_TYPE,
    cosignature_body,
    parse_checkpoint,
)
from protocol.envelope import Envelope, open_envelope
from protocol.keys import KeyEntry, KeyRing, rotated_chain
from protocol.merkle import inclusion_proof, leaf_hash, root

OWNER = SigningKey.from_seed(b"\x51" * 32)  # the club lending its minibus; it rotated its key
OWNER_NOW = SigningKey.from_seed(b"\x52" * 32).for_node(OWNER.node_id)
BORROWER = SigningKey.from_seed(b"\x53" * 32)  # the food bank
WITNESS = SigningKey.from_seed(b"\x54" * 32)  # a third association witnessing both logs
T0 = 1_767_225_600_000
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
ROTATED_AT = T0 - DAY
OWNER_KEYS = rotated_chain((KeyEntry(key=OWNER.node_id, since=0),), OWNER, OWNER_NOW.key_id, ROTATED_AT)


def money(cents: int) -> dict[str, Any]:
    return {"amount": cents, "currency": "EUR"}


TERMS = {
    "resource": "minibus-9",
    "period": {"start": T0 + 2 * DAY, "end": T0 + 3 * DAY},
    "quantity": 1,
    "fee": money(3000),
    "deposit": money(50_000),
    "expires": T0 + DAY,
}


def descriptor(key: SigningKey, keys: tuple[KeyEntry, ...], at: int) -> bytes:
    body = {"id": "node", "name": "Asso", "endpoints": [], "protocols": [1], "keys": [k.to_wire() for k in keys]}
    return seal(key, "descriptor", body, now_ms=at).raw


def loan_chain() -> list[Envelope]:
    events = [open_request(BORROWER, OWNER.node_id, TERMS, now_ms=T0)]
    state = apply(None, events[0])
    for key, action, data, at in [
        (OWNER_NOW, "offer", {"terms": {**TERMS, "fee": money(2000)}}, T0 + MIN),
        (BORROWER, "accept", {}, T0 + 2 * MIN),
        (OWNER_NOW, "handover", {"at": T0 + 2 * DAY, "condition": "propre"}, T0 + 2 * DAY),
        (OWNER_NOW, "return", {"at": T0 + 3 * DAY, "condition": "propre"}, T0 + 3 * DAY),
        (BORROWER, "close", {"rating": 5}, T0 + 4 * DAY),
        (OWNER_NOW, "close", {"rating": 4}, T0 + 4 * DAY + MIN),
    ]:
        event = next_event(key, state, action, data, now_ms=at)
        state = apply(state, event)
        events.append(event)
    return events


def a_log(key: SigningKey, events: list[Envelope], noise: int, at: int) -> tuple[bytes, list[dict[str, Any]], list[bytes]]:
    """A node's log holding other leaves around the events; its signed checkpoint and the events' proofs."""
    leaves = [leaf_hash(os.urandom(40)) for _ in range(noise)]
    indexes = []
    for n, event in enumerate(events):
        leaves.insert(min(len(leaves), 3 * n + 1), leaf_hash(event.raw))
    for event in events:
        indexes.append(leaves.index(leaf_hash(event.raw)))
    checkpoint = seal(key, CHECKPOINT_TYPE, {"size": len(leaves), "root": root(leaves)}, now_ms=at)
    proofs = [proof_entry(i, inclusion_proof(leaves, i, len(leaves))) for i in indexes]
    return checkpoint.raw, proofs, leaves


def cosign(witness: SigningKey, checkpoint_raw: bytes, at: int) -> bytes:
    checkpoint = parse_checkpoint(open_envelope(checkpoint_raw, keys=ring()))
    return seal(witness, COSIGNATURE_TYPE, cosignature_body(checkpoint), now_ms=at).raw


def ring() -> KeyRing:
    r = KeyRing()
    r.learn(OWNER.node_id, [k.to_wire() for k in OWNER_KEYS])
    return r


EVENTS = loan_chain()
RAWS = [e.raw for e in EVENTS]
AT = T0 + 5 * DAY
OWNER_CP, OWNER_PROOFS, OWNER_LEAVES = a_log(OWNER_NOW, EVENTS, 9, AT)
BORROWER_CP, BORROWER_PROOFS, _ = a_log(BORROWER, EVENTS, 4, AT)
DESCRIPTORS = [
    descriptor(OWNER_NOW, OWNER_KEYS, ROTATED_AT + 1),
    descriptor(BORROWER, (KeyEntry(key=BORROWER.node_id, since=0),), T0 - DAY),
    descriptor(WITNESS, (KeyEntry(key=WITNESS.node_id, since=0),), T0 - DAY),
]


def bundle(**changes: Any) -> dict[str, Any]:
    logs = [
        party_log(OWNER.node_id, OWNER_CP, [cosign(BORROWER, OWNER_CP, AT + 1), cosign(WITNESS, OWNER_CP, AT + 2)],
                  OWNER_PROOFS),
        party_log(BORROWER.node_id, BORROWER_CP, [cosign(OWNER_NOW, BORROWER_CP, AT + 1)], BORROWER_PROOFS),
    ]
    made = make_bundle(EVENTS[0].body["agreement"], RAWS, DESCRIPTORS, logs, made_by=BORROWER.node_id, made_at=AT)
    made.update(changes)
    return made


BUNDLE = bundle()


def kinds(report: Any) -> set[tuple[str, str, int | None, str | None]]:
    return {(f.check, f.problem, f.seq, f.party) for f in report.findings}


# -- the happy path -----------------------------------------------------------


def test_a_whole_bundle_holds_and_says_what_it_checked() -> None:
    report = verify_bundle(BUNDLE)
    assert report.findings == (), report.findings
    assert report.ok and report.state == "closed"
    assert dict(report.parties) == {"owner": OWNER.node_id, "borrower": BORROWER.node_id}
    checked = report.checked
    assert checked["signatures"] == checked["chain"] == 7
    assert checked["seal"] == 1 and checked["checkpoints"] == 2 and checked["descriptors"] == 3
    assert checked["inclusion"] == 14 and checked["cosignatures"] == 3 and checked["logs"] == 2
    assert report.notes == ()


def test_the_json_and_msgpack_forms_round_trip() -> None:
    packed = encode_bundle(BUNDLE)
    assert encode_bundle(load_bundle(packed)) == encode_bundle(from_json(to_json(BUNDLE))) == packed
    assert verify_bundle(load_bundle(dumps(BUNDLE).encode())).ok
    assert verify_bundle(load_bundle(encode_bundle(BUNDLE))).ok
    text = dumps(BUNDLE)
    assert OWNER.node_id in text and RAWS[0].hex() in text


# -- byte by byte: any change is named ---------------------------------------------------------

TARGETS: list[tuple[Any, ...]] = (
    [("event", i) for i in range(len(RAWS))]
    + [("checkpoint", p) for p in range(2)]
    + [("proof", p, i, j) for p, proofs in enumerate((OWNER_PROOFS, BORROWER_PROOFS))
       for i, proof in enumerate(proofs) for j in range(len(proof["path"]))]
    + [("cosignature", p, k) for p, count in ((0, 2), (1, 1)) for k in range(count)]
    + [("descriptor", d) for d in range(2)]
)
PARTIES = [OWNER.node_id, BORROWER.node_id]


def _flip(data: bytes, position: int, mask: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(TARGETS), position=st.integers(min_value=0, max_value=10_000),
       mask=st.integers(min_value=1, max_value=255))
def test_changing_any_byte_of_an_event_signature_proof_checkpoint_or_cosignature_is_named(
    target: tuple[Any, ...], position: int, mask: int
) -> None:
    tampered = copy.deepcopy(BUNDLE)
    what = target[0]
    if what == "event":
        tampered["events"][target[1]] = _flip(tampered["events"][target[1]], position, mask)
    elif what == "checkpoint":
        log = tampered["logs"][target[1]]
        log["checkpoint"] = _flip(log["checkpoint"], position, mask)
    elif what == "proof":
        _, p, i, j = target
        path = tampered["logs"][p]["proofs"][i]["path"]
        path[j] = _flip(path[j], position, mask)
    elif what == "cosignature":
        _, p, k = target
        tampered["logs"][p]["cosignatures"][k] = _flip(tampered["logs"][p]["cosignatures"][k], position, mask)
    else:
        tampered["descriptors"][target[1]] = _flip(tampered["descriptors"][target[1]], position, mask)
    report = verify_bundle(tampered)
    assert not report.ok
    findings = report.findings
    if what == "event":
        assert any(f.seq == target[1] and f.check in ("signatures", "chain") for f in findings), findings
    elif what == "checkpoint":
        assert any(f.check == "checkpoints" and f.party == PARTIES[target[1]] for f in findings), findings
    elif what == "proof":
        assert any(f.check == "inclusion" and f.party == PARTIES[target[1]] and f.seq == target[2]
                   for f in findings), findings
    elif what == "cosignature":
        assert any(f.check == "cosignatures" and f.party == PARTIES[target[1]] for f in findings), findings
    else:
        assert any(f.check == "descriptors" and f.party == PARTIES[target[1]] for f in findings), findings


@pytest.mark.parametrize("gone", range(len(RAWS)))
def test_deleting_an_event_is_named(gone: int) -> None:
    tampered = copy.deepcopy(BUNDLE)
    del tampered["events"][gone]
    report = verify_bundle(tampered)
    assert ("chain", "missing", gone, None) in kinds(report) or (
        gone == 0 and any(f.check == "chain" and f.seq == 0 for f in report.findings)), report.findings


def test_deleting_the_last_event_with_its_proofs_is_named_by_the_head() -> None:
    tampered = copy.deepcopy(BUNDLE)
    tampered["events"].pop()
    for log in tampered["logs"]:
        log["proofs"].pop()
    assert ("chain", "missing", 6, None) in kinds(verify_bundle(tampered))


# -- what each check catches -----------------------------------------------------------------


def test_a_counterpart_that_could_not_be_asked_is_a_finding() -> None:
    logs = [BUNDLE["logs"][1], unreachable_log(OWNER.node_id, "http://club: connection refused")]
    report = verify_bundle(bundle(logs=logs))
    assert kinds(report) == {("logs", "not-checked", None, OWNER.node_id)}
    assert "connection refused" in report.findings[0].detail


def test_a_missing_party_log_is_a_finding() -> None:
    report = verify_bundle(bundle(logs=[BUNDLE["logs"][1]]))
    assert kinds(report) == {("logs", "missing", None, OWNER.node_id)}


def test_without_the_rotated_partys_descriptor_its_events_cannot_be_checked() -> None:
    report = verify_bundle(bundle(descriptors=DESCRIPTORS[1:]))
    found = kinds(report)
    assert ("descriptors", "missing", None, OWNER.node_id) in found
    for seq in (1, 3, 4, 6):  # the owner's events, signed with its second key
        assert ("signatures", "unknown-key", seq, None) in found
    assert ("checkpoints", "bad-checkpoint", None, OWNER.node_id) in found


def test_an_event_signed_with_a_key_after_it_was_retired_is_named() -> None:
    state: AgreementState | None = None
    for event in EVENTS[:5]:
        state = apply(state, event)
    assert state is not None
    late = next_event(OWNER, state, "close", {"rating": 4}, now_ms=T0 + 4 * DAY)  # the genesis key, retired
    report = verify_bundle(bundle(events=[*RAWS[:5], late.raw], head=None))
    assert ("signatures", "retired-key", 5, None) in kinds(report)


def test_a_well_signed_event_the_machine_refuses_is_named_with_its_error() -> None:
    state: AgreementState | None = None
    for event in EVENTS[:3]:
        state = apply(state, event)
    assert state is not None
    body = {"agreement": state.id, "kind": "loan", "seq": 3, "prev": state.head, "action": "handover",
            "data": {"at": T0 + 2 * DAY, "condition": "propre"}}
    wrong = seal(BORROWER, EVENT_TYPE, body, now_ms=T0 + 2 * DAY, audience=[OWNER.node_id])  # only the owner hands over
    report = verify_bundle(bundle(events=[*RAWS[:3], wrong.raw], head=None))
    chain = [f for f in report.findings if f.check == "chain"]
    assert [(f.seq, f.code) for f in chain] == [(3, "not-allowed")]


def test_a_cosignature_of_another_checkpoint_or_by_the_log_itself_is_named() -> None:
    logs = copy.deepcopy(BUNDLE["logs"])
    logs[0]["cosignatures"] = [cosign(WITNESS, BORROWER_CP, AT), cosign(OWNER_NOW, OWNER_CP, AT)]
    found = kinds(verify_bundle(bundle(logs=logs)))
    assert ("cosignatures", "wrong-checkpoint", None, OWNER.node_id) in found
    assert ("cosignatures", "self", None, OWNER.node_id) in found


def test_an_uncosigned_checkpoint_is_a_note_not_a_finding() -> None:
    logs = copy.deepcopy(BUNDLE["logs"])
    logs[1]["cosignatures"] = []
    report = verify_bundle(bundle(logs=logs))
    assert report.ok and [(n.check, n.party) for n in report.notes] == [("cosignatures", BORROWER.node_id)]


def test_an_event_missing_from_a_log_is_named() -> None:
    logs = copy.deepcopy(BUNDLE["logs"])
    logs[1]["proofs"][6] = {"error": "this event is not in the log at that size"}
    assert kinds(verify_bundle(bundle(logs=logs))) == {("inclusion", "no-proof", 6, BORROWER.node_id)}


def test_a_checkpoint_signed_by_another_node_is_named() -> None:
    logs = copy.deepcopy(BUNDLE["logs"])
    logs[0]["checkpoint"] = BORROWER_CP
    found = kinds(verify_bundle(bundle(logs=logs)))
    assert ("checkpoints", "bad-checkpoint", None, OWNER.node_id) in found


def test_an_equivocation_proof_in_the_bundle_is_a_finding() -> None:
    forked = seal(OWNER_NOW, CHECKPOINT_TYPE, {"size": len(OWNER_LEAVES), "root": os.urandom(32)}, now_ms=AT + 5).raw
    logs = copy.deepcopy(BUNDLE["logs"])
    logs[0]["equivocation"] = [OWNER_CP, forked]
    assert ("equivocation", "forked", None, OWNER.node_id) in kinds(verify_bundle(bundle(logs=logs)))
    logs[0]["equivocation"] = [OWNER_CP, OWNER_CP]
    assert ("equivocation", "bad-proof", None, OWNER.node_id) in kinds(verify_bundle(bundle(logs=logs)))


@pytest.mark.parametrize("garbage", [None, [], {"format": "x"}, {**BUNDLE, "events": "nope"}])
def test_garbage_is_a_finding_not_a_crash(garbage: Any) -> None:
    report = verify_bundle(garbage)
    assert not report.ok and report.findings[0].check == "bundle"


def test_a_sealed_document_is_checked() -> None:
    report = verify_bundle(bundle(events=RAWS[:1], head=None, logs=[
        party_log(p, log["checkpoint"], log["cosignatures"], log["proofs"][:1]) for p, log in zip(PARTIES, BUNDLE["logs"])]))
    assert report.ok and report.state == "requested"
    assert ("seal", "not-sealed") in {(n.check, n.problem) for n in report.notes}


# -- a node's whole log ----------------------------------------------------------------------


def _log_audit(leaves: list[bytes], envelopes: dict[int, bytes], checkpoints: list[bytes]) -> list[Any]:
    cps = []
    for raw in checkpoints:
        try:
            cp = parse_checkpoint(open_envelope(raw, keys=ring()))
            cps.append((raw, cp.size, cp.root))
        except ProtocolError:  # a tampered row: its columns still say size 5
            cps.append((raw, 5, b"\x00" * 32))
    audit = LogAudit(OWNER.node_id, cps, ring())
    for index, leaf in enumerate(leaves):
        raw = envelopes.get(index)
        message = open_envelope(raw).message_id if raw is not None else b"\x00" * 32
        audit.entry(index, leaf, message, raw)
    return audit.finish(len(leaves))


def _owner_log() -> tuple[list[bytes], dict[int, bytes], list[bytes]]:
    raws = [seal(BORROWER, "agreement.event", {"n": n}, now_ms=T0 + n, audience=[OWNER.node_id]).raw for n in range(12)]
    leaves = [leaf_hash(r) for r in raws]
    checkpoints = [seal(OWNER_NOW, CHECKPOINT_TYPE, {"size": n, "root": root(leaves[:n])}, now_ms=T0 + n).raw
                   for n in (0, 5, 12)]
    return leaves, dict(enumerate(raws)), checkpoints


def test_a_whole_log_checks_out() -> None:
    assert _log_audit(*_owner_log()) == []


def test_a_tampered_leaf_a_missing_event_and_a_wrong_root_are_named() -> None:
    leaves, envelopes, checkpoints = _owner_log()
    leaves[7] = leaf_hash(b"rewritten")
    del envelopes[2]
    found = {(f.check, f.problem, f.seq) for f in _log_audit(leaves, envelopes, checkpoints)}
    assert found == {("leaves", "leaf-mismatch", 7), ("leaves", "missing-event", 2), ("roots", "root-mismatch", 12)}


def test_a_tampered_checkpoint_is_named() -> None:
    leaves, envelopes, checkpoints = _owner_log()
    checkpoints[1] = _flip(checkpoints[1], 40, 1)
    found = {(f.check, f.problem, f.seq) for f in _log_audit(leaves, envelopes, checkpoints)}
    assert found == {("checkpoints", "bad-checkpoint", 5)}
