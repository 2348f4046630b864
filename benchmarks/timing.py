"""Timing helpers shared by the benchmarks: wall-clock time of one action, and the
ratio of two medians taken in the same run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ratio(numerators: list[float], denominators: list[float]) -> str:
    a, b = statistics.median(numerators), statistics.median(denominators)
    return f"{a / b:.2f}x (medians {a:.2f}s / {b:.2f}s over {len(numerators)} rounds)"
