"""Audit bundles: one agreement with everything needed to check it offline, and its verifier.

A **bundle** is a canonical-msgpack-encodable map (bytes as ``bin``)::

    {"format": "maillage-audit-bundle", "version": 1,
     "agreement": <16 bytes>, "made_by": <node id>, "made_at": <ms>,
     "events": [<event envelope bytes>, ...],          # chain order, seq 0 first
     "head": {"seq": <int>, "message_id": <32 bytes>},  # the maker's record of the chain's last event
     "descriptors": [<descriptor envelope bytes>, ...], # each party's (and each witness's) signed descriptor
     "logs": [                                          # one per party
        {"node": <node id>, "checkpoint": <checkpoint envelope bytes>,
         "cosignatures": [<cosignature envelope bytes>, ...],
         "proofs": [{"index": <int>, "path": [<32 bytes>, ...]} | {"error": <str>}, ...],  # one per event
         "equivocation": [<checkpoint envelope>, <checkpoint envelope>]},                     # optional
        {"node": <node id>, "unreachable": <str>},       # its log could not be asked
     ]}

Its JSON form (``to_json``/``from_json``) is the same map with every byte
string in lowercase hex; ``load_bundle`` reads either form.

``verify_bundle`` trusts nothing in the bundle but the node ids: key
histories come from the signed descriptors (each event is checked with the
key valid at its ``iat``), the chain is replayed through the agreement
machine, the sealed document's co-signatures are checked, each party's
checkpoint must be signed by that party, each event's exact envelope bytes
must be a leaf of each party's log under that checkpoint (RFC 9162
inclusion), and each cosignature must be a valid signature naming that
checkpoint. Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .agreements import AgreementState, apply
from .checkpoints import (
    Checkpoint,
    cosigns,
    is_equivocation,
    parse_checkpoint,
    parse_cosignature,
)
from .encoding import Limits, decode, encode
from .envelope import Envelope, message_id, open_envelope, stored_envelope
from .errors import InvalidMessage, OutOfOrder, ProtocolError
from .identity import is_node_id
from .keys import KeyRing
from .merkle import CompactRange, leaf_hash, verify_inclusion
from .records import parse_record

FORMAT: Final = "maillage-audit-bundle"
VERSION: Final = 1
BUNDLE_LIMITS: Final = Limits(max_bytes=64 << 20, max_bin=1 << 20, max_array=10_000)

# The check groups, in the order a report lists them.
CHECKS: Final = (
    "bundle",
    "descriptors",
    "signatures",
    "chain",
    "seal",
    "checkpoints",
    "inclusion",
    "cosignatures",
    "logs",
    "equivocation",
)


# ---- the report ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """Something that does not hold: which check, what is wrong, and where.

    ``seq`` is the event's position in the bundle's chain (its seq in a
    well-formed chain; for a missing event, the seq that is missing);
    ``party`` the node whose log, checkpoint or descriptor is at fault;
    ``witness`` the node whose cosignature is; ``code`` the protocol error
    code when a protocol check refused; ``detail`` the refusal's own words.
    """

    check: str
    problem: str
    detail: str = ""
    seq: int | None = None
    party: str | None = None
    witness: str | None = None
    code: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("check", self.check), ("problem", self.problem), ("detail", self.detail),
                                  ("seq", self.seq), ("party", self.party), ("witness", self.witness),
                                  ("code", self.code)) if v not in (None, "")}


@dataclass(frozen=True, slots=True)
class Report:
    """What was checked (``checked``: items that held, per check group) and what did not hold.

    ``findings`` empty means everything in the bundle holds. ``notes`` say
    what could not be claimed either way without being wrong (an agreement
    not sealed yet, a checkpoint nobody cosigned yet).
    """

    agreement: bytes | None
    state: str | None
    parties: Mapping[str, str]
    checked: Mapping[str, int]
    findings: tuple[Finding, ...]
    notes: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "agreement": self.agreement.hex() if self.agreement else None,
            "state": self.state,
            "parties": dict(self.parties),
            "checked": dict(self.checked),
            "findings": [f.to_json() for f in self.findings],
            "notes": [n.to_json() for n in self.notes],
        }


@dataclass(slots=True)
class _Collector:
    checked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    findings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    def ok(self, check: str, n: int = 1) -> None:
        self.checked[check] += n

    def bad(self, check: str, problem: str, detail: str = "", **where: Any) -> None:
        self.findings.append(Finding(check, problem, detail, **where))

    def note(self, check: str, problem: str, detail: str = "", **where: Any) -> None:
        self.notes.append(Finding(check, problem, detail, **where))


def _why(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ProtocolError):
        return exc.code, exc.message
    return "invalid", f"{type(exc).__name__}: {exc}"


# ---- building bundles ----------------------------------------------------------------------


def proof_entry(index: int, path: Sequence[bytes]) -> dict[str, Any]:
    return {"index": index, "path": [bytes(h) for h in path]}


def party_log(
    node: str,
    checkpoint: bytes,
    cosignatures: Iterable[bytes],
    proofs: Iterable[Mapping[str, Any]],
    equivocation: tuple[bytes, bytes] | None = None,
) -> dict[str, Any]:
    """One party's log as the bundle holds it: its checkpoint, cosignatures and one proof per event."""
    entry: dict[str, Any] = {
        "node": node,
        "checkpoint": bytes(checkpoint),
        "cosignatures": [bytes(c) for c in cosignatures],
        "proofs": [dict(p) for p in proofs],
    }
    if equivocation is not None:
        entry["equivocation"] = [bytes(equivocation[0]), bytes(equivocation[1])]
    return entry


def unreachable_log(node: str, reason: str) -> dict[str, Any]:
    """A party whose log could not be asked: verification says its log was not checked."""
    return {"node": node, "unreachable": reason[:500] or "unreachable"}


def make_bundle(
    agreement_id: bytes,
    events: Sequence[bytes],
    descriptors: Iterable[bytes],
    logs: Iterable[Mapping[str, Any]],
    *,
    made_by: str,
    made_at: int,
    head: tuple[int, bytes] | None = None,
) -> dict[str, Any]:
    """A bundle; ``head`` (seq, message id of the last event) defaults to the last event given."""
    if head is None and events:
        last = stored_envelope(events[-1])
        head = (len(events) - 1, last.message_id)
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "agreement": bytes(agreement_id),
        "made_by": made_by,
        "made_at": made_at,
        "events": [bytes(e) for e in events],
        "descriptors": [bytes(d) for d in descriptors],
        "logs": [dict(entry) for entry in logs],
    }
    if head is not None:
        bundle["head"] = {"seq": head[0], "message_id": bytes(head[1])}
    return bundle


# ---- byte forms ----------------------------------------------------------------------------


def encode_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The bundle as canonical msgpack."""
    return encode(bundle)


def _map_bytes(bundle: Any, convert: Callable[[Any], Any]) -> Any:
    """Apply ``convert`` to every byte-string field of a bundle (by its fixed layout); other values kept."""
    if not isinstance(bundle, Mapping):
        return bundle
    out = dict(bundle)

    def each(values: Any) -> Any:
        return [convert(v) for v in values] if isinstance(values, (list, tuple)) else values

    for key in ("agreement",):
        if key in out:
            out[key] = convert(out[key])
    for key in ("events", "descriptors"):
        if key in out:
            out[key] = each(out[key])
    if isinstance(out.get("head"), Mapping):
        head = dict(out["head"])
        if "message_id" in head:
            head["message_id"] = convert(head["message_id"])
        out["head"] = head
    if isinstance(out.get("logs"), (list, tuple)):
        logs = []
        for entry in out["logs"]:
            if isinstance(entry, Mapping):
                entry = dict(entry)
                if "checkpoint" in entry:
                    entry["checkpoint"] = convert(entry["checkpoint"])
                for key in ("cosignatures", "equivocation"):
                    if key in entry:
                        entry[key] = each(entry[key])
                if isinstance(entry.get("proofs"), (list, tuple)):
                    proofs = []
                    for proof in entry["proofs"]:
                        if isinstance(proof, Mapping) and "path" in proof:
                            proof = {**proof, "path": each(proof["path"])}
                        proofs.append(proof)
                    entry["proofs"] = proofs
            logs.append(entry)
        out["logs"] = logs
    return out


def _to_hex(value: Any) -> Any:
    return value.hex() if isinstance(value, (bytes, bytearray)) else value


def _from_hex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value  # left as text: the verifier reports the field as malformed
    return value


def to_json(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form: the same map, every byte string as lowercase hex."""
    return _map_bytes(bundle, _to_hex)


def from_json(obj: Any) -> Any:
    """Back from the JSON form (what does not parse is left for ``verify_bundle`` to report)."""
    return _map_bytes(obj, _from_hex)


def dumps(bundle: Mapping[str, Any]) -> str:
    """The JSON text of a bundle, as ``maillage audit export`` writes it."""
    return json.dumps(to_json(bundle), indent=1, ensure_ascii=False) + "\n"


def load_bundle(data: bytes) -> Any:
    """A bundle from its JSON text or its canonical msgpack bytes (InvalidMessage if neither)."""
    if data.lstrip()[:1] == b"{":
        try:
            return from_json(json.loads(data))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidMessage(f"the bundle is not valid JSON: {exc}") from None
    return decode(data, BUNDLE_LIMITS)


# ---- verification --------------------------------------------------------------------------


def _is_bytes_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(type(v) is bytes for v in value)


def _shape(bundle: Any, c: _Collector) -> bool:
    """The bundle's layout; False (with a finding) when it cannot be read at all."""
    if not isinstance(bundle, Mapping):
        c.bad("bundle", "malformed", "a bundle is a map")
        return False
    if bundle.get("format") != FORMAT or bundle.get("version") != VERSION:
        c.bad("bundle", "malformed", f"not a {FORMAT} version {VERSION}")
        return False
    problems = []
    if type(bundle.get("agreement")) is not bytes or len(bundle["agreement"]) != 16:
        problems.append("agreement: 16 bytes")
    if not _is_bytes_list(bundle.get("events")):
        problems.append("events: a list of envelopes")
    if not _is_bytes_list(bundle.get("descriptors")):
        problems.append("descriptors: a list of envelopes")
    if not isinstance(bundle.get("logs"), (list, tuple)):
        problems.append("logs: a list")
    if problems:
        c.bad("bundle", "malformed", "; ".join(problems))
        return False
    c.ok("bundle")
    return True


def _keyring(descriptors: Sequence[bytes], c: _Collector) -> tuple[KeyRing, set[str]]:
    """Key histories from the signed descriptors; the set of nodes that have a valid descriptor here."""
    ring = KeyRing()
    described: set[str] = set()
    for raw in descriptors:
        party = _issuer_of(raw)
        try:
            envelope = open_envelope(raw, BUNDLE_LIMITS)
            record = parse_record(envelope, now_ms=envelope.issued_at)
            if record.type != "descriptor":
                raise InvalidMessage(f"not a descriptor but a {record.type}")
            ring.learn(envelope.issuer, record.body.keys)
        except ProtocolError as exc:
            code, detail = _why(exc)
            c.bad("descriptors", "bad-descriptor", detail, party=party, code=code)
            continue
        described.add(envelope.issuer)
        c.ok("descriptors")
    return ring, described


def _issuer_of(raw: Any) -> str | None:
    """Who an envelope claims to be from, without trusting it (None if it cannot be read)."""
    try:
        issuer = stored_envelope(raw).issuer
        return issuer if is_node_id(issuer) else None
    except Exception:  # noqa: BLE001 - any garbage: unknown issuer
        return None


def _verify_events(events: Sequence[bytes], ring: KeyRing, c: _Collector) -> AgreementState | None:
    """Each event's signature (key valid at its iat), then the chain through the agreement machine."""
    decoded: list[Envelope | None] = []
    for position, raw in enumerate(events):
        try:
            open_envelope(raw, BUNDLE_LIMITS, keys=ring)
            c.ok("signatures")
        except ProtocolError as exc:
            code, detail = _why(exc)
            c.bad("signatures", code, detail, seq=position, code=code)
        try:
            decoded.append(stored_envelope(raw))
        except Exception:  # noqa: BLE001 - undecodable: the signature finding names it
            decoded.append(None)
    state: AgreementState | None = None
    for position, envelope in enumerate(decoded):
        if envelope is None:
            c.bad("chain", "unreadable", "the event cannot be decoded: the chain stops here", seq=position)
            return None
        try:
            state = apply(state, envelope, open_statement=lambda raw: open_envelope(raw, BUNDLE_LIMITS, keys=ring))
        except OutOfOrder as exc:
            got = envelope.body.get("seq") if isinstance(envelope.body, Mapping) else None
            expected = exc.details.get("expected_seq", position)
            if type(got) is int and type(expected) is int and got > expected:
                c.bad("chain", "missing", f"event {expected} is missing (the next one is event {got})",
                      seq=expected, code=exc.code)
            else:
                c.bad("chain", "refused", exc.message, seq=position, code=exc.code)
            return None
        except ProtocolError as exc:
            c.bad("chain", "refused", exc.message, seq=position, code=exc.code)
            return None
        except Exception as exc:  # noqa: BLE001 - a malformed event must not crash an audit
            c.bad("chain", "refused", f"{type(exc).__name__}: {exc}", seq=position)
            return None
        c.ok("chain")
    if state is None:
        c.bad("chain", "empty", "the bundle holds no event")
    return state


def _verify_head(bundle: Mapping[str, Any], events: Sequence[bytes], c: _Collector) -> None:
    head = bundle.get("head")
    if head is None:
        return
    if not isinstance(head, Mapping) or type(head.get("seq")) is not int or type(head.get("message_id")) is not bytes:
        c.bad("bundle", "malformed", "head: {seq, message_id}")
        return
    seq, last_id = head["seq"], head["message_id"]
    if seq >= len(events):
        for missing in range(len(events), seq + 1):
            c.bad("chain", "missing", f"the chain ends at event {len(events) - 1} but its head is event {seq}",
                  seq=missing)
        return
    try:
        actual = message_id(stored_envelope(events[seq]).payload_bytes)
    except Exception:  # noqa: BLE001 - already reported as unreadable
        return
    if seq != len(events) - 1 or actual != last_id:
        c.bad("chain", "head-mismatch", f"the chain's head is recorded as event {seq} {last_id.hex()[:16]}…",
              seq=seq)


def _verify_seal(state: AgreementState, ring: KeyRing, c: _Collector) -> None:
    if state.sealed is None:
        c.note("seal", "not-sealed", "the agreement was never sealed")
        return
    try:
        document = state.sealed.verify(ring)
    except ProtocolError as exc:
        c.bad("seal", "bad-seal", exc.message, code=exc.code)
        return
    if document.id != state.id or dict(document.parties) != dict(state.parties):
        c.bad("seal", "bad-seal", "the sealed document names another agreement or other parties")
        return
    c.ok("seal")


def _open_checkpoint(raw: Any, ring: KeyRing) -> Checkpoint:
    if type(raw) is not bytes:
        raise InvalidMessage("a checkpoint is an envelope (bytes)")
    return parse_checkpoint(open_envelope(raw, BUNDLE_LIMITS, keys=ring))


def _verify_log(entry: Any, events: Sequence[bytes], ring: KeyRing, c: _Collector) -> str | None:
    """One party's log; returns the party's node id (None if the entry names none)."""
    if not isinstance(entry, Mapping) or not is_node_id(entry.get("node")):
        c.bad("bundle", "malformed", "a log entry names its node")
        return None
    party: str = entry["node"]
    if "unreachable" in entry:
        c.bad("logs", "not-checked", str(entry["unreachable"]), party=party)
        return party
    try:
        checkpoint = _open_checkpoint(entry.get("checkpoint"), ring)
        if checkpoint.origin != party:
            raise InvalidMessage("the checkpoint is signed by another node than the party", origin=checkpoint.origin)
    except ProtocolError as exc:
        code, detail = _why(exc)
        c.bad("checkpoints", "bad-checkpoint", detail, party=party, code=code)
        checkpoint = None
    else:
        c.ok("checkpoints")
    proofs = entry.get("proofs")
    if not isinstance(proofs, (list, tuple)):
        proofs = ()
    for position, raw in enumerate(events):
        proof = proofs[position] if position < len(proofs) else None
        if not isinstance(proof, Mapping):
            c.bad("inclusion", "no-proof", "no inclusion proof for this event", seq=position, party=party)
            continue
        if "error" in proof:
            c.bad("inclusion", "no-proof", str(proof["error"]), seq=position, party=party)
            continue
        if checkpoint is None:
            c.bad("inclusion", "not-checked", "no valid checkpoint to check the proof against", seq=position, party=party)
            continue
        index, path = proof.get("index"), proof.get("path")
        if type(index) is not int or not _is_bytes_list(path):
            c.bad("inclusion", "not-included", "malformed proof", seq=position, party=party)
            continue
        if verify_inclusion(leaf_hash(raw), index, checkpoint.size, list(path), checkpoint.root):
            c.ok("inclusion")
        else:
            c.bad("inclusion", "not-included",
                  f"the proof does not show this event as leaf {index} of the log at size {checkpoint.size}",
                  seq=position, party=party)
    if len(proofs) > len(events):
        c.bad("inclusion", "extra-proofs",
              f"{len(proofs)} proofs for {len(events)} events: an event is missing from the bundle",
              seq=len(events), party=party)
    cosignatures = entry.get("cosignatures") or ()
    if checkpoint is not None and not cosignatures:
        c.note("cosignatures", "none", "no witness has cosigned this checkpoint yet", party=party)
    for raw in cosignatures if isinstance(cosignatures, (list, tuple)) else ():
        witness = _issuer_of(raw)
        try:
            cosignature = parse_cosignature(open_envelope(raw, BUNDLE_LIMITS, keys=ring))
        except (ProtocolError, TypeError) as exc:
            code, detail = _why(exc)
            c.bad("cosignatures", "bad-cosignature", detail, party=party, witness=witness, code=code)
            continue
        if cosignature.witness == party:
            c.bad("cosignatures", "self", "a node cannot witness its own log", party=party, witness=witness)
        elif checkpoint is None or not cosigns(cosignature, checkpoint):
            c.bad("cosignatures", "wrong-checkpoint", "the cosignature names another checkpoint",
                  party=party, witness=witness)
        else:
            c.ok("cosignatures")
    if "equivocation" in entry:
        _verify_equivocation(party, entry["equivocation"], ring, c)
    return party


def _verify_equivocation(party: str, pair: Any, ring: KeyRing, c: _Collector) -> None:
    """Two checkpoints of ``party`` that cannot both be true, passed on in the bundle."""
    try:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise InvalidMessage("an equivocation proof is two checkpoints")
        first, second = (_open_checkpoint(raw, ring) for raw in pair)
    except ProtocolError as exc:
        c.bad("equivocation", "bad-proof", exc.message, party=party, code=exc.code)
        return
    shrank = first.origin == second.origin and (
        (second.issued_at > first.issued_at and second.size < first.size)
        or (first.issued_at > second.issued_at and first.size < second.size)
    )
    if first.origin != party or not (is_equivocation(first, second) or shrank):
        c.bad("equivocation", "bad-proof", "the two checkpoints do not contradict each other", party=party)
        return
    c.bad("equivocation", "forked",
          f"signed two checkpoints that cannot both be true (sizes {first.size} and {second.size})", party=party)


def verify_bundle(bundle: Any) -> Report:
    """Check everything a bundle holds; ``Report.findings`` is empty when everything holds."""
    c = _Collector()
    if not _shape(bundle, c):
        return Report(None, None, {}, c.checked, tuple(c.findings), tuple(c.notes))
    events: list[bytes] = list(bundle["events"])
    ring, described = _keyring(bundle["descriptors"], c)
    state = _verify_events(events, ring, c)
    _verify_head(bundle, events, c)
    parties: dict[str, str] = dict(state.parties) if state is not None else {}
    if state is not None:
        if state.id != bundle["agreement"]:
            c.bad("chain", "refused", "the events belong to another agreement than the bundle names", seq=0)
        _verify_seal(state, ring, c)
    else:
        parties = _parties_of(events)
    for node in sorted(set(parties.values()) - described):
        c.bad("descriptors", "missing", "no valid signed descriptor of this party: its key history is unknown", party=node)
    logged: set[str] = set()
    for entry in bundle["logs"]:
        party = _verify_log(entry, events, ring, c)
        if party is not None:
            logged.add(party)
    for node in sorted(set(parties.values()) - logged):
        c.bad("logs", "missing", "the bundle holds nothing of this party's log", party=node)
    if set(parties.values()) <= logged and not any(f.check == "logs" for f in c.findings):
        c.ok("logs", len(logged))
    return Report(
        bytes(bundle["agreement"]),
        state.name if state is not None else None,
        parties,
        c.checked,
        tuple(c.findings),
        tuple(c.notes),
    )


def _parties_of(events: Sequence[bytes]) -> dict[str, str]:
    """The parties the opening event names, when the chain could not be replayed."""
    try:
        parties = stored_envelope(events[0]).body["data"]["parties"]
        return {str(role): str(node) for role, node in parties.items() if is_node_id(node)}
    except Exception:  # noqa: BLE001 - nothing to name
        return {}


# ---- a node's whole log --------------------------------------------------------------------


@dataclass(slots=True)
class LogAudit:
    """Checks a node's whole log as it streams past, in index order (pure; the caller reads the database).

    Feed every entry with ``entry(index, leaf_hash, envelope)`` (``envelope``
    None when the event is not stored), then ``finish``. Each of the node's
    own checkpoints is checked when the log reaches its size: signature,
    origin, and root against the stored leaf hashes.
    """

    origin: str
    checkpoints: Sequence[tuple[bytes, int, bytes]]  # (envelope, stored size, stored root), sorted by size
    ring: KeyRing = field(default_factory=KeyRing)
    size: int = 0
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=lambda: {"leaves": 0, "checkpoints": 0, "roots": 0})
    _range: CompactRange = field(default_factory=CompactRange)
    _next_checkpoint: int = 0

    def __post_init__(self) -> None:
        self.checkpoints = sorted(self.checkpoints, key=lambda cp: cp[1])
        self._check_roots()  # checkpoints of size 0

    def entry(self, index: int, stored_leaf: bytes, message: bytes, envelope: bytes | None) -> None:
        if index != self.size:
            for missing in range(self.size, index):
                self.findings.append(Finding("leaves", "missing-entry", "the log has no entry at this index",
                                             seq=missing))
                self._range.append(bytes(32))  # keeps later indexes in place; roots after it will not match
                self.size += 1
                self._check_roots()
        if envelope is None:
            self.findings.append(Finding("leaves", "missing-event",
                                         f"no stored event with message id {message.hex()[:16]}…", seq=index))
        elif leaf_hash(envelope) != stored_leaf:
            self.findings.append(Finding("leaves", "leaf-mismatch",
                                         "the stored leaf hash is not the hash of the stored event", seq=index))
        else:
            try:
                ok = stored_envelope(envelope).message_id == message
            except Exception:  # noqa: BLE001
                ok = False
            if ok:
                self.checked["leaves"] += 1
            else:
                self.findings.append(Finding("leaves", "leaf-mismatch",
                                             "the stored event does not have the leaf's message id", seq=index))
        self._range.append(bytes(stored_leaf) if len(stored_leaf) == 32 else leaf_hash(bytes(stored_leaf)))
        self.size += 1
        self._check_roots()

    def _check_roots(self) -> None:
        while self._next_checkpoint < len(self.checkpoints) and self.checkpoints[self._next_checkpoint][1] <= self.size:
            raw, size, stored_root = self.checkpoints[self._next_checkpoint]
            self._next_checkpoint += 1
            if size != self.size:
                continue  # only when the log had exactly that size (sizes strictly above are checked later)
            where = f"checkpoint of size {size}"
            try:
                checkpoint = parse_checkpoint(open_envelope(bytes(raw), BUNDLE_LIMITS, keys=self.ring))
            except ProtocolError as exc:
                self.findings.append(Finding("checkpoints", "bad-checkpoint", f"{where}: {exc.message}",
                                             seq=size, code=exc.code))
                continue
            if checkpoint.origin != self.origin or checkpoint.size != size or checkpoint.root != stored_root:
                self.findings.append(Finding("checkpoints", "bad-checkpoint",
                                             f"{where}: the stored row does not match its signed envelope", seq=size))
                continue
            self.checked["checkpoints"] += 1
            if checkpoint.root == self._range.root():
                self.checked["roots"] += 1
            else:
                self.findings.append(Finding("roots", "root-mismatch",
                                             f"{where}: the log's root is not the signed root", seq=size))

    def finish(self, expected_size: int) -> list[Finding]:
        """The findings, once every entry below ``expected_size`` (the log's counter) was fed."""
        if self.size < expected_size:
            for missing in range(self.size, expected_size):
                self.findings.append(Finding("leaves", "missing-entry", "the log has no entry at this index",
                                             seq=missing))
        for raw, size, _ in self.checkpoints[self._next_checkpoint:]:
            self.findings.append(Finding("checkpoints", "beyond-log",
                                         f"a checkpoint of size {size} is beyond the log's {self.size} entries",
                                         seq=size))
        return self.findings


__all__ = [
    "BUNDLE_LIMITS",
    "CHECKS",
    "FORMAT",
    "VERSION",
    "Finding",
    "LogAudit",
    "Report",
    "dumps",
    "encode_bundle",
    "from_json",
    "load_bundle",
    "make_bundle",
    "party_log",
    "proof_entry",
    "to_json",
    "unreachable_log",
    "verify_bundle",
]
