"""The self-diagnosis report (自我诊改报告, Beijing plan 附件2): one table per framework element.

Each table is pre-filled from the content: the element's diagnostic points and the documents
that govern them (front matter `points`, cached in SQL) with their status and issue date. The
quality office writes 自我诊断意见 (≤500 字), 改进措施 (≤200 字) and 改进成效 (≤200 字) per
element, plus a 概述 (≤500 字), in the app; the limits of the template are checked when the text
is entered, counting every character except whitespace.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from zhengai_docs.catalogue.framework import Element, Framework
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentPoint, DocumentRow, SelfDiagnosisEntry
from zhengai_docs.errors import ZhengaiError
from zhengai_docs.indicators.report import ReportLine, element_indicators
from zhengai_docs.indicators.review import Finding, Outcome, Verdict, findings, outcome
from zhengai_docs.render import docx_reference as ref
from zhengai_docs.render.docx_export import WordWriter

OVERVIEW = "overview"
OVERVIEW_LIMIT = 500


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    limit: int


FIELDS = (Field("opinion", "自我诊断意见", 500), Field("measures", "改进措施", 200), Field("effects", "改进成效", 200))
NOTES = (
    "报告内容必须真实、准确。",
    "每一诊断要素的“自我诊断意见”需阐明目标达成程度，主要成绩，存在问题，原因分析，总体不超过 500 字。"
    "以查找问题和分析原因为主，篇幅不少于 1/2。",
    "每一诊断要素的“改进措施”需突出针对性、注重可行性，总体不超过 200 字。",
    "每一诊断要素的“改进效果”指实施改进措施之后已经显现的实际效果，不是预测或估计成效。如果措施尚未实施，请加说明。总体不超过 200 字。",
    "自我诊改务必写实，无需等级性结论。",
)


class TooLong(ZhengaiError):
    status = 400


def char_count(text: str) -> int:
    """字数 as the template counts it: every character except spaces and line breaks."""
    return sum(1 for ch in text if not ch.isspace())


def check_lengths(values: dict[str, str]) -> list[str]:
    """Chinese messages for every field over its limit (empty when all fit)."""
    limits = {f.name: f for f in FIELDS}
    problems = []
    for name, text in values.items():
        field = limits.get(name)
        limit, label = (field.limit, field.label) if field else (OVERVIEW_LIMIT, "自我诊改工作概述")
        count = char_count(text)
        if count > limit:
            problems.append(f"{label}不能超过 {limit} 字（现为 {count} 字）")
    return problems


@dataclass(frozen=True)
class Entry:
    element_id: str
    opinion: str = ""
    measures: str = ""
    effects: str = ""
    updated_by: str | None = None
    updated_at: dt.datetime | None = None


def load_entries(db: Database, *, framework: str, year: int) -> dict[str, Entry]:
    with db.session() as session:
        rows = session.scalars(select(SelfDiagnosisEntry).where(SelfDiagnosisEntry.framework == framework, SelfDiagnosisEntry.year == year))
        return {
            r.element_id: Entry(r.element_id, r.opinion, r.measures, r.effects, r.updated_by, r.updated_at) for r in rows
        }


def save_entry(db: Database, *, framework: str, year: int, element_id: str, values: dict[str, str], author: str) -> None:
    """Store one element's texts (or the overview's); TooLong when a limit is exceeded."""
    values = {k: v.replace("\r\n", "\n").strip() for k, v in values.items()}
    problems = check_lengths(values)
    if problems:
        raise TooLong("；".join(problems))
    with db.transaction() as session:
        row = session.scalar(
            select(SelfDiagnosisEntry).where(
                SelfDiagnosisEntry.framework == framework, SelfDiagnosisEntry.year == year, SelfDiagnosisEntry.element_id == element_id
            )
        )
        if row is None:
            row = SelfDiagnosisEntry(framework=framework, year=year, element_id=element_id, opinion="", measures="", effects="")
            session.add(row)
        for name, text in values.items():
            setattr(row, name, text)
        row.updated_by = author
        row.updated_at = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class GoverningDocument:
    code: str
    title: str
    status: str | None
    issued: dt.date | None
    points: tuple[str, ...]

    @property
    def line(self) -> str:
        issued = f"，{self.issued.isoformat()} 发布" if self.issued else ""
        return f"{self.code}《{self.title}》（{self.status or '格式错误'}{issued}；诊断点 {'、'.join(self.points)}）"


@dataclass(frozen=True)
class ElementRow:
    item: str
    element: Element
    documents: tuple[GoverningDocument, ...]
    entry: Entry
    indicators: tuple[ReportLine, ...] = ()  # 质控指标 evidencing its points: value, target, status
    finding: Finding | None = None  # the external review (复核) of this element


def verdict_sentence(result: Outcome) -> str:
    """The 复核 verdict as the report and the page state it."""
    if result.verdict is Verdict.INCOMPLETE:
        return f"复核尚未完成：已录入 {result.recorded}/{result.elements} 个诊断要素，其中 {result.agreeing} 个与自我诊断相符。"
    return (
        f"复核结论：{result.verdict.label}（{result.elements} 个诊断要素中 {result.agreeing} 个与自我诊断相符；"
        f"≥ {result.valid_at} 个为有效，< {result.abnormal_below} 个为异常）。"
    )


def review_outcome(db: Database, framework: Framework, *, year: int) -> Outcome:
    """The 复核 verdict over every element of the framework."""
    return outcome(db, framework=framework.id, year=year, element_ids=[e.id for e in framework.elements()])


def element_rows(db: Database, framework: Framework, *, year: int) -> list[ElementRow]:
    """Every element of the framework with the documents governing its points, and the texts entered."""
    entries = load_entries(db, framework=framework.id, year=year)
    measured = element_indicators(db, framework, year=year)
    reviewed = findings(db, framework=framework.id, year=year)
    with db.session() as session:
        links = session.execute(
            select(DocumentPoint.point_id, DocumentRow.code, DocumentRow.title, DocumentRow.status, DocumentRow.issued)
            .join(DocumentRow, DocumentRow.code == DocumentPoint.code)
            .order_by(DocumentRow.code)
        ).all()
    by_element: dict[str, dict[str, tuple[str, str | None, dt.date | None, list[str]]]] = {}
    for point_id, code, title, status, issued in links:
        point = framework.point(point_id)
        if point is None:
            continue
        found = by_element.setdefault(point.element_id, {}).setdefault(code, (title, status, issued, []))
        found[3].append(point_id)
    rows = []
    for item in framework.items:
        for element in item.elements:
            documents = tuple(
                GoverningDocument(code, title, status, issued, tuple(sorted(points)))
                for code, (title, status, issued, points) in sorted(by_element.get(element.id, {}).items())
            )
            rows.append(
                ElementRow(
                    f"{item.id} {item.name}",
                    element,
                    documents,
                    entries.get(element.id, Entry(element.id)),
                    tuple(measured.get(element.id, ())),
                    reviewed.get(element.id),
                )
            )
    return rows


def report_docx(*, db: Database, framework: Framework, year: int, template: Path, college: str) -> bytes:
    """The report in the layout of 附件2, one bordered table per element."""
    rows = element_rows(db, framework, year=year)
    overview = load_entries(db, framework=framework.id, year=year).get(OVERVIEW, Entry(OVERVIEW))
    writer = WordWriter(template)
    writer.paragraph("Title", "内部质量保证体系自我诊改报告")
    writer.paragraph(ref.DOCUMENT_NUMBER, f"（{year} 年度，诊断框架：{framework.name}）")
    writer.paragraph(ref.BODY, f"学校名称：{college}")
    writer.paragraph("Heading 1", "一、自我诊改工作概述")
    writer.add_markdown(_text_markdown(overview.opinion) or "（未填写）")
    writer.paragraph("Heading 1", "二、自我诊断与改进报告表")
    for row in rows:
        element = row.element
        writer.paragraph("Heading 2", f"{element.id} {element.name}")
        points = "<br>".join(_cell(f"{p.id} {p.name}") for p in element.points)
        documents = "<br>".join(_cell(d.line) for d in row.documents) or "（尚无制度、流程或标准关联本要素的诊断点）"
        table = [
            ("诊断项目", _cell(row.item)),
            ("诊断要素", _cell(f"{element.id} {element.name}")),
            ("诊断点", points),
            ("相关制度、流程和标准", documents),
            ("质控指标（目标达成程度）", "<br>".join(_cell(line.text) for line in row.indicators) or "（无质控指标证明本要素的诊断点）"),
            *((f.label, _cell(getattr(row.entry, f.name)) or "（未填写）") for f in FIELDS),
        ]
        writer.add_markdown("| 项目 | 内容 |\n|---|---|\n" + "\n".join(f"| {label} | {value} |" for label, value in table) + "\n")
    result = outcome(db, framework=framework.id, year=year, element_ids=[r.element.id for r in rows])
    if result.recorded:
        writer.paragraph("Heading 1", "三、复核结论")
        writer.paragraph(ref.BODY, verdict_sentence(result))
    writer.paragraph(ref.BODY, "校长（签字）：____________")
    writer.paragraph(ref.BODY, "______年____月____日")
    writer.paragraph("Heading 1", "诊改报告备注")
    writer.add_markdown("\n".join(f"{n}. {_escape(note)}" for n, note in enumerate(NOTES, start=1)) + "\n")
    return writer.save()


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|])")


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")


def _cell(text: str) -> str:
    return "<br>".join(_escape(line) for line in text.split("\n"))


def _text_markdown(text: str) -> str:
    return "\n\n".join(_escape(p) for p in text.split("\n") if p.strip()) + ("\n" if text.strip() else "")
