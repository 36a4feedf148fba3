"""Whole-library values brought forward commit by commit instead of recomputed.

Dashboards and audits need every document's clock or record: about a second at 10,000
documents. After a save only one document changed, so a `Follower` keeps the value with the
commit and branch position it reflects, and when the cache has moved on it recomputes just the
documents with revisions after that position (the cache numbers revisions by branch position).
A reset branch, a changed key (day, settings) or a change to very many documents falls back to
a full computation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import select

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import RevisionRow
from zhengai_docs.storage.repository import ContentRepository

T = TypeVar("T")


@dataclass(frozen=True)
class CachePosition:
    """Where the cache is: its commit and that commit's place on the first-parent line."""

    commit: str | None
    position: int | None


@dataclass(frozen=True)
class _Entry(Generic[T]):
    key: Hashable
    commit: str | None
    position: int | None
    value: T


class Follower(Generic[T]):
    """One value per process (e.g. every document's clock), kept in step with the cache."""

    def __init__(self, *, max_changed: int = 500) -> None:
        self.max_changed = max_changed
        self._entry: _Entry[T] | None = None
        self._lock = threading.Lock()

    def get(
        self,
        db: Database,
        repo: ContentRepository,
        key: Hashable,
        *,
        at: CachePosition,
        full: Callable[[], T],
        refresh: Callable[[T, frozenset[str]], T],
    ) -> T:
        """The value at the cache position `at`: kept, refreshed for the changed documents, or computed."""
        commit, position = at.commit, at.position
        with self._lock:
            entry = self._entry
            if entry is not None and entry.key == key and entry.commit == commit:
                return entry.value
            changed = self._changed_since(db, repo, entry, commit, position) if entry is not None and entry.key == key else None
            value = full() if changed is None or entry is None else refresh(entry.value, changed)
            self._entry = _Entry(key=key, commit=commit, position=position, value=value)
            return value

    def _changed_since(
        self, db: Database, repo: ContentRepository, entry: _Entry[T], commit: str | None, position: int | None
    ) -> frozenset[str] | None:
        """Codes with revisions after the entry's position, or None when that cannot be trusted."""
        if entry.commit is None or commit is None or entry.position is None or position is None or position < entry.position:
            return None
        if not repo.is_ancestor(entry.commit, commit):  # the branch was reset: positions were reused
            return None
        with db.session() as session:
            query = select(RevisionRow.code).where(RevisionRow.seq > entry.position, RevisionRow.seq <= position).distinct()
            codes = frozenset(session.scalars(query.limit(self.max_changed + 1)))
        return codes if len(codes) <= self.max_changed else None
