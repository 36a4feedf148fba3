"""What one process already knows about git objects: commits it wrote, files it read.

After a save, the SQL cache and the search index catch up with the commit the save has just
made; asked of git, that is a `merge-base`, a `log`, a `diff-tree`, two `cat-file` and an
`ls-tree` — six process starts (each several milliseconds of CPU) about objects this very
process built a moment earlier. Commits, trees and blobs never change once written, so the
answers kept here cannot go stale, whatever the refs do meanwhile and whatever other processes
write: another process simply does not have them and asks git. Nothing here is a lock or a
decision: every compare-and-swap still runs in git.

Bounded: the newest `COMMITS` commits, blobs and file versions up to a size each and in all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from zhengai_docs.storage.repository import FileVersion, Revision

COMMITS = 64
ENTRIES = 128  # blobs, and file versions read
ENTRY_BYTES = 256 * 1024  # larger blobs and texts are not kept (a 500-page regulation is ~1 MB)
TOTAL_BYTES = 8 * 1024 * 1024  # per kind, per repository and process

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class WrittenCommit:
    """A commit this process made on top of one parent, as `log --raw` would describe it."""

    commit: str
    parent: str
    revision: Revision
    raw: tuple[str, ...]  # `diff-tree -r --raw -z` tokens against the parent: info, path, info, path …
    names: Mapping[str, frozenset[str]]  # each directory of a changed path -> its entry names at `commit`


class _Bounded(Generic[K, V]):
    """A thread-safe LRU map bounded in entries and in the sum of the values' sizes."""

    def __init__(self, *, entries: int, total: int) -> None:
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._entries = entries
        self._total = total
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, *, size: int = 0) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._items[key] = (value, size)
            self._size += size
            while len(self._items) > self._entries or self._size > self._total:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= dropped


class Recent:
    """One repository's memory of recent objects in this process (see the module's docstring)."""

    def __init__(self) -> None:
        self._commits: _Bounded[str, WrittenCommit] = _Bounded(entries=COMMITS, total=1 << 62)
        self._blobs: _Bounded[str, bytes] = _Bounded(entries=ENTRIES, total=TOTAL_BYTES)
        self._reads: _Bounded[tuple[str, str], FileVersion] = _Bounded(entries=ENTRIES, total=TOTAL_BYTES)

    def wrote(self, written: WrittenCommit, blobs: Mapping[str, bytes]) -> None:
        """Remember a commit (once its ref has moved to it) and the contents of its new text blobs."""
        for sha, data in blobs.items():
            if len(data) <= ENTRY_BYTES:
                self._blobs.put(sha, data, size=len(data))
        self._commits.put(written.commit, written)

    def commit(self, sha: str) -> WrittenCommit | None:
        return self._commits.get(sha)

    def blob(self, sha: str) -> bytes | None:
        return self._blobs.get(sha)

    def chain(self, since: str, until: str) -> list[WrittenCommit] | None:
        """The commits after `since` up to `until`, oldest first, when this process wrote them
        all one upon the other (None otherwise: git must answer)."""
        found: list[WrittenCommit] = []
        sha = until
        while sha != since and len(found) < COMMITS:
            written = self._commits.get(sha)
            if written is None:
                return None
            found.append(written)
            sha = written.parent
        return found[::-1] if sha == since and found else None

    def read(self, commit: str, path: str) -> FileVersion | None:
        return self._reads.get((commit, path))

    def remember_read(self, version: FileVersion) -> None:
        size = len(version.text) * 3  # an upper bound of its UTF-8 size
        if size <= ENTRY_BYTES:
            self._reads.put((version.commit, version.path), version, size=size)
