"""Declared indicators in the SQL cache: written per standard at sync, read back as `Indicator`s.

The cache holds what `declaration.declarations` reads from the version in force, so whole-library
views never parse 10,000 bodies; a document's row and its indicators are replaced together.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from zhengai_docs.catalogue.codes import DocumentCode
from zhengai_docs.catalogue.document import DocumentMeta, split_front_matter
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentIndicator, DocumentRow
from zhengai_docs.errors import InvalidFrontMatter
from zhengai_docs.indicators.declaration import Direction, Indicator, Threshold, declarations, format_number
from zhengai_docs.indicators.periods import PeriodKind

IN_FORCE = "现行"
_COLUMNS = (
    DocumentIndicator.code,
    DocumentIndicator.key,
    DocumentIndicator.position,
    DocumentIndicator.name,
    DocumentIndicator.unit,
    DocumentIndicator.direction,
    DocumentIndicator.target_op,
    DocumentIndicator.target,
    DocumentIndicator.target_text,
    DocumentIndicator.warning_op,
    DocumentIndicator.warning,
    DocumentIndicator.warning_text,
    DocumentIndicator.period,
    DocumentIndicator.source,
    DocumentIndicator.platform,
    DocumentIndicator.departments,
    DocumentIndicator.points,
    DocumentIndicator.line,
)


def indicator_rows(code: DocumentCode, text: str, meta: DocumentMeta) -> list[DocumentIndicator]:
    """The cache rows of the indicators one version of a standard declares."""
    try:
        _front, body, _line = split_front_matter(text, path=code.path)
    except InvalidFrontMatter:
        return []
    found = declarations(body, code=str(code), departments=meta.departments, points=meta.points)
    return [
        DocumentIndicator(
            key=i.key,
            position=i.position,
            name=i.name[:300],
            unit=i.unit[:20],
            direction=i.direction.value,
            target_op=i.target.op,
            target=format_number(i.target.value)[:40],
            target_text=i.target.text[:100],
            warning_op=i.warning.op if i.warning else None,
            warning=format_number(i.warning.value)[:40] if i.warning else None,
            warning_text=i.warning.text[:100] if i.warning else None,
            period=i.period.value,
            source=i.source[:200],
            platform=i.platform[:60],
            departments="、".join(i.departments)[:500],
            points=",".join(i.points)[:300],
            line=i.line,
        )
        for i in found.indicators
    ]


def load_indicators(db: Database, *, codes: Sequence[str] | None = None, in_force_only: bool = True) -> list[Indicator]:
    """Declared indicators at the cached head, in catalogue order (only standards in force by default)."""
    query = select(*_COLUMNS).join(DocumentRow, DocumentRow.code == DocumentIndicator.code)
    if in_force_only:
        query = query.where(DocumentRow.status == IN_FORCE)
    if codes is not None:
        query = query.where(DocumentIndicator.code.in_(list(codes)))
    with db.session() as session:
        rows = session.execute(query.order_by(DocumentIndicator.code, DocumentIndicator.position)).all()
    return [_indicator(row) for row in rows]


def _indicator(row: Any) -> Indicator:
    (code, key, position, name, unit, direction, target_op, target, target_text,
     warning_op, warning, warning_text, period, source, platform, departments, points, line) = row  # fmt: skip
    return Indicator(
        code=code,
        key=key,
        position=position,
        name=name,
        unit=unit,
        direction=Direction(direction),
        target=Threshold(op=target_op, value=Decimal(target), unit=unit, text=target_text),
        warning=None if warning is None else Threshold(op=warning_op, value=Decimal(warning), unit=unit, text=warning_text or ""),
        period=PeriodKind(period),
        source=source,
        platform=platform,
        departments=tuple(d for d in departments.split("、") if d),
        points=tuple(p for p in points.split(",") if p),
        line=line,
    )
