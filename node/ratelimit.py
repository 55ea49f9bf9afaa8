"""Token buckets per key (peer node id or remote address), in memory."""

from __future__ import annotations

import time
from collections import OrderedDict

from protocol import RateLimited


class RateLimiter:
    """Allows ``rate`` requests per second per key with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, key: str, cost: float = 1.0, *, now: float | None = None) -> None:
        """Spend ``cost`` tokens of ``key``'s bucket or raise RateLimited saying when to retry."""
        now = time.monotonic() if now is None else now
        tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            retry = (cost - tokens) / self.rate
            raise RateLimited(f"too many requests; retry in {retry:.1f} s", retry_after_ms=int(retry * 1000) + 1)
        self._buckets[key] = (tokens - cost, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
