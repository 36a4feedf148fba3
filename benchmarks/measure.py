"""Timing helpers shared by the benchmarks: run an action n times, print p50/p95 against a target."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event


def timed(runs: int, action: Callable[[int], object]) -> list[float]:
    """Milliseconds per call of `action(n)` for n in range(runs)."""
    samples = []
    for n in range(runs):
        start = time.perf_counter()
        action(n)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(name: str, samples: list[float], target: float | None = None) -> None:
    p50 = statistics.median(samples)
    p95 = percentile(samples, 0.95)
    verdict = "" if target is None else ("  ✓" if p95 <= target else f"  ✗ (target p95 ≤ {target:g} ms)")
    print(f"{name:<48} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   n={len(samples)}{verdict}", flush=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def statements(engine: Engine, action: Callable[[], object]) -> int:
    """How many SQL statements `action()` sends through `engine` (e.g. per page request)."""
    count = 0

    def counted(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", counted)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count
