"""Shared helpers for the benchmarks: realistic records and timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from protocol import SigningKey, seal

T0 = 1_764_140_000_000


def sample_bodies(n: int) -> list[dict[str, object]]:
    """Resource bodies the size of a real inventory line (~400 bytes signed)."""
    return [
        {
            "id": f"chaise-{i}",
            "kind": "equipment",
            "title": f"Chaises pliantes lot {i}",
            "description": "Chaises pliantes en métal, assise rembourrée, empilables par 10. Housse fournie.",
            "category": "mobilier",
            "quantity": 40,
            "unit": "chaise",
            "location": {"lat": 45_764_043 + i, "lon": 4_835_659},
            "replacement_value": {"amount": 120_000, "currency": "EUR"},
        }
        for i in range(n)
    ]


def signed_records(n: int, authors: int = 10) -> list[bytes]:
    keys = [SigningKey.generate() for _ in range(authors)]
    return [seal(keys[i % authors], "resource", body, now_ms=T0 + i).raw for i, body in enumerate(sample_bodies(n))]


def best_rate(fn: Callable[[], int], repeats: int = 5) -> tuple[float, float]:
    """Items per second: best and median of ``repeats`` timed runs of ``fn`` (which returns its item count)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - start))
    return max(rates), statistics.median(rates)
