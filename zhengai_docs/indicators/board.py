"""Whole-library indicator statuses: every in-force standard's indicators in their due period,
rolled up to diagnostic points, elements, items and departments.

A `Board` is computed from the declarations cached at one commit and the results at one results
version, as of one day; `BoardCache` keeps the latest one per process (and the declarations per
commit), so the warning views read a board in memory and recompute only after a commit, a new
day or a value entered anywhere.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select

from zhengai_docs.catalogue.framework import DiagnosticItem, Element, Framework
from zhengai_docs.db.database import Database
from zhengai_docs.db.follow import CachePosition, Follower
from zhengai_docs.db.models import DocumentRow
from zhengai_docs.indicators import periods
from zhengai_docs.indicators.cache import load_indicators
from zhengai_docs.indicators.declaration import Indicator
from zhengai_docs.indicators.results import current_values
from zhengai_docs.indicators.status import Status, evaluate
from zhengai_docs.storage.repository import ContentRepository

T = TypeVar("T")
_MISSING = object()


@dataclass(frozen=True)
class IndicatorState:
    """One indicator in its due period (and the period before, for comparison)."""

    indicator: Indicator
    title: str  # the standard's title
    period: str
    value_text: str | None  # the current value as entered (None: none, or withdrawn)
    status: Status
    previous_period: str
    previous_text: str | None
    previous_status: Status

    @property
    def value(self) -> str:
        """The current value with its unit, as pages show it; empty when there is none."""
        return "" if self.value_text is None else f"{self.value_text}{self.indicator.unit}"

    @property
    def previous_value(self) -> str:
        return "" if self.previous_text is None else f"{self.previous_text}{self.indicator.unit}"


@dataclass(frozen=True)
class Tally:
    """Indicators per status under one node (a point, an element, a department)."""

    id: str
    name: str
    counts: Mapping[Status, int]

    @property
    def warnings(self) -> int:
        return self.counts.get(Status.WARNING, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, status: Status) -> int:
        return self.counts.get(status, 0)


def _tally(node_id: str, name: str, states: Iterable[IndicatorState]) -> Tally:
    counts: dict[Status, int] = defaultdict(int)
    for state in states:
        counts[state.status] += 1
    return Tally(id=node_id, name=name, counts=dict(counts))


@dataclass(frozen=True)
class Board:
    today: dt.date
    states: tuple[IndicatorState, ...]
    _by_point: Mapping[str, tuple[int, ...]] = field(repr=False)
    _by_code: Mapping[str, tuple[int, ...]] = field(repr=False)
    _memo_values: dict[tuple[object, ...], Any] = field(default_factory=dict, repr=False, compare=False)  # see `memo`

    def only(self, department: str | None) -> tuple[IndicatorState, ...]:
        if not department:
            return self.states
        return tuple(s for s in self.states if department in s.indicator.departments)

    def of_point(self, point_id: str, department: str | None = None) -> list[IndicatorState]:
        states = [self.states[i] for i in self._by_point.get(point_id, ())]
        return [s for s in states if not department or department in s.indicator.departments]

    def of_document(self, code: str) -> list[IndicatorState]:
        return [self.states[i] for i in self._by_code.get(code, ())]

    def get(self, code: str, key: str) -> IndicatorState | None:
        return next((s for s in self.of_document(code) if s.indicator.key == key), None)

    def counts(self, department: str | None = None) -> Tally:
        return self._memo(("counts", department), lambda: _tally("", department or "全部", self.only(department)))

    def with_status(self, status: Status, department: str | None = None) -> list[IndicatorState]:
        return [s for s in self.only(department) if s.status is status]

    def point_tally(self, point_id: str, name: str = "", department: str | None = None) -> Tally:
        return self._memo(("p" + point_id, department), lambda: _tally(point_id, name, self.of_point(point_id, department)))

    def node_tally(self, node: DiagnosticItem | Element, department: str | None = None) -> Tally:
        """All indicators evidencing any point under an element or item (each counted once)."""

        def compute() -> Tally:
            prefix = node.id + "."
            seen: set[int] = set()
            for point_id, indexes in self._by_point.items():
                if point_id.startswith(prefix):
                    seen.update(indexes)
            states = (self.states[i] for i in seen)
            return _tally(node.id, node.name, (s for s in states if not department or department in s.indicator.departments))

        return self._memo(("n" + node.id, department), compute)

    def _memo(self, key: tuple[str, str | None], compute: Callable[[], Tally]) -> Tally:
        return self.memo(key, compute)

    def memo(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """A value derived from this board (a tally, a sorted list), computed once: every page view
        of the same board asks for the same ones. Racing threads may both compute; either result is right."""
        found = self._memo_values.get(key, _MISSING)
        if found is _MISSING:
            found = self._memo_values[key] = compute()
        return found

    def listed(self, department: str | None, status: Status | None, point: str | None = None) -> list[IndicatorState]:
        """The states shown in a list (of a department, a status, a point): worst first, then by
        standard and position."""

        def compute() -> list[IndicatorState]:
            chosen = self.of_point(point, department) if point else self.only(department)
            return sorted(
                (s for s in chosen if status is None or s.status is status),
                key=lambda s: (s.status.rank, s.indicator.code, s.indicator.position),
            )

        return self.memo(("listed", department, status, point), compute)

    def points_with_warning(self, framework: Framework, department: str | None = None) -> list[tuple[Any, list[IndicatorState]]]:
        """(point, its indicators in warning) for every point of the framework with at least one."""

        def compute() -> list[tuple[Any, list[IndicatorState]]]:
            out = []
            for point in framework.points():
                warned = [s for s in self.of_point(point.id, department) if s.status is Status.WARNING]
                if warned:
                    out.append((point, warned))
            return out

        return self.memo(("warned points", framework.id, tuple(p.id for p in framework.points()), department), compute)

    def by_department(self) -> list[Tally]:
        def compute() -> list[Tally]:
            grouped: dict[str, list[IndicatorState]] = defaultdict(list)
            for state in self.states:
                for department in state.indicator.departments:
                    grouped[department].append(state)
            return sorted((_tally(d, d, s) for d, s in grouped.items()), key=lambda t: (-t.warnings, -t.count(Status.MISSING), t.id))

        return self.memo(("by department",), compute)

    def attention(self, departments: tuple[str, ...]) -> tuple[int, int, list[IndicatorState]]:
        """For a home page: (indicators, in warning, those in warning or missing, worst first) of
        the departments (all: none named)."""

        def compute() -> tuple[int, int, list[IndicatorState]]:
            mine = [s for s in self.states if not departments or set(departments) & set(s.indicator.departments)]
            flagged = sorted(
                (s for s in mine if s.status in (Status.WARNING, Status.MISSING)), key=lambda s: (s.status.rank, s.indicator.code)
            )
            return len(mine), sum(1 for s in mine if s.status is Status.WARNING), flagged

        return self.memo(("attention", departments), compute)


def build_board(db: Database, *, today: dt.date, indicators: Sequence[Indicator] | None = None) -> Board:
    """Statuses of every in-force standard's indicators in their due periods as of `today`."""
    declared = list(indicators) if indicators is not None else load_indicators(db)
    due = {kind: periods.due(kind, today) for kind in {i.period for i in declared}}
    wanted = set(due.values()) | {periods.previous(key) for key in due.values()}
    values = current_values(db, period_keys=wanted) if wanted else {}
    codes = sorted({i.code for i in declared})
    with db.session() as session:  # only the declaring standards' titles: at 10,000 documents most declare none
        titles = dict(session.execute(select(DocumentRow.code, DocumentRow.title).where(DocumentRow.code.in_(codes))).all())
    states: list[IndicatorState] = []
    by_point: dict[str, list[int]] = defaultdict(list)
    by_code: dict[str, list[int]] = defaultdict(list)
    for indicator in declared:
        period = due[indicator.period]
        before = periods.previous(period)
        now = values.get((indicator.code, indicator.key, period), _NONE)[1]
        then = values.get((indicator.code, indicator.key, before), _NONE)[1]
        index = len(states)
        states.append(
            IndicatorState(
                indicator=indicator,
                title=titles.get(indicator.code, indicator.code),
                period=period,
                value_text=now,
                status=evaluate(indicator, None if now is None else Decimal(now)),
                previous_period=before,
                previous_text=then,
                previous_status=evaluate(indicator, None if then is None else Decimal(then)),
            )
        )
        for point_id in indicator.points:
            by_point[point_id].append(index)
        by_code[indicator.code].append(index)
    return Board(
        today=today,
        states=tuple(states),
        _by_point={k: tuple(v) for k, v in by_point.items()},
        _by_code={k: tuple(v) for k, v in by_code.items()},
    )


_NONE: tuple[int, str | None] = (0, None)


class BoardCache:
    """The latest board of this process, and the declarations brought forward commit by commit
    (a `Follower`: after a save only its standard is read again). One board is kept: at 50,000
    indicators it is tens of megabytes, and only the newest is asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._declared: Follower[list[Indicator]] = Follower()
        self._board: tuple[list[Indicator], dt.date, int, Board] | None = None  # built from, day, results version

    def get(self, *, db: Database, repo: ContentRepository, at: CachePosition, today: dt.date, version: int) -> Board:
        declared = self._declared.get(
            db, repo, "declared", at=at, full=lambda: load_indicators(db), refresh=lambda previous, changed: _refresh(db, previous, changed)
        )
        # The board depends on the commit only through the declarations (and their standards'
        # titles, which a commit can change only by changing the standard, i.e. its declarations):
        # a commit that touched no declaring standard keeps the very same list, and the board.
        with self._lock:
            if self._board is not None:
                built_from, day, built_version, board = self._board
                if built_from is declared and day == today and built_version == version:
                    return board
        board = build_board(db, today=today, indicators=declared)
        with self._lock:
            self._board = (declared, today, version, board)
        return board


def _refresh(db: Database, previous: list[Indicator], changed: frozenset[str]) -> list[Indicator]:
    """The declarations with the `changed` standards read again, in catalogue order; the previous
    list itself when none of them declares indicators, before or after (most commits)."""
    kept = [i for i in previous if i.code not in changed]
    reloaded = load_indicators(db, codes=sorted(changed))
    if not reloaded and len(kept) == len(previous):
        return previous
    return sorted([*kept, *reloaded], key=lambda i: (i.code, i.position))
