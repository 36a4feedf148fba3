"""Revision-cycle reports read from the SQL cache: every clock, tallies, the due-date histogram.

One column query over `documents` and one over `document_departments` give every document's
clock (tens of milliseconds at 10k documents); everything else is computed from that list in
Python, so the dashboard, the exports, the reminders and the audit all agree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Date, String, and_, func, select, type_coerce

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.catalogue.document import Status
from zhengai_docs.cycles.rules import (
    Clock,
    Policy,
    Punctuality,
    RevisionPoint,
    Source,
    State,
    closed_cycle,
    evaluate,
    window_start,
)
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import DepartmentRow, DocumentDepartment, DocumentRow, LevelRow, RevisionRow

ATTENTION = (State.OVERDUE, State.DUE_SOON)


class DocumentCycle(NamedTuple):
    """A document and its clock (a NamedTuple for the same reason as `Clock`)."""

    code: str
    title: str
    doc_type: DocType
    departments: tuple[str, ...]
    clock: Clock

    @property
    def level1(self) -> str:
        return self.code[0]


@dataclass(frozen=True)
class Tally:
    """How many documents are in each state."""

    counts: Mapping[State, int]

    def __getitem__(self, state: State) -> int:
        return self.counts.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Bucket:
    """Documents falling due in one month or quarter."""

    label: str
    start: dt.date
    count: int


_COLUMNS = (
    DocumentRow.code,
    DocumentRow.title,
    DocumentRow.doc_type,
    DocumentRow.status,
    type_coerce(DocumentRow.clock, String),  # parsed below: SQLAlchemy's SQLite date parsing is 10x slower
    DocumentRow.clock_source,
    DocumentRow.cycle_years,
    DocumentRow.cycle_reason,
)
_TYPES = {t.value: t for t in DocType}
_SOURCES = {s.value: s for s in Source}


def document_cycles(db: Database, *, policy: Policy, today: dt.date, codes: Collection[str] | None = None) -> list[DocumentCycle]:
    """Clocks of the documents that have a cycle (in force or draft), in catalogue order."""
    query = select(*_COLUMNS).where(DocumentRow.status.is_not(None))
    dept_query = select(DocumentDepartment.code, DocumentDepartment.department).order_by(
        DocumentDepartment.code, DocumentDepartment.position
    )
    if codes is not None:
        query = query.where(DocumentRow.code.in_(codes))
        dept_query = dept_query.where(DocumentDepartment.code.in_(codes))
    with db.session() as session:
        rows = session.execute(query).all()
        owners: dict[str, list[str]] = defaultdict(list)
        for code, department in session.execute(dept_query):
            owners[code].append(department)
    result = []
    for row in rows:
        clock = _clock(row, policy=policy, today=today)
        if clock is not None:
            code, title, doc_type = row[:3]
            result.append(DocumentCycle(code, title, _TYPES[doc_type], tuple(owners.get(code, ())), clock))
    result.sort(key=_catalogue_order)
    return result


def document_clock(db: Database, code: str, *, policy: Policy, today: dt.date) -> Clock | None:
    """One document's clock alone, in one query: the chip on its page needs no departments."""
    with db.session() as session:
        row = session.execute(select(*_COLUMNS).where(DocumentRow.code == code, DocumentRow.status.is_not(None))).first()
    return None if row is None else _clock(row, policy=policy, today=today)


def _clock(row: Sequence[Any], *, policy: Policy, today: dt.date) -> Clock | None:
    """The clock of one row of `_COLUMNS`."""
    _code, _title, doc_type, status, start, source, years, reason = row
    return evaluate(
        doc_type=_TYPES[doc_type],
        status=status,
        start=_date(start),
        source=_SOURCES.get(source or ""),
        override_years=years,
        override_reason=reason,
        policy=policy,
        today=today,
    )


def refresh_cycles(
    cycles: Sequence[DocumentCycle], changed: Collection[str], db: Database, *, policy: Policy, today: dt.date
) -> list[DocumentCycle]:
    """`cycles` with the clocks of the `changed` documents recomputed (see `db.follow`)."""
    kept = [c for c in cycles if c.code not in changed]
    fresh = document_cycles(db, policy=policy, today=today, codes=changed) if changed else []
    return sorted([*kept, *fresh], key=_catalogue_order)


def _catalogue_order(cycle: DocumentCycle) -> tuple[str, int]:
    return cycle.code[:4], "ZLB".index(cycle.code[4])


def _date(value: str | dt.date | None) -> dt.date | None:
    """A date column read as text (SQLite) or as a date (PostgreSQL drivers convert it anyway)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value[:10])


def document_cycle(db: Database, code: str, *, policy: Policy, today: dt.date) -> DocumentCycle | None:
    found = document_cycles(db, policy=policy, today=today, codes=(code,))
    return found[0] if found else None


def scope(cycles: Iterable[DocumentCycle], *, departments: Collection[str] | None, level1: str | None) -> list[DocumentCycle]:
    """The documents led by any of `departments` and under catalogue level `level1` (None: all)."""
    wanted = None if departments is None else set(departments)
    return [c for c in cycles if (level1 is None or c.code[0] == level1) and (wanted is None or not wanted.isdisjoint(c.departments))]


def attention(cycles: Iterable[DocumentCycle], state: State) -> list[DocumentCycle]:
    """Overdue (most overdue first) or due soon (soonest first)."""
    chosen = [c for c in cycles if c.clock.state is state]
    chosen.sort(key=lambda c: (c.clock.due or dt.date.max, c.code))
    return chosen


def totals(cycles: Iterable[DocumentCycle]) -> Tally:
    return Tally(Counter(c.clock.state for c in cycles))


def by_department(cycles: Iterable[DocumentCycle], order: Sequence[str]) -> list[tuple[str, Tally]]:
    """A document led by two departments counts for both; catalogue order, then any others."""
    counts: dict[str, Counter[State]] = {name: Counter() for name in order}
    for cycle in cycles:
        for department in cycle.departments:
            found = counts.get(department)
            if found is None:
                found = counts[department] = Counter()
            found[cycle.clock.state] += 1
    return [(name, Tally(counter)) for name, counter in counts.items() if counter]


def by_level(cycles: Iterable[DocumentCycle], names: dict[str, str]) -> list[tuple[str, str, Tally]]:
    counts: dict[str, Counter[State]] = defaultdict(Counter)
    for cycle in cycles:
        counts[cycle.code[0]][cycle.clock.state] += 1
    return [(code, names.get(code, code), Tally(counts[code])) for code in sorted(counts)]


def due_histogram(cycles: Iterable[DocumentCycle], *, today: dt.date, months: int = 36, quarterly: bool = False) -> list[Bucket]:
    """Documents falling due in each month (or quarter) from this one on; overdue ones are left out."""
    step = 3 if quarterly else 1
    first = dt.date(today.year, today.month - (today.month - 1) % step, 1)
    starts = [_add_months(first, n) for n in range(0, months, step)]
    counts = [0] * len(starts)
    end = _add_months(first, months)
    for cycle in cycles:
        due = cycle.clock.due
        if due is None or due < today or due >= end:
            continue
        index = ((due.year - first.year) * 12 + due.month - first.month) // step
        counts[index] += 1
    return [Bucket(label=_bucket_label(start, quarterly), start=start, count=count) for start, count in zip(starts, counts, strict=True)]


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _bucket_label(start: dt.date, quarterly: bool) -> str:
    return f"{start.year}年第{(start.month - 1) // 3 + 1}季度" if quarterly else f"{start.year}年{start.month}月"


def department_order(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(DepartmentRow.name).order_by(DepartmentRow.position)))


def level_names(db: Database) -> dict[str, str]:
    with db.session() as session:
        return dict(session.execute(select(LevelRow.code, LevelRow.name).where(LevelRow.parent.is_(None))).all())


# -- history as cycles ------------------------------------------------------------------------


def revision_points(db: Database, code: str) -> list[RevisionPoint]:
    """A document's commits, oldest first, with the clock each version carried."""
    with db.session() as session:
        rows = session.scalars(select(RevisionRow).where(RevisionRow.code == code).order_by(RevisionRow.seq)).all()
    return [
        RevisionPoint(
            commit=r.commit,
            committed=r.date,
            author=r.author_name,
            summary=r.message.split("\n", 1)[0],
            change=r.change,
            clock=r.clock,
            issued=r.issued,
            reviewed=r.reviewed,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class PunctualityReport:
    departments: list[tuple[str, Punctuality]]
    overall: Punctuality  # each document once, however many departments lead it


def closed_cycles(
    db: Database, *, policy: Policy, today: dt.date, years: int, codes: Collection[str] | None = None
) -> dict[str, Punctuality]:
    """Per document (in force or draft): the revision cycles it closed in the last `years` years.

    Consecutive clock changes are found in SQL with a window function, so only the cycles that
    closed inside the window leave the database. `codes` limits it to some documents (see
    `db.follow`).
    """
    since = window_start(today, years)
    revisions = select(RevisionRow.code, RevisionRow.clock, RevisionRow.seq).where(RevisionRow.clock.is_not(None))
    documents = select(DocumentRow.code, DocumentRow.doc_type, DocumentRow.cycle_years).where(
        DocumentRow.status.in_((Status.IN_FORCE.value, Status.DRAFT.value))
    )
    if codes is not None:
        revisions = revisions.where(RevisionRow.code.in_(list(codes)))
        documents = documents.where(DocumentRow.code.in_(list(codes)))
    moves = revisions.subquery()
    previous = func.lag(moves.c.clock, type_=Date).over(partition_by=moves.c.code, order_by=moves.c.seq).label("previous")
    pairs = select(moves.c.code, moves.c.clock, previous).subquery()
    closed = select(pairs.c.code, pairs.c.clock, pairs.c.previous).where(
        and_(pairs.c.clock >= since, pairs.c.clock <= today, pairs.c.previous.is_not(None), pairs.c.clock > pairs.c.previous)
    )
    with db.session() as session:
        info = {code: (DocType(doc_type), cycle_years) for code, doc_type, cycle_years in session.execute(documents)}
        per_document: dict[str, Punctuality] = defaultdict(Punctuality)
        for code, start, before in session.execute(closed):
            if code in info:
                doc_type, override = info[code]
                per_document[code] += closed_cycle(before, start, years=policy.cycle_years(doc_type, override))
    return dict(per_document)


def refresh_closed_cycles(
    closed: Mapping[str, Punctuality], changed: Collection[str], db: Database, *, policy: Policy, today: dt.date, years: int
) -> dict[str, Punctuality]:
    """`closed` with the `changed` documents' cycles read again (see `db.follow`)."""
    kept = {code: value for code, value in closed.items() if code not in changed}
    return kept | (closed_cycles(db, policy=policy, today=today, years=years, codes=changed) if changed else {})


def punctuality_by_department(
    closed: Mapping[str, Punctuality], cycles: Iterable[DocumentCycle], *, order: Sequence[str]
) -> PunctualityReport:
    """Per department: cycles closed in the window (`closed_cycles`), on time or late, and the
    cycles still open past due (today's clocks, from `document_cycles`)."""
    per_document: dict[str, Punctuality] = defaultdict(Punctuality, closed)
    owners: dict[str, tuple[str, ...]] = {}
    for cycle in cycles:
        owners[cycle.code] = cycle.departments
        if cycle.clock.state is State.OVERDUE:
            per_document[cycle.code] += Punctuality(overdue=1)
    result: dict[str, Punctuality] = {name: Punctuality() for name in order}
    for code, value in per_document.items():
        for department in owners.get(code, ()):
            result[department] = result.get(department, Punctuality()) + value
    overall = sum(per_document.values(), Punctuality())
    return PunctualityReport(departments=[(name, value) for name, value in result.items() if value.total], overall=overall)
