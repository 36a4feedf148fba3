"""Whole-library values at the cached commit: every document's clock, its closed cycles, the audit
snapshot, and results derived from them — one object per process, followed commit by commit.

A dashboard or an audit needs every document's record (most of a second at 10,000 documents),
and those only change with a commit, a new day or other settings. `LibraryState` keeps them per
process: each is a `Follower` (db/follow.py) that recomputes only the documents changed since
the commit it reflects, and derived results (a department's scope, the coverage of a framework)
are kept per commit in a small cache. `LibraryState.at()` asks the database once which commit the
cache is at, and every value a request reads comes from that one answer.

A new whole-library value goes here: a `Follower` (with its `full` and `refresh` functions) when
it can be brought forward document by document, otherwise `View.cached` with a key.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zhengai_docs import coverage as cov
from zhengai_docs.cycles import report, rules
from zhengai_docs.db.database import Database
from zhengai_docs.db.follow import CachePosition, Follower
from zhengai_docs.db.sync import cached_state
from zhengai_docs.indicators import results
from zhengai_docs.indicators.board import Board, BoardCache
from zhengai_docs.storage.repository import ContentRepository

T = TypeVar("T")


class ResultCache:
    """Derived results of the newest generations (commit, day, settings), keyed by what was asked.

    Only the `generations` most recent generations are kept: a result of an older commit is
    never asked for again once requests have moved on, and at 10,000 documents one result (a
    whole overview) is megabytes. Two, so that a request still reading the previous commit
    while another sees the new one does not evict it.
    """

    def __init__(self, *, generations: int = 2, per_generation: int = 64) -> None:
        self._entries: OrderedDict[Hashable, OrderedDict[Hashable, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._generations = generations
        self._per_generation = per_generation

    def get(self, generation: Hashable, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            entries = self._entries.get(generation)
            if entries is not None and key in entries:
                entries.move_to_end(key)
                return entries[key]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            entries = self._entries.setdefault(generation, OrderedDict())
            self._entries.move_to_end(generation)
            entries[key] = value
            while len(entries) > self._per_generation:
                entries.popitem(last=False)
            while len(self._entries) > self._generations:
                self._entries.popitem(last=False)
        return value


@dataclass
class LibraryState:
    """The per-process home of whole-library values (see the module docstring)."""

    db: Database
    repo: ContentRepository
    settings: Mapping[str, Any]
    policy: rules.Policy
    clock: Callable[[], dt.date] | None = None  # None: `rules.today`, looked up when asked (tests replace it)
    _clocks: Follower[list[report.DocumentCycle]] = field(default_factory=Follower)
    _closed: dict[int, Follower[dict[str, rules.Punctuality]]] = field(default_factory=dict)
    _snapshot: Follower[cov.Snapshot] = field(default_factory=Follower)
    _results: ResultCache = field(default_factory=ResultCache)
    _indicators: BoardCache = field(default_factory=BoardCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self) -> View:
        """The values at the commit the cache is at now (one database question), as of today."""
        commit, position = cached_state(self.db)
        return View(state=self, position=CachePosition(commit=commit, position=position), today=self.today())

    def today(self) -> dt.date:
        """Today as these values see it (tests replace `clock`), without asking the database."""
        return (self.clock or rules.today)()

    def _closed_follower(self, years: int) -> Follower[dict[str, rules.Punctuality]]:
        with self._lock:
            return self._closed.setdefault(years, Follower())


@dataclass(frozen=True)
class View:
    """Whole-library values for one request: one commit, one day, one policy."""

    state: LibraryState
    position: CachePosition
    today: dt.date

    @property
    def policy(self) -> rules.Policy:
        return self.state.policy

    @property
    def _key(self) -> Hashable:
        return (self.today, self.policy.key)

    def cycles(self) -> list[report.DocumentCycle]:
        """Every document's revision clock."""
        db, policy, today = self.state.db, self.policy, self.today
        return self.state._clocks.get(
            db,
            self.state.repo,
            self._key,
            at=self.position,
            full=lambda: report.document_cycles(db, policy=policy, today=today),
            refresh=lambda previous, changed: report.refresh_cycles(previous, changed, db, policy=policy, today=today),
        )

    def closed_cycles(self, years: int) -> dict[str, rules.Punctuality]:
        """Each document's revision cycles closed in the last `years` years."""
        db, policy, today = self.state.db, self.policy, self.today
        return self.state._closed_follower(years).get(
            db,
            self.state.repo,
            self._key,
            at=self.position,
            full=lambda: report.closed_cycles(db, policy=policy, today=today, years=years),
            refresh=lambda previous, changed: report.refresh_closed_cycles(previous, changed, db, policy=policy, today=today, years=years),
        )

    def snapshot(self) -> cov.Snapshot:
        """Every document's audit record (coverage, gaps, flags)."""
        db, settings, today = self.state.db, self.state.settings, self.today
        return self.state._snapshot.get(
            db,
            self.state.repo,
            self._key,
            at=self.position,
            full=lambda: cov.audit_snapshot(db, settings, today),
            refresh=lambda previous, changed: cov.refresh_audit_snapshot(previous, changed, db, settings, today),
        )

    def indicator_board(self) -> Board:
        """Every in-force indicator's status in its due period; recomputed after a commit, a new
        day or any value entered (the results counter is one more database question)."""
        db = self.state.db
        return self.state._indicators.get(db=db, repo=self.state.repo, at=self.position, today=self.today, version=results.version(db))

    def cached(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """A result derived from the values above, computed once per commit, day and policy."""
        return self.state._results.get((self.position.commit, self.today, self.policy.key), key, compute)
