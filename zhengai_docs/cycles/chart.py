"""Geometry of the due-date bar chart, computed here so the template only draws rectangles.

Server-rendered SVG needs no script (the CSP allows none inline) and prints as it looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zhengai_docs.cycles.report import Bucket

WIDTH = 960
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 16, 56


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    tick: str  # month number or quarter under the bar
    year: str | None  # the year, under the first bar and each January / first quarter


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    baseline: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    total: int


def bar_chart(buckets: Sequence[Bucket], *, quarterly: bool = False) -> Chart:
    peak = max((b.count for b in buckets), default=0)
    top = _nice_ceiling(peak)
    plot_height = HEIGHT - _TOP - _BOTTOM
    baseline = HEIGHT - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / max(len(buckets), 1)
    bars = []
    for index, bucket in enumerate(buckets):
        height = plot_height * bucket.count / top if top else 0.0
        bars.append(
            Bar(
                label=bucket.label,
                count=bucket.count,
                x=round(_LEFT + index * slot + slot * 0.15, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                tick=f"Q{(bucket.start.month - 1) // 3 + 1}" if quarterly else str(bucket.start.month),
                year=f"{bucket.start.year}年" if index == 0 or bucket.start.month == 1 else None,
            )
        )
    ticks = tuple(Tick(value=v, y=round(baseline - plot_height * v / top, 1)) for v in _tick_values(top)) if top else ()
    return Chart(WIDTH, HEIGHT, _LEFT, baseline, tuple(bars), ticks, sum(b.count for b in buckets))


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 … that is at least `value`."""
    if value <= 0:
        return 0
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _tick_values(top: int) -> list[int]:
    step = max(top // 5, 1) if top >= 5 else 1
    return list(range(0, top + 1, step))
