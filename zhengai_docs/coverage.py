"""Traceability between documents and diagnostic points, and the quality office's audit views.

Everything is computed from one `Snapshot` of the SQL cache (documents, their lead departments,
the points they link, when their content last changed) plus the active framework, so each
view costs a handful of column queries and a pass in Python, even at 10k documents.

Definitions (also in the README):
- a point is **covered** when an in-force (现行) standard (B) that is not overdue governs it;
- it is a **gap** otherwise, for the first reason that applies: no document links it at all
  (`unlinked`); documents link it but no in-force standard does (`no_standard`); only overdue
  in-force standards govern it (`only_overdue`);
- a department filter considers only the documents that department leads.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, bindparam, func, select

from zhengai_docs.catalogue.codes import DocType, document_code
from zhengai_docs.catalogue.document import Status, parse_document
from zhengai_docs.catalogue.framework import DiagnosticItem, Element, Framework, Point
from zhengai_docs.cycles import rules
from zhengai_docs.cycles.report import document_cycles
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DocumentDepartment, DocumentPoint, DocumentRow, ItemDepartment, ItemRow, RevisionRow
from zhengai_docs.errors import InvalidCode, InvalidFrontMatter
from zhengai_docs.frameworks import PointChange
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.trailers import NO_CHANGE_LINE, is_no_change_review

IN_FORCE, DRAFT, REPEALED = Status.IN_FORCE.value, Status.DRAFT.value, Status.REPEALED.value
OVERDUE = rules.State.OVERDUE.value


class GapReason(enum.Enum):
    UNLINKED = "unlinked"
    NO_STANDARD = "no_standard"
    ONLY_OVERDUE = "only_overdue"

    @property
    def label(self) -> str:
        return {
            "unlinked": "没有任何文档关联",
            "no_standard": "有关联文档，但没有现行标准",
            "only_overdue": "现行标准均已逾期未修订",
        }[self.value]


@dataclass(frozen=True)
class DocRecord:
    code: str
    item: str
    doc_type: str
    title: str
    status: str | None
    departments: tuple[str, ...]
    points: tuple[str, ...]
    last_seq: int | None  # position of its last commit on the branch (revision `seq`)
    cycle_state: str | None
    issued: dt.date | None = None
    doc_number: str | None = None
    approved_by: str | None = None

    @property
    def type_label(self) -> str:
        return DocType(self.doc_type).label

    @property
    def status_label(self) -> str:
        """Empty for a file that does not parse (it has no status)."""
        return Status(self.status).label if self.status else ""

    @property
    def cycle_label(self) -> str:
        """The revision-cycle state as the cycle pages name it; empty without a cycle (repealed, broken)."""
        return rules.State(self.cycle_state).label if self.cycle_state else ""

    @property
    def in_force(self) -> bool:
        return self.status == IN_FORCE


@dataclass(frozen=True)
class Snapshot:
    documents: tuple[DocRecord, ...]
    last_content_seq: Mapping[str, int]  # per code, ignoring reviewed-no-change commits
    items: Mapping[str, tuple[str, tuple[str, ...]]]  # item code -> (name, lead departments)

    def only(self, department: str | None) -> tuple[DocRecord, ...]:
        if not department:
            return self.documents
        return tuple(d for d in self.documents if department in d.departments)


_Query = TypeVar("_Query", bound=Select)


@dataclass(frozen=True)
class _SnapshotQueries:
    """The snapshot's statements for one scope, with their parameters bound at execution."""

    departments: Select
    points: Select
    last_seq: Select
    documents: Select
    content_seq: Select
    mentions: Select
    item_departments: Select
    items: Select


@functools.cache
def _snapshot_queries(scope: str) -> _SnapshotQueries:
    """Built once per scope ("all"; "item": codes from :low up to :high; "codes": the list
    :codes, items unrestricted): building a statement and its cache key costs more than
    running it, and each document page runs these."""

    def scoped(query: _Query, column: Any, *, item_column: bool = False) -> _Query:
        if scope == "codes" and not item_column:
            return query.where(column.in_(bindparam("codes", expanding=True)))
        if scope == "item":
            return query.where(column >= bindparam("low"), column < bindparam("high"))
        return query

    changed = RevisionRow.change != "D"
    mentions = RevisionRow.message.contains(NO_CHANGE_LINE)
    return _SnapshotQueries(
        departments=scoped(
            select(DocumentDepartment.code, DocumentDepartment.department).order_by(DocumentDepartment.code, DocumentDepartment.position),
            DocumentDepartment.code,
        ),
        points=scoped(select(DocumentPoint.code, DocumentPoint.point_id), DocumentPoint.code),
        last_seq=scoped(select(RevisionRow.code, func.max(RevisionRow.seq)).group_by(RevisionRow.code), RevisionRow.code),
        documents=scoped(
            select(
                DocumentRow.code,
                DocumentRow.item_code,
                DocumentRow.doc_type,
                DocumentRow.title,
                DocumentRow.status,
                DocumentRow.issued,
                DocumentRow.doc_number,
                DocumentRow.approved_by,
            ).order_by(DocumentRow.code),
            DocumentRow.code,
        ),
        content_seq=scoped(
            select(RevisionRow.code, func.max(RevisionRow.seq)).where(changed, ~mentions).group_by(RevisionRow.code), RevisionRow.code
        ),
        mentions=scoped(select(RevisionRow.code, RevisionRow.seq, RevisionRow.message).where(changed, mentions), RevisionRow.code),
        item_departments=scoped(
            select(ItemDepartment.item_code, ItemDepartment.department).order_by(ItemDepartment.item_code, ItemDepartment.position),
            ItemDepartment.item_code,
            item_column=True,
        ),
        items=scoped(select(ItemRow.code, ItemRow.name), ItemRow.code, item_column=True),
    )


def load_snapshot(
    db: Database,
    *,
    cycle_states: Mapping[str, str] | None = None,
    item: str | None = None,
    codes: Collection[str] | None = None,
    catalogue: bool = True,
) -> Snapshot:
    """The documents at the cached head (or of one item, or the given codes), with what the
    audits need. With `codes`, every item is still loaded (the catalogue may have changed),
    unless `catalogue` is False: then `items` stays empty (one document's `flags` need none)."""
    states = cycle_states or {}
    parameters: dict[str, Any]
    if codes is not None:
        queries, parameters = _snapshot_queries("codes"), {"codes": list(codes)}
    elif item is not None:
        queries, parameters = _snapshot_queries("item"), {"low": item, "high": item + "~"}
    else:
        queries, parameters = _snapshot_queries("all"), {}
    with db.reading() as connection:
        departments: dict[str, list[str]] = defaultdict(list)
        for code, department in connection.execute(queries.departments, parameters):
            departments[code].append(department)
        points: dict[str, list[str]] = defaultdict(list)
        for code, point in connection.execute(queries.points, parameters):
            points[code].append(point)
        last_seq: dict[str, int] = {code: seq for code, seq in connection.execute(queries.last_seq, parameters)}
        documents = tuple(
            DocRecord(
                code=code,
                item=item_code,
                doc_type=doc_type,
                title=title,
                status=status,
                departments=tuple(departments.get(code, ())),
                points=tuple(sorted(points.get(code, ()), key=_point_key)),
                last_seq=last_seq.get(code),
                cycle_state=states.get(code),
                issued=issued,
                doc_number=doc_number,
                approved_by=approved_by,
            )
            for code, item_code, doc_type, title, status, issued, doc_number, approved_by in connection.execute(
                queries.documents, parameters
            )
        )
        content = _last_content_seq(connection, queries, parameters)
        if not catalogue:
            return Snapshot(documents=documents, last_content_seq=content, items={})
        item_departments: dict[str, list[str]] = defaultdict(list)
        for code, department in connection.execute(queries.item_departments, parameters):
            item_departments[code].append(department)
        items = {code: (name, tuple(item_departments.get(code, ()))) for code, name in connection.execute(queries.items, parameters)}
    return Snapshot(documents=documents, last_content_seq=content, items=items)


def _last_content_seq(connection: Connection, queries: _SnapshotQueries, parameters: Mapping[str, Any]) -> dict[str, int]:
    """Per code, the last commit that changed content: any but a "reviewed, no change".

    A review is told by the product's trailer block only (`trailers`), parsed here in Python;
    SQL merely sets aside the few messages that mention it anywhere, for that parse.
    """
    content: dict[str, int] = {code: seq for code, seq in connection.execute(queries.content_seq, parameters)}
    for code, seq, message in connection.execute(queries.mentions, parameters):
        if not is_no_change_review(message) and seq > content.get(code, -1):
            content[code] = seq  # the words typed into a reason, not a review
    return content


def audit_snapshot(db: Database, settings: Mapping[str, Any], today: dt.date) -> Snapshot:
    """A snapshot with each document's revision-cycle state as of `today` (for "overdue")."""
    policy = rules.Policy.from_settings(settings)
    states = {c.code: c.clock.state.value for c in document_cycles(db, policy=policy, today=today)}
    return load_snapshot(db, cycle_states=states)


def refresh_audit_snapshot(
    snapshot: Snapshot, changed: Collection[str], db: Database, settings: Mapping[str, Any], today: dt.date
) -> Snapshot:
    """`snapshot` with the `changed` documents (and the catalogue's items) read again (see `db.follow`)."""
    policy = rules.Policy.from_settings(settings)
    states = {c.code: c.clock.state.value for c in document_cycles(db, policy=policy, today=today, codes=changed)} if changed else {}
    fresh = load_snapshot(db, cycle_states=states, codes=changed)
    documents = sorted([*(d for d in snapshot.documents if d.code not in changed), *fresh.documents], key=lambda d: d.code)
    content = {code: seq for code, seq in snapshot.last_content_seq.items() if code not in changed} | dict(fresh.last_content_seq)
    return Snapshot(documents=tuple(documents), last_content_seq=content, items=fresh.items)


def _point_key(point_id: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in point_id.split("."))


# -- coverage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointCoverage:
    point: Point
    documents: tuple[DocRecord, ...]  # standards first, then regulations and processes
    gap: GapReason | None

    @property
    def covered(self) -> bool:
        return self.gap is None


@dataclass(frozen=True)
class Rollup:
    id: str
    name: str
    covered: int
    total: int

    @property
    def ratio(self) -> float:
        return self.covered / self.total if self.total else 1.0


@dataclass(frozen=True)
class Coverage:
    framework: Framework
    points: tuple[PointCoverage, ...]
    department: str | None

    def point(self, point_id: str) -> PointCoverage | None:
        return next((p for p in self.points if p.point.id == point_id), None)

    @property
    def gaps(self) -> tuple[PointCoverage, ...]:
        return tuple(p for p in self.points if p.gap is not None)

    @property
    def covered(self) -> int:
        return sum(1 for p in self.points if p.covered)

    @property
    def ratio(self) -> float:
        return self.covered / len(self.points) if self.points else 1.0

    def rollup(self, node: DiagnosticItem | Element) -> Rollup:
        prefix = node.id + "."
        mine = [p for p in self.points if p.point.id.startswith(prefix)]
        return Rollup(id=node.id, name=node.name, covered=sum(1 for p in mine if p.covered), total=len(mine))

    def by_element(self) -> list[Rollup]:
        return [self.rollup(e) for e in self.framework.elements()]

    def by_item(self) -> list[Rollup]:
        return [self.rollup(i) for i in self.framework.items]


_TYPE_ORDER = {"B": 0, "Z": 1, "L": 2}


def coverage(framework: Framework, snapshot: Snapshot, *, department: str | None = None) -> Coverage:
    linking: dict[str, list[DocRecord]] = defaultdict(list)
    for document in snapshot.only(department):
        if document.status == REPEALED:
            continue
        for point_id in document.points:
            linking[point_id].append(document)
    points = []
    for point in framework.points():
        documents = tuple(sorted(linking.get(point.id, ()), key=lambda d: (_TYPE_ORDER[d.doc_type], d.code)))
        points.append(PointCoverage(point=point, documents=documents, gap=_gap(documents)))
    return Coverage(framework=framework, points=tuple(points), department=department)


def _gap(documents: Sequence[DocRecord]) -> GapReason | None:
    if not documents:
        return GapReason.UNLINKED
    standards = [d for d in documents if d.doc_type == "B" and d.in_force]
    if not standards:
        return GapReason.NO_STANDARD
    if all(d.cycle_state == OVERDUE for d in standards):
        return GapReason.ONLY_OVERDUE
    return None


# -- matrix and catalogue completeness --------------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    item: str
    name: str
    cells: Mapping[str, str]  # point id -> the linking document types, e.g. "ZB"


def matrix(framework: Framework, snapshot: Snapshot, *, department: str | None = None, level1: str | None = None) -> list[MatrixRow]:
    """Catalogue items (that link any point) × points: which of Z/L/B govern each point."""
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    known = {p.id for p in framework.points()}
    for document in snapshot.only(department):
        if document.status == REPEALED or (level1 and not document.item.startswith(level1)):
            continue
        for point_id in document.points:
            if point_id in known:
                row = cells[document.item]
                row[point_id] = "".join(sorted(row.get(point_id, "") + document.doc_type, key="ZLB".index))
    return [MatrixRow(item=item, name=snapshot.items.get(item, ("", ()))[0], cells=cells[item]) for item in sorted(cells)]


@dataclass(frozen=True)
class MissingSlots:
    item: str
    name: str
    departments: tuple[str, ...]
    missing: tuple[DocType, ...]


def completeness(snapshot: Snapshot, *, department: str | None = None) -> list[MissingSlots]:
    """Catalogue items lacking a 制度, 流程 or 标准 (repealed documents count as missing)."""
    present: dict[str, set[str]] = defaultdict(set)
    for document in snapshot.documents:
        if document.status != REPEALED:
            present[document.item].add(document.doc_type)
    out = []
    for item, (name, departments) in sorted(snapshot.items.items()):
        if department and department not in departments:
            continue
        missing = tuple(t for t in DocType if t.value not in present[item])
        if missing:
            out.append(MissingSlots(item=item, name=name, departments=departments, missing=missing))
    return out


def completeness_by_department(rows: Iterable[MissingSlots]) -> list[tuple[str, int]]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        for department in row.departments:
            counts[department] += len(row.missing)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# -- integrity and suspect links -------------------------------------------------------------


class FlagKind(enum.Enum):
    UNKNOWN_POINT = "unknown_point"
    REPEALED_LINK = "repealed_link"
    POINT_CHANGED = "point_changed"
    REGULATION_REVISED = "regulation_revised"

    @property
    def label(self) -> str:
        return {
            "unknown_point": "关联了当前框架中不存在的诊断点",
            "repealed_link": "已废止的文档仍关联诊断点",
            "point_changed": "所关联诊断点的表述在框架新版本中已修改，需复核",
            "regulation_revised": "同条目的制度已修订，本文档需复核",
        }[self.value]


@dataclass(frozen=True)
class Flag:
    code: str
    kind: FlagKind
    detail: str


def flags(
    framework: Framework,
    snapshot: Snapshot,
    *,
    point_changes: Mapping[str, PointChange],
    codes: Collection[str] | None = None,
    department: str | None = None,
) -> list[Flag]:
    """Integrity problems and "needs review" flags. A flag clears when the document gets a commit
    after its cause: a revision, or a "reviewed, no change" confirmation. A 流程 or 标准 issued
    together with its item's 制度 as it stands (`issued_together`) is not flagged by it."""
    regulations = {d.item: d for d in snapshot.documents if d.doc_type == "Z" and d.status != REPEALED}
    out = []
    for document in snapshot.only(department):
        if codes is not None and document.code not in codes:
            continue
        if document.status == REPEALED:
            if document.points:
                out.append(Flag(document.code, FlagKind.REPEALED_LINK, "、".join(document.points)))
            continue
        for point_id in document.points:
            point = framework.point(point_id)
            if point is None:
                out.append(Flag(document.code, FlagKind.UNKNOWN_POINT, point_id))
            elif _before(document.last_seq, point_changes[point_id].position if point_id in point_changes else None):
                out.append(Flag(document.code, FlagKind.POINT_CHANGED, f"{point_id} {point.name}"))
        regulation = regulations.get(document.item)
        revised = snapshot.last_content_seq.get(regulation.code) if regulation is not None else None
        if (
            document.doc_type in ("L", "B")
            and regulation is not None
            and _before(document.last_seq, revised)
            and not issued_together(document, regulation)
        ):
            out.append(Flag(document.code, FlagKind.REGULATION_REVISED, f"{regulation.code} {regulation.title}"))
    return out


def issued_together(document: DocRecord, regulation: DocRecord) -> bool:
    """Was `document` issued with the 制度 in force under one approval: the same 文号, or the
    same issue date and approving body? Then the 制度's commit, even if it came after the
    document's (documents of one approval are committed one by one), is no cause for review;
    a later revision of the 制度 gets a new number or date, and flags the document again."""
    number = (document.doc_number or "").strip()
    if number and number == (regulation.doc_number or "").strip():
        return True
    body = (document.approved_by or "").strip()
    return (
        document.issued is not None
        and document.issued == regulation.issued
        and bool(body)
        and body == (regulation.approved_by or "").strip()
    )


def _before(position: int | None, cause: int | None) -> bool:
    return position is not None and cause is not None and position < cause


# -- suggestions ------------------------------------------------------------------------------


def suggest_points(framework: Framework, text: str, *, exclude: Collection[str] = (), limit: int = 5) -> list[tuple[Point, float]]:
    """Points whose name and influence factors share the most two-character runs with `text`.

    Character bigrams need no dictionary and suit Chinese, where a shared two-character word
    (专业, 课程, 教师) is the signal. Names weigh three times factors. Suggestions only: a
    person decides which links to make.
    """
    grams = _bigrams(text)
    if not grams:
        return []
    scored = []
    for point in framework.points():
        if point.id in exclude:
            continue
        name, factors = _bigrams(point.name), _bigrams(point.factors)
        score = 3 * len(name & grams) / (len(name) or 1) + len(factors & grams) / (len(factors) or 1)
        if score > 0:
            scored.append((point, round(score, 3)))
    scored.sort(key=lambda ps: (-ps[1], _point_key(ps[0].id)))
    return scored[:limit]


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    return {a + b for a, b in pairwise(chars)}


# -- coverage history of one point ------------------------------------------------------------


@dataclass(frozen=True)
class LinkEvent:
    date: dt.datetime
    code: str
    title: str
    doc_type: str
    commit: str


def coverage_history(db: Database, repo: ContentRepository, point_id: str, codes: Sequence[str]) -> list[LinkEvent]:
    """When each of `codes` first linked the point: read each version's front matter in history.

    Only the documents that link the point now are walked, oldest revision first, reading
    their blobs in one batch; the first event of a standard is when the point got a standard.
    """
    if not codes:
        return []
    with db.session() as session:
        revisions = session.execute(
            select(RevisionRow.code, RevisionRow.seq, RevisionRow.commit, RevisionRow.blob, RevisionRow.date)
            .where(RevisionRow.code.in_(codes), RevisionRow.change != "D")
            .order_by(RevisionRow.code, RevisionRow.seq)
        ).all()
    texts = dict(repo.read_blobs({r.blob for r in revisions if r.blob}))
    events = []
    seen: set[str] = set()
    for code, _seq, commit, blob, date in revisions:
        if code in seen or blob not in texts:
            continue
        try:
            meta = parse_document(texts[blob], path=document_code(code).path).meta
        except (InvalidFrontMatter, InvalidCode):
            continue
        if point_id in meta.points:
            seen.add(code)
            events.append(LinkEvent(date=date, code=code, title=meta.title, doc_type=code[-1], commit=commit))
    return sorted(events, key=lambda e: e.date)
