"""The status of an indicator in a period, judged against its target and warning values.

Boundaries are read as the standard writes them: `≥ 60%` is met by 60; `< 50%` warns below 50,
so 50 itself is 未达标 (between warning and target); a warning value written without a comparator
warns when it is reached (`0人`: 0 warns). The target is judged first, so a value that meets the
target is 达标 even where a careless table lets the two ranges touch.

Colours follow the 泰山 plan's task table (正常 green, 未完成 yellow, 预警 red) and always come
with the words: 达标 green, 未达标 yellow, 预警 red, 未填报 black on white (no value: nothing is
judged yet).
"""

from __future__ import annotations

import enum
from decimal import Decimal

from zhengai_docs.indicators.declaration import Direction, Indicator, Threshold


class Status(enum.Enum):
    MET = "met"
    WARNING = "warning"
    NOT_MET = "not_met"
    MISSING = "missing"

    @property
    def label(self) -> str:
        return {"met": "达标", "warning": "预警", "not_met": "未达标", "missing": "未填报"}[self.value]

    @property
    def colour(self) -> str:
        """The colour word said beside the chip (and used by the CSS class)."""
        return {"met": "绿", "warning": "红", "not_met": "黄", "missing": "黑"}[self.value]

    @property
    def rank(self) -> int:
        """Worst first when sorting: 预警, 未填报, 未达标, 达标."""
        return {"warning": 0, "missing": 1, "not_met": 2, "met": 3}[self.value]


def meets(direction: Direction, threshold: Threshold, value: Decimal) -> bool:
    """Does `value` meet the target `threshold`?"""
    if direction is Direction.HIGHER:
        return value > threshold.value if threshold.op == ">" else value >= threshold.value
    return value < threshold.value if threshold.op == "<" else value <= threshold.value


def warns(direction: Direction, threshold: Threshold, value: Decimal) -> bool:
    """Has `value` crossed (or, without a comparator, reached) the warning `threshold`?"""
    if direction is Direction.HIGHER:
        return value < threshold.value if threshold.op == "<" else value <= threshold.value
    return value > threshold.value if threshold.op == ">" else value >= threshold.value


def evaluate(indicator: Indicator, value: Decimal | None) -> Status:
    if value is None:
        return Status.MISSING
    if meets(indicator.direction, indicator.target, value):
        return Status.MET
    if indicator.warning is not None and warns(indicator.direction, indicator.warning, value):
        return Status.WARNING
    return Status.NOT_MET
