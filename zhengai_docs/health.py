"""Can this instance take a save now, and how far do its caches lag? What `/healthz` reports,
and what `doctor` finds about the search index (`index_drift`).

Cheap enough to be polled every few seconds: no scan of documents or history. A probe file is
written and removed in each folder a save writes to (the objects, the branch's refs, the search
index), the head is one ref-file read, the cache's commit one row, the index's commit its state
entry, the database `SELECT 1`; only a lag is counted, with one `git rev-list --count`. A node
with a central repository (`CONTENT_REMOTE`) also asks it for its branch (`git ls-remote`, within
the remote's timeout): a save is published there first, so a node that cannot reach it cannot save.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from zhengai_docs.db.sync import cached_commit
from zhengai_docs.errors import StorageUnavailable
from zhengai_docs.library import Library
from zhengai_docs.storage import faults
from zhengai_docs.storage.repository import ContentRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lag:
    """A projection of the branch (the SQL cache, the search index) and how far behind it is."""

    commit: str | None  # the commit it reflects (None: empty, or unknown)
    behind: int | None  # commits it lacks; None when unknown (no such commit, history rewritten)

    @property
    def current(self) -> bool:
        return self.behind == 0


@dataclass(frozen=True)
class Health:
    head: str | None
    repository: str | None  # why the content repository cannot be written, or None
    database: str | None  # why the database cannot be reached, or None
    search_index: str | None  # why the search index cannot be written, or None (also: no index configured)
    index_exists: bool
    cache: Lag | None  # None when the database could not be read
    index: Lag | None  # None when there is no index
    central: Central | None = None  # None: no central repository (a single machine)

    @property
    def accepts_writes(self) -> bool:
        """A save would be written whole: to git (and the central repository), the database and the index."""
        central_ok = self.central is None or self.central.problem is None
        return self.repository is None and self.database is None and self.search_index is None and central_ok

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.accepts_writes else "unavailable",
            "accepts_writes": self.accepts_writes,
            "head": self.head,
            "repository": _part(self.repository, writable=True),
            "database": _part(self.database, writable=False),
            "search_index": {**_part(self.search_index, writable=True), "exists": self.index_exists, **_lag(self.index)},
            "cache": _lag(self.cache),
            "central": None if self.central is None else self.central.as_json(self.head),
        }


@dataclass(frozen=True)
class Central:
    """The central repository as this node reaches it: its branch head, or why it cannot be reached."""

    head: str | None
    problem: str | None

    def as_json(self, mirror_head: str | None) -> dict[str, Any]:
        # the mirror lags until the next request's fetch; only a problem makes the node refuse saves
        mirrored = None if self.problem else self.head == mirror_head
        return {**_part(self.problem, writable=False), "head": self.head, "mirror_current": mirrored}


def check(library: Library) -> Health:
    """Every probe runs even when an earlier one failed; none raises."""
    repo = library.repo
    head = repo.head()
    repository = _repository_fault(repo)
    database, cached = _database(library)
    index_fault: str | None = None
    index_exists = False
    index: Lag | None = None
    if library.search is not None:
        backend = library.search.backend
        try:
            state = backend.state()
            index_exists = state.exists
            index = lag_of(repo, state.commit, head) if state.exists else None
        except Exception:  # an index that cannot be read is reported, never raised
            log.warning("search index state unreadable", exc_info=True)
            index_fault = "无法读取"
        index_fault = index_fault or backend.unwritable()
    return Health(
        head=head,
        repository=repository,
        database=database,
        search_index=index_fault,
        index_exists=index_exists,
        cache=None if database else lag_of(repo, cached, head),
        index=index,
        central=_central(repo),
    )


def index_behind(library: Library, commit: str) -> tuple[bool, str | None]:
    """After a save of `commit`: (is it missing from the search index, why the index cannot be
    written or None when it is only busy). No index at all is not "behind": search says so."""
    if library.search is None:
        return False, None
    if library.search.covers(commit):  # this process saw the index take it: no need to open the index
        return False, None
    try:
        state = library.search.backend.state()
    except Exception:
        log.warning("search index state unreadable", exc_info=True)
        return True, library.search.backend.unwritable()
    if not state.exists or state.commit == commit:
        return False, None
    if state.commit is not None and library.repo.is_ancestor(commit, state.commit):
        return False, None  # a later save was indexed, this one with it
    return True, library.search.backend.unwritable()


@dataclass(frozen=True)
class IndexDrift:
    """How the search index differs from the branch, for `doctor`, and the repair it needs."""

    problem: str  # Chinese
    repair: str | None  # "catch-up" or "rebuild"; None: a person must act (e.g. a read-only disk)


def index_drift(library: Library) -> IndexDrift | None:
    """None when the index reflects the head with this version's analysis (or there is no index
    configured); otherwise the problem and the repair that needs no person."""
    if library.search is None:
        return None
    backend, repo = library.search.backend, library.repo
    cause = backend.unwritable()
    if cause is not None:
        return IndexDrift(f"搜索索引无法写入（{cause}）：搜索会停在旧版本，请检查索引目录所在的磁盘", None)
    try:
        state = backend.state()
    except Exception:
        log.warning("search index state unreadable", exc_info=True)
        return IndexDrift("搜索索引无法读取（文件损坏？）", "rebuild")
    if not state.exists:
        return IndexDrift("搜索索引尚未建立，或来自旧版本", "rebuild")
    if not state.analysis_current:
        return IndexDrift("搜索索引是用旧的词典或分词规则建立的", "rebuild")
    head = repo.head()
    lag = lag_of(repo, state.commit, head)
    if lag.current:
        return None
    if lag.behind is None:
        return IndexDrift(f"搜索索引对应的提交 {_short(state.commit)} 不在当前分支 {_short(head)} 的历史上（分支被改写？）", "catch-up")
    return IndexDrift(f"搜索索引停留在 {_short(state.commit)}，仓库已到 {_short(head)}（落后 {lag.behind} 个提交）", "catch-up")


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "（空）"


def _repository_fault(repo: ContentRepository) -> str | None:
    if not repo.exists():
        return "内容仓库不存在"
    for folder in repo.write_dirs():
        cause = faults.probe(folder)
        if cause is not None:
            return cause
    return None


def _central(repo: ContentRepository) -> Central | None:
    if repo.remote is None:
        return None
    try:
        return Central(head=repo.remote.list_central_ref(repo.ref), problem=None)
    except StorageUnavailable:
        log.warning("central repository unreachable", exc_info=True)
        return Central(head=None, problem="无法连接")


def _database(library: Library) -> tuple[str | None, str | None]:
    """(why the database is unreachable or None, the cache's commit)."""
    try:
        with library.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None, cached_commit(library.db)
    except SQLAlchemyError:
        log.warning("database unreachable", exc_info=True)
        return "无法连接", None


def lag_of(repo: ContentRepository, commit: str | None, head: str | None) -> Lag:
    """How far a projection at `commit` is behind `head` (counted only when it differs)."""
    if commit == head:
        return Lag(commit=commit, behind=0)
    if head is None:
        return Lag(commit=commit, behind=None)
    try:
        if commit is not None and not repo.is_ancestor(commit, head):
            return Lag(commit=commit, behind=None)  # the branch was rewritten: a rebuild follows
        return Lag(commit=commit, behind=repo.count_between(commit, head))
    except Exception:
        log.warning("lag behind %s not counted", head[:12], exc_info=True)
        return Lag(commit=commit, behind=None)


def _part(fault: str | None, *, writable: bool) -> dict[str, Any]:
    return {"ok": fault is None, **({"writable": fault is None} if writable else {"reachable": fault is None}), "problem": fault}


def _lag(lag: Lag | None) -> dict[str, Any]:
    return {"commit": lag.commit if lag else None, "behind": lag.behind if lag else None}
