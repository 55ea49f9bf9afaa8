"""Run every test vector in docs/vectors against the reference implementation.

Each JSON file has a runner per section; a file or section without a runner,
an empty directory, or an empty section fails the suite, so vectors cannot be
added (or lost) silently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol import (
    DEFAULT_LIMITS,
    DEFAULT_WINDOW,
    SIGNING_PREFIX,
    InvalidMessage,
    ProtocolError,
    SigningKey,
    check_message,
    decode,
    encode,
    fingerprint,
    is_node_id,
    open_envelope,
    parse_message,
    parse_record,
    parse_reply,
    public_key_from_node_id,
    seal,
    supersedes,
    version_of,
)

from .notation import from_typed, hex_input, ref_pack, to_typed

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"

# file -> sections that hold cases (every one must be non-empty and run)
SECTIONS = {
    "keys.json": ("keys", "invalid_node_ids"),
    "encoding.json": ("valid", "invalid"),
    "envelopes.json": ("valid", "open", "check"),
    "records.json": ("records", "versions"),
    "messages.json": ("requests", "replies"),
    "reconcile.json": ("exchanges", "invalid"),
    "rotation.json": ("rotations", "open"),
    "agreements.json": ("chains", "refusals"),
    "log.json": ("trees", "inclusion", "consistency", "checkpoints", "cosignatures", "equivocations"),
}


def _load() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(VECTORS.glob("*.json"))}


FILES = _load()


def _cases(file: str, section: str) -> list[Any]:
    cases = FILES.get(file, {}).get(section, [])
    return [pytest.param(c, id=c.get("name", str(i))) for i, c in enumerate(cases)]


def expect_error(code: str, fn: Callable[[], Any]) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        fn()
    assert info.value.code == code, f"expected {code!r}, got {info.value.code!r}: {info.value}"
    return info.value


# ---------------------------------------------------------------------------
# the vector set itself


def test_vector_files_are_present_and_complete() -> None:
    assert FILES, f"no test vectors in {VECTORS}"
    assert set(FILES) == set(SECTIONS), "every vector file needs a runner here, and every runner its file"
    for name, data in FILES.items():
        assert data["format"] == 1, name
        for section in SECTIONS[name]:
            assert data.get(section), f"{name}: section {section!r} is empty"


def test_committed_vectors_match_the_generator() -> None:
    """The generator is deterministic and the committed files are its current output."""
    spec = importlib.util.spec_from_file_location("maillage_vector_generator", VECTORS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert set(built) == set(FILES)
    for name, text in built.items():
        assert (VECTORS / name).read_text(encoding="utf-8") == text, f"{name} is stale: run docs/vectors/generate.py"
    assert module.build() == built


# ---------------------------------------------------------------------------
# keys.json


@pytest.mark.parametrize("case", _cases("keys.json", "keys"))
def test_key_vector(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["seed_hex"])
    key = SigningKey.from_seed(seed)
    assert key.public_raw.hex() == case["public_key_hex"]
    assert key.node_id == case["node_id"]
    assert fingerprint(case["node_id"]) == case["fingerprint"]
    assert public_key_from_node_id(case["node_id"]).hex() == case["public_key_hex"]
    assert key.seed() == seed
    # A signature made by the seed verifies with the published public key alone.
    sig = Ed25519PrivateKey.from_private_bytes(seed).sign(b"maillage")
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(case["public_key_hex"])).verify(sig, b"maillage")


@pytest.mark.parametrize("case", _cases("keys.json", "invalid_node_ids"))
def test_invalid_node_id_vector(case: dict[str, Any]) -> None:
    assert not is_node_id(case["node_id"])
    expect_error(case["error"], lambda: public_key_from_node_id(case["node_id"]))


# ---------------------------------------------------------------------------
# encoding.json


def test_encoding_limits_are_the_defaults() -> None:
    limits = FILES["encoding.json"]["limits"]
    assert limits == {
        "max_bytes": DEFAULT_LIMITS.max_bytes,
        "max_depth": DEFAULT_LIMITS.max_depth,
        "max_str": DEFAULT_LIMITS.max_str,
        "max_bin": DEFAULT_LIMITS.max_bin,
        "max_array": DEFAULT_LIMITS.max_array,
        "max_map": DEFAULT_LIMITS.max_map,
    }


@pytest.mark.parametrize("case", _cases("encoding.json", "valid"))
def test_encoding_valid_vector(case: dict[str, Any]) -> None:
    value = from_typed(case["value"])
    assert encode(value).hex() == case["hex"]
    assert ref_pack(value).hex() == case["hex"]  # the packer written from docs/protocol.md agrees
    assert to_typed(decode(bytes.fromhex(case["hex"]))) == case["value"]


@pytest.mark.parametrize("case", _cases("encoding.json", "invalid"))
def test_encoding_invalid_vector(case: dict[str, Any]) -> None:
    expect_error(case["error"], lambda: decode(hex_input(case)))


# ---------------------------------------------------------------------------
# envelopes.json


def test_signing_prefix_and_window() -> None:
    data = FILES["envelopes.json"]
    assert bytes.fromhex(data["signing_prefix_hex"]) == SIGNING_PREFIX == b"maillage/v1 signed payload\x00"
    assert data["freshness_window_ms"] == {"past": DEFAULT_WINDOW.past_ms, "future": DEFAULT_WINDOW.future_ms}


@pytest.mark.parametrize("case", _cases("envelopes.json", "valid"))
def test_envelope_valid_vector(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["seed_hex"])
    key = SigningKey.from_seed(seed)
    payload = from_typed(case["payload"])
    payload_bytes = bytes.fromhex(case["payload_hex"])
    signature = bytes.fromhex(case["signature_hex"])
    raw = bytes.fromhex(case["envelope_hex"])

    assert encode(payload) == payload_bytes
    assert payload["iss"] == key.node_id
    assert Ed25519PrivateKey.from_private_bytes(seed).sign(SIGNING_PREFIX + payload_bytes) == signature
    assert encode({"p": payload_bytes, "s": signature}) == raw
    assert hashlib.sha256(payload_bytes).hexdigest() == case["message_id_hex"]

    env = open_envelope(raw)
    assert env.message_id.hex() == case["message_id_hex"]
    assert env.payload_bytes == payload_bytes and env.signature == signature
    assert to_typed(env.payload) == case["payload"]

    resealed = seal(
        key,
        payload["t"],
        payload["body"],
        now_ms=payload["iat"],
        audience=payload.get("aud"),
        nonce=payload["nonce"],
    )
    assert resealed.raw == raw


@pytest.mark.parametrize("case", _cases("envelopes.json", "open"))
def test_envelope_open_vector(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["envelope_hex"])
    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], lambda: open_envelope(raw))
    else:
        assert open_envelope(raw).message_id.hex() == case["expect"]["ok"]["message_id_hex"]


@pytest.mark.parametrize("case", _cases("envelopes.json", "check"))
def test_envelope_check_vector(case: dict[str, Any]) -> None:
    env = open_envelope(bytes.fromhex(case["envelope_hex"]))

    def run() -> None:
        check_message(env, recipient=case["recipient"], now_ms=case["now_ms"])

    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], run)
    else:
        assert case["expect"] == {"ok": True}
        run()


# ---------------------------------------------------------------------------
# records.json


@pytest.mark.parametrize("case", _cases("records.json", "records"))
def test_record_vector(case: dict[str, Any]) -> None:
    def run() -> Any:
        return parse_record(open_envelope(bytes.fromhex(case["envelope_hex"])), now_ms=case["now_ms"])

    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], run)
        return
    record = run()
    want = case["expect"]["record"]
    assert record.type == want["type"]
    assert record.author == want["author"]
    assert record.record_id == want["id"]
    assert record.version == (want["iat"], bytes.fromhex(want["message_id_hex"]))


@pytest.mark.parametrize("case", _cases("records.json", "versions"))
def test_version_vector(case: dict[str, Any]) -> None:
    records = [parse_record(open_envelope(bytes.fromhex(h)), now_ms=case["now_ms"]) for h in case["versions"]]
    assert [r.envelope.message_id.hex() for r in records] == case["message_ids_hex"]
    assert len({(r.author, r.record_id) for r in records}) == 1
    order = sorted(range(len(records)), key=lambda i: version_of(records[i].envelope))
    assert order == case["order"]
    assert order[-1] == case["winner"]
    winner = records[case["winner"]].version
    for i, r in enumerate(records):
        if i != case["winner"]:
            assert supersedes(winner, r.version)
            assert not supersedes(r.version, winner)
    assert not supersedes(winner, winner)
    # Whatever the arrival order, keeping the version that supersedes gives the winner.
    held = None
    for r in records:
        if held is None or supersedes(r.version, held):
            held = r.version
    assert held == winner


# ---------------------------------------------------------------------------
# messages.json


@pytest.mark.parametrize("case", _cases("messages.json", "requests"))
def test_request_vector(case: dict[str, Any]) -> None:
    def run() -> Any:
        env = open_envelope(bytes.fromhex(case["envelope_hex"]))
        check_message(env, recipient=case["recipient"], now_ms=case["now_ms"])
        return parse_message(env, case["expected_type"])

    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], run)
    else:
        assert to_typed(run().to_wire()) == case["expect"]["body"]


@pytest.mark.parametrize("case", _cases("messages.json", "replies"))
def test_reply_vector(case: dict[str, Any]) -> None:
    request = open_envelope(bytes.fromhex(case["request_hex"]))

    def run() -> Any:
        env = open_envelope(bytes.fromhex(case["reply_hex"]))
        check_message(env, recipient=case["recipient"], now_ms=case["now_ms"])
        return parse_reply(env, request)

    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], run)
    else:
        body = run()
        assert body.reply_to == request.message_id
        assert to_typed(body.to_wire()) == case["expect"]["body"]


def test_invalid_node_id_error_is_typed() -> None:
    # The code in keys.json is "invalid": make sure it is the InvalidMessage class, not a bare code.
    with pytest.raises(InvalidMessage):
        public_key_from_node_id(FILES["keys.json"]["invalid_node_ids"][0]["node_id"])


# ---------------------------------------------------------------------------
# reconcile.json


@pytest.mark.parametrize("case", _cases("reconcile.json", "exchanges"))
def test_reconcile_exchange_vector(case: dict[str, Any]) -> None:
    """Replay the exchange: every message byte for byte, then what each side learnt."""
    from protocol.reconcile import Item, SortedItems, initiate, respond

    params = case["params"]
    sides = [SortedItems(Item(t, bytes.fromhex(k)) for t, k in case[side]) for side in ("a", "b")]
    messages = [bytes.fromhex(m) for m in case["messages"]]
    assert initiate(sides[0], **params) == messages[0]
    have: list[set[bytes]] = [set(), set()]
    need: list[set[bytes]] = [set(), set()]
    for i, message in enumerate(messages):
        turn = (i + 1) % 2
        reply, got, lacking = respond(sides[turn], message, **params)
        have[turn] |= got
        need[turn] |= lacking
        assert reply == (messages[i + 1] if i + 1 < len(messages) else None)
    for side, name in ((0, "a"), (1, "b")):
        assert sorted(k.hex() for k in have[side]) == case[f"{name}_have"]
        assert sorted(k.hex() for k in need[side]) == case[f"{name}_need"]


@pytest.mark.parametrize("case", _cases("reconcile.json", "invalid"))
def test_reconcile_invalid_vector(case: dict[str, Any]) -> None:
    from protocol.reconcile import SortedItems, respond

    expect_error(case["error"], lambda: respond(SortedItems([]), bytes.fromhex(case["hex"])))


# ---------------------------------------------------------------------------
# rotation.json


def _history(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k.removesuffix("_hex"): bytes.fromhex(v) if k.endswith("_hex") else v for k, v in e.items()} for e in entries]


@pytest.mark.parametrize("case", _cases("rotation.json", "rotations"))
def test_rotation_vector(case: dict[str, Any]) -> None:
    from protocol.keys import ROTATION_PREFIX, parse_chain, rotation_statement

    data = FILES["rotation.json"]
    genesis = SigningKey.from_seed(bytes.fromhex(data["genesis_seed_hex"]))
    successor = SigningKey.from_seed(bytes.fromhex(data["successor_seed_hex"]))
    assert genesis.node_id == data["node_id"] and successor.key_id == case["successor"]
    statement = rotation_statement(genesis.node_id, successor.key_id, case["since"])
    assert statement.hex() == case["statement_hex"] and statement.startswith(ROTATION_PREFIX)
    assert genesis.sign(statement).hex() == case["cert_hex"]  # Ed25519 is deterministic
    chain = parse_chain(genesis.node_id, _history(case["keys"]))
    assert [e.key for e in chain] == [genesis.node_id, successor.key_id]


@pytest.mark.parametrize("case", _cases("rotation.json", "open"))
def test_rotation_open_vector(case: dict[str, Any]) -> None:
    from protocol.keys import KeyRing

    data = FILES["rotation.json"]
    ring = KeyRing()
    if case["known_history"]:
        ring.learn(data["node_id"], _history(data["rotations"][0]["keys"]))
    raw = bytes.fromhex(case["hex"])
    if "error" in case:
        expect_error(case["error"], lambda: open_envelope(raw, keys=ring))
    else:
        assert open_envelope(raw, keys=ring).message_id.hex() == case["ok"]


# ---------------------------------------------------------------------------
# agreements.json


def _agreement_ring(chain: dict[str, Any]) -> Any:
    from protocol.keys import KeyRing

    ring = KeyRing()
    for node_id, entries in chain.get("key_histories", {}).items():
        ring.learn(node_id, _history(entries))
    return ring


def _agreement_chain(name: str) -> dict[str, Any]:
    return next(c for c in FILES["agreements.json"]["chains"] if c["name"] == name)


@pytest.mark.parametrize("case", _cases("agreements.json", "chains"))
def test_agreement_chain_vector(case: dict[str, Any]) -> None:
    """Replay the chain event by event, then check the sealed document and its co-signatures offline."""
    from protocol.agreements import SEAL_PREFIX, SealedAgreement, apply, terms_document

    data = FILES["agreements.json"]
    assert bytes.fromhex(data["seal_prefix_hex"]) == SEAL_PREFIX == b"maillage/v1 agreement\x00"
    ring = _agreement_ring(case)
    state = None
    events = []
    for step in case["events"]:
        event = open_envelope(bytes.fromhex(step["hex"]), keys=ring)
        assert event.type == data["event_type"]
        assert event.message_id.hex() == step["message_id_hex"]
        assert event.issuer == step["issuer"] and event.body["action"] == step["action"]
        state = apply(state, event)
        events.append(event)
        assert state.name == step["state"]
        assert state.id.hex() == case["agreement_id_hex"] and state.kind == case["kind"]
        assert dict(state.parties) == case["parties"]
        facts = step.get("facts", {})
        if "lateness_minutes" in facts:
            assert state.facts["lateness_minutes"] == facts["lateness_minutes"]
        if "ended_by" in facts:
            assert state.facts["ended"].by == facts["ended_by"]
            assert state.facts["ended"].fee_due.to_wire() == facts["cancellation_fee"]
    assert state is not None and state.sealed is not None

    want = case["sealed"]
    document = bytes.fromhex(want["document_hex"])
    terms = events[want["terms_from"]].body["data"]["terms"]  # the terms map exactly as it travelled
    assert terms_document(state.id, state.kind, state.parties, terms) == document
    assert to_typed(decode(document)) == want["document"]
    assert state.sealed.document == document
    assert {node: sig.hex() for node, sig in state.sealed.signatures.items()} == want["signatures_hex"]
    assert dict(state.sealed.keys) == want.get("keys", {})
    assert state.sealed.to_bytes().hex() == want["wire_hex"]
    # An auditor checks the wire form offline, knowing nothing of the loan table.
    doc = SealedAgreement.from_bytes(bytes.fromhex(want["wire_hex"])).verify(ring)
    assert set(doc.parties.values()) == set(want["signatures_hex"])
    keys = want.get("keys", {})
    for node, sig in want["signatures_hex"].items():
        signer = public_key_from_node_id(keys.get(node, node))
        Ed25519PublicKey.from_public_bytes(signer).verify(bytes.fromhex(sig), SEAL_PREFIX + document)


@pytest.mark.parametrize("case", _cases("agreements.json", "refusals"))
def test_agreement_refusal_vector(case: dict[str, Any]) -> None:
    from protocol.agreements import apply

    chain = _agreement_chain(case["chain"])
    ring = _agreement_ring(chain)
    state = None
    for step in chain["events"][: case["prefix"]]:
        state = apply(state, open_envelope(bytes.fromhex(step["hex"]), keys=ring))
    event = open_envelope(bytes.fromhex(case["event_hex"]), keys=ring)  # it opens: the refusal is the machine's
    before = state
    expect_error(case["error"], lambda: apply(state, event))
    assert state is before


# ---------------------------------------------------------------------------
# log.json


def _naive_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1 as written (recursion on the largest power of two below n), with hashlib only."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaf_hashes[:k]) + _naive_root(leaf_hashes[k:])).digest()


def _log_tree(name: str) -> dict[str, Any]:
    return next(t for t in FILES["log.json"]["trees"] if t["name"] == name)


def _hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_log_constants() -> None:
    from protocol.checkpoints import CHECKPOINT_TYPE, COSIGNATURE_TYPE
    from protocol.merkle import EMPTY_ROOT, LEAF_PREFIX, NODE_PREFIX

    data = FILES["log.json"]
    assert bytes.fromhex(data["leaf_prefix_hex"]) == LEAF_PREFIX == b"\x00"
    assert bytes.fromhex(data["node_prefix_hex"]) == NODE_PREFIX == b"\x01"
    assert bytes.fromhex(data["empty_root_hex"]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert (data["checkpoint_type"], data["cosignature_type"]) == (CHECKPOINT_TYPE, COSIGNATURE_TYPE)


def test_log_ct_vectors_agree_with_test_merkle() -> None:
    """The CT leaves and proofs here are those of tests/protocol/test_merkle.py."""
    from .test_merkle import (
        CONSISTENCY_VECTORS,
        INCLUSION_VECTORS,
        LEAF_HASHES,
        LEAVES,
        ROOTS,
    )

    ct = _log_tree("certificate transparency")
    assert _hexes(ct["leaves_hex"]) == LEAVES
    assert _hexes(ct["leaf_hashes_hex"]) == LEAF_HASHES
    assert _hexes(ct["roots_hex"]) == ROOTS
    good = [c for c in FILES["log.json"]["inclusion"] if c["tree"] == ct["name"] and c["verifies"]]
    assert [(c["index"], c["size"], _hexes(c["proof_hex"])) for c in good] == INCLUSION_VECTORS
    good = [c for c in FILES["log.json"]["consistency"] if c["tree"] == ct["name"] and c["verifies"]]
    assert [(c["old_size"], c["new_size"], _hexes(c["proof_hex"])) for c in good] == CONSISTENCY_VECTORS


@pytest.mark.parametrize("case", _cases("log.json", "trees"))
def test_log_tree_vector(case: dict[str, Any]) -> None:
    from protocol.envelope import stored_envelope
    from protocol.merkle import leaf_hash, root

    leaves = _hexes(case["leaves_hex"])
    hashes = _hexes(case["leaf_hashes_hex"])
    assert [hashlib.sha256(b"\x00" + d).digest() for d in leaves] == hashes == [leaf_hash(d) for d in leaves]
    assert len(case["roots_hex"]) == len(leaves) + 1
    for n, want in enumerate(_hexes(case["roots_hex"])):
        assert root(hashes[:n]) == want == _naive_root(hashes[:n])
    if "message_ids_hex" in case:  # a node's log: each leaf is an agreement event's exact envelope bytes
        chains = FILES["agreements.json"]["chains"]
        events = {step["message_id_hex"]: step["hex"] for chain in chains for step in chain["events"]}
        assert [stored_envelope(d).message_id.hex() for d in leaves] == case["message_ids_hex"]
        assert [events[m] for m in case["message_ids_hex"]] == case["leaves_hex"]
        assert {stored_envelope(d).type for d in leaves} == {FILES["agreements.json"]["event_type"]}


@pytest.mark.parametrize("case", _cases("log.json", "inclusion"))
def test_log_inclusion_vector(case: dict[str, Any]) -> None:
    from protocol.merkle import inclusion_proof, verify_inclusion

    tree = _log_tree(case["tree"])
    hashes = _hexes(tree["leaf_hashes_hex"])
    index, size = case["index"], case["size"]
    leaf, top, proof = bytes.fromhex(case["leaf_hash_hex"]), bytes.fromhex(case["root_hex"]), _hexes(case["proof_hex"])
    assert leaf == hashes[index] and top.hex() == tree["roots_hex"][size]
    assert verify_inclusion(leaf, index, size, proof, top) is case["verifies"]
    if case["verifies"]:
        assert inclusion_proof(hashes, index, size) == proof
    else:
        assert inclusion_proof(hashes, index, size) != proof


@pytest.mark.parametrize("case", _cases("log.json", "consistency"))
def test_log_consistency_vector(case: dict[str, Any]) -> None:
    from protocol.merkle import consistency_proof, verify_consistency

    tree = _log_tree(case["tree"])
    hashes = _hexes(tree["leaf_hashes_hex"])
    old, new = case["old_size"], case["new_size"]
    old_root, new_root = bytes.fromhex(case["old_root_hex"]), bytes.fromhex(case["new_root_hex"])
    assert (old_root.hex(), new_root.hex()) == (tree["roots_hex"][old], tree["roots_hex"][new])
    proof = _hexes(case["proof_hex"])
    assert verify_consistency(old, new, old_root, new_root, proof) is case["verifies"]
    assert (consistency_proof(hashes, old, new) == proof) is case["verifies"]


@pytest.mark.parametrize("case", _cases("log.json", "checkpoints"))
def test_log_checkpoint_vector(case: dict[str, Any]) -> None:
    from protocol.checkpoints import parse_checkpoint

    raw = bytes.fromhex(case["envelope_hex"])
    env = open_envelope(raw)  # every one opens: a refusal is the body's
    assert env.type == FILES["log.json"]["checkpoint_type"]
    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], lambda: parse_checkpoint(env))
        return
    want = case["expect"]["ok"]
    cp = parse_checkpoint(env)
    assert to_typed(env.body) == case["body"]
    assert set(env.body) == {"size", "root"} and "aud" not in env.payload
    assert (cp.origin, cp.size, cp.root.hex(), cp.issued_at, cp.message_id.hex()) == (
        want["origin"], want["size"], want["root_hex"], want["iat"], want["message_id_hex"])
    assert cp.raw == raw
    if "tree" in case:
        tree = _log_tree(case["tree"])
        assert tree["origin"] == cp.origin
        assert tree["roots_hex"][cp.size] == want["root_hex"]


@pytest.mark.parametrize("case", _cases("log.json", "cosignatures"))
def test_log_cosignature_vector(case: dict[str, Any]) -> None:
    from protocol.checkpoints import cosigns, parse_checkpoint, parse_cosignature

    env = open_envelope(bytes.fromhex(case["envelope_hex"]))
    assert env.type == FILES["log.json"]["cosignature_type"]
    if "error" in case["expect"]:
        expect_error(case["expect"]["error"], lambda: parse_cosignature(env))
        return
    cos = parse_cosignature(env)
    assert to_typed(env.body) == case["body"]
    assert cos.witness == case["expect"]["witness"]
    checkpoint = parse_checkpoint(open_envelope(bytes.fromhex(case["checkpoint_hex"])))
    assert cos.witness != checkpoint.origin
    assert cosigns(cos, checkpoint) is case["expect"]["cosigns"]


@pytest.mark.parametrize("case", _cases("log.json", "equivocations"))
def test_log_equivocation_vector(case: dict[str, Any]) -> None:
    """Judged from the two signed envelopes alone, as a node does with a proof passed on to it."""
    from protocol.checkpoints import is_equivocation, parse_checkpoint

    a, b = (parse_checkpoint(open_envelope(bytes.fromhex(case[k]))) for k in ("first_hex", "second_hex"))
    rule = case["expect"]["rule"]
    assert is_equivocation(a, b) is is_equivocation(b, a) is (rule == "same size, two roots")
    newer, older = (a, b) if a.issued_at > b.issued_at else (b, a)
    shrank = a.origin == b.origin and newer.issued_at > older.issued_at and newer.size < older.size
    assert shrank is (rule == "newer and smaller")
    assert (is_equivocation(a, b) or shrank) is case["expect"]["equivocation"]
