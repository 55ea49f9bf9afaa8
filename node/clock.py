"""The one place the node reads the wall clock (protocol/ is handed ``now``)."""

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
