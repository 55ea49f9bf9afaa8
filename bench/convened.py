"""A convened chain as it grows: embedding statements, and replaying the chain a node holds.

A campaign with N pledges from N associations (real Ed25519 signatures, the
real campaign kind). Timed, pure protocol, no I/O:

* embed: the organiser applies each embedding event to the state it holds
  (the statement's signature is verified once, as on arrival);
* replay, stored: rebuilding the state from the chain read back from our own
  database (``stored_envelope``: no signature checked again), which the node
  does at every step and every page that shows the campaign;
* replay, verified: the same with every embedded statement's signature
  checked, as an auditor or a newcomer does;
* baseline: N raw Ed25519 verifications, in the same run.

Prints figures and ratios; asserts nothing on timings.
"""

from __future__ import annotations

import argparse
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import SigningKey
from protocol.agreements import apply, embed, make_statement, open_agreement, replay
from protocol.agreements.campaign import CAMPAIGN, tally
from protocol.envelope import open_envelope, stored_envelope

T0 = 1_767_225_600_000
DAY = 86_400_000


def terms(n: int) -> dict[str, object]:
    return {
        "title": "Vélo cargo partagé", "purpose": "Un vélo cargo pour les associations du quartier",
        "beneficiaries": ({"name": "Atelier vélo solidaire"},), "currency": "EUR",
        "target": 1_000 * n + 1, "minimum": 500 * n, "deadline": T0 + 30 * DAY, "mode": "all_or_nothing",
        "eligibility": {"scope": "public"},
    }


def build(n: int) -> tuple[list, float]:
    organiser = SigningKey.generate()
    opening = open_agreement(organiser, CAMPAIGN, "open", {"organiser": organiser.node_id}, {"terms": terms(n)}, now_ms=T0)
    state = apply(None, opening)
    statements = [make_statement(SigningKey.generate(), state.id, "campaign", organiser.node_id, "pledge",
                                 {"type": "money", "value": 1_000}, now_ms=T0 + 1 + i) for i in range(n)]
    chain = [opening]
    started = time.perf_counter()
    for i, statement in enumerate(statements):
        event = embed(organiser, state, statement.raw, now_ms=T0 + 1 + i)
        state = apply(state, event)
        chain.append(event)
    elapsed = time.perf_counter() - started
    assert tally(state).pledged == 1_000 * n
    return chain, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1_000, 5_000])
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), b"x" * 200
    signature = key.sign(message)
    for n in args.sizes:
        chain, embed_s = build(n)
        raws = [event.raw for event in chain]
        started = time.perf_counter()
        replay([stored_envelope(raw) for raw in raws], open_statement=stored_envelope)
        stored_s = time.perf_counter() - started
        started = time.perf_counter()
        replay([open_envelope(raw) for raw in raws])
        verified_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(n):
            public.verify(signature, message)
        baseline_s = time.perf_counter() - started
        size = sum(len(raw) for raw in raws)
        print(f"{n:>6} pledges, chain {size / 1024:.0f} KiB: embed {n / embed_s:,.0f}/s "
              f"({embed_s / baseline_s:.1f} x {n} raw verifications); "
              f"replay stored {stored_s * 1000:.0f} ms ({stored_s / baseline_s:.2f} x), "
              f"verified {verified_s * 1000:.0f} ms ({verified_s / baseline_s:.2f} x); "
              f"baseline {baseline_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
