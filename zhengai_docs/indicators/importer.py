"""Import measured values from a CSV or XLSX export of the 人才培养工作状态数据平台.

Columns (Chinese headers, in any order): 标准 (the standard's code, e.g. A101B), 指标 (its 编号
or name) — or 平台编号 alone when the standard declares platform numbers —, 周期 (2025-2026),
数值, and optionally 备注. Every row is checked as an entry in the form would be (rights, period,
value range) and the plan is shown first: new values, corrections of the current value, rows
equal to the current value (left alone, so importing a file twice adds nothing), and problems by
row — unknown indicators, values out of range, periods not yet begun, rows of another
department's indicators. Applying writes the planned rows in one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zhengai_docs.catalogue.importer import RowProblem, read_rows
from zhengai_docs.db.database import Database
from zhengai_docs.errors import ImportProblem, NotAllowed, Refused
from zhengai_docs.indicators import periods
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.indicators.declaration import Indicator, format_number
from zhengai_docs.indicators.results import NewValue, latest_values, prepare, write
from zhengai_docs.permissions import Actor, WritePolicy

MAX_ROWS = 60_000
_HEADERS = {
    "code": ("标准", "标准代码", "文档", "文档代码", "代码"),
    "indicator": ("指标", "指标名称", "编号", "指标编号", "质控指标"),
    "platform": ("平台编号", "数据平台编号", "状态数据平台编号"),
    "period": ("周期", "统计周期", "学年", "年度"),
    "value": ("数值", "值", "测量结果", "结果"),
    "note": ("备注", "说明"),
}


@dataclass(frozen=True)
class PlannedRow:
    row: int
    new: NewValue
    before: str | None  # the current value shown, when this corrects one


@dataclass
class ImportPlan:
    rows: list[PlannedRow] = field(default_factory=list)
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def plan_file(db: Database, path: Path, *, policy: WritePolicy, actor: Actor, today: dt.date) -> ImportPlan:
    """Read a table and say what importing it would do (nothing is written)."""
    return plan_rows(db, read_rows(path, max_rows=MAX_ROWS), policy=policy, actor=actor, today=today)


def plan_rows(db: Database, rows: Sequence[tuple[int, list[str]]], *, policy: WritePolicy, actor: Actor, today: dt.date) -> ImportPlan:
    header_row, columns = _find_header(rows)
    indicators = load_indicators(db)
    by_key = {(i.code, i.key): i for i in indicators}
    by_name = {(i.code, i.name): i for i in indicators}
    by_platform: dict[str, list[Indicator]] = {}
    for indicator in indicators:
        if indicator.platform:
            by_platform.setdefault(indicator.platform, []).append(indicator)
    plan = ImportPlan()
    pending: list[tuple[int, Indicator, str, str, str]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, cells in rows:
        if number <= header_row or not any(c.strip() for c in cells):
            continue
        cell = {name: (cells[index].strip() if index < len(cells) else "") for name, index in columns.items()}
        matched, problem = _find(cell, by_key=by_key, by_name=by_name, by_platform=by_platform)
        if matched is None:
            plan.problems.append(RowProblem(number, problem))
            continue
        indicator = matched
        try:
            key = periods.parse_period(indicator.period, cell.get("period", ""))
        except periods.InvalidPeriod as exc:
            plan.problems.append(RowProblem(number, str(exc)))
            continue
        if (indicator.code, indicator.key, key) in seen:
            plan.problems.append(RowProblem(number, f"与第 {seen[(indicator.code, indicator.key, key)]} 行重复（同一指标、同一周期）"))
            continue
        seen[(indicator.code, indicator.key, key)] = number
        pending.append((number, indicator, key, cell.get("value", ""), cell.get("note", "")))
    current = latest_values(db, idents=[(i.code, i.key, k) for _, i, k, _, _ in pending]) if pending else {}
    for number, indicator, key, value, note in pending:
        found = current.get((indicator.code, indicator.key, key))
        if not value:
            plan.problems.append(RowProblem(number, f"“{indicator.name}”没有数值"))
            continue
        try:
            new = prepare(
                policy=policy, actor=actor, indicator=indicator, period=key, value=value, note=note,
                expected=found.revision if found else 0, today=today,
            )  # fmt: skip
        except (NotAllowed, Refused) as exc:
            plan.problems.append(RowProblem(number, f"{indicator.code}“{indicator.name}”：{exc}"))
            continue
        if found is not None and found.value is not None and new.value == found.value:
            plan.unchanged += 1
            continue
        before = None if found is None or found.value_text is None else f"{found.value_text}{indicator.unit}"
        plan.rows.append(PlannedRow(row=number, new=new, before=before))
    plan.problems.sort(key=lambda problem: problem.row)
    return plan


def apply(db: Database, plan: ImportPlan, *, actor: Actor) -> int:
    """Write the planned rows (one transaction; EntryConflict if any changed since the plan was made)."""
    if not plan.rows:
        return 0
    write(db, actor=actor, values=[r.new for r in plan.rows], source="import")
    return len(plan.rows)


def describe(row: PlannedRow) -> str:
    value = "" if row.new.value is None else format_number(row.new.value) + row.new.indicator.unit
    change = f"更正：{row.before} → {value}" if row.before else f"新增：{value}"
    return f"第 {row.row} 行 {row.new.indicator.code}“{row.new.indicator.name}” {periods.label(row.new.period)} {change}"


def _find_header(rows: Sequence[tuple[int, list[str]]]) -> tuple[int, dict[str, int]]:
    for number, cells in rows[:20]:
        titles = [re.sub(r"\s+", "", unicodedata.normalize("NFKC", c)) for c in cells]
        index: dict[str, int] = {}
        for name, aliases in _HEADERS.items():
            for position, title in enumerate(titles):
                if title in aliases and name not in index and position not in index.values():
                    index[name] = position
        if {"period", "value"} <= set(index) and ("platform" in index or {"code", "indicator"} <= set(index)):
            return number, index
    raise ImportProblem("找不到表头：需要 标准、指标、周期、数值 列（或 平台编号、周期、数值）")


def _find(
    cell: dict[str, str],
    *,
    by_key: dict[tuple[str, str], Indicator],
    by_name: dict[tuple[str, str], Indicator],
    by_platform: dict[str, list[Indicator]],
) -> tuple[Indicator | None, str]:
    code = unicodedata.normalize("NFKC", cell.get("code", "")).strip().upper()
    name = cell.get("indicator", "")
    if code and name:
        found = by_key.get((code, name)) or by_name.get((code, name))
        if found is not None:
            return found, ""
        return None, f"未知指标：{code}“{name}”（该标准的现行版本没有声明此指标）"
    platform = cell.get("platform", "")
    if platform:
        matches = by_platform.get(platform, [])
        if len(matches) == 1:
            return matches[0], ""
        if len(matches) > 1:
            return None, f"平台编号 {platform} 对应多个指标（{'、'.join(f'{m.code} {m.name}' for m in matches)}），请填写标准和指标"
        return None, f"未知的平台编号：{platform}"
    return None, "缺少标准和指标（或平台编号）"
