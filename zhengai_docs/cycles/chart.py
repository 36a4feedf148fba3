"""Geometry of the due-date bar chart, computed here so the template only draws rectangles.

Server-rendered SVG needs no script (the CSP allows none inline) and prints as it looks. It
scales with its viewBox; on a phone the page lets it scroll sideways at a readable size.
Each year's label sits under the middle of that year's bars, after a rule marking where the
year starts, and a label that would run into its neighbour (a year with one or two months on
the chart) gives way to the longer year's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zhengai_docs.cycles.report import Bucket

WIDTH = 960
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 16, 56
FONT = 12  # text size in viewBox units (the CSS gives the same)
YEAR_LABEL_WIDTH = 3.6 * FONT  # "2027年": four digits and one CJK character, with a little room


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    tick: str  # month number or quarter under the bar


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class YearLabel:
    text: str
    x: float  # centre of the label
    rule: float | None  # where the year's first bar slot starts (None for the chart's first year)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    baseline: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    total: int
    years: tuple[YearLabel, ...] = ()


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
            )
        )
    ticks = tuple(Tick(value=v, y=round(baseline - plot_height * v / top, 1)) for v in _tick_values(top)) if top else ()
    years = year_labels([b.start.year for b in buckets], left=_LEFT, slot=slot)
    return Chart(WIDTH, HEIGHT, _LEFT, baseline, tuple(bars), ticks, sum(b.count for b in buckets), years)


def year_labels(years: Sequence[int], *, left: float, slot: float) -> tuple[YearLabel, ...]:
    """One label per run of bars of the same year, centred under the run; where two labels would
    overlap, the year with more bars keeps its text (the other keeps its rule, unlabelled)."""
    runs: list[tuple[int, int, int]] = []  # (year, first index, last index)
    for index, year in enumerate(years):
        if runs and runs[-1][0] == year:
            runs[-1] = (year, runs[-1][1], index)
        else:
            runs.append((year, index, index))
    half = YEAR_LABEL_WIDTH / 2
    lowest, highest = left + half, left + slot * len(years) - half
    labels, sizes = [], []
    for year, first, last in runs:
        centre = left + slot * (first + last + 1) / 2
        if highest >= lowest:  # keep the text inside the plot
            centre = min(max(centre, lowest), highest)
        labels.append(YearLabel(text=f"{year}年", x=round(centre, 1), rule=round(left + slot * first, 1) if first else None))
        sizes.append(last - first + 1)
    shown = [True] * len(labels)
    previous: int | None = None
    for index, label in enumerate(labels):
        if previous is not None and label.x - labels[previous].x < YEAR_LABEL_WIDTH + FONT / 2:
            if sizes[index] > sizes[previous]:
                shown[previous], previous = False, index
            else:
                shown[index] = False
            continue
        previous = index
    return tuple(label if keep else YearLabel(text="", x=label.x, rule=label.rule) for label, keep in zip(labels, shown, strict=True))


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
