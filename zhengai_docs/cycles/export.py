"""Overdue and due-soon reports as CSV (opens in Excel with Chinese intact) and Word (.docx)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from zhengai_docs.cycles.report import DocumentCycle
from zhengai_docs.cycles.rules import State
from zhengai_docs.render import docx_reference as ref
from zhengai_docs.render.docx_export import WordWriter
from zhengai_docs.spreadsheets import CellValue, csv_bytes

COLUMNS = ("代码", "标题", "类型", "牵头部门", "周期状态", "起算日期", "起算依据", "周期（年）", "到期日", "剩余天数")


def table_rows(cycles: Sequence[DocumentCycle]) -> list[list[CellValue]]:
    """The report's rows; years and days left stay numbers, dates stay dates (for spreadsheets)."""
    rows: list[list[CellValue]] = []
    for c in cycles:
        clock = c.clock
        rows.append(
            [
                c.code,
                c.title,
                c.doc_type.label,
                "、".join(c.departments),
                clock.state.label,
                clock.start,
                clock.source.label if clock.source else "",
                clock.years,
                clock.due,
                clock.days_left,
            ]
        )
    return rows


def to_csv(cycles: Sequence[DocumentCycle]) -> bytes:
    """The report for Excel (`spreadsheets.csv_bytes`: a BOM for Chinese, no cell runs as a formula)."""
    return csv_bytes(header=COLUMNS, rows=table_rows(cycles))


def to_docx(cycles: Sequence[DocumentCycle], *, title: str, today: dt.date, scope: str, template: Path) -> bytes:
    """The report in the house style (A4 landscape for its ten columns, the title style of the
    Word template, columns sized to their content); days left read 逾期 N 天 once past due."""
    writer = WordWriter(template)
    writer.landscape()
    writer.paragraph("Title", title)
    overdue = sum(1 for c in cycles if c.clock.state is State.OVERDUE)
    soon = sum(1 for c in cycles if c.clock.state is State.DUE_SOON)
    counts = f"{State.OVERDUE.label} {overdue} 份，{State.DUE_SOON.label} {soon} 份"
    writer.paragraph(ref.DOCUMENT_NUMBER, f"统计日期：{today.isoformat()}　范围：{scope}　共 {len(cycles)} 份（{counts}）")
    rows = [
        [_text(value) for value in row[:-1]] + [days_left_text(c.clock.days_left)]
        for c, row in zip(cycles, table_rows(cycles), strict=True)
    ]
    writer.table(list(COLUMNS), rows)
    return writer.save()


def days_left_text(days: int | None) -> str:
    """剩余天数 as a reader says it: 30 天, 今日到期, 逾期 2045 天."""
    if days is None:
        return ""
    if days < 0:
        return f"逾期 {-days} 天"
    return "今日到期" if days == 0 else f"{days} 天"


def _text(value: CellValue) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)
