"""Read models over the SQL cache, shaped for pages and the API (frozen dataclasses, no ORM rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import (
    CacheState,
    DepartmentRow,
    DocumentDepartment,
    DocumentRow,
    ItemDepartment,
    ItemRow,
    LevelRow,
    RevisionRow,
)


@dataclass(frozen=True)
class DocumentSummary:
    code: str
    doc_type: str
    title: str
    status: str | None
    issued: dt.date | None
    doc_number: str | None
    departments: tuple[str, ...]
    error: str | None

    @property
    def type_label(self) -> str:
        return DocType(self.doc_type).label


@dataclass(frozen=True)
class Slot:
    doc_type: DocType
    code: str
    document: DocumentSummary | None


@dataclass(frozen=True)
class ItemView:
    code: str
    name: str
    departments: tuple[str, ...]
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class GroupView:
    code: str
    name: str
    items: tuple[ItemView, ...]


@dataclass(frozen=True)
class LevelView:
    code: str
    name: str
    groups: tuple[GroupView, ...]

    @property
    def item_count(self) -> int:
        return sum(len(g.items) for g in self.groups)

    @property
    def document_count(self) -> int:
        return sum(1 for g in self.groups for i in g.items for s in i.slots if s.document is not None)


@dataclass(frozen=True)
class RevisionView:
    commit: str
    change: str
    author_name: str
    date: dt.datetime
    message: str
    issued: dt.date | None


@dataclass(frozen=True)
class CacheInfo:
    commit: str | None
    synced_at: dt.datetime | None
    catalogue_error: str | None


def _summary(row: Any, departments: tuple[str, ...] | None = None) -> DocumentSummary:
    """A document row (an ORM object, or a row of its columns with the departments given)."""
    return DocumentSummary(
        code=row.code,
        doc_type=row.doc_type,
        title=row.title,
        status=row.status,
        issued=row.issued,
        doc_number=row.doc_number,
        departments=tuple(row.department_names) if departments is None else departments,
        error=row.error,
    )


def catalogue_tree(db: Database, *, level1: str | None = None) -> list[LevelView]:
    """Levels, groups and items with their slots. Plain column queries, no ORM objects: a
    level at 10k documents has hundreds of rows and object construction would dominate."""
    items_q = select(ItemRow.code, ItemRow.level1, ItemRow.level2, ItemRow.name).order_by(ItemRow.code)
    item_departments_q = select(ItemDepartment.item_code, ItemDepartment.department).order_by(
        ItemDepartment.item_code, ItemDepartment.position
    )
    if level1 is not None:
        items_q = items_q.where(ItemRow.level1 == level1)
        item_departments_q = item_departments_q.where(*_prefixed(ItemDepartment.item_code, level1))
    with db.session() as session:
        names = dict(session.execute(select(LevelRow.code, LevelRow.name)).all())
        items = session.execute(items_q).all()
        item_departments = _grouped(session.execute(item_departments_q).all())
        documents = _summaries(session, level1 or "")
    levels: dict[str, dict[str, list[ItemView]]] = {}
    for code, level, group, name in items:
        slots = tuple(Slot(doc_type=t, code=code + t.value, document=documents.get(code + t.value)) for t in DocType)
        view = ItemView(code=code, name=name, departments=item_departments.get(code, ()), slots=slots)
        levels.setdefault(level, {}).setdefault(group, []).append(view)
    return [
        LevelView(
            code=code,
            name=names.get(code, code),
            groups=tuple(GroupView(code=g, name=names.get(g, g), items=tuple(its)) for g, its in groups.items()),
        )
        for code, groups in levels.items()
    ]


def _summaries(session: Session, prefix: str) -> dict[str, DocumentSummary]:
    """Summaries of the documents whose code starts with `prefix` (all when empty)."""
    documents_q = select(
        DocumentRow.code,
        DocumentRow.doc_type,
        DocumentRow.title,
        DocumentRow.status,
        DocumentRow.issued,
        DocumentRow.doc_number,
        DocumentRow.error,
    )
    departments_q = select(DocumentDepartment.code, DocumentDepartment.department).order_by(
        DocumentDepartment.code, DocumentDepartment.position
    )
    if prefix:
        documents_q = documents_q.where(*_prefixed(DocumentRow.code, prefix))
        departments_q = departments_q.where(*_prefixed(DocumentDepartment.code, prefix))
    document_departments = _grouped(session.execute(departments_q).all())
    return {row.code: _summary(row, document_departments.get(row.code, ())) for row in session.execute(documents_q)}


def _prefixed(column: InstrumentedAttribute[str], prefix: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """`column LIKE 'A%'` as a range, which SQLite answers from the primary-key index."""
    return column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _grouped(pairs: Sequence[Row[str, str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return {key: tuple(values) for key, values in out.items()}


@dataclass(frozen=True)
class LevelSummary:
    code: str
    name: str
    items: int
    documents: int

    @property
    def expected(self) -> int:
        return self.items * len(DocType)


def level_overview(db: Database) -> list[LevelSummary]:
    """Items and documents per level 1, counted in SQL (the home page must not load the tree)."""
    with db.session() as session:
        names = dict(session.execute(select(LevelRow.code, LevelRow.name).where(LevelRow.parent.is_(None))).all())
        items = dict(session.execute(select(ItemRow.level1, func.count()).group_by(ItemRow.level1)).all())
        documents = dict(
            session.execute(
                select(ItemRow.level1, func.count()).join(DocumentRow, DocumentRow.item_code == ItemRow.code).group_by(ItemRow.level1)
            ).all()
        )
    return [LevelSummary(code=c, name=names.get(c, c), items=items[c], documents=documents.get(c, 0)) for c in sorted(items)]


_LEVELS_USED = select(ItemRow.level1).distinct().subquery()  # from the index alone, before the join
_LEVEL_NAMES = select(_LEVELS_USED.c.level1, LevelRow.name).outerjoin(
    LevelRow, (LevelRow.code == _LEVELS_USED.c.level1) & LevelRow.parent.is_(None)
)


def level_names(db: Database) -> list[tuple[str, str]]:
    """(code, name) of each level 1 with items, for filters (one small query: no counts)."""
    with db.reading() as connection:
        return sorted((code, name or code) for code, name in connection.execute(_LEVEL_NAMES))


def item_view(db: Database, code: str) -> tuple[ItemView, str, str] | None:
    """An item with its slots, and the names of its level 1 and level 2."""
    with db.session() as session:
        item = session.get(ItemRow, code)
        if item is None:
            return None
        names = dict(session.execute(select(LevelRow.code, LevelRow.name).where(LevelRow.code.in_((code[0], code[:2])))).all())
        documents = _summaries(session, code)
        slots = tuple(Slot(doc_type=t, code=code + t.value, document=documents.get(code + t.value)) for t in DocType)
        view = ItemView(code=code, name=item.name, departments=tuple(item.department_names), slots=slots)
    return view, names.get(code[0], code[0]), names.get(code[:2], code[:2])


# Statements that every page or search runs are built once (see `Database.reading`).
_ITEM_NAME = select(ItemRow.name).where(ItemRow.code == bindparam("code"))
_TITLES = select(DocumentRow.code, DocumentRow.title).where(DocumentRow.code.in_(bindparam("codes", expanding=True)))
_DEPARTMENTS = select(DepartmentRow.name).order_by(DepartmentRow.position)


def item_name(db: Database, code: str) -> str | None:
    """An item's name alone (one primary-key query), for a breadcrumb; None when it is not in the catalogue."""
    with db.reading() as connection:
        return connection.scalar(_ITEM_NAME, {"code": code})


def document_titles(db: Database, codes: Collection[str]) -> dict[str, str]:
    """The titles of those of `codes` in the cache, in one query (a page's list of related documents)."""
    if not codes:
        return {}
    with db.reading() as connection:
        return {code: title for code, title in connection.execute(_TITLES, {"codes": list(codes)})}


def departments(db: Database) -> list[str]:
    """The college's departments in catalogue order."""
    with db.reading() as connection:
        return list(connection.scalars(_DEPARTMENTS))


def document_summary(db: Database, code: str) -> DocumentSummary | None:
    with db.session() as session:
        row = session.get(DocumentRow, code)
        return None if row is None else _summary(row)


def department_documents(db: Database, departments: tuple[str, ...]) -> list[DocumentSummary]:
    if not departments:
        return []
    with db.session() as session:
        rows = session.scalars(
            select(DocumentRow)
            .join(DocumentDepartment)
            .where(DocumentDepartment.department.in_(departments))
            .order_by(DocumentRow.item_code, DocumentRow.code)
            .distinct()
        ).all()
        return [_summary(r) for r in rows]


def documents_per_department(db: Database) -> dict[str, int]:
    """How many documents at head name each department among their lead departments."""
    with db.session() as session:
        rows = session.execute(select(DocumentDepartment.department, func.count()).group_by(DocumentDepartment.department))
        return {name: count for name, count in rows}


def documents_per_item(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {code: count for code, count in session.execute(select(DocumentRow.item_code, func.count()).group_by(DocumentRow.item_code))}


def history(db: Database, code: str) -> list[RevisionView]:
    with db.session() as session:
        rows = session.scalars(select(RevisionRow).where(RevisionRow.code == code).order_by(RevisionRow.seq.desc())).all()
        return [
            RevisionView(commit=r.commit, change=r.change, author_name=r.author_name, date=r.date, message=r.message, issued=r.issued)
            for r in rows
        ]


def counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        by_type = dict(session.execute(select(DocumentRow.doc_type, func.count()).group_by(DocumentRow.doc_type)).all())
        return {
            "items": session.scalar(select(func.count()).select_from(ItemRow)) or 0,
            "documents": sum(by_type.values()),
            **{t.value: by_type.get(t.value, 0) for t in DocType},
        }


def cache_info(db: Database) -> CacheInfo:
    with db.session() as session:
        state = session.get(CacheState, 1)
        if state is None:
            return CacheInfo(commit=None, synced_at=None, catalogue_error=None)
        return CacheInfo(commit=state.commit, synced_at=state.synced_at, catalogue_error=state.catalogue_error)
