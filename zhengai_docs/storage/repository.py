"""The content repository: a bare git repository written only through plumbing.

Writes build blobs, a tree (in an index file private to the write) and a commit, then move the
branch with `git update-ref <ref> <new> <old>`, git's own compare-and-swap. Nothing shares a
working tree, so threads and processes can write at once: a writer whose document changed since
its base gets `Conflict`; a writer beaten only by changes to other files retries on the new head.

Each operation runs short-lived `git` subprocesses with a fixed argument list (no shell); every
path and revision has passed the allow-list in `paths` first. GitPython is used only to create a
repository: its long-lived `cat-file` helpers leak processes in servers and are not thread-safe.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from zhengai_docs.errors import Conflict, InvalidCode, NotFound, StorageError
from zhengai_docs.storage.objects import ObjectWriter, Tree, parent_dirs, parse_tree
from zhengai_docs.storage.paths import FRAMEWORKS_DIR, content_path, is_content_path, revision_id
from zhengai_docs.textdiff import TextDiff, diff_texts

ZERO = "0" * 40
_MAX_ATTEMPTS = 50
_GIT_TIMEOUT = 120
_IDENTITY_FORBIDDEN = re.compile(r"[<>\x00-\x1f]")
_MESSAGE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    def __post_init__(self) -> None:
        if not self.name.strip() or _IDENTITY_FORBIDDEN.search(self.name + self.email):
            raise StorageError(f"无效的作者信息：{self.name!r} <{self.email!r}>")


@dataclass(frozen=True)
class Revision:
    """One commit as history shows it."""

    commit: str
    author_name: str
    author_email: str
    date: dt.datetime
    message: str

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass(frozen=True)
class FileVersion:
    path: str
    commit: str
    blob: str
    text: str


@dataclass(frozen=True)
class Change:
    """A file added (A), modified (M) or deleted (D) between two commits."""

    path: str
    status: str
    blob: str | None


@dataclass(frozen=True)
class CommitChanges:
    revision: Revision
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class WriteResult:
    commit: str
    changed: bool


class ContentRepository:
    """Plumbing-level access to one bare repository and one branch."""

    def __init__(self, path: Path | str, *, branch: str = "main") -> None:
        if re.fullmatch(r"[a-z][a-z0-9-]{0,40}", branch) is None:
            raise StorageError(f"无效的分支名：{branch!r}")
        self.path = Path(path)
        self.branch = branch
        self.ref = f"refs/heads/{branch}"

    # -- setup -----------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path | str, *, branch: str = "main") -> ContentRepository:
        """Create a bare repository that refuses non-fast-forward pushes and branch deletion."""
        with git.Repo.init(path, bare=True, initial_branch=branch) as repo, repo.config_writer() as config:
            config.set_value("receive", "denyNonFastForwards", "true")
            config.set_value("receive", "denyDeletes", "true")
            config.set_value("core", "commitGraph", "true")
        return cls(path, branch=branch)

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    # -- reading ---------------------------------------------------------------------------

    def head(self) -> str | None:
        """The branch's commit, read from the ref files without starting a process."""
        loose = self.path / self.ref
        try:
            value = loose.read_text(encoding="ascii").strip()
            if value:
                return value
        except FileNotFoundError:
            pass
        try:
            packed = (self.path / "packed-refs").read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        for line in packed.splitlines():
            sha, _, name = line.partition(" ")
            if name == self.ref:
                return sha
        return None

    def require_head(self) -> str:
        head = self.head()
        if head is None:
            raise NotFound("内容仓库还没有任何提交")
        return head

    def read(self, path: str, *, revision: str | None = None) -> FileVersion:
        """A file at the head of the branch or at any commit."""
        return self._read_at(content_path(path), self.require_head() if revision is None else self.resolve(revision))

    def read_published(self, path: str, *, revision: str | None = None) -> FileVersion:
        """Like `read`, but only at commits on the branch (see `resolve_published`)."""
        return self._read_at(content_path(path), self.require_head() if revision is None else self.resolve_published(revision))

    def _read_at(self, path: str, commit: str) -> FileVersion:
        out = self._git("cat-file", "--batch", input=f"{commit}:{path}\n".encode())
        header, _, rest = out.partition(b"\n")
        fields = header.decode().split()
        if len(fields) != 3 or fields[1] != "blob":
            raise NotFound(f"{path} 在版本 {commit[:12]} 中不存在")
        size = int(fields[2])
        return FileVersion(path=path, commit=commit, blob=fields[0], text=rest[:size].decode("utf-8"))

    def resolve(self, revision: str) -> str:
        """Expand an abbreviated, allow-listed commit id; NotFound if it is not a commit."""
        revision = revision_id(revision)
        try:
            return self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}").decode().strip()
        except StorageError as exc:
            raise NotFound(f"版本 {revision} 不存在") from exc

    def resolve_published(self, revision: str) -> str:
        """Like `resolve`, but only commits on the branch: draft refs stay unreadable here."""
        commit = self.resolve(revision)
        head = self.require_head()
        if commit != head and not self.is_ancestor(commit, head):
            raise NotFound(f"版本 {revision} 不存在")
        return commit

    def blob_ids(self, revision: str | None, paths: Iterable[str]) -> dict[str, str | None]:
        """The blob of each path at a commit (None where the path is absent)."""
        paths = [content_path(p) for p in paths]
        if revision is None:
            return dict.fromkeys(paths)
        out = self._git("cat-file", "--batch-check", input="".join(f"{revision}:{p}\n" for p in paths).encode())
        result: dict[str, str | None] = {}
        for path, line in zip(paths, out.decode().splitlines(), strict=True):
            fields = line.split()
            result[path] = fields[0] if len(fields) == 3 and fields[1] == "blob" else None
        return result

    def list_files(self, revision: str, *, under: str | None = None) -> dict[str, str]:
        """Every managed file at a commit (or in one top-level folder), as path -> blob id."""
        if under not in (None, FRAMEWORKS_DIR, "regulations", "standards"):
            raise InvalidCode(f"不允许的仓库目录：{under!r}")
        out = self._git("ls-tree", "-r", "-z", "--full-tree", revision_id(revision), *(["--", f"{under}/"] if under else []))
        files: dict[str, str] = {}
        for entry in out.decode().split("\0"):
            if not entry:
                continue
            info, _, path = entry.partition("\t")
            _mode, kind, sha = info.split()
            if kind == "blob" and is_content_path(path):
                files[path] = sha
        return files

    def read_blobs(self, blobs: Iterable[str]) -> Iterator[tuple[str, str]]:
        """Yield (blob id, text) for many blobs through one `cat-file --batch` process."""
        ids = [revision_id(b) for b in blobs]
        if not ids:
            return
        out = self._git("cat-file", "--batch", input="".join(b + "\n" for b in ids).encode())
        pos = 0
        for blob in ids:
            end = out.index(b"\n", pos)
            fields = out[pos:end].decode().split()
            if len(fields) != 3:
                raise StorageError(f"无法读取对象 {blob}")
            size = int(fields[2])
            yield blob, out[end + 1 : end + 1 + size].decode("utf-8")
            pos = end + 1 + size + 1

    def position(self, revision: str) -> int:
        """How many commits the first-parent line has up to `revision` (the root is 1): the
        same numbering as the cache's revision `seq`, so order can be compared without dates."""
        return int(self._git("rev-list", "--first-parent", "--count", revision_id(revision)).decode())

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = self._run(["merge-base", "--is-ancestor", revision_id(ancestor), revision_id(descendant)], check=False)
        return result.returncode == 0

    def changes_between(self, old: str, new: str) -> list[Change]:
        """Managed files that differ between two commits."""
        out = self._git("diff-tree", "-r", "--no-renames", "-z", revision_id(old), revision_id(new))
        tokens = out.decode().split("\0")
        return [_raw_change(info, path) for info, path in zip(tokens[0::2], tokens[1::2], strict=False) if is_content_path(path)]

    def log(self, *, since: str | None = None, until: str | None = None) -> Iterator[CommitChanges]:
        """Commits on the branch's first-parent line after `since`, oldest first, with changes."""
        until = self.require_head() if until is None else revision_id(until)
        span = until if since is None else f"{revision_id(since)}..{until}"
        yield from self._parse_log(
            self._git(
                "log",
                "--reverse",
                "--first-parent",
                "--diff-merges=first-parent",
                "--no-renames",
                "--raw",
                "--no-abbrev",
                "-z",
                f"--format={_LOG_FORMAT}",
                span,
                "--",
            )
        )

    def history(self, path: str, *, limit: int | None = None) -> list[Revision]:
        """Commits that changed one file, newest first."""
        path = content_path(path)
        head = self.head()
        if head is None:
            return []
        args = ["log", "--first-parent", "--diff-merges=first-parent", "-z", f"--format={_LOG_FORMAT}"]
        if limit is not None:
            args.append(f"--max-count={int(limit)}")
        return [entry.revision for entry in self._parse_log(self._git(*args, head, "--", path))]

    def diff(self, path: str, old: str, new: str) -> TextDiff:
        """Character-level diff of a file between two commits (absent counts as empty)."""
        return diff_texts(self._text_or_empty(path, old), self._text_or_empty(path, new))

    def _text_or_empty(self, path: str, revision: str) -> str:
        commit = self.resolve(revision)
        try:
            return self.read(path, revision=commit).text
        except NotFound:
            return ""

    # -- writing ---------------------------------------------------------------------------

    def write(self, path: str, text: str, *, author: Author, message: str, base: str | None) -> WriteResult:
        """Save one file; `base` is the commit the writer read it at (None for a new file)."""
        return self.commit({path: text}, author=author, message=message, base=base)

    def restore(self, path: str, revision: str, *, author: Author, message: str, base: str | None) -> WriteResult:
        """Bring an old revision of a file back as a new commit (history is never rewritten)."""
        old = self.read(path, revision=revision)
        return self.write(path, old.text, author=author, message=message, base=base)

    def commit(
        self,
        changes: Mapping[str, str | None],
        *,
        author: Author,
        message: str,
        base: str | None,
        date: dt.datetime | None = None,
    ) -> WriteResult:
        """Commit several files at once (None deletes); refuse if any changed since `base`.

        `date` sets the author date, for migrated documents that keep their historical dates.
        """
        if not changes:
            raise StorageError("没有要提交的更改")
        message = _clean_message(message)
        paths = [content_path(p) for p in changes]
        writer = ObjectWriter(str(self.path / "objects"))
        new_blobs = {p: (None if changes[p] is None else writer.blob(changes[p] or "")) for p in paths}
        if base is not None and (len(base) != 40 or base != self.head()):
            base = self.resolve(base)
            base_blobs: dict[str, str | None] | None = self.blob_ids(base, paths)
        else:
            base_blobs = None if base is not None else dict.fromkeys(paths)  # None: same as head
        for _attempt in range(_MAX_ATTEMPTS):
            head = self.head()
            trees = self._read_trees(head, {d for p in paths for d in parent_dirs(p)})
            head_blobs = {p: _entry_sha(trees, p) for p in paths}
            if head is not None and head_blobs == new_blobs:  # e.g. a double-submitted form
                return WriteResult(commit=head, changed=False)
            if base_blobs is None:
                base_blobs = head_blobs if head == base else self.blob_ids(base, paths)
            for path in paths:
                if head_blobs[path] != base_blobs[path]:
                    raise Conflict(path=path, base=base, head=head or ZERO)
            tree = writer.apply(trees, new_blobs)
            commit = writer.commit(tree=tree, parent=head, author=(author.name, author.email), message=message, date=date)
            if self._update_ref(commit, head):
                return WriteResult(commit=commit, changed=True)
            time.sleep(0.005)
        raise StorageError("仓库写入冲突过多，请稍后重试")

    # -- maintenance -----------------------------------------------------------------------

    def fsck(self) -> str:
        """`git fsck` output; raises StorageError when the object database is damaged."""
        return self._git("fsck", "--no-progress", "--strict").decode()

    def optimise(self) -> None:
        """Pack loose objects and write a commit-graph with changed-path filters (fast `log -- path`)."""
        self._git("gc", "--auto", "--quiet")
        self._git("commit-graph", "write", "--reachable", "--changed-paths")

    # -- internals -------------------------------------------------------------------------

    def _read_trees(self, head: str | None, directories: set[str]) -> dict[str, Tree]:
        """The entries of each directory at `head`, read in one `cat-file --batch` call."""
        if head is None:
            return {}
        ordered = sorted(directories)
        out = self._git("cat-file", "--batch", input="".join(f"{head}:{d}\n" for d in ordered).encode())
        trees: dict[str, Tree] = {}
        pos = 0
        for directory in ordered:
            end = out.index(b"\n", pos)
            fields = out[pos:end].split()
            pos = end + 1
            if len(fields) != 3:
                continue  # "missing": the directory does not exist yet
            size = int(fields[2])
            if fields[1] != b"tree":
                raise StorageError(f"仓库中的 {directory} 不是目录")
            trees[directory] = parse_tree(out[pos : pos + size])
            pos += size + 1
        return trees

    def _update_ref(self, new: str, old: str | None) -> bool:
        result = self._run(["update-ref", "-m", "zhengai-docs", self.ref, new, old or ZERO], check=False)
        return result.returncode == 0

    def _git(self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
        return self._run(list(args), input=input, env=env).stdout

    def _run(
        self, args: list[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, "GIT_DIR": str(self.path), "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        full_env.pop("GIT_WORK_TREE", None)
        try:
            result = subprocess.run(
                ["git", "-c", "core.quotepath=off", *args],
                input=input,
                capture_output=True,
                env=full_env,
                timeout=_GIT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StorageError(f"git {args[0]} 超时") from exc
        if check and result.returncode != 0:
            raise StorageError(f"git {args[0]} 失败：{result.stderr.decode(errors='replace').strip()}")
        return result

    def _parse_log(self, out: bytes) -> Iterator[CommitChanges]:
        for record in out.decode("utf-8", errors="replace").split(_RECORD)[1:]:
            header, _, names = record.partition(_END)
            sha, name, email, date, message = header.split(_FIELD)
            tokens = [t for t in names.lstrip("\n\0").split("\0") if t]
            changes = tuple(
                _raw_change(info, path) for info, path in zip(tokens[0::2], tokens[1::2], strict=False) if is_content_path(path)
            )
            revision = Revision(
                commit=sha,
                author_name=name,
                author_email=email,
                date=dt.datetime.fromisoformat(date),
                message=message.strip(),
            )
            yield CommitChanges(revision=revision, changes=changes)


_RECORD, _FIELD, _END = "\x1e", "\x1f", "\x1d"
_LOG_FORMAT = "%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%B%x1d"


def _entry_sha(trees: Mapping[str, Tree], path: str) -> str | None:
    directory, _, name = path.rpartition("/")
    entry = trees.get(directory, {}).get(name)
    return None if entry is None else entry.sha


def _raw_change(info: str, path: str) -> Change:
    """One `--raw` entry, ':100644 100644 <old> <new> M', as a Change."""
    _, _, _, new_blob, status = info.lstrip(":").split()
    return Change(path=path, status=status[0], blob=None if status[0] == "D" else new_blob)


def _clean_message(message: str) -> str:
    text = _MESSAGE_FORBIDDEN.sub("", message.replace("\r\n", "\n")).strip()
    if not text:
        raise StorageError("修订说明不能为空")
    return text + "\n"
