"""Geometry of an indicator's trend chart — its values over the periods against the target and
warning lines — computed here so the template only draws (server-rendered SVG, no script)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from zhengai_docs.indicators import periods
from zhengai_docs.indicators.declaration import Indicator, format_number
from zhengai_docs.indicators.results import Entry
from zhengai_docs.indicators.status import Status, evaluate

WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 110, 16, 40


@dataclass(frozen=True)
class Dot:
    period: str
    label: str
    value: str
    status: Status
    x: float
    y: float


@dataclass(frozen=True)
class Level:
    label: str  # 目标值 / 预警值
    text: str
    y: float


@dataclass(frozen=True)
class Tick:
    text: str
    y: float


@dataclass(frozen=True)
class Column:
    label: str
    x: float


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    baseline: float
    dots: tuple[Dot, ...]
    path: str  # SVG polyline points of the dots, in period order
    levels: tuple[Level, ...]
    ticks: tuple[Tick, ...]
    columns: tuple[Column, ...]


def trend(indicator: Indicator, values: Mapping[str, Entry], *, shown: Sequence[str]) -> TrendChart:
    """The chart over the periods `shown` (oldest first); periods without a value leave a gap."""
    numbers = [e.value for k in shown if (e := values.get(k)) is not None and e.value is not None]
    references = [indicator.target.value] + ([indicator.warning.value] if indicator.warning else [])
    low, high = min([*numbers, *references]), max([*numbers, *references])
    span = high - low or abs(high) or Decimal(1)
    low, high = low - span * Decimal("0.15"), high + span * Decimal("0.15")
    if low < 0 <= min([*numbers, *references]):
        low = Decimal(0)
    plot_height = HEIGHT - _TOP - _BOTTOM
    baseline = HEIGHT - _BOTTOM
    step = (WIDTH - _LEFT - _RIGHT) / max(len(shown), 1)

    def y_of(value: Decimal) -> float:
        return round(float(baseline - (value - low) / (high - low) * plot_height), 1)

    columns, dots = [], []
    for index, key in enumerate(shown):
        x = round(_LEFT + step * (index + 0.5), 1)
        columns.append(Column(label=key, x=x))
        entry = values.get(key)
        if entry is not None and entry.value is not None:
            dots.append(
                Dot(
                    period=key,
                    label=periods.label(key),
                    value=f"{entry.value_text}{indicator.unit}",
                    status=evaluate(indicator, entry.value),
                    x=x,
                    y=y_of(entry.value),
                )
            )
    levels = [Level("目标值", indicator.target.text, y_of(indicator.target.value))]
    if indicator.warning is not None:
        levels.append(Level("预警值", indicator.warning.text, y_of(indicator.warning.value)))
    ticks = [
        Tick(format_number(round(low + (high - low) * Decimal(n) / 4, 2)), y_of(low + (high - low) * Decimal(n) / 4)) for n in range(5)
    ]
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        left=_LEFT,
        right=WIDTH - _RIGHT,
        baseline=baseline,
        dots=tuple(dots),
        path=" ".join(f"{d.x},{d.y}" for d in dots),
        levels=tuple(levels),
        ticks=tuple(ticks),
        columns=tuple(columns),
    )
