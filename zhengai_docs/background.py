"""The background follower: keeps the SQL cache and the search index at the branch head, merges
the index's small segments and packs the content repository, so that no user's request does
bulk work (a `git push` of 5,000 documents took a page view 200 s before).

Every serving process starts one follower thread; an exclusive file lock in the instance folder
lets exactly one of them work at a time. The operating system releases the lock when its process
dies, and another process's follower takes over within a few seconds. Page views meanwhile sync
at most a save's worth of the SQL cache themselves (`PAGE_SYNC_DOCUMENTS`; on one machine the
search index is left to the saves and this thread) and say when they show an older commit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh.util.filelock import FileLock

from zhengai_docs.errors import StorageError
from zhengai_docs.library import Library
from zhengai_docs.search.backend import IndexBusy, IndexMissing
from zhengai_docs.search.indexer import SearchIndex

log = logging.getLogger(__name__)

PAGE_SYNC_DOCUMENTS = 1  # documents a page view syncs itself; more are the follower's
MERGE_EVERY = 20  # index moves after which the follower merges even while saves go on
INDEX_WAIT = 30.0  # seconds the follower waits for the index writer (a save may hold it)
REBUILD_RETRY = 600.0  # seconds before a failed rebuild of a missing or outdated index is tried again


@dataclass(frozen=True)
class Housekeeping:
    """When the follower packs the repository: once this many more objects are loose than the
    last pack left (each save leaves about seven), checked at most every `check_seconds`."""

    loose_objects: int = 500
    check_seconds: float = 60.0


class BackgroundFollower:
    """A daemon thread that follows the branch head for its process, when it holds the lock."""

    def __init__(
        self,
        *,
        library: Library,
        lock_path: Path,
        interval: float = 1.0,
        housekeeping: Housekeeping | None = None,
        fetch_seconds: float = 5.0,
    ) -> None:
        self.library = library
        self.fetch_seconds = fetch_seconds  # CONTENT_REMOTE: how often pushes made elsewhere are fetched
        self._fetched_at: float | None = None
        self.lock_path = lock_path
        self.interval = interval
        self.housekeeping = housekeeping or Housekeeping()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = FileLock(str(lock_path))
        self._holding = False
        self._checked_at: float | None = None
        # Objects the last pack left loose: unreachable ones (a write that lost its compare-and-swap,
        # the refused side of a conflict), which `repack -d` keeps and `gc` prunes after two weeks.
        # Counted as due, they made every check for those two weeks pack and rewrite the commit-graph.
        self._loose_left = 0
        self._merge_seen: str | None = None  # the index commit the last round saw
        self._moves = 0  # index moves since the last merge check
        self._index_checked = False  # has this follower seen the index current (version, dictionary)?
        self._rebuild_tried_at: float | None = None

    def start(self) -> BackgroundFollower:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="zhengai-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._holding:
            self._lock.release()
            self._holding = False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a broken repository or database is doctor's business: keep following
                log.exception("background follower: step failed")
            self._stop.wait(self.interval)

    def step(self) -> bool:
        """One round: take the lock if free, then bring cache and index to the head. True if it worked."""
        if not self._holding:
            self._holding = bool(self._lock.acquire(blocking=False))
            if not self._holding:
                return False
        self._fetch_when_due()
        self.library.sync()
        search = self.library.search
        if search is not None:
            followed = search.follow(wait=True)
            if followed:
                self._merge_when_quiet(search)
            if not followed or not self._index_checked:
                self._rebuild_when_outdated(search)
        self._pack_when_due()
        return True

    def _rebuild_when_outdated(self, search: SearchIndex) -> None:
        """Build the index again when there is none, or it comes from an older version of the
        program or another dictionary (an upgrade, an edited dictionary and a restart): what
        `doctor` repairs, done here so that search comes back without an administrator. Searches
        say the index is not built meanwhile; an index that is merely busy is left alone."""
        now = time.monotonic()
        if self._rebuild_tried_at is not None and now - self._rebuild_tried_at < REBUILD_RETRY:
            return
        state = search.backend.state()
        self._index_checked = True
        if state.exists and state.analysis_current:
            return
        self._rebuild_tried_at = now
        log.warning("background follower: the search index is missing or outdated; rebuilding it")
        try:
            result = search.rebuild()
        except IndexBusy:
            return  # `zhengai-docs reindex` or another node is building it
        except Exception:
            log.exception("background follower: the search index could not be rebuilt; retrying in %.0f s", REBUILD_RETRY)
            return
        log.info("background follower: search index rebuilt, %d documents in %.0f s", result.documents, time.monotonic() - now)

    def _fetch_when_due(self) -> None:
        """With a central repository, fetch every `fetch_seconds`, so commits pushed there by
        other means than a node (plain `git push`, another node whose cache update was lost)
        are followed; nodes' own saves are seen sooner, through the shared cache."""
        remote = self.library.repo.remote
        now = time.monotonic()
        if remote is None or (self._fetched_at is not None and now - self._fetched_at < self.fetch_seconds):
            return
        self._fetched_at = now
        try:
            remote.fetch()
        except StorageError:
            log.warning("background follower: central content repository not reachable", exc_info=True)

    def _merge_when_quiet(self, search: SearchIndex) -> None:
        """Merge the index's small segments once saves pause for a round (or after `MERGE_EVERY`
        index moves under a steady stream of saves): saves never wait for a merge, but copying
        segments takes the CPU that requests want."""
        indexed = search.indexed
        if indexed != self._merge_seen:
            self._merge_seen = indexed
            self._moves += 1
            if self._moves < MERGE_EVERY:
                return
        elif self._moves == 0:
            return  # merged (or checked) since the index last moved
        with contextlib.suppress(IndexBusy, IndexMissing):  # a rebuild or a long save holds it: next round
            search.backend.merge_segments(timeout=INDEX_WAIT)
            self._moves = 0

    def _pack_when_due(self) -> None:
        now = time.monotonic()
        if self._checked_at is not None and now - self._checked_at < self.housekeeping.check_seconds:
            return
        self._checked_at = now
        repo = self.library.repo
        loose = repo.loose_objects()
        self._loose_left = min(self._loose_left, loose)  # pruned meanwhile (`doctor` runs `gc`)
        if loose - self._loose_left < self.housekeeping.loose_objects:
            return
        repo.optimise()  # incremental `git repack` and the commit-graph; ref updates go on meanwhile
        self._loose_left = repo.loose_objects()
        log.info("content repository packed: %d loose objects in %.1f s, %d left loose", loose, time.monotonic() - now, self._loose_left)
