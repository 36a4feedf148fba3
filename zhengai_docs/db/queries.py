"""Read models over the SQL cache, shaped for pages and the API (frozen dataclasses, no ORM rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import CacheState, DepartmentRow, DocumentDepartment, DocumentRow, ItemRow, LevelRow, RevisionRow


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


def _summary(row: DocumentRow) -> DocumentSummary:
    return DocumentSummary(
        code=row.code,
        doc_type=row.doc_type,
        title=row.title,
        status=row.status,
        issued=row.issued,
        doc_number=row.doc_number,
        departments=tuple(row.department_names),
        error=row.error,
    )


def catalogue_tree(db: Database, *, level1: str | None = None) -> list[LevelView]:
    with db.session() as session:
        level_rows = session.scalars(select(LevelRow).order_by(LevelRow.code)).all()
        item_query = select(ItemRow).order_by(ItemRow.code)
        doc_query = select(DocumentRow)
        if level1 is not None:
            item_query = item_query.where(ItemRow.level1 == level1)
            doc_query = doc_query.where(DocumentRow.item_code.startswith(level1))
        items = session.scalars(item_query).all()
        documents = {row.code: _summary(row) for row in session.scalars(doc_query).all()}
    names = {row.code: row.name for row in level_rows}
    levels: dict[str, dict[str, list[ItemView]]] = {}
    for item in items:
        slots = tuple(Slot(doc_type=t, code=item.code + t.value, document=documents.get(item.code + t.value)) for t in DocType)
        view = ItemView(code=item.code, name=item.name, departments=tuple(item.department_names), slots=slots)
        levels.setdefault(item.level1, {}).setdefault(item.level2, []).append(view)
    return [
        LevelView(
            code=code,
            name=names.get(code, code),
            groups=tuple(GroupView(code=g, name=names.get(g, g), items=tuple(its)) for g, its in groups.items()),
        )
        for code, groups in levels.items()
    ]


def item_view(db: Database, code: str) -> tuple[ItemView, str, str] | None:
    """An item with its slots, and the names of its level 1 and level 2."""
    with db.session() as session:
        item = session.get(ItemRow, code)
        if item is None:
            return None
        names = dict(session.execute(select(LevelRow.code, LevelRow.name).where(LevelRow.code.in_((code[0], code[:2])))).all())
        documents = {row.code: _summary(row) for row in session.scalars(select(DocumentRow).where(DocumentRow.item_code == code))}
        slots = tuple(Slot(doc_type=t, code=code + t.value, document=documents.get(code + t.value)) for t in DocType)
        view = ItemView(code=code, name=item.name, departments=tuple(item.department_names), slots=slots)
    return view, names.get(code[0], code[0]), names.get(code[:2], code[:2])


def departments(db: Database) -> list[str]:
    """The college's departments in catalogue order."""
    with db.session() as session:
        return list(session.scalars(select(DepartmentRow.name).order_by(DepartmentRow.position)))


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
