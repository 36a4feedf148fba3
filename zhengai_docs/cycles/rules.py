"""The date rules of revision cycles, as pure functions so pages, reminders and audits agree.

A document's clock starts at the later of its issue/revision date (`issued`) and its last
"reviewed, no change" date (`reviewed`); without either, at the Shanghai calendar date of the
commit that published the version in force. It falls due a whole number of years later, counted
from that anchor every time (never step by step, which drifts after a leap day): 2020-02-29 plus
three years is 2023-02-28. The due date itself is the last day in time; the day after, the
document is overdue.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from zhengai_docs.catalogue.codes import DocType
from zhengai_docs.catalogue.document import Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_YEARS = 3
DEFAULT_DUE_SOON_DAYS = 90


class State(enum.Enum):
    CURRENT = "current"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    NEVER_ISSUED = "never_issued"

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {State.CURRENT: "正常", State.DUE_SOON: "即将到期", State.OVERDUE: "已逾期", State.NEVER_ISSUED: "未发布"}


class Source(enum.Enum):
    """What started the clock."""

    ISSUED = "issued"
    REVIEWED = "reviewed"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return {"issued": "发布/修订日期", "reviewed": "审核未修订", "published": "发布提交日期"}[self.value]


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar date in Shanghai of an aware moment (a commit made at 23:30 UTC is the next day)."""
    if moment.tzinfo is None:
        raise ValueError("a time zone is needed to know the calendar date in Shanghai")
    return moment.astimezone(SHANGHAI).date()


def today(now: dt.datetime | None = None) -> dt.date:
    return local_date(now or dt.datetime.now(dt.UTC))


def clock_start(*, issued: dt.date | None, reviewed: dt.date | None, published: dt.datetime | None) -> dt.date | None:
    dates = [d for d in (issued, reviewed) if d is not None]
    if dates:
        return max(dates)
    return None if published is None else local_date(published)


def clock_source(*, start: dt.date | None, issued: dt.date | None, reviewed: dt.date | None) -> Source | None:
    if start is None:
        return None
    if reviewed is not None and reviewed == start and (issued is None or reviewed > issued):
        return Source.REVIEWED
    return Source.ISSUED if issued == start else Source.PUBLISHED


@dataclass(frozen=True)
class Policy:
    """Cycle length per document type and the due-soon window (from settings)."""

    years: Mapping[DocType, int]
    due_soon_days: int = DEFAULT_DUE_SOON_DAYS

    @classmethod
    def default(cls) -> Policy:
        return cls(years=dict.fromkeys(DocType, DEFAULT_YEARS))

    @property
    def key(self) -> tuple[object, ...]:
        """Hashable identity, for caches of results computed under this policy."""
        return (*sorted((t.value, y) for t, y in self.years.items()), self.due_soon_days)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Policy:
        years = {t: int(settings[f"CYCLE_YEARS_{t.value}"]) for t in DocType}
        due_soon = int(settings["CYCLE_DUE_SOON_DAYS"])
        if any(not 1 <= y <= 10 for y in years.values()) or not 0 <= due_soon <= 366:
            raise ValueError("CYCLE_YEARS_* must be 1–10 and CYCLE_DUE_SOON_DAYS 0–366")
        return cls(years=years, due_soon_days=due_soon)

    def cycle_years(self, doc_type: DocType, override: int | None) -> int:
        return override if override is not None else self.years[doc_type]


class Clock(NamedTuple):
    """Where one document stands in its cycle on a given day.

    A NamedTuple rather than a frozen dataclass: dashboards build one per document (10k and
    more), and frozen dataclasses are about seven times slower to create.
    """

    state: State
    start: dt.date | None
    source: Source | None
    years: int
    override_reason: str | None
    due: dt.date | None
    days_left: int | None

    @property
    def summary(self) -> str:
        """The chip's tooltip and the text that stands in for colour."""
        if self.due is None or self.days_left is None:
            return "尚未发布，修订周期未开始"
        if self.days_left < 0:
            return f"应于 {self.due} 前修订，已逾期 {-self.days_left} 天"
        return f"应于 {self.due} 前修订，还有 {self.days_left} 天"


def evaluate(
    *,
    doc_type: DocType,
    status: str | None,
    start: dt.date | None,
    source: Source | None,
    override_years: int | None,
    override_reason: str | None,
    policy: Policy,
    today: dt.date,
) -> Clock | None:
    """A document's clock; None for repealed or unparseable documents, which have no cycle."""
    if status not in _TRACKED:
        return None
    years = policy.cycle_years(doc_type, override_years)
    if status == _DRAFT or start is None:
        return Clock(_NEVER_ISSUED, None, None, years, override_reason, None, None)
    due = add_years(start, years)
    days_left = (due - today).days
    if days_left < 0:
        state = _OVERDUE
    elif days_left <= policy.due_soon_days:
        state = _DUE_SOON
    else:
        state = _CURRENT
    return Clock(state, start, source, years, override_reason, due, days_left)


# Plain module constants: enum attribute lookups cost a descriptor call each, 10k times a page.
_DRAFT = Status.DRAFT.value
_TRACKED = frozenset({Status.IN_FORCE.value, _DRAFT})
_CURRENT, _DUE_SOON, _OVERDUE, _NEVER_ISSUED = State.CURRENT, State.DUE_SOON, State.OVERDUE, State.NEVER_ISSUED


# -- history as cycles -------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionPoint:
    """One commit of one document, with the clock that version carried."""

    commit: str
    committed: dt.datetime
    author: str
    summary: str
    change: str
    clock: dt.date | None
    issued: dt.date | None
    reviewed: dt.date | None


@dataclass(frozen=True)
class CycleEvent:
    """A revision or review that moved the clock, measured against the cycle it closed."""

    point: RevisionPoint
    start: dt.date
    source: Source | None
    previous: dt.date | None
    due: dt.date | None
    gap_days: int | None

    @property
    def on_time(self) -> bool | None:
        return None if self.due is None else self.start <= self.due

    @property
    def gap_text(self) -> str:
        if self.previous is None:
            return "首次发布"
        years = self.start.year - self.previous.year
        if add_years(self.previous, years) > self.start:
            years -= 1
        days = (self.start - add_years(self.previous, years)).days
        return f"{years} 年 {days} 天" if years else f"{days} 天"


def cycle_events(points: Sequence[RevisionPoint], *, years: int) -> list[CycleEvent]:
    """Oldest first. Edits that leave the clock alone are not cycles; deletions reset it."""
    events: list[CycleEvent] = []
    previous: dt.date | None = None
    for point in points:
        if point.change == "D":
            previous = None
            continue
        if point.clock is None or point.clock == previous:
            continue
        source = clock_source(start=point.clock, issued=point.issued, reviewed=point.reviewed)
        if previous is None or point.clock < previous:  # first issue, or an older version restored
            events.append(CycleEvent(point, point.clock, source, None, None, None))
        else:
            due = add_years(previous, years)
            events.append(CycleEvent(point, point.clock, source, previous, due, (point.clock - previous).days))
        previous = point.clock
    return events


@dataclass(frozen=True)
class Punctuality:
    """Cycles closed on time, closed late, and still open past their due date."""

    on_time: int = 0
    late: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def ratio(self) -> float | None:
        return self.on_time / self.total if self.total else None

    def __add__(self, other: Punctuality) -> Punctuality:
        return Punctuality(self.on_time + other.on_time, self.late + other.late, self.overdue + other.overdue)


def closed_cycle(previous: dt.date, start: dt.date, *, years: int) -> Punctuality:
    """One cycle closed by the revision or review dated `start`."""
    return Punctuality(on_time=1) if start <= add_years(previous, years) else Punctuality(late=1)


def window_start(today: dt.date, years: int) -> dt.date:
    return add_years(today, -years)
