"""Generate the Maillage protocol test vectors (docs/vectors/*.json).

Run from the repository root:

    .venv/bin/python docs/vectors/generate.py

The output is deterministic: fixed Ed25519 seeds, fixed nonces, fixed times
(Ed25519 signatures are deterministic too), so running the script again must
leave the committed JSON files unchanged. ``tests/protocol/test_vectors.py``
checks that, and runs every vector against the reference implementation.

The JSON format is documented in docs/vectors/README.md and in
docs/protocol.md ("Test vectors").
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgpack

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol import (  # noqa: E402
    SIGNING_PREFIX,
    ProtocolError,
    SigningKey,
    check_message,
    encode,
    fingerprint,
    open_envelope,
    parse_message,
    parse_record,
    parse_reply,
    seal,
)
from protocol.envelope import message_id  # noqa: E402

FORMAT_VERSION = 1

# 2026-01-01T00:00:00Z in milliseconds: the issue time of most vectors.
T0 = 1_767_225_600_000
MINUTE = 60_000

SEEDS: dict[str, bytes] = {
    # RFC 8032, section 7.1, TEST 1: lets an implementer cross-check Ed25519 itself.
    "rfc8032-test1": bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
    "banque-alimentaire": hashlib.sha256(b"maillage vector seed: banque-alimentaire").digest(),
    "club-sportif": hashlib.sha256(b"maillage vector seed: club-sportif").digest(),
    "maison-des-jeunes": hashlib.sha256(b"maillage vector seed: maison-des-jeunes").digest(),
    "zero": bytes(32),
    "counting": bytes(range(1, 33)),
}
KEYS = {name: SigningKey.from_seed(seed) for name, seed in SEEDS.items()}
FOOD = KEYS["banque-alimentaire"]  # a food bank
CLUB = KEYS["club-sportif"]  # a sports club
YOUTH = KEYS["maison-des-jeunes"]  # a youth centre


def nonce(label: str) -> bytes:
    """A fixed 16-byte nonce per vector (real nodes use 16 random bytes)."""
    return hashlib.sha256(b"maillage vector nonce: " + label.encode()).digest()[:16]


# --------------------------------------------------------------------------
# The typed JSON notation for msgpack values (see README.md).


def typed(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "nil"}
    if value is True or value is False:
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, (bytes, bytearray)):
        return {"type": "bin", "hex": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "items": [typed(v) for v in value]}
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: k.encode("utf-8"))
        return {"type": "map", "entries": [[k, typed(value[k])] for k in keys]}
    raise TypeError(f"no typed notation for {type(value).__name__}")


def parts(*items: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"hex": h, "times": n} for h, n in items]


# --------------------------------------------------------------------------
# Low-level builders for payloads the reference `seal` refuses to build.


def payload(
    key: SigningKey,
    t: str,
    body: Any,
    *,
    iat: int = T0,
    label: str,
    aud: list[str] | None = None,
) -> dict[str, Any]:
    p: dict[str, Any] = {"v": 1, "t": t, "iss": key.node_id, "iat": iat, "nonce": nonce(label), "body": body}
    if aud is not None:
        p["aud"] = aud
    return p


def envelope_of(payload_bytes: bytes, signature: bytes) -> bytes:
    return encode({"p": payload_bytes, "s": signature})


def sign_bytes(key: SigningKey, payload_bytes: bytes) -> bytes:
    """A correctly signed envelope around arbitrary payload bytes."""
    return envelope_of(payload_bytes, key.sign(SIGNING_PREFIX + payload_bytes))


def sign_value(key: SigningKey, value: Any) -> bytes:
    return sign_bytes(key, encode(value, max_depth=64))


def sealed(
    key: SigningKey,
    t: str,
    body: Mapping[str, Any],
    *,
    label: str,
    iat: int = T0,
    aud: list[str] | None = None,
) -> bytes:
    return seal(key, t, body, now_ms=iat, audience=aud, nonce=nonce(label)).raw


# The order of the Ed25519 base point (RFC 8032).
ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _malleate(signature: bytes) -> bytes:
    """R || (S + L): the same signature value for a verifier that does not check S < L."""
    s = int.from_bytes(signature[32:], "little") + ED25519_L
    return signature[:32] + s.to_bytes(32, "little")


def flip_bit(data: bytes, index: int, bit: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def outcome(fn: Callable[[], Any]) -> dict[str, Any]:
    """What the reference implementation does: its result, or the error code."""
    try:
        return {"ok": fn()}
    except ProtocolError as exc:
        return {"error": exc.code}


# --------------------------------------------------------------------------
# keys.json


def keys_file() -> dict[str, Any]:
    keys = []
    for name, seed in SEEDS.items():
        k = KEYS[name]
        keys.append(
            {
                "name": name,
                "seed_hex": seed.hex(),
                "public_key_hex": k.public_raw.hex(),
                "node_id": k.node_id,
                "fingerprint": fingerprint(k.node_id),
            }
        )
    good = FOOD.node_id
    last = good[-1]
    # The last character holds 1 key bit and 4 padding bits: only "a" and "q" are possible.
    padded = good[:-1] + ("b" if last == "a" else "r")
    bad = [
        ("padding-bits-set", padded, "the 4 trailing padding bits of the last character are not zero"),
        ("padding-bits-set-2", good[:-1] + "7", "last character 7 = 0b11111"),
        ("uppercase", good.upper(), "node ids are lowercase"),
        ("too-short", good[:-1], "51 characters"),
        ("too-long", good + "a", "53 characters"),
        ("with-padding", good + "====", "no = padding"),
        ("digit-outside-alphabet", "1" + good[1:], "base32 has no 0, 1, 8 or 9"),
        ("empty", "", "empty string"),
    ]
    return {
        "format": FORMAT_VERSION,
        "description": "Ed25519 seeds and the public key, node id and fingerprint they give; node ids that must be refused.",
        "keys": keys,
        "invalid_node_ids": [{"name": n, "node_id": v, "note": note, "error": "invalid"} for n, v, note in bad],
    }


# --------------------------------------------------------------------------
# encoding.json


def encoding_file() -> dict[str, Any]:
    valid: list[tuple[str, Any]] = [
        ("nil", None),
        ("false", False),
        ("true", True),
    ]
    ints = [
        0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, 2**63 - 1, 2**63, 2**64 - 1,
        -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63),
    ]  # fmt: skip
    valid += [(f"int {i}", i) for i in ints]
    valid += [
        ("empty str", ""),
        ("fixstr", "vélo"),
        ("fixstr 31 bytes", "a" * 31),
        ("str8 32 bytes", "a" * 32),
        ("str8 255 bytes", "é" * 127 + "a"),
        ("str16 256 bytes", "b" * 256),
        ("str with astral character", "minibus 🚐"),
        ("str with NUL", "a\x00b"),
        ("empty bin", b""),
        ("bin8 1 byte", b"\x00"),
        ("bin8 255 bytes", bytes(range(255))),
        ("bin16 256 bytes", bytes(256)),
        ("empty array", []),
        ("fixarray 15", list(range(15))),
        ("array16 16", list(range(16))),
        ("empty map", {}),
        ("map one entry", {"a": 1}),
        ("map keys sorted by UTF-8 bytes", {"b": 2, "a": 1, "aa": 3, "": 0, "B": -1, "é": 4, "z": 5}),
        # UTF-16 order would put the astral character first: the order is UTF-8 bytes, not UTF-16 units.
        ("map keys UTF-8 order differs from UTF-16 order", {"\uff5e": 1, "\U0001f690": 2}),
        ("fixmap 15", {f"k{i:02d}": i for i in range(15)}),
        ("map16 16", {f"k{i:02d}": i for i in range(16)}),
        ("nested", {"a": [1, [2, {"b": b"\x01"}]], "c": {"d": None, "e": True}}),
        ("depth 16 (the limit)", _nest(16)),
        (
            "resource body",
            {
                "id": "minibus-9",
                "kind": "vehicle",
                "title": "Minibus 9 places",
                "location": {"lat": 48856600, "lon": 2352200},
                "replacement_value": {"amount": 2500000, "currency": "EUR"},
            },
        ),
    ]
    valid_cases = [{"name": n, "value": typed(v), "hex": encode(v).hex()} for n, v in valid]

    long_str = "a" * 31
    invalid: list[tuple[str, Any, str]] = [
        # malformed
        ("empty input", "", "invalid"),
        ("reserved marker 0xc1", "c1", "invalid"),
        ("truncated array", "9201", "invalid"),
        ("truncated str", "a36162", "invalid"),
        ("truncated uint16", "cd01", "invalid"),
        ("map missing its last value", "81a161", "invalid"),
        ("trailing bytes", "0102", "invalid"),
        ("two values", "c0c0", "invalid"),
        # floats
        ("float32", "ca3f800000", "non-canonical"),
        ("float64", "cb3ff0000000000000", "non-canonical"),
        ("float64 zero", "cb0000000000000000", "non-canonical"),
        ("float32 in array", "91ca3f800000", "non-canonical"),
        ("float64 in map", "81a161cb4000000000000000", "non-canonical"),
        # ext types
        ("fixext1", "d40100", "non-canonical"),
        ("fixext4", "d60100000001", "non-canonical"),
        ("ext8", "c7010500", "non-canonical"),
        ("ext16", "c800010500", "non-canonical"),
        ("ext32", "c9000000010500", "non-canonical"),
        ("timestamp32 (ext -1)", "d6ff00000001", "non-canonical"),
        ("timestamp64 (ext -1)", "d7ff0000000000000001", "non-canonical"),
        ("timestamp96 (ext -1)", "c70cff000000000000000000000001", "non-canonical"),
        ("timestamp in map", "81a161d6ff00000001", "non-canonical"),
        # integers not in shortest form
        ("0 as uint8", "cc00", "non-canonical"),
        ("5 as uint8", "cc05", "non-canonical"),
        ("255 as uint16", "cd00ff", "non-canonical"),
        ("65535 as uint32", "ce0000ffff", "non-canonical"),
        ("2^32-1 as uint64", "cf00000000ffffffff", "non-canonical"),
        ("5 as int8 (non-negative in the signed family)", "d005", "non-canonical"),
        ("127 as int8", "d07f", "non-canonical"),
        ("128 as int16", "d10080", "non-canonical"),
        ("2^63-1 as int64", "d37fffffffffffffff", "non-canonical"),
        ("-32 as int8", "d0e0", "non-canonical"),
        ("-1 as int64", "d3ffffffffffffffff", "non-canonical"),
        ("-128 as int16", "d1ff80", "non-canonical"),
        ("-32768 as int32", "d2ffff8000", "non-canonical"),
        ("-2^31 as int64", "d3ffffffff80000000", "non-canonical"),
        ("int in map value not shortest", "81a161cc01", "non-canonical"),
        # lengths not in shortest form
        ("fixstr as str8", "d90161", "non-canonical"),
        ("31-byte str as str8", "d91f" + long_str.encode().hex(), "non-canonical"),
        ("fixstr as str16", "da000161", "non-canonical"),
        ("fixstr as str32", "db0000000161", "non-canonical"),
        ("255-byte str as str16", "da00ff" + "61" * 255, "non-canonical"),
        ("short bin as bin16", "c5000100", "non-canonical"),
        ("short bin as bin32", "c60000000100", "non-canonical"),
        ("empty array as array16", "dc0000", "non-canonical"),
        ("short array as array32", "dd0000000101", "non-canonical"),
        ("empty map as map16", "de0000", "non-canonical"),
        ("short map as map32", "df00000001a16101", "non-canonical"),
        # map keys
        ("keys not sorted", "82a16201a16101", "non-canonical"),
        ("duplicate keys", "82a16101a16102", "non-canonical"),
        ("longer key before its prefix", "82a2616101a16102", "non-canonical"),
        ("keys in UTF-16 order instead of UTF-8", "82a4f09f9a9002a3efbd9e01", "non-canonical"),
        ("uppercase after lowercase", "82a16101a14102", "non-canonical"),
        ("int key", "810101", "non-canonical"),
        ("bin key", "81c4016101", "non-canonical"),
        ("nil key", "81c001", "non-canonical"),
        ("array key", "819101c3", "non-canonical"),
        ("map key", "818001", "non-canonical"),
        ("map key in a nested map", "81a16181800102", "non-canonical"),
        ("keys not sorted in a nested map", "81a17882a16201a16101", "non-canonical"),
        # strings that are not UTF-8
        ("invalid byte 0xff", "a1ff", "non-canonical"),
        ("lone continuation byte", "a180", "non-canonical"),
        ("overlong encoding of NUL", "a2c080", "non-canonical"),
        ("UTF-8 encoded surrogate", "a3eda080", "non-canonical"),
        ("code point above U+10FFFF", "a4f4908080", "non-canonical"),
        ("truncated sequence", "a2e282", "non-canonical"),
        ("non-UTF-8 map key", "81a1ff01", "non-canonical"),
        # limits
        ("depth 17 arrays", "91" * 16 + "90", "too-large"),
        ("depth 17 maps", "81a161" * 16 + "80", "too-large"),
        ("depth 17 mixed", "81a16191" * 8 + "90", "too-large"),
    ]
    invalid_cases: list[dict[str, Any]] = [{"name": n, "hex": h, "error": e} for n, h, e in invalid]
    big_map_keys = b"".join(b"\xa3" + f"{i:03d}".encode() + b"\x00" for i in range(257))
    invalid_cases += [
        {"name": "map of 257 entries (limit 256)", "hex": ("de0101" + big_map_keys.hex()), "error": "too-large"},
        {"name": "array of 10001 items (limit 10000)", "hex_parts": parts(("dc2711", 1), ("00", 10001)), "error": "too-large"},
        {"name": "str of 65537 bytes (limit 65536)", "hex_parts": parts(("db00010001", 1), ("61", 65537)), "error": "too-large"},
        {
            "name": "input of 1048581 bytes (limit 1048576)",
            "hex_parts": parts(("c600100000", 1), ("00", 1048576)),
            "error": "too-large",
        },
    ]
    return {
        "format": FORMAT_VERSION,
        "description": "Canonical msgpack: values and their only encoding; byte strings a decoder must refuse.",
        "limits": {
            "max_bytes": 1048576,
            "max_depth": 16,
            "max_str": 65536,
            "max_bin": 1048576,
            "max_array": 10000,
            "max_map": 256,
        },
        "valid": valid_cases,
        "invalid": invalid_cases,
    }


def _nest(depth: int) -> Any:
    value: Any = []
    for i in range(depth - 1):
        value = {"k": value} if i % 2 else [value]
    return value


# --------------------------------------------------------------------------
# envelopes.json


def _valid_envelope(name: str, key_name: str, t: str, body: Mapping[str, Any], *, aud: list[str] | None = None) -> dict[str, Any]:
    key = KEYS[key_name]
    env = seal(key, t, body, now_ms=T0, audience=aud, nonce=nonce(name))
    return {
        "name": name,
        "seed_hex": SEEDS[key_name].hex(),
        "payload": typed(dict(env.payload)),
        "payload_hex": env.payload_bytes.hex(),
        "signature_hex": env.signature.hex(),
        "envelope_hex": env.raw.hex(),
        "message_id_hex": env.message_id.hex(),
    }


def _open_case(name: str, raw: bytes, error: str | None, note: str = "") -> dict[str, Any]:
    case: dict[str, Any] = {"name": name, "envelope_hex": raw.hex()}
    if note:
        case["note"] = note
    result = outcome(lambda: open_envelope(raw).message_id.hex())
    expected = {"ok": {"message_id_hex": message_id(_payload_of(raw)).hex()}} if error is None else {"error": error}
    got = {"ok": {"message_id_hex": result["ok"]}} if "ok" in result else result
    if got != expected:
        raise SystemExit(f"reference implementation disagrees on {name!r}: {got} != {expected}")
    case["expect"] = expected
    return case


def _payload_of(raw: bytes) -> bytes:
    return msgpack.unpackb(raw)["p"]


def _check_case(name: str, raw: bytes, recipient: str, now_ms: int, error: str | None) -> dict[str, Any]:
    def run() -> bool:
        check_message(open_envelope(raw), recipient=recipient, now_ms=now_ms)
        return True

    got = outcome(run)
    expected: dict[str, Any] = {"ok": True} if error is None else {"error": error}
    if got != expected:
        raise SystemExit(f"reference implementation disagrees on {name!r}: {got} != {expected}")
    return {"name": name, "envelope_hex": raw.hex(), "recipient": recipient, "now_ms": now_ms, "expect": expected}


def envelopes_file() -> dict[str, Any]:
    resource = {
        "id": "minibus-9",
        "kind": "vehicle",
        "title": "Minibus 9 places",
        "description": "Minibus Renault Trafic, permis B, disponible le week-end.",
        "category": "transport",
        "quantity": 1,
        "unit": "véhicule",
        "location": {"lat": 48856600, "lon": 2352200},
        "visibility": "public",
        "conditions": "Plein fait au retour. Caution demandée.",
        "replacement_value": {"amount": 2500000, "currency": "EUR"},
    }
    valid = [
        _valid_envelope("record, no audience, bin16 payload", "banque-alimentaire", "resource", resource),
        _valid_envelope("tombstone, bin8 payload", "banque-alimentaire", "tombstone", {"id": "minibus-9"}),
        _valid_envelope(
            "request addressed to one node", "club-sportif", "changes", {"since": 0, "limit": 100}, aud=[FOOD.node_id]
        ),
        _valid_envelope(
            "request addressed to two nodes",
            "maison-des-jeunes",
            "changes",
            {"since": 42, "limit": 1000},
            aud=[FOOD.node_id, CLUB.node_id],
        ),
        _valid_envelope("RFC 8032 key, empty body", "rfc8032-test1", "ping", {}),
    ]

    base = payload(FOOD, "tombstone", {"id": "x"}, label="open base")
    good = sign_value(FOOD, base)
    good_payload = encode(base)
    p_start = good.index(good_payload)
    s_start = len(good) - 64

    def with_(label: str, **changes: Any) -> dict[str, Any]:
        p = payload(FOOD, "tombstone", {"id": "x"}, label=label)
        for k, v in changes.items():
            if v is _DROP:
                del p[k]
            else:
                p[k] = v
        return p

    unsorted_payload = msgpack.packb(
        {"v": 1, "t": "tombstone", "iss": FOOD.node_id, "iat": T0, "nonce": nonce("unsorted"), "body": {"id": "x"}},
        use_bin_type=True,
    )
    v_as_uint8 = encode(with_("v uint8"))
    assert v_as_uint8.endswith(b"\xa1v\x01")
    v_as_uint8 = v_as_uint8[:-1] + b"\xcc\x01"
    padded_iss = FOOD.node_id[:-1] + ("b" if FOOD.node_id[-1] == "a" else "r")
    sig63 = FOOD.sign(SIGNING_PREFIX + good_payload)[:63]

    opens = [
        _open_case("valid", good, None),
        _open_case("one bit flipped in the payload", flip_bit(good, p_start + good_payload.index(b"\xa2id\xa1x") + 4, 0), "bad-signature",
                   "the last byte of the body's id string, 'x' becomes 'y'"),
        _open_case("one bit flipped in the signature", flip_bit(good, s_start + 10, 3), "bad-signature"),
        _open_case("high bit of the signature's S flipped", flip_bit(good, len(good) - 1, 7), "bad-signature"),
        _open_case("malleated signature: S + L", envelope_of(good_payload, _malleate(good[s_start:])), "bad-signature",
                   "S + L verifies under a lax Ed25519 check: a verifier must refuse S >= L (RFC 8032 5.1.7)"),
        _open_case("signed by another key", sign_bytes(CLUB, good_payload), "bad-signature",
                   "iss names the food bank, the club signed"),
        _open_case("signature of 63 bytes", envelope_of(good_payload, sig63), "bad-signature"),
        _open_case("signature of 65 bytes", envelope_of(good_payload, sig63 + b"\x00\x00"), "bad-signature"),
        _open_case("signature is a str", encode({"p": good_payload, "s": "x" * 64}), "invalid"),
        _open_case("payload is a str", encode({"p": "x", "s": bytes(64)}), "invalid"),
        _open_case("envelope lacks s", encode({"p": good_payload}), "invalid"),
        _open_case("envelope has an extra key", encode({"p": good_payload, "s": good[s_start:], "x": 1}), "invalid"),
        _open_case("envelope is an array", encode([good_payload, good[s_start:]]), "invalid"),
        _open_case("envelope keys not sorted",
                   msgpack.packb({"s": FOOD.sign(SIGNING_PREFIX + good_payload), "p": good_payload}, use_bin_type=True),
                   "non-canonical"),
        _open_case("payload bin not in shortest form",
                   b"\x82\xa1p\xc5" + len(good_payload).to_bytes(2, "big") + good[p_start:], "non-canonical"),
        _open_case("trailing byte after the envelope", good + b"\x00", "invalid"),
        _open_case("truncated envelope", good[:-1], "invalid"),
        _open_case("payload keys not sorted (signed)", sign_bytes(FOOD, unsorted_payload), "non-canonical"),
        _open_case("payload v as uint8 (signed)", sign_bytes(FOOD, v_as_uint8), "non-canonical"),
        _open_case("payload is a float (signed)", sign_bytes(FOOD, b"\xcb" + bytes(8)), "non-canonical"),
        _open_case("payload is an array (signed)", sign_value(FOOD, [1, 2]), "invalid"),
        _open_case("payload lacks nonce", sign_value(FOOD, with_("no nonce", nonce=_DROP)), "invalid"),
        _open_case("payload lacks body", sign_value(FOOD, with_("no body", body=_DROP)), "invalid"),
        _open_case("payload has an unknown key", sign_value(FOOD, with_("extra", x=1)), "invalid"),
        _open_case("protocol version 2", sign_value(FOOD, with_("v2", v=2)), "invalid"),
        _open_case("protocol version true", sign_value(FOOD, with_("vtrue", v=True)), "invalid"),
        _open_case("empty type", sign_value(FOOD, with_("t empty", t="")), "invalid"),
        _open_case("type of 65 characters", sign_value(FOOD, with_("t 65", t="a" * 65)), "invalid"),
        _open_case("type is bin", sign_value(FOOD, with_("t bin", t=b"tombstone")), "invalid"),
        _open_case("issuer with padding bits set", sign_value(FOOD, with_("iss pad", iss=padded_iss)), "invalid"),
        _open_case("issuer in uppercase", sign_value(FOOD, with_("iss upper", iss=FOOD.node_id.upper())), "invalid"),
        _open_case("issuer is a map", sign_value(FOOD, with_("iss map", iss={})), "invalid"),
        _open_case("issuer is the raw key", sign_value(FOOD, with_("iss raw", iss=FOOD.public_raw)), "invalid"),
        _open_case("negative iat", sign_value(FOOD, with_("iat neg", iat=-1)), "invalid"),
        _open_case("iat of 2^53", sign_value(FOOD, with_("iat 2^53", iat=2**53)), "invalid"),
        _open_case("iat is a str", sign_value(FOOD, with_("iat str", iat=str(T0))), "invalid"),
        _open_case("nonce of 15 bytes", sign_value(FOOD, with_("nonce 15", nonce=bytes(15))), "invalid"),
        _open_case("nonce is a str", sign_value(FOOD, with_("nonce str", nonce="0123456789abcdef")), "invalid"),
        _open_case("body is an array", sign_value(FOOD, with_("body array", body=[])), "invalid"),
        _open_case("body is nil", sign_value(FOOD, with_("body nil", body=None)), "invalid"),
        _open_case("empty audience", sign_value(FOOD, with_("aud empty", aud=[])), "invalid"),
        _open_case("audience is a str", sign_value(FOOD, with_("aud str", aud=CLUB.node_id)), "invalid"),
        _open_case("audience holds a non-node-id", sign_value(FOOD, with_("aud bad", aud=[CLUB.node_id, "x"])), "invalid"),
        _open_case("audience holds a map", sign_value(FOOD, with_("aud map", aud=[{}])), "invalid"),
        _open_case("audience of 65 node ids", sign_value(FOOD, with_("aud 65", aud=[CLUB.node_id] * 65)), "invalid"),
        _open_case("audience of 64 node ids (the limit)", sign_value(FOOD, with_("aud 64", aud=[CLUB.node_id] * 64)), None),
        _open_case("payload depth 17", sign_value(FOOD, with_("deep", body={"a": _nest(15)})), "too-large",
                   "payload map (1) > body (2) > 15 more levels"),
    ]

    req = sealed(CLUB, "changes", {"since": 0, "limit": 10}, label="check", aud=[FOOD.node_id, YOUTH.node_id])
    unaddressed = sealed(CLUB, "changes", {"since": 0, "limit": 10}, label="check unaddressed")
    checks = [
        _check_case("fresh, first recipient", req, FOOD.node_id, T0, None),
        _check_case("fresh, second recipient", req, YOUTH.node_id, T0, None),
        _check_case("exactly 5 minutes old", req, FOOD.node_id, T0 + 5 * MINUTE, None),
        _check_case("5 minutes and 1 ms old", req, FOOD.node_id, T0 + 5 * MINUTE + 1, "stale"),
        _check_case("exactly 2 minutes ahead", req, FOOD.node_id, T0 - 2 * MINUTE, None),
        _check_case("2 minutes and 1 ms ahead", req, FOOD.node_id, T0 - 2 * MINUTE - 1, "stale"),
        _check_case("a day old", req, FOOD.node_id, T0 + 24 * 60 * MINUTE, "stale"),
        _check_case("not addressed to the recipient", req, CLUB.node_id, T0, "wrong-audience"),
        _check_case("not addressed at all", unaddressed, FOOD.node_id, T0, "wrong-audience"),
    ]
    return {
        "format": FORMAT_VERSION,
        "description": "Signed envelopes: how they are built, which ones open, and the audience and freshness checks.",
        "signing_prefix_hex": SIGNING_PREFIX.hex(),
        "freshness_window_ms": {"past": 5 * MINUTE, "future": 2 * MINUTE},
        "valid": valid,
        "open": opens,
        "check": checks,
    }


class _Drop:
    pass


_DROP = _Drop()


# --------------------------------------------------------------------------
# records.json


def descriptor_body(key: SigningKey, name: str) -> dict[str, Any]:
    return {
        "id": "node",
        "name": name,
        "description": "Association loi 1901.",
        "territory": "Seine-Saint-Denis",
        "location": {"lat": 48910000, "lon": 2480000},
        "contact": "contact@exemple.org",
        "endpoints": ["https://noeud.exemple.org/"],
        "protocols": [1],
        "keys": [{"key": key.node_id, "since": T0 - 365 * 24 * 60 * MINUTE}],
    }


def _record_case(name: str, raw: bytes, now_ms: int, error: str | None, note: str = "") -> dict[str, Any]:
    def run() -> dict[str, Any]:
        rec = parse_record(open_envelope(raw), now_ms=now_ms)
        return {
            "type": rec.type,
            "author": rec.author,
            "id": rec.record_id,
            "iat": rec.version[0],
            "message_id_hex": rec.version[1].hex(),
        }

    got = outcome(run)
    if error is not None and got != {"error": error}:
        raise SystemExit(f"reference implementation disagrees on {name!r}: {got} != {error}")
    if error is None and "ok" not in got:
        raise SystemExit(f"reference implementation refuses {name!r}: {got}")
    case: dict[str, Any] = {"name": name}
    if note:
        case["note"] = note
    case.update({"envelope_hex": raw.hex(), "now_ms": now_ms, "expect": {"record": got["ok"]} if error is None else got})
    return case


# Federation ids: the 16-byte ids of two federations' charters, in lowercase hex.
FEDERATION_93 = "5e1f0c9a2b7d4e3f8a6b1c2d3e4f5061"
FEDERATION_SPORT = "a0b1c2d3e4f5061728394a5b6c7d8e9f"


def records_file() -> dict[str, Any]:
    now = T0 + 60 * MINUTE
    minibus = {"id": "minibus-9", "kind": "vehicle", "title": "Minibus 9 places"}

    def rec(label: str, t: str, body: Mapping[str, Any], *, key: SigningKey = FOOD, iat: int = T0, aud: list[str] | None = None) -> bytes:
        return sealed(key, t, body, label=label, iat=iat, aud=aud)

    def res(label: str, **changes: Any) -> bytes:
        return rec(label, "resource", {**minibus, **changes})

    padded = CLUB.node_id[:-1] + ("b" if CLUB.node_id[-1] == "a" else "r")
    valid = [
        ("descriptor", rec("descriptor", "descriptor", descriptor_body(FOOD, "Banque alimentaire de Bondy"))),
        ("descriptor, minimal", rec("descriptor min", "descriptor", {
            "id": "node", "name": "Club sportif", "endpoints": [], "protocols": [1],
            "keys": [{"key": CLUB.node_id, "since": 0, "until": T0}]}, key=CLUB)),
        ("resource, minimal", res("resource min")),
        ("resource, every field", rec("resource full", "resource", {
            "id": "sono-1", "kind": "equipment", "title": "Sonorisation 2 x 500 W",
            "description": "Table de mixage, deux enceintes, micros.", "category": "son",
            "quantity": 1, "unit": "lot", "location": {"lat": -21115141, "lon": 55536384},
            "visibility": "public", "conditions": "Retrait sur place.",
            "replacement_value": {"amount": 150000, "currency": "EUR"}})),
        ("resource, private", rec("resource private", "resource", {
            "id": "salle-a", "kind": "space", "title": "Salle de réunion A", "visibility": "private"})),
        ("resource, federation-scoped", rec("resource federation", "resource", {
            "id": "salle-b", "kind": "space", "title": "Salle de réunion B", "visibility": "federation",
            "federations": [FEDERATION_93, FEDERATION_SPORT]})),
        ("tombstone, federation-scoped", rec("tombstone federation", "tombstone", {
            "id": "salle-b", "visibility": "federation", "federations": [FEDERATION_93]})),
        ("resource, skill", rec("resource skill", "resource", {
            "id": "graphisme", "kind": "skill", "title": "Graphisme", "quantity": 4, "unit": "h/mois"}, key=YOUTH)),
        ("offer", rec("offer", "offer", {
            "id": "offre-minibus", "kind": "vehicle", "title": "Prêt du minibus le week-end",
            "resource": "minibus-9", "valid_until": T0 + 90 * 24 * 60 * MINUTE})),
        ("need", rec("need", "need", {
            "id": "besoin-chambre-froide", "kind": "equipment", "title": "Chambre froide",
            "quantity": 1, "unit": "unité", "location": {"lat": 48856600, "lon": 2352200}}, key=FOOD)),
        ("tombstone", rec("tombstone", "tombstone", {"id": "minibus-9"})),
        ("denylist", rec("denylist", "denylist", {"id": "denylist", "entries": [
            {"node": YOUTH.node_id, "since": T0, "reason": "usurpation signalée par la fédération"}]})),
        ("dated exactly 2 minutes ahead", rec("ahead 2", "resource", minibus, iat=now + 2 * MINUTE)),
        ("dated a year ago", rec("old", "resource", minibus, iat=T0 - 365 * 24 * 60 * MINUTE)),
    ]
    cases = [_record_case(name, raw, now, None) for name, raw in valid]

    invalid = [
        ("unknown field", res("unknown field", colour="blanc"), "invalid", ""),
        ("nil field", res("nil field", description=None), "invalid", "absent optional fields are left out, never nil"),
        ("quantity is a str", res("quantity str", quantity="1"), "invalid", ""),
        ("quantity is a bool", res("quantity bool", quantity=True), "invalid", ""),
        ("quantity is 0", res("quantity 0", quantity=0), "invalid", ""),
        ("quantity above 10^9", res("quantity big", quantity=10**9 + 1), "invalid", ""),
        ("unknown kind", res("kind car", kind="car"), "invalid", ""),
        ("kind in uppercase", res("kind upper", kind="Vehicle"), "invalid", ""),
        ("unknown visibility", res("visibility", visibility="friends"), "invalid", ""),
        ("federation visibility without federations", res("fed none", visibility="federation"), "invalid", ""),
        ("federations with public visibility", res("fed public", visibility="public", federations=[FEDERATION_93]),
         "invalid", "federations is present exactly when visibility is federation"),
        ("federations without visibility", res("fed absent", federations=[FEDERATION_93]), "invalid",
         "absent visibility means public"),
        ("federations with private visibility", res("fed private", visibility="private", federations=[FEDERATION_93]),
         "invalid", ""),
        ("empty federations", res("fed empty", visibility="federation", federations=[]), "invalid", ""),
        ("9 federations", res("fed 9", visibility="federation", federations=[f"{i:032x}" for i in range(9)]),
         "invalid", ""),
        ("federation listed twice", res("fed twice", visibility="federation",
                                        federations=[FEDERATION_93, FEDERATION_93]), "invalid", ""),
        ("federation id in uppercase", res("fed upper", visibility="federation",
                                           federations=[FEDERATION_93.upper()]), "invalid", ""),
        ("federation id of 15 bytes", res("fed short", visibility="federation",
                                          federations=[FEDERATION_93[:30]]), "invalid", ""),
        ("federation id as bin", res("fed bin", visibility="federation",
                                     federations=[bytes.fromhex(FEDERATION_93)]), "invalid", ""),
        ("missing title", rec("no title", "resource", {"id": "a", "kind": "other"}), "invalid", ""),
        ("empty title", res("empty title", title=""), "invalid", ""),
        ("title of 201 characters", res("long title", title="é" * 201), "invalid", "lengths count characters"),
        ("description of 5001 characters", res("long description", description="a" * 5001), "invalid", ""),
        ("id with a space", res("id space", id="mini bus"), "invalid", ""),
        ("id starting with a dash", res("id dash", id="-minibus"), "invalid", ""),
        ("id of 65 characters", res("id 65", id="a" * 65), "invalid", ""),
        ("id is bin", res("id bin", id=b"minibus-9"), "invalid", ""),
        ("latitude out of range", res("lat", location={"lat": 90_000_001, "lon": 0}), "invalid", ""),
        ("location lacks lon", res("lon", location={"lat": 0}), "invalid", ""),
        ("location with an extra field", res("loc extra", location={"lat": 0, "lon": 0, "alt": 0}), "invalid", ""),
        ("currency in lowercase", res("cur lower", replacement_value={"amount": 1, "currency": "eur"}), "invalid", ""),
        ("currency of 4 letters", res("cur 4", replacement_value={"amount": 1, "currency": "EURO"}), "invalid", ""),
        ("negative amount", res("amount neg", replacement_value={"amount": -1, "currency": "EUR"}), "invalid", ""),
        ("offer about a bad resource id", rec("offer bad res", "offer", {
            "id": "o", "kind": "vehicle", "title": "t", "resource": "a b"}), "invalid", ""),
        ("tombstone with content", rec("tomb content", "tombstone", {"id": "minibus-9", "title": "x"}), "invalid", ""),
        ("resource using the descriptor's id", res("res node", id="node"), "invalid", ""),
        ("resource using the deny-list's id", res("res denylist", id="denylist"), "invalid", ""),
        ("deny-list with another id", rec("deny id", "denylist", {"id": "liste", "entries": []}), "invalid", ""),
        ("deny-list entry without since", rec("deny since", "denylist", {
            "id": "denylist", "entries": [{"node": YOUTH.node_id}]}), "invalid", ""),
        ("tombstone of the descriptor", rec("tomb node", "tombstone", {"id": "node"}), "invalid", ""),
        ("descriptor id is not node", rec("desc id", "descriptor", {**descriptor_body(FOOD, "x"), "id": "noeud"}), "invalid", ""),
        ("descriptor without protocols", rec("desc protocols", "descriptor", {**descriptor_body(FOOD, "x"), "protocols": []}), "invalid", ""),
        ("descriptor without keys", rec("desc keys", "descriptor", {**descriptor_body(FOOD, "x"), "keys": []}), "invalid", ""),
        ("descriptor key with padding bits set", rec("desc key pad", "descriptor", {
            **descriptor_body(FOOD, "x"), "keys": [{"key": padded, "since": 0}]}), "invalid", ""),
        ("descriptor endpoint not http(s)", rec("desc ftp", "descriptor", {
            **descriptor_body(FOOD, "x"), "endpoints": ["ftp://exemple.org/"]}), "invalid", ""),
        ("descriptor endpoint with a prefix", rec("desc js", "descriptor", {
            **descriptor_body(FOOD, "x"), "endpoints": ["javascript:alert(1)//https://x"]}), "invalid", ""),
        ("descriptor with 9 endpoints", rec("desc 9", "descriptor", {
            **descriptor_body(FOOD, "x"), "endpoints": [f"https://n{i}.exemple.org/" for i in range(9)]}), "invalid", ""),
        ("record with an audience", rec("aud", "resource", minibus, aud=[CLUB.node_id]), "invalid",
         "records are public documents"),
        ("dated 2 minutes and 1 ms ahead", rec("ahead", "resource", minibus, iat=now + 2 * MINUTE + 1), "stale", ""),
        ("unknown record type", rec("event", "event", minibus), "unknown-type", ""),
        ("a message type is not a record type", rec("hello type", "changes", {"since": 0, "limit": 1}), "unknown-type", ""),
    ]
    for name, raw, error, note in invalid:
        cases.append(_record_case(name, raw, now, error, note))

    versions = _version_cases(now)
    return {
        "format": FORMAT_VERSION,
        "description": "Catalogue records: which ones are accepted at a given time, and which version of a record wins.",
        "records": cases,
        "versions": versions,
    }


def _version_cases(now: int) -> list[dict[str, Any]]:
    minibus = {"id": "minibus-9", "kind": "vehicle", "title": "Minibus 9 places"}
    v1 = sealed(FOOD, "resource", minibus, label="v1", iat=T0)
    v2 = sealed(FOOD, "resource", {**minibus, "title": "Minibus 9 places (révisé)"}, label="v2", iat=T0 + 1)
    tomb = sealed(FOOD, "tombstone", {"id": "minibus-9"}, label="tomb", iat=T0 + 2)
    # Same iat, different content: the larger message id (bytewise) wins.
    tie_a = sealed(FOOD, "resource", {**minibus, "title": "Minibus A"}, label="tie a", iat=T0 + 10)
    tie_b = sealed(FOOD, "resource", {**minibus, "title": "Minibus B"}, label="tie b", iat=T0 + 10)

    def case(name: str, versions: list[bytes], note: str = "") -> dict[str, Any]:
        envs = [open_envelope(v) for v in versions]
        for e in envs:
            parse_record(e, now_ms=now)
        order = sorted(range(len(envs)), key=lambda i: (envs[i].issued_at, envs[i].message_id))
        c: dict[str, Any] = {"name": name}
        if note:
            c["note"] = note
        c.update(
            {
                "now_ms": now,
                "versions": [v.hex() for v in versions],
                "message_ids_hex": [e.message_id.hex() for e in envs],
                "order": order,
                "winner": order[-1],
            }
        )
        return c

    return [
        case("newer issue time wins", [v1, v2]),
        case("arrival order does not matter", [v2, v1]),
        case("a tombstone supersedes older versions", [v1, tomb, v2]),
        case("tie on iat: larger message id wins", [tie_a, tie_b], "compare the 32 bytes of the SHA-256 ids, unsigned"),
        case("tie on iat, other order", [tie_b, tie_a]),
    ]


# --------------------------------------------------------------------------
# messages.json


def messages_file() -> dict[str, Any]:
    now = T0 + 1000
    descriptor = sealed(FOOD, "descriptor", descriptor_body(FOOD, "Banque alimentaire de Bondy"), label="msg desc")
    club_descriptor = sealed(CLUB, "descriptor", descriptor_body(CLUB, "Club sportif de Bondy"), label="msg club desc")
    record_a = sealed(CLUB, "resource", {"id": "minibus", "kind": "vehicle", "title": "Minibus"}, label="msg rec a")
    record_b = sealed(CLUB, "offer", {"id": "offre-1", "kind": "skill", "title": "Coaching"}, label="msg rec b")

    def req(label: str, t: str, body: Mapping[str, Any], *, key: SigningKey = CLUB, to: SigningKey = FOOD, iat: int = T0) -> bytes:
        return sealed(key, t, body, label=label, iat=iat, aud=[to.node_id])

    hello = req("hello", "hello", {"descriptor": club_descriptor})
    changes = req("changes", "changes", {"since": 0, "limit": 100})
    push = req("push", "push", {"records": [record_a, record_b]})
    hello_id = open_envelope(hello).message_id
    changes_id = open_envelope(changes).message_id
    push_id = open_envelope(push).message_id

    def rep(label: str, t: str, body: Mapping[str, Any], *, key: SigningKey = FOOD, to: SigningKey = CLUB) -> bytes:
        return sealed(key, t, body, label=label, iat=T0 + 500, aud=[to.node_id])

    def body_case(name: str, raw: bytes, expected_type: str, error: str | None, recipient: SigningKey = FOOD) -> dict[str, Any]:
        def run() -> Any:
            env = open_envelope(raw)
            check_message(env, recipient=recipient.node_id, now_ms=now)
            return typed(parse_message(env, expected_type).to_wire())

        got = outcome(run)
        if (error is None) != ("ok" in got) or (error is not None and got["error"] != error):
            raise SystemExit(f"reference implementation disagrees on {name!r}: {got} != {error}")
        return {
            "name": name,
            "envelope_hex": raw.hex(),
            "recipient": recipient.node_id,
            "now_ms": now,
            "expected_type": expected_type,
            "expect": {"body": got["ok"]} if error is None else got,
        }

    requests = [
        body_case("hello", hello, "hello", None),
        body_case("changes", changes, "changes", None),
        body_case("push", push, "push", None),
        body_case("changes with limit 0", req("limit 0", "changes", {"since": 0, "limit": 0}), "changes", "invalid"),
        body_case("changes with limit 1001", req("limit 1001", "changes", {"since": 0, "limit": 1001}), "changes", "invalid"),
        body_case("changes with a negative cursor", req("since neg", "changes", {"since": -1, "limit": 1}), "changes", "invalid"),
        body_case("changes without limit", req("no limit", "changes", {"since": 0}), "changes", "invalid"),
        body_case("push of no record", req("push empty", "push", {"records": []}), "push", "invalid"),
        body_case("push of an empty record", req("push empty rec", "push", {"records": [b""]}), "push", "invalid"),
        body_case("push records as str", req("push str", "push", {"records": ["x"]}), "push", "invalid"),
        body_case("hello without descriptor", req("hello empty", "hello", {}), "hello", "invalid"),
        body_case("a push sent to the hello endpoint", push, "hello", "invalid"),
        body_case("an unknown message type", req("gossip", "gossip", {}), "hello", "unknown-type"),
        body_case("stale request", req("stale", "changes", {"since": 0, "limit": 1}, iat=now - 5 * MINUTE - 1), "changes", "stale"),
        body_case("request for another node", req("other", "changes", {"since": 0, "limit": 1}, to=YOUTH), "changes", "wrong-audience"),
    ]

    hello_reply = rep("hello reply", "hello-reply", {"reply_to": hello_id, "descriptor": descriptor})
    changes_reply = rep(
        "changes reply", "changes-reply", {"reply_to": changes_id, "records": [record_a, record_b], "next": 2, "more": False}
    )
    push_reply = rep(
        "push reply",
        "push-reply",
        {"reply_to": push_id, "stored": 1, "unchanged": 0, "rejected": [{"index": 1, "code": "forbidden", "message": "refusé"}]},
    )

    def reply_case(name: str, request: bytes, reply: bytes, error: str | None, recipient: SigningKey = CLUB) -> dict[str, Any]:
        def run() -> Any:
            env = open_envelope(reply)
            check_message(env, recipient=recipient.node_id, now_ms=now)
            return typed(parse_reply(env, open_envelope(request)).to_wire())

        got = outcome(run)
        if (error is None) != ("ok" in got) or (error is not None and got["error"] != error):
            raise SystemExit(f"reference implementation disagrees on {name!r}: {got} != {error}")
        return {
            "name": name,
            "request_hex": request.hex(),
            "reply_hex": reply.hex(),
            "recipient": recipient.node_id,
            "now_ms": now,
            "expect": {"body": got["ok"]} if error is None else got,
        }

    replies = [
        reply_case("hello-reply", hello, hello_reply, None),
        reply_case("changes-reply", changes, changes_reply, None),
        reply_case("push-reply", push, push_reply, None),
        reply_case("reply to another request", changes, rep(
            "reply other", "changes-reply", {"reply_to": hello_id, "records": [], "next": 0, "more": False}), "invalid"),
        reply_case("reply of the wrong type", hello, rep(
            "reply wrong type", "changes-reply", {"reply_to": hello_id, "records": [], "next": 0, "more": False}), "invalid"),
        reply_case("reply_to of 31 bytes", changes, rep(
            "reply short", "changes-reply", {"reply_to": changes_id[:31], "records": [], "next": 0, "more": False}), "invalid"),
        reply_case("reply addressed to another node", changes, rep(
            "reply aud", "changes-reply", {"reply_to": changes_id, "records": [], "next": 0, "more": False}, to=YOUTH),
            "wrong-audience"),
        reply_case("push-reply counts above the batch", push, rep(
            "reply counts", "push-reply", {"reply_to": push_id, "stored": 1001, "unchanged": 0, "rejected": []}), "invalid"),
    ]
    return {
        "format": FORMAT_VERSION,
        "description": "Federation messages: request bodies as an endpoint sees them, and replies bound to their request.",
        "requests": requests,
        "replies": replies,
    }


# --------------------------------------------------------------------------
# reconcile.json


def _items(label: str, n: int, *, start: int = 0) -> list[list[Any]]:
    """n deterministic items [time, key hex]: keys are SHA-256 of a label, times a day apart."""
    return [[T0 + (start + i) * 86_400_000, hashlib.sha256(f"{label} {start + i}".encode()).hexdigest()] for i in range(n)]


def reconcile_file() -> dict[str, Any]:
    from protocol.reconcile import Item, SortedItems, initiate, respond

    def exchange(name: str, a: list[list[Any]], b: list[list[Any]], **params: int) -> dict[str, Any]:
        sides = [SortedItems(Item(t, bytes.fromhex(k)) for t, k in side) for side in (a, b)]
        have: list[set[bytes]] = [set(), set()]
        need: list[set[bytes]] = [set(), set()]
        messages = [initiate(sides[0], **params)]
        turn = 1
        while len(messages) < 40:
            reply, got, lacking = respond(sides[turn], messages[-1], **params)
            have[turn] |= got
            need[turn] |= lacking
            if reply is None:
                break
            messages.append(reply)
            turn ^= 1
        keys = [{bytes.fromhex(k) for _, k in side} for side in (a, b)]
        for side in (0, 1):  # refuse to write a vector our code gets wrong
            assert have[side] == keys[side] - keys[1 - side] and need[side] == keys[1 - side] - keys[side], name
        return {
            "name": name,
            "params": params,
            "a": a,
            "b": b,
            "messages": [m.hex() for m in messages],
            "a_have": sorted(k.hex() for k in have[0]),
            "a_need": sorted(k.hex() for k in need[0]),
            "b_have": sorted(k.hex() for k in have[1]),
            "b_need": sorted(k.hex() for k in need[1]),
        }

    small = {"frame_limit": 60_000, "branching": 4, "id_threshold": 2}
    shared = _items("commun", 40)
    exchanges = [
        exchange("identical sets", shared, shared, **small),
        exchange("empty against ten", [], _items("b", 10), **small),
        exchange("three differences each side", shared[3:] + _items("a", 3, start=100),
                 shared[:37] + _items("b", 3, start=200), **small),
        exchange("defaults, disjoint", _items("a", 5), _items("b", 5)),
    ]
    invalid = [
        ("not msgpack", b"\xc1", "invalid"),
        ("a list, not a map", encode([1]), "invalid"),
        ("version 2", encode({"r": [], "v": 2}), "invalid"),
        ("unknown mode", encode({"r": [[None, b"", 9, b""]], "v": 1}), "invalid"),
        ("fingerprint of 15 bytes", encode({"r": [[None, b"", 1, bytes(15)]], "v": 1}), "invalid"),
        ("bounds not increasing", encode({"r": [[5, b"\x01", 1, bytes(16)], [0, b"\x01", 1, bytes(16)],
                                               [None, b"", 1, bytes(16)]], "v": 1}), "invalid"),
        ("prefix ending with a zero byte", encode({"r": [[5, b"\x01\x00", 1, bytes(16)], [None, b"", 1, bytes(16)]], "v": 1}),
         "non-canonical"),
        ("ends with a skip", encode({"r": [[5, b"", 0]], "v": 1}), "non-canonical"),
        ("unsorted keys in the map", b"\x82\xa1v\x01\xa1r\x90", "non-canonical"),
    ]
    return {
        "format": 1,
        "about": "set reconciliation (docs/reconciliation.md): side A sends messages[0] = initiate(A); "
        "then B and A alternate respond(); have/need are accumulated per side",
        "exchanges": exchanges,
        "invalid": [{"name": n, "hex": h.hex(), "error": e} for n, h, e in invalid],
    }



# --------------------------------------------------------------------------
# rotation.json


SUCCESSOR_SEED = hashlib.sha256(b"maillage vector seed: banque-alimentaire successor").digest()
ROTATED_AT = T0 + 10 * MINUTE


def _chain_json(chain: Any) -> list[dict[str, Any]]:
    out = []
    for entry in chain:
        item: dict[str, Any] = {"key": entry.key, "since": entry.since}
        if entry.until is not None:
            item["until"] = entry.until
        if entry.cert is not None:
            item["cert_hex"] = entry.cert.hex()
        out.append(item)
    return out


def rotation_file() -> dict[str, Any]:
    from protocol.keys import KeyEntry, KeyRing, rotated_chain, rotation_statement

    successor = SigningKey.from_seed(SUCCESSOR_SEED).for_node(FOOD.node_id)
    chain = rotated_chain((KeyEntry(key=FOOD.node_id, since=0),), FOOD, successor.key_id, ROTATED_AT)
    forged = rotated_chain((KeyEntry(key=CLUB.node_id, since=0),), CLUB, successor.key_id, ROTATED_AT)
    forged_chain = (chain[0], forged[1])

    def descriptor(key: SigningKey, keys: Any, label: str) -> bytes:
        body = {**descriptor_body(FOOD, "Banque alimentaire"), "keys": [e.to_wire() for e in keys]}
        return sealed(key, "descriptor", body, iat=ROTATED_AT + MINUTE, label=label)

    def resource(key: SigningKey, iat: int, label: str) -> bytes:
        body = {"id": "frigo", "kind": "vehicle", "title": "Camion frigorifique"}
        return sealed(key, "resource", body, iat=iat, label=label)

    cases = [
        ("descriptor-signed-by-successor", descriptor(successor, chain, "rot-1"), False,
         "certifies itself: opens without a known history"),
        ("successor-without-history", resource(successor, ROTATED_AT + MINUTE, "rot-2"), False,
         "the receiver cannot tie the key to the node"),
        ("successor-with-history", resource(successor, ROTATED_AT + MINUTE, "rot-2"), True, ""),
        ("genesis-before-rotation", resource(FOOD, ROTATED_AT - 1, "rot-3"), True, "old records keep verifying"),
        ("genesis-after-rotation", resource(FOOD, ROTATED_AT, "rot-4"), True, "the retired key signs no more"),
        ("genesis-after-rotation-unknown", resource(FOOD, ROTATED_AT, "rot-4"), False,
         "a receiver that has not heard of the rotation cannot tell"),
        ("successor-before-its-start", resource(successor, ROTATED_AT - 1, "rot-5"), True, ""),
        ("descriptor-with-forged-certificate", descriptor(successor, forged_chain, "rot-6"), False,
         "the certificate is signed by another node's key"),
    ]

    def opened(raw: bytes, known: bool) -> Any:
        ring = KeyRing()
        if known:
            ring.learn(FOOD.node_id, chain)
        return message_id(_payload_of(open_envelope(raw, keys=ring).raw)).hex()

    return {
        "format": FORMAT_VERSION,
        "description": "A key rotation: the certificate, the history a descriptor carries, and envelopes opened "
        "with and without that history (ok: the message id; error: the code).",
        "node_id": FOOD.node_id,
        "genesis_seed_hex": SEEDS["banque-alimentaire"].hex(),
        "successor_seed_hex": SUCCESSOR_SEED.hex(),
        "rotations": [
            {
                "name": "banque-alimentaire-first-rotation",
                "successor": successor.key_id,
                "since": ROTATED_AT,
                "statement_hex": rotation_statement(FOOD.node_id, successor.key_id, ROTATED_AT).hex(),
                "cert_hex": chain[1].cert.hex(),
                "keys": _chain_json(chain),
            }
        ],
        "open": [
            {"name": name, "hex": raw.hex(), "known_history": known, **outcome(lambda: opened(raw, known)), "note": note}
            for name, raw, known, note in cases
        ],
    }

# --------------------------------------------------------------------------
# agreements.json

HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _agreement_id(label: str) -> bytes:
    """A fixed 16-byte agreement id (real openers draw 16 random bytes)."""
    return hashlib.sha256(b"maillage vector agreement: " + label.encode()).digest()[:16]


def agreements_file() -> dict[str, Any]:
    from protocol.agreements import (
        EVENT_TYPE,
        SEAL_PREFIX,
        apply,
        sign_document,
        terms_document,
    )
    from protocol.keys import KeyEntry, KeyRing, rotated_chain

    def eur(cents: int) -> dict[str, Any]:
        return {"amount": cents, "currency": "EUR"}

    class Chain:
        """One agreement built event by event with fixed nonces, applied as a peer would."""

        def __init__(self, name: str, label: str, parties: dict[str, SigningKey], ring: KeyRing | None = None) -> None:
            self.name, self.label, self.ring = name, label, ring
            self.id = _agreement_id(label)
            self.parties = {role: key.node_id for role, key in parties.items()}
            self.raws: list[bytes] = []
            self.steps: list[dict[str, Any]] = []
            self.state: Any = None
            self.states: list[Any] = [None]  # state after each prefix of the chain

        def document(self, terms: Mapping[str, Any]) -> bytes:
            return terms_document(self.id, "loan", self.parties, terms)

        def build(
            self,
            key: SigningKey,
            label: str,
            action: str,
            data: Mapping[str, Any],
            iat: int,
            *,
            seq: int | None = None,
            prev: bytes | None | str = "head",
            aud: list[str] | None = None,
            after: int | None = None,
        ) -> bytes:
            """An event; by default the one following the first ``after`` events (all of them so far),
            addressed to the other parties."""
            count = len(self.raws) if after is None else after
            seq = count if seq is None else seq
            if prev == "head":
                prev = self.message_id(count - 1) if count else None
            body: dict[str, Any] = {"agreement": self.id, "kind": "loan", "seq": seq, "action": action, "data": dict(data)}
            if prev is not None:
                body["prev"] = prev
            if aud is None:
                aud = [node for node in self.parties.values() if node != key.node_id]
            return seal(key, EVENT_TYPE, body, now_ms=iat, audience=aud, nonce=nonce(f"{self.label} {label}")).raw

        def open(self, raw: bytes) -> Any:
            return open_envelope(raw, keys=self.ring)

        def message_id(self, index: int) -> bytes:
            return self.open(self.raws[index]).message_id

        def add(self, raw: bytes, expected_state: str, facts: dict[str, Any] | None = None) -> None:
            env = self.open(raw)
            self.state = apply(self.state, env)
            if self.state.name != expected_state:
                raise SystemExit(f"{self.name}: {env.body['action']} gives {self.state.name}, not {expected_state}")
            self.raws.append(raw)
            self.states.append(self.state)
            step: dict[str, Any] = {
                "action": env.body["action"],
                "issuer": env.issuer,
                "hex": raw.hex(),
                "message_id_hex": env.message_id.hex(),
                "state": self.state.name,
            }
            if facts:
                step["facts"] = facts
            self.steps.append(step)

        def refusal(self, name: str, prefix: int, raw: bytes, error: str, note: str) -> dict[str, Any]:
            got = outcome(lambda: apply(self.states[prefix], self.open(raw)) and None)
            if got != {"error": error}:
                raise SystemExit(f"reference implementation disagrees on {name!r}: {got} != {error}")
            return {"name": name, "chain": self.name, "prefix": prefix, "event_hex": raw.hex(), "error": error, "note": note}

        def to_json(self, sealed_from: int, note: str, history: dict[str, Any] | None = None) -> dict[str, Any]:
            sealed = self.state.sealed
            terms = self.open(self.raws[sealed_from]).body["data"]["terms"]
            assert sealed.document == self.document(terms)
            out: dict[str, Any] = {
                "name": self.name,
                "note": note,
                "agreement_id_hex": self.id.hex(),
                "kind": "loan",
                "parties": self.parties,
            }
            if history:
                out["key_histories"] = history
            out["events"] = self.steps
            out["sealed"] = {
                "terms_from": sealed_from,
                "document": typed(msgpack.unpackb(sealed.document)),
                "document_hex": sealed.document.hex(),
                "signatures_hex": {node: sig.hex() for node, sig in sorted(sealed.signatures.items())},
                **({"keys": dict(sorted(sealed.keys.items()))} if sealed.keys else {}),
                "wire_hex": sealed.to_bytes().hex(),
            }
            return out

    # -- chain 1: the sports club lends its minibus to the youth centre, who brings it back late.
    owner, borrower, third = CLUB, YOUTH, FOOD
    loan = Chain("minibus loan, countered, returned late, closed", "minibus", {"owner": owner, "borrower": borrower})
    asked = {
        "resource": "minibus-9",
        "period": {"start": T0 + 2 * DAY, "end": T0 + 3 * DAY},
        "quantity": 1,
        "purpose": "Sortie au stade avec huit jeunes",
        "fee": eur(3000),
        "deposit": eur(50_000),
        "expires": T0 + DAY,
    }
    offered = {
        **asked,
        "fee": eur(2000),
        "conditions": "Plein fait au retour.",
        "pickup": {"place": "Gymnase Jean-Moulin, Bondy", "at": T0 + 2 * DAY},
        "cancellation": {"free_until": T0 + DAY, "fee": eur(1000)},
        "expires": T0 + 12 * HOUR,
    }
    request = {"parties": loan.parties, "terms": asked, "seal_sig": sign_document(borrower, loan.document(asked))}
    loan.add(loan.build(borrower, "request", "request", request, T0), "requested")
    offer = {"terms": offered, "seal_sig": sign_document(owner, loan.document(offered))}
    loan.add(loan.build(owner, "offer", "offer", offer, T0 + HOUR), "offered")
    accept = {"proposal": loan.message_id(1), "seal_sig": sign_document(borrower, loan.document(offered))}
    loan.add(loan.build(borrower, "accept", "accept", accept, T0 + 2 * HOUR), "sealed")
    photo = hashlib.sha256(b"maillage vector photo: minibus at handover").digest()
    handover = {"at": T0 + 2 * DAY + 15 * MINUTE, "condition": "Bon état, 45 210 km, plein fait.", "photos": [photo]}
    loan.add(loan.build(owner, "handover", "handover", handover, T0 + 2 * DAY + 30 * MINUTE), "in_custody")
    returned = {"at": T0 + 3 * DAY + 90 * MINUTE, "condition": "Bon état, 45 388 km, plein fait."}
    loan.add(loan.build(owner, "return", "return", returned, T0 + 3 * DAY + 2 * HOUR), "returned",
             {"lateness_minutes": 90})  # fmt: skip
    loan.add(loan.build(borrower, "close b", "close", {"rating": 5, "comment": "Merci !"}, T0 + 3 * DAY + 3 * HOUR),
             "closing")  # fmt: skip
    loan.add(loan.build(owner, "close o", "close", {"rating": 4}, T0 + 3 * DAY + 4 * HOUR), "closed")

    at_sealed = T0 + 2 * DAY + 30 * MINUTE
    late = offered["expires"] + 1
    incident = {"kind": "damage", "description": "Rayure sur la portière", "deposit_kept": eur(100), "reason": "Carrosserie"}
    too_much = {"kind": "loss", "description": "Clés perdues", "deposit_kept": eur(50_001), "reason": "Serrures"}
    short = {**offered, "expires": T0 + HOUR}
    # (name, prefix, issuer, action, data, iat, build options, error, note)
    wrong: list[tuple[str, int, SigningKey, str, dict[str, Any], int, dict[str, Any], str, str]] = [
        ("wrong seq", 3, owner, "handover", handover, at_sealed, {"seq": 4},
         "out-of-order", "seq 4 where 3 follows the head (prev is the head)"),
        ("wrong prev", 3, owner, "handover", handover, at_sealed, {"prev": loan.message_id(1)},
         "out-of-order", "prev names event 1, not the head (event 2)"),
        ("later event of an agreement not held", 0, owner, "handover", handover, at_sealed,
         {"seq": 3, "prev": loan.message_id(2)}, "out-of-order", "seq 3 where the receiver holds nothing: send from seq 0"),
        ("dated before the previous event", 3, owner, "handover", {**handover, "at": T0}, T0 + HOUR, {},
         "out-of-order", "iat goes backwards along the chain"),
        ("event from a third node", 3, third, "handover", handover, at_sealed,
         {"aud": [owner.node_id, borrower.node_id]}, "forbidden", "the issuer is not a party"),
        ("opened by a third node", 0, third, "request",
         {**request, "seal_sig": sign_document(third, loan.document(asked))}, T0,
         {"aud": [owner.node_id, borrower.node_id]}, "forbidden", "the opener is not one of the parties it names"),
        ("request opened by the owner", 0, owner, "request",
         {**request, "seal_sig": sign_document(owner, loan.document(asked))}, T0, {},
         "not-allowed", "only the borrower requests"),
        ("borrower records the handover", 3, borrower, "handover", handover, at_sealed, {},
         "not-allowed", "handover is the owner's action"),
        ("handover before the agreement is sealed", 2, owner, "handover", {**handover, "at": T0 + HOUR}, T0 + 2 * HOUR,
         {}, "not-allowed", "no (offered, handover) transition"),
        ("event after closing", 7, owner, "incident", incident, T0 + 4 * DAY, {},
         "not-allowed", "closed is terminal"),
        ("closing twice", 6, borrower, "close", {"rating": 1}, T0 + 4 * DAY, {},
         "not-allowed", "the borrower closed already; only the owner may close now"),
        ("keeping more than the deposit", 4, owner, "incident", too_much, T0 + 2 * DAY + HOUR, {},
         "not-allowed", "deposit_kept 500.01 EUR exceeds the 500 EUR deposit"),
        ("accept after expiry", 2, borrower, "accept", accept, late, {},
         "expired", "iat is 1 ms after the pending offer's expires"),
        ("forged seal_sig", 2, borrower, "accept",
         {**accept, "seal_sig": sign_document(borrower, loan.document(asked))}, T0 + 2 * HOUR, {},
         "bad-signature", "co-signs the request's terms, not the pending offer's"),
        ("accepting another proposal", 2, borrower, "accept", {**accept, "proposal": loan.message_id(0)}, T0 + 2 * HOUR,
         {}, "conflict", "names the request, not the pending offer"),
        ("wrong audience", 3, owner, "handover", handover, at_sealed, {"aud": [borrower.node_id, third.node_id]},
         "wrong-audience", "addressed to the borrower and a third node"),
        ("event addressed to no one", 3, owner, "handover", handover, at_sealed, {"aud": []},
         "wrong-audience", "no aud at all"),
        ("handover recorded before it happens", 3, owner, "handover", {**handover, "at": at_sealed + 1}, at_sealed, {},
         "invalid", "data.at is after the event's iat"),
        ("offer that expires when made", 1, owner, "offer",
         {"terms": short, "seal_sig": sign_document(owner, loan.document(short))}, T0 + HOUR, {},
         "invalid", "terms.expires must be after the event's iat"),
        ("unknown data field", 3, owner, "handover", {**handover, "km": 45210}, at_sealed, {},
         "invalid", "data maps are closed"),
        ("opening event with prev", 0, borrower, "request", request, T0, {"prev": bytes(32)},
         "invalid", "prev is absent at seq 0"),
    ]  # fmt: skip
    refusals = [
        loan.refusal(name, prefix, loan.build(key, f"refused {name}", action, data, iat, after=prefix, **options), error, note)
        for name, prefix, key, action, data, iat, options, error, note in wrong
    ]

    # -- chain 2: the food bank, after rotating its key, lends its truck; the club cancels after free_until.
    successor = SigningKey.from_seed(SUCCESSOR_SEED).for_node(FOOD.node_id)
    history = rotated_chain((KeyEntry(key=FOOD.node_id, since=0),), FOOD, successor.key_id, ROTATED_AT)
    ring = KeyRing()
    ring.learn(FOOD.node_id, history)
    truck = Chain("truck loan by a rotated owner, cancelled late", "truck", {"owner": successor, "borrower": CLUB}, ring)
    truck_terms = {
        "resource": "frigo",
        "period": {"start": T0 + 3 * DAY, "end": T0 + 3 * DAY + 6 * HOUR},
        "quantity": 1,
        "fee": eur(0),
        "deposit": eur(20_000),
        "cancellation": {"free_until": T0 + DAY, "fee": eur(1500)},
        "expires": T0 + 2 * HOUR,
    }
    truck_request = {"parties": truck.parties, "terms": truck_terms,
                     "seal_sig": sign_document(CLUB, truck.document(truck_terms))}  # fmt: skip
    truck.add(truck.build(CLUB, "request", "request", truck_request, T0 + 20 * MINUTE), "requested")
    truck_accept = {"proposal": truck.message_id(0), "seal_sig": sign_document(successor, truck.document(truck_terms))}
    truck.add(truck.build(successor, "accept", "accept", truck_accept, T0 + 30 * MINUTE), "sealed")
    truck.add(truck.build(CLUB, "cancel", "cancel", {"reason": "Sortie annulée"}, T0 + DAY + HOUR), "cancelled",
              {"ended_by": "borrower", "cancellation_fee": eur(1500)})  # fmt: skip
    refusals.append(
        truck.refusal("co-signed with the genesis key", 1,
                      truck.build(successor, "refused genesis", "accept",
                                  {**truck_accept, "seal_sig": sign_document(FOOD, truck.document(truck_terms))},
                                  T0 + 30 * MINUTE, after=1),
                      "bad-signature", "the event is signed by the successor key: so must the co-signature be")
    )  # fmt: skip

    return {
        "format": FORMAT_VERSION,
        "description": "Agreements: loan chains replayed event by event (state after each), the sealed document and "
        "its co-signatures, and events refused when applied after a prefix of a chain.",
        "event_type": EVENT_TYPE,
        "seal_prefix_hex": SEAL_PREFIX.hex(),
        "chains": [
            loan.to_json(1, "the borrower requests, the owner counter-offers, the borrower accepts the offer"),
            truck.to_json(0, "the owner's node signs with its successor key (rotation.json): its events carry `key`",
                          {FOOD.node_id: _chain_json(history)}),
        ],
        "refusals": refusals,
    }


# --------------------------------------------------------------------------
# log.json

# The eight test leaves of the certificate-transparency Go and C++ suites (as in tests/protocol/test_merkle.py).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"  # published root of all eight
CT_INCLUSION = [(0, 1), (0, 8), (5, 8), (2, 3), (1, 5)]  # (index, size), leaves numbered from 0
CT_CONSISTENCY = [(1, 1), (1, 8), (6, 8), (2, 5)]  # (old_size, new_size)


def log_file(agreements: Mapping[str, Any]) -> dict[str, Any]:
    from protocol.checkpoints import (
        CHECKPOINT_TYPE,
        COSIGNATURE_TYPE,
        cosignature_body,
        cosigns,
        is_equivocation,
        parse_checkpoint,
        parse_cosignature,
    )
    from protocol.envelope import stored_envelope
    from protocol.merkle import (
        EMPTY_ROOT,
        LEAF_PREFIX,
        NODE_PREFIX,
        consistency_proof,
        inclusion_proof,
        leaf_hash,
        root,
        verify_consistency,
        verify_inclusion,
    )

    trees: dict[str, list[bytes]] = {}  # tree name -> leaf data

    def tree(name: str, leaves: list[bytes], note: str, **extra: Any) -> dict[str, Any]:
        trees[name] = leaves
        hashes = [leaf_hash(d) for d in leaves]
        return {
            "name": name,
            "note": note,
            **extra,
            "leaves_hex": [d.hex() for d in leaves],
            "leaf_hashes_hex": [h.hex() for h in hashes],
            "roots_hex": [root(hashes[:n]).hex() for n in range(len(leaves) + 1)],
        }

    def hashes_of(name: str) -> list[bytes]:
        return [leaf_hash(d) for d in trees[name]]

    def inclusion(name: str, tree_name: str, index: int, size: int, *, tamper: Callable[[list[bytes]], list[bytes]] | None = None,
                  note: str = "") -> dict[str, Any]:
        hashes = hashes_of(tree_name)
        proof = inclusion_proof(hashes, index, size)
        if tamper is not None:
            proof = tamper(proof)
        top = root(hashes[:size])
        ok = verify_inclusion(hashes[index], index, size, proof, top)
        if ok != (tamper is None):
            raise SystemExit(f"log.json: inclusion {name!r} verifies={ok}")
        case = {"name": name, "tree": tree_name, "index": index, "size": size, "leaf_hash_hex": hashes[index].hex(),
                "root_hex": top.hex(), "proof_hex": [p.hex() for p in proof], "verifies": ok}
        return {**case, "note": note} if note else case

    def consistency(name: str, tree_name: str, old: int, new: int, *, tamper: Callable[[list[bytes]], list[bytes]] | None = None,
                    note: str = "") -> dict[str, Any]:
        hashes = hashes_of(tree_name)
        proof = consistency_proof(hashes, old, new)
        if tamper is not None:
            proof = tamper(proof)
        old_root, new_root = root(hashes[:old]), root(hashes[:new])
        ok = verify_consistency(old, new, old_root, new_root, proof)
        if ok != (tamper is None):
            raise SystemExit(f"log.json: consistency {name!r} verifies={ok}")
        case = {"name": name, "tree": tree_name, "old_size": old, "new_size": new, "old_root_hex": old_root.hex(),
                "new_root_hex": new_root.hex(), "proof_hex": [p.hex() for p in proof], "verifies": ok}
        return {**case, "note": note} if note else case

    # -- (a) the certificate-transparency leaves
    ct = tree("certificate transparency", CT_LEAVES, "the 8 test leaves of the certificate-transparency Go and C++ suites")
    if ct["roots_hex"][8] != CT_ROOT_8 or ct["roots_hex"][0] != EMPTY_ROOT.hex():
        raise SystemExit("log.json: the CT roots disagree with the published ones")

    # -- (b) the club's log: every event of both agreement chains it is a party to, in the order it stored them
    events = [bytes.fromhex(step["hex"]) for chain in agreements["chains"] for step in chain["events"]]
    events.sort(key=lambda raw: stored_envelope(raw).issued_at)  # iat differ: a total order, as the club stored them
    club_log = "club's agreement events"
    ids = [stored_envelope(raw).message_id for raw in events]
    log = tree(club_log, events,
               f"the log of {CLUB.node_id[:8]}…: the events of both chains of agreements.json (it is a party to both), "
               "in iat order; each leaf is an event's exact envelope bytes",
               origin=CLUB.node_id, message_ids_hex=[m.hex() for m in ids])  # fmt: skip
    club_hashes = hashes_of(club_log)
    size = len(events)
    last_iat = stored_envelope(events[-1]).issued_at

    def checkpoint(label: str, body: Mapping[str, Any], iat: int, key: SigningKey = CLUB, aud: list[str] | None = None) -> bytes:
        return sealed(key, CHECKPOINT_TYPE, body, label=f"log checkpoint {label}", iat=iat, aud=aud)

    def checkpoint_case(name: str, raw: bytes, error: str | None, note: str, tree_name: str | None = club_log) -> dict[str, Any]:
        got = outcome(lambda: parse_checkpoint(open_envelope(raw)))
        if error is not None:
            if got != {"error": error}:
                raise SystemExit(f"log.json: checkpoint {name!r}: {got}")
            return {"name": name, "envelope_hex": raw.hex(), "note": note, "expect": {"error": error}}
        cp = got["ok"]
        if tree_name is not None and cp.root != root(hashes_of(tree_name)[: cp.size]):
            raise SystemExit(f"log.json: checkpoint {name!r} does not match its tree")
        env = open_envelope(raw)
        return {
            "name": name,
            "envelope_hex": raw.hex(),
            "note": note,
            **({"tree": tree_name} if tree_name else {}),
            "body": typed(env.body),
            "expect": {"ok": {"origin": cp.origin, "size": cp.size, "root_hex": cp.root.hex(), "iat": cp.issued_at,
                              "message_id_hex": cp.message_id.hex()}},
        }  # fmt: skip

    final_raw = checkpoint("final", {"size": size, "root": root(club_hashes)}, last_iat + HOUR)
    mid_size = 6
    mid_raw = checkpoint("six", {"size": mid_size, "root": root(club_hashes[:mid_size])}, stored_envelope(events[mid_size]).issued_at - HOUR)
    again_raw = checkpoint("six again", {"size": mid_size, "root": root(club_hashes[:mid_size])}, stored_envelope(events[mid_size]).issued_at - 30 * MINUTE)
    forked = club_hashes[: mid_size - 1] + [leaf_hash(events[mid_size])]  # the 6th event left out, the 7th in its place
    fork_raw = checkpoint("six forked", {"size": mid_size, "root": root(forked)}, stored_envelope(events[mid_size]).issued_at)
    smaller_raw = checkpoint("shrunk", {"size": 4, "root": root(club_hashes[:4])}, last_iat + 2 * HOUR)
    food_raw = checkpoint("food six", {"size": mid_size, "root": root(forked)}, stored_envelope(events[mid_size]).issued_at, key=FOOD)
    good_root = root(club_hashes)
    checkpoints = [
        checkpoint_case("the club's checkpoint of its whole log", final_raw, None,
                        f"size {size}: the tree's root at that size, signed an hour after the last event"),
        checkpoint_case("the club's checkpoint at size 6", mid_raw, None, "an earlier checkpoint; consistency 6 → 10 below"),
        checkpoint_case("extra body key", checkpoint("extra key", {"size": size, "root": good_root, "note": "x"}, last_iat),
                        "invalid", "the body is the closed map {size, root}"),
        checkpoint_case("root of 31 bytes", checkpoint("short root", {"size": size, "root": good_root[:31]}, last_iat),
                        "invalid", "root is exactly 32 bytes"),
        checkpoint_case("negative size", checkpoint("negative", {"size": -1, "root": good_root}, last_iat),
                        "invalid", "size is an integer in [0, 2^53 − 1]"),
        checkpoint_case("size above 2^53 - 1", checkpoint("huge", {"size": 2**53, "root": good_root}, last_iat),
                        "invalid", "size is an integer in [0, 2^53 − 1]"),
        checkpoint_case("root as a string", checkpoint("str root", {"size": size, "root": good_root.hex()}, last_iat),
                        "invalid", "root is binary, not text"),
        checkpoint_case("checkpoint with an audience",
                        checkpoint("aud", {"size": size, "root": good_root}, last_iat, aud=[YOUTH.node_id]),
                        "invalid", "a checkpoint is public: no aud"),
        checkpoint_case("empty log", checkpoint("empty", {"size": 0, "root": EMPTY_ROOT}, T0 - HOUR), None,
                        "size 0: the root is SHA-256 of nothing"),
    ]  # fmt: skip

    # Cosignatures: the youth centre witnessed the club's final checkpoint.
    final = parse_checkpoint(open_envelope(final_raw))
    mid = parse_checkpoint(open_envelope(mid_raw))

    def cosignature_case(name: str, raw: bytes, of: bytes, note: str) -> dict[str, Any]:
        cos = parse_cosignature(open_envelope(raw))
        cp = parse_checkpoint(open_envelope(of))
        return {"name": name, "envelope_hex": raw.hex(), "checkpoint_hex": of.hex(), "note": note,
                "body": typed(open_envelope(raw).body),
                "expect": {"witness": cos.witness, "cosigns": cosigns(cos, cp)}}  # fmt: skip

    cos_raw = sealed(YOUTH, COSIGNATURE_TYPE, cosignature_body(final), label="log cosignature final", iat=last_iat + HOUR + MINUTE)
    cosignatures = [
        cosignature_case("the youth centre cosigns the club's final checkpoint", cos_raw, final_raw,
                         "it checked a consistency proof from size 6, the last checkpoint it had seen"),
        cosignature_case("a cosignature of another checkpoint", cos_raw, mid_raw,
                         "names the final checkpoint: it does not vouch for the size-6 one"),
        cosignature_case(
            "a cosignature with the wrong root",
            sealed(YOUTH, COSIGNATURE_TYPE, {**cosignature_body(final), "root": mid.root}, label="log cosignature bad root",
                   iat=last_iat + HOUR + MINUTE),
            final_raw, "names the checkpoint's message id but another root"),
    ]  # fmt: skip
    if [c["expect"]["cosigns"] for c in cosignatures] != [True, False, False]:
        raise SystemExit("log.json: cosignature outcomes changed")
    refused_cos = sealed(YOUTH, COSIGNATURE_TYPE, {**cosignature_body(final), "size": -1}, label="log cosignature negative",
                         iat=last_iat + HOUR + MINUTE)  # fmt: skip
    if outcome(lambda: parse_cosignature(open_envelope(refused_cos))) != {"error": "invalid"}:
        raise SystemExit("log.json: a cosignature of size -1 was accepted")
    cosignatures.append({"name": "a cosignature of negative size", "envelope_hex": refused_cos.hex(),
                         "note": "the body is {origin, checkpoint, size, root} with the checkpoint's own types",
                         "expect": {"error": "invalid"}})  # fmt: skip

    def flip(i: int, byte: int = 31, bit: int = 0) -> Callable[[list[bytes]], list[bytes]]:
        return lambda proof: [flip_bit(p, byte, bit) if j == i else p for j, p in enumerate(proof)]

    inclusions = [inclusion(f"CT leaf {i} in a tree of {n}", "certificate transparency", i, n) for i, n in CT_INCLUSION]
    inclusions += [inclusion(f"event {i} in the club's log of {size}", club_log, i, size) for i in range(size)]
    inclusions += [
        inclusion("event 4 in the club's log at size 6", club_log, 4, mid_size),
        inclusion("one flipped bit", club_log, 3, size, tamper=flip(1, 0, 7),
                  note="the top bit of the first byte of the second hash is flipped"),
        inclusion("CT leaf 5 of 8, last bit flipped", "certificate transparency", 5, 8, tamper=flip(2)),
        inclusion("a hash too many", club_log, 2, size, tamper=lambda p: [*p, p[-1]], note="the path is longer than the tree is deep"),
        inclusion("a hash missing", club_log, 2, size, tamper=lambda p: p[:-1]),
    ]  # fmt: skip
    consistencies = [consistency(f"CT {m} → {n}", "certificate transparency", m, n) for m, n in CT_CONSISTENCY]
    consistencies += [
        consistency("the club's log 6 → 10", club_log, mid_size, size, note="from the size-6 checkpoint to the final one"),
        consistency("the club's log 4 → 10", club_log, 4, size, note="a power of two: the old root is a node of the new tree"),
        consistency("the club's log 0 → 10", club_log, 0, size, note="the empty tree is a prefix of every tree: empty proof"),
        consistency("the club's log 6 → 10, one flipped bit", club_log, mid_size, size, tamper=flip(0, 5, 3)),
    ]  # fmt: skip

    def pair(name: str, first: bytes, second: bytes, rule: str, note: str) -> dict[str, Any]:
        a, b = (parse_checkpoint(open_envelope(raw)) for raw in (first, second))
        shrinks = a.origin == b.origin and (
            (b.issued_at > a.issued_at and b.size < a.size) or (a.issued_at > b.issued_at and a.size < b.size))
        fork = is_equivocation(a, b)
        got = "same size, two roots" if fork else "newer and smaller" if shrinks else "none"
        if got != rule:
            raise SystemExit(f"log.json: pair {name!r} is {got!r}, not {rule!r}")
        return {"name": name, "first_hex": first.hex(), "second_hex": second.hex(), "note": note,
                "expect": {"equivocation": rule != "none", "rule": rule}}  # fmt: skip

    equivocations = [
        pair("two roots for size 6", mid_raw, fork_raw, "same size, two roots",
             "the second leaves event 5 out: both are signed by the club, so the pair proves the fork"),
        pair("the same size and root signed twice", mid_raw, again_raw, "none", "two envelopes, one statement"),
        pair("a larger, consistent checkpoint", mid_raw, final_raw, "none", "sizes differ: a consistency proof decides"),
        pair("a newer, smaller checkpoint", final_raw, smaller_raw, "newer and smaller", "a log never shrinks"),
        pair("two origins", mid_raw, food_raw, "none", "one size, two roots, but two different logs"),
    ]  # fmt: skip

    return {
        "format": FORMAT_VERSION,
        "description": "Transparency logs (RFC 9162 §2.1): leaf and node hashes, roots, inclusion and consistency proofs; "
        "a node's log of agreement events with its signed checkpoints and a witness's cosignature; refused checkpoints, "
        "proofs that must not verify, equivocation pairs.",
        "leaf_prefix_hex": LEAF_PREFIX.hex(),
        "node_prefix_hex": NODE_PREFIX.hex(),
        "empty_root_hex": EMPTY_ROOT.hex(),
        "checkpoint_type": CHECKPOINT_TYPE,
        "cosignature_type": COSIGNATURE_TYPE,
        "trees": [ct, log],
        "inclusion": inclusions,
        "consistency": consistencies,
        "checkpoints": checkpoints,
        "cosignatures": cosignatures,
        "equivocations": equivocations,
    }


# --------------------------------------------------------------------------


def build() -> dict[str, str]:
    """Every vector file's name and exact text."""
    files = {
        "keys.json": keys_file(),
        "encoding.json": encoding_file(),
        "envelopes.json": envelopes_file(),
        "records.json": records_file(),
        "messages.json": messages_file(),
        "reconcile.json": reconcile_file(),
        "rotation.json": rotation_file(),
        "agreements.json": agreements_file(),
    }
    files["log.json"] = log_file(files["agreements.json"])
    return {name: dump_json(data) + "\n" for name, data in files.items()}


def dump_json(value: Any, level: int = 0) -> str:
    """JSON with every value that fits in 100 characters kept on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) <= 100 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dump_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + dump_json(v, level + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def main() -> None:
    for name, text in build().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote docs/vectors/{name} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
