"""Where the Whoosh index lives: generations in one folder, a pointer to the live one, locks.

    <root>/CURRENT        name of the live generation (replaced atomically)
    <root>/g<ns>-<pid>/   one complete Whoosh index per generation
    <root>/WRITELOCK      held by the one process that changes the live index
    <root>/REBUILDLOCK    held by the one process that builds a new generation
    <root>/MERGELOCK      held by the one process that merges segments (`whoosh_merge`)
    <root>/merging-<pid>/ a merged segment being written, outside the writer lock

A rebuild writes a new generation beside the live one, so searches and incremental updates go
on during a reindex; it then catches up and swaps `CURRENT` under the writer lock. Locks are
`flock`/`msvcrt` file locks: the operating system releases them when a process dies, so a
crashed worker never leaves the index locked.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.util.filelock import FileLock

from zhengai_docs.search.backend import IndexBusy, IndexMissing
from zhengai_docs.search.schema import build_schema

_GENERATION = re.compile(r"g[0-9]{20}-[0-9]{1,10}")
# Seconds between tries for a held lock: a save waits for another's index update (20-100 ms),
# and at 10 ms each wait ran ~5 ms past the release on average; a try costs microseconds.
_POLL = 0.002


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._indexes: dict[str, Any] = {}
        self._open_lock = threading.Lock()

    # -- generations ------------------------------------------------------------------------

    def current_name(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return name if _GENERATION.fullmatch(name) and (self.root / name).is_dir() else None

    def open(self, name: str) -> Any:
        """The Whoosh index of a generation, opened once per process."""
        ix = self._indexes.get(name)
        if ix is None:
            with self._open_lock:
                ix = self._indexes.get(name)
                if ix is None:
                    try:
                        ix = whoosh_index.open_dir(str(self.root / name))
                    except Exception as exc:  # missing files, or a schema this version cannot unpickle
                        raise IndexMissing("搜索索引无法打开，请运行 zhengai-docs reindex 重建") from exc
                    self._indexes = {name: ix}  # older generations are no longer needed
        return ix

    def current(self) -> tuple[str, Any]:
        name = self.current_name()
        if name is None:
            raise IndexMissing("搜索索引尚未建立，请管理员运行 zhengai-docs reindex")
        return name, self.open(name)

    def create(self) -> tuple[str, Any]:
        """A new, empty generation (not live until `publish`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"g{time.time_ns():020d}-{os.getpid()}"
        path = self.root / name
        path.mkdir()
        return name, whoosh_index.create_in(str(path), build_schema())

    def publish(self, name: str) -> None:
        """Make `name` the live generation and delete the others (call under both locks)."""
        temporary = self.root / f"CURRENT.{os.getpid()}"
        temporary.write_text(name, encoding="ascii")
        os.replace(temporary, self.root / "CURRENT")
        self.discard_except(name)

    def discard_except(self, keep: str | None) -> None:
        """Remove other generations; a reader still using one retries on the live one.

        Files that cannot be removed yet (open on Windows) are left for the next rebuild.
        """
        for path in self.root.iterdir():
            if path.is_dir() and _GENERATION.fullmatch(path.name) and path.name != keep:
                shutil.rmtree(path, ignore_errors=True)

    def size_bytes(self, name: str) -> int:
        return sum(f.stat().st_size for f in (self.root / name).iterdir() if f.is_file())

    # -- locks ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer_lock(self, *, timeout: float) -> Iterator[None]:
        with self._lock("WRITELOCK", timeout=timeout, busy="搜索索引正被其他进程更新，请稍后重试"):
            yield

    @contextlib.contextmanager
    def merge_lock(self) -> Iterator[None]:
        with self._lock("MERGELOCK", timeout=0, busy="另一个进程正在合并搜索索引"):
            yield

    @contextlib.contextmanager
    def rebuild_lock(self) -> Iterator[None]:
        with self._lock("REBUILDLOCK", timeout=0, busy="另一个进程正在重建搜索索引"):
            yield

    @contextlib.contextmanager
    def _lock(self, name: str, *, timeout: float, busy: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / name))
        deadline = time.monotonic() + timeout
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexBusy(busy)
            time.sleep(_POLL)
        try:
            yield
        finally:
            lock.release()
