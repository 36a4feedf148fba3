"""Frameworks kept in the content repository (`frameworks/<id>.yaml`), read by commit (written by
`Library.import_framework`, which checks who may).

Parsed frameworks are memoised by blob id: a framework changes a few times a decade, while
every audit page needs the active one. When a point's wording changed is read from the file's
history once per framework version, so links made before the change can be flagged.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from zhengai_docs.catalogue.framework import Framework, InvalidFramework, framework_id, parse_framework
from zhengai_docs.errors import NotFound
from zhengai_docs.storage.paths import FRAMEWORKS_DIR
from zhengai_docs.storage.repository import ContentRepository

_UNKNOWN = "unknown"  # not a blob id (those are hexadecimal)


def framework_path(fid: str) -> str:
    return f"{FRAMEWORKS_DIR}/{framework_id(fid)}.yaml"


@dataclass(frozen=True)
class PointChange:
    date: dt.datetime
    commit: str
    position: int  # on the branch's first-parent line, comparable with revision `seq`


@dataclass(frozen=True)
class FrameworkVersion:
    framework: Framework
    blob: str
    commit: str | None


class FrameworkStore:
    def __init__(self, repo: ContentRepository) -> None:
        self.repo = repo
        self._parsed: dict[str, Framework] = {}
        self._changes: dict[str, dict[str, PointChange]] = {}
        self._blobs: dict[tuple[str | None, str], str | None] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        head = self.repo.head()
        if head is None:
            return []
        files = self.repo.list_files(head, under=FRAMEWORKS_DIR)
        return sorted(path.removeprefix(f"{FRAMEWORKS_DIR}/").removesuffix(".yaml") for path in files)

    def get(self, fid: str, *, revision: str | None = None) -> FrameworkVersion:
        """A framework at head (or a revision); NotFound when it does not exist there."""
        path = framework_path(fid)
        commit = revision or self.repo.head()
        with self._lock:
            blob = self._blobs.get((commit, path), _UNKNOWN)
        if blob is _UNKNOWN:  # one git call per commit and file, not per request
            blob = self.repo.blob_ids(commit, [path])[path]
            with self._lock:
                if len(self._blobs) > 256:
                    self._blobs.clear()
                self._blobs[(commit, path)] = blob
        if blob is None:
            raise NotFound(f"诊断框架 {fid} 不存在")
        return FrameworkVersion(framework=self._parse(blob, path), blob=blob, commit=commit)

    def _parse(self, blob: str, path: str) -> Framework:
        with self._lock:
            cached = self._parsed.get(blob)
        if cached is None:
            text = next(iter(self.repo.read_blobs([blob])))[1]
            cached = parse_framework(text, path=path)
            with self._lock:
                self._parsed[blob] = cached
        return cached

    def point_changes(self, fid: str) -> dict[str, PointChange]:
        """For each point, when its name or factors last changed (absent: never since it was added)."""
        version = self.get(fid)
        with self._lock:
            known = self._changes.get(version.blob)
        if known is not None:
            return known
        path = framework_path(fid)
        changed: dict[str, PointChange] = {}
        newer: tuple[Framework, PointChange] | None = None
        for revision in self.repo.history(path):  # newest first
            try:
                older = self.get(fid, revision=revision.commit).framework
            except NotFound:
                break
            except InvalidFramework:  # a broken version in history (e.g. pushed as GBK, then fixed)
                continue
            if newer is not None:
                for point in newer[0].points():
                    before = older.point(point.id)
                    if before is not None and before.text != point.text and point.id not in changed:
                        changed[point.id] = newer[1]
            newer = (older, PointChange(date=revision.date, commit=revision.commit, position=self.repo.position(revision.commit)))
        with self._lock:
            self._changes[version.blob] = changed
        return changed
