"""The indicators a 自我诊改报告 shows per framework element: those evidencing the element's
points, with the value of the year's period, the target and the status (目标达成程度)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from zhengai_docs.catalogue.framework import Framework
from zhengai_docs.db.database import Database
from zhengai_docs.indicators import periods
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.indicators.declaration import Indicator
from zhengai_docs.indicators.results import latest_values
from zhengai_docs.indicators.status import Status, evaluate


@dataclass(frozen=True)
class ReportLine:
    indicator: Indicator
    period: str
    value: str  # with its unit; empty when not entered
    status: Status

    @property
    def text(self) -> str:
        """One line of the report: 指标（标准）：结果 / 目标值 / 预警值，状态."""
        i = self.indicator
        warning = f"，预警值 {i.warning.text}" if i.warning else ""
        value = self.value or "未填报"
        return f"{i.name}（{i.code}，{periods.label(self.period)}）：{value}；目标值 {i.target.text}{warning}；{self.status.label}"


def element_indicators(db: Database, framework: Framework, *, year: int) -> dict[str, list[ReportLine]]:
    """Per element id, the in-force indicators evidencing any of its points, worst status first."""
    declared = load_indicators(db)
    wanted = {periods.of_year(kind, year) for kind in {i.period for i in declared}}
    values = latest_values(db, period_keys=wanted) if wanted else {}
    out: dict[str, list[ReportLine]] = defaultdict(list)
    for indicator in declared:
        elements = {p.element_id for p in (framework.point(pid) for pid in indicator.points) if p is not None}
        if not elements:
            continue
        period = periods.of_year(indicator.period, year)
        entry = values.get((indicator.code, indicator.key, period))
        value = entry.value if entry is not None else None
        line = ReportLine(
            indicator, period, f"{entry.value_text}{indicator.unit}" if entry and entry.value_text else "", evaluate(indicator, value)
        )
        for element_id in elements:
            out[element_id].append(line)
    for lines in out.values():
        lines.sort(key=lambda line: (line.status.rank, line.indicator.code, line.indicator.position))
    return dict(out)
