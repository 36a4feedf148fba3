"""The content repository: a bare git repository written only through plumbing.

Writes build blobs, a tree (in an index file private to the write) and a commit, then move the
branch with `git update-ref <ref> <new> <old>`, git's own compare-and-swap. Nothing shares a
working tree, so threads and processes can write at once: a writer whose document changed since
its base gets `Conflict`; a writer beaten only by changes to other files retries on the new head.

Each operation runs short-lived `git` subprocesses with a fixed argument list (no shell); every
path and revision has passed the allow-list in `paths` first. Reading a few objects and moving
the branch are the exceptions: one `cat-file` and one `update-ref --stdin` are kept per
repository object and process (`kept`: one thread at a time, replaced after a fork or a
failure, ended by `close`). GitPython is used only
to create a repository: its long-lived helpers leak processes in servers and are not thread-safe.
Questions about objects this process wrote or read a moment ago (a save's own commit, as the
cache and the index catch up with it) are answered from `recent` without a process: objects
never change, so those answers cannot go stale.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import git

from zhengai_docs.errors import Conflict, InvalidCode, NotFound, StorageError
from zhengai_docs.storage import cat_file, faults, kept
from zhengai_docs.storage.cat_file import GitObject
from zhengai_docs.storage.objects import BLOB_MODE, TREE_MODE, ObjectWriter, Tree, parent_dirs, parse_tree
from zhengai_docs.storage.paths import (
    FRAMEWORKS_DIR,
    content_path,
    files_folder,
    is_content_path,
    managed_path,
    owning_document,
    revision_id,
)
from zhengai_docs.storage.recent import Recent, WrittenCommit
from zhengai_docs.storage.ref_update import KeptRefUpdate
from zhengai_docs.storage.text import MAX_CONTENT_BYTES, decode_content, encode_text, missing_object, oversized
from zhengai_docs.textdiff import TextDiff, diff_texts

if TYPE_CHECKING:
    from zhengai_docs.storage.remote import Remote

ZERO = "0" * 40
_MAX_ATTEMPTS = 50
_GIT_TIMEOUT = 120
_IDENTITY_FORBIDDEN = re.compile(r"[<>\x00-\x1f]")
_MESSAGE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_IDENTITY_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_FULL_ID = re.compile(r"[0-9a-f]{40}")  # a whole commit id, as the app passes them around
_GITLINK = "160000"  # a submodule entry: a commit id where a file would be
_WRITES = frozenset({"update-ref", "gc", "commit-graph", "pack-refs"})  # commands whose failure may be the disk's
_TREE_BYTES = 64 * 1024 * 1024  # a directory listing larger than this is not one this product wrote


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
    text: str  # an UnusableText when the file is not usable content (storage.text)


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


@dataclass(frozen=True)
class TreeEntry:
    """Any entry of a commit's tree, managed or not, as `doctor` lists them."""

    path: str  # bytes that are not UTF-8 are kept as surrogate escapes (see `display_path`)
    mode: str
    kind: str
    sha: str
    size: int | None

    @property
    def name_is_utf8(self) -> bool:
        try:
            self.path.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    @property
    def display_path(self) -> str:
        """The path as it can be printed: undecodable bytes shown as \\xNN."""
        return self.path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class ContentRepository:
    """Plumbing-level access to one bare repository and one branch."""

    def __init__(self, path: Path | str, *, branch: str = "main", remote: Remote | None = None) -> None:
        if re.fullmatch(r"[a-z][a-z0-9-]{0,40}", branch) is None:
            raise StorageError(f"无效的分支名：{branch!r}")
        self.path = Path(path)
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.remote = remote  # CONTENT_REMOTE: this repository is a mirror; ref updates publish there first
        self.recent = Recent()  # commits this process wrote, files it read: answered without git
        self._kept_cat_file = cat_file.KeptCatFile(self._environment, packs=self.path / "objects" / "pack", timeout=_GIT_TIMEOUT)
        self._kept_ref_update = KeptRefUpdate(self._environment, timeout=_GIT_TIMEOUT)

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
        if revision is not None and _FULL_ID.fullmatch(revision):
            return self._read_at(content_path(path), revision, peel=True)  # one process: no rev-parse first
        return self._read_at(content_path(path), self.require_head() if revision is None else self.resolve(revision))

    def read_published(self, path: str, *, revision: str | None = None) -> FileVersion:
        """Like `read`, but only at commits on the branch (see `resolve_published`)."""
        return self._read_at(content_path(path), self.require_head() if revision is None else self.resolve_published(revision))

    def _read_at(self, path: str, commit: str, *, peel: bool = False) -> FileVersion:
        """`peel`: `commit` is a full id not yet known to name a commit; `^{commit}` makes git
        answer "missing" for a tree, a blob or an unknown id, exactly as `resolve` would refuse."""
        known = self.recent.read(commit, path)
        if known is not None:
            return known
        [found] = self._cat_objects([f"{commit}^{{commit}}:{path}" if peel else f"{commit}:{path}"])
        if found.kind != "blob" or found.sha is None:
            raise NotFound(f"{path} 在版本 {commit[:12]} 中不存在")
        version = FileVersion(path=path, commit=commit, blob=found.sha, text=_content(found))
        self.recent.remember_read(version)
        return version

    def resolve(self, revision: str) -> str:
        """Expand an abbreviated, allow-listed commit id; NotFound if it is not a commit (nor a
        tag of one). Asked of the kept `cat-file`: a save on a base the branch has moved past,
        a draft's save and a history page each started `git rev-parse` for it."""
        revision = revision_id(revision)
        if self.recent.commit(revision) is not None:
            return revision
        found = self._cat_objects([f"{revision}^{{commit}}"], max_bytes=0)[0]
        if found.kind != "commit" or found.sha is None:
            raise NotFound(f"版本 {revision} 不存在")  # "ambiguous" (an abbreviation of several) included
        return found.sha

    def resolve_published(self, revision: str) -> str:
        """Like `resolve`, but only commits on the branch: draft refs stay unreadable here."""
        commit = self.resolve(revision)
        head = self.require_head()
        if commit != head and not self.is_ancestor(commit, head):
            raise NotFound(f"版本 {revision} 不存在")
        return commit

    def blob_ids(self, revision: str | None, paths: Iterable[str]) -> dict[str, str | None]:
        """The blob of each path at a commit (None where the path is absent)."""
        paths = [managed_path(p) for p in paths]
        if revision is None:
            return dict.fromkeys(paths)
        if len(paths) <= cat_file.KEPT_FOR and not any(map(owning_document, paths)):
            # a few texts (documents, the catalogue): the kept `cat-file` reads past them faster
            # than git starts; an attachment may be megabytes, which `--batch-check` never reads
            found = self._cat_objects([f"{revision}:{p}" for p in paths], max_bytes=0)
            return {p: o.sha if o.kind == "blob" else None for p, o in zip(paths, found, strict=True)}
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
        for entry in out.split(b"\0"):
            if not entry:
                continue
            info, _, raw_path = entry.partition(b"\t")
            _mode, kind, sha = info.decode("ascii").split()
            path = raw_path.decode("utf-8", "surrogateescape")  # a name that is not UTF-8 is never managed
            if kind == "blob" and is_content_path(path):
                files[path] = sha
        return files

    def tree_entries(self, revision: str) -> list[TreeEntry]:
        """Every file, link and submodule of a commit, including those the product does not manage."""
        out = self._git("ls-tree", "-r", "-z", "--long", "--full-tree", revision_id(revision))
        entries = []
        for entry in out.split(b"\0"):
            if not entry:
                continue
            info, _, raw_path = entry.partition(b"\t")
            mode, kind, sha, size = info.decode("ascii").split()
            path = raw_path.decode("utf-8", "surrogateescape")
            entries.append(TreeEntry(path=path, mode=mode, kind=kind, sha=sha, size=int(size) if size.isdigit() else None))
        return entries

    def read_blobs(self, blobs: Iterable[str]) -> Iterator[tuple[str, str]]:
        """Yield (blob id, text) for many blobs through one `cat-file --batch` process.

        Every blob asked for is answered: one that is missing, over MAX_CONTENT_BYTES or not
        UTF-8 text comes back as an UnusableText (storage.text), which the parsers refuse.
        """
        ids = [revision_id(b) for b in blobs]
        known = {b: data for b in ids if (data := self.recent.blob(b)) is not None}
        for blob, data in known.items():
            yield blob, _content(GitObject(kind="blob", sha=blob, size=len(data), data=data))
        asked = [b for b in ids if b not in known]
        if not asked:
            return
        for blob, found in zip(asked, self._cat_objects(asked), strict=True):
            yield blob, _content(found)

    def position(self, revision: str) -> int:
        """How many commits the first-parent line has up to `revision` (the root is 1): the
        same numbering as the cache's revision `seq`, so order can be compared without dates."""
        return int(self._git("rev-list", "--first-parent", "--count", revision_id(revision)).decode())

    def count_between(self, old: str | None, new: str) -> int:
        """How many commits `new` has that `old` lacks (all of them when `old` is None)."""
        span = revision_id(new) if old is None else f"{revision_id(old)}..{revision_id(new)}"
        return int(self._git("rev-list", "--count", span, "--").decode())

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        ancestor, descendant = revision_id(ancestor), revision_id(descendant)
        if ancestor != descendant and self.recent.chain(ancestor, descendant) is not None:
            return True  # this process wrote the commits in between, one upon the other
        result = self._run(["merge-base", "--is-ancestor", ancestor, descendant], check=False)
        return result.returncode == 0

    def changes_between(self, old: str, new: str, *, files: bool = False) -> list[Change]:
        """Managed files that differ between two commits; with `files`, documents' own files too
        (attachments and pictures, which the search index reads for their document)."""
        written = self.recent.commit(revision_id(new))
        if written is not None and written.parent == revision_id(old):
            return _raw_changes(list(written.raw), files=files)
        out = self._git("diff-tree", "-r", "--no-renames", "-z", revision_id(old), revision_id(new))
        tokens = out.decode("utf-8", "surrogateescape").split("\0")
        return _raw_changes(tokens, files=files)

    def log(self, *, since: str | None = None, until: str | None = None) -> Iterator[CommitChanges]:
        """Commits on the branch's first-parent line after `since`, oldest first, with changes."""
        until = self.require_head() if until is None else revision_id(until)
        written = None if since is None else self.recent.chain(revision_id(since), until)
        if written is not None:  # this process wrote them: what `git log` would print
            yield from (CommitChanges(revision=w.revision, changes=tuple(_raw_changes(list(w.raw)))) for w in written)
            return
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
                f"--format={_log_format(nonce := secrets.token_hex(8))}",
                span,
                "--",
            ),
            nonce=nonce,
        )

    def known_without(self, revision: str, directory: str, name: str) -> bool:
        """True when this process wrote `revision` and knows `directory` has no entry `name`
        there (a document without a files folder); False: unknown, ask git."""
        written = self.recent.commit(revision)
        names = None if written is None else written.names.get(directory)
        return names is not None and name not in names

    def history(self, path: str, *, limit: int | None = None) -> list[Revision]:
        """Commits that changed one file, newest first."""
        path = content_path(path)
        head = self.head()
        if head is None:
            return []
        nonce = secrets.token_hex(8)
        args = ["log", "--first-parent", "--diff-merges=first-parent", "-z", f"--format={_log_format(nonce)}"]
        if limit is not None:
            args.append(f"--max-count={int(limit)}")
        return [entry.revision for entry in self._parse_log(self._git(*args, head, "--", path), nonce=nonce)]

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
        changes: Mapping[str, str | bytes | None],
        *,
        author: Author,
        message: str,
        base: str | None,
        date: dt.datetime | None = None,
        unchanged_folders: Iterable[str] = (),
    ) -> WriteResult:
        """Commit several files at once (None deletes); refuse if any changed since `base`.

        Text (str) is checked as content; bytes are a document's own files (attachments,
        pictures: `paths.owning_document`), stored as they are. `unchanged_folders`: folders
        (a document's files folder) whose whole contents must be as at `base`, e.g. so that
        two people adding "the next 附件 number" at once cannot both get 附件3.
        `date` sets the author date, for migrated documents that keep their historical dates.
        """
        if not changes:
            raise StorageError("没有要提交的更改")
        message = _clean_message(message)
        paths = [managed_path(p) for p in changes]
        guarded = sorted({files_folder(f + ".md") for f in unchanged_folders})
        writer = ObjectWriter(str(self.path / "objects"))
        texts = {p: encode_text(v or "", path=p) for p in paths if isinstance(v := changes[p], str)}  # refused before any write
        new_blobs = {p: _store_blob(writer, p, texts.get(p, changes[p]), text=p in texts) for p in paths}
        if base is not None and (len(base) != 40 or base != self.head()):
            base = self.resolve(base)
            base_blobs: dict[str, str | None] | None = self.blob_ids(base, paths)
        else:
            base_blobs = None if base is not None else dict.fromkeys(paths)  # None: same as head
        base_folders = {} if base is None or not guarded else {d: self._read_trees(base, {d}).get(d) for d in guarded}
        for _attempt in range(_MAX_ATTEMPTS):
            head = self.head()
            trees = self._read_trees(head, {d for p in paths for d in parent_dirs(p)} | set(guarded))
            head_blobs = {p: _entry_sha(trees, p) for p in paths}
            if head is not None and head_blobs == new_blobs:  # e.g. a double-submitted form
                return WriteResult(commit=head, changed=False)
            if base_blobs is None:
                base_blobs = head_blobs if head == base else self.blob_ids(base, paths)
            for path in paths:
                if head_blobs[path] != base_blobs[path]:
                    raise Conflict(path=path, base=base, head=head or ZERO)
            for folder in guarded:
                if trees.get(folder) != base_folders.get(folder, trees.get(folder) if base == head else None):
                    raise Conflict(path=folder, base=base, head=head or ZERO)
            tree = writer.apply(trees, new_blobs)
            when = date or dt.datetime.now().astimezone()
            commit = writer.commit(tree=tree, parent=head, author=(author.name, author.email), message=message, date=when)
            if self._update_ref(commit, head):
                if head is not None:
                    self._remember(commit, head, trees, new_blobs, author=author, message=message, when=when, texts=texts)
                return WriteResult(commit=commit, changed=True)
            time.sleep(0.005)
        raise StorageError("仓库写入冲突过多，请稍后重试")

    def _remember(
        self,
        commit: str,
        parent: str,
        trees: Mapping[str, Tree],
        blobs: Mapping[str, str | None],
        *,
        author: Author,
        message: str,
        when: dt.datetime,
        texts: Mapping[str, bytes],
    ) -> None:
        """Keep what `log --raw`, `diff-tree` and `cat-file` would say about a commit just made
        on `parent` (`trees`: the parent's directories on the changed paths), so the cache and
        the index follow it without asking git. A path that was a directory at the parent would
        show in a diff as the files under it: such a commit is left for git to describe."""
        raw: list[tuple[str, str]] = []
        names = {d: set(trees.get(d, {})) for p in blobs for d in parent_dirs(p)}
        for path, blob in blobs.items():
            directory, _, name = path.rpartition("/")
            old = trees.get(directory, {}).get(name)
            if old is not None and old.mode == TREE_MODE:
                return
            if blob is None:
                names[directory].discard(name)
            else:
                names[directory].add(name)
            old_mode, old_sha = (old.mode.decode("ascii").zfill(6), old.sha) if old is not None else ("000000", ZERO)
            new_mode, new_sha = (BLOB_MODE.decode("ascii"), blob) if blob is not None else ("000000", ZERO)
            if (old_mode, old_sha) == (new_mode, new_sha):
                continue
            status = "A" if old is None else "D" if blob is None else "M"
            raw.append((f":{old_mode} {new_mode} {old_sha} {new_sha} {status}", path))
        raw.sort(key=lambda entry: entry[1].encode("utf-8", "surrogateescape"))  # git's order of a recursive diff
        for directory in sorted(names, key=lambda d: -d.count("/") - (d != "")):  # deepest first, as `ObjectWriter.apply`
            if directory:
                above, _, name = directory.rpartition("/")
                (names[above].add if names[directory] else names[above].discard)(name)  # git has no empty directories
        offset = when.utcoffset() or dt.timedelta(0)
        revision = Revision(
            commit=commit,
            author_name=_identity(author.name),
            author_email=_identity(author.email),
            date=dt.datetime.fromtimestamp(int(when.timestamp()), dt.timezone(dt.timedelta(minutes=int(offset.total_seconds()) // 60))),
            message=_MESSAGE_FORBIDDEN.sub("", _printable(message)).strip(),
        )
        written = WrittenCommit(
            commit=commit,
            parent=parent,
            revision=revision,
            raw=tuple(token for entry in raw for token in entry),
            names={d: frozenset(n) for d, n in names.items()},
        )
        self.recent.wrote(written, {sha: texts[p] for p, sha in blobs.items() if sha is not None and p in texts})

    # -- maintenance -----------------------------------------------------------------------

    def fsck(self) -> str:
        """`git fsck` output; raises StorageError when the object database is damaged."""
        return self._git("fsck", "--no-progress", "--strict").decode()

    def optimise(self) -> None:
        """Pack loose objects and write a commit-graph with changed-path filters (fast `log -- path`).

        `repack -d` is incremental: it packs the loose objects that refs reach and removes them;
        objects a write has stored but not yet referenced stay loose, so saves go on meanwhile.
        `gc --auto` then folds the packs together once there are many."""
        self._git("repack", "-d", "-q")
        self._git("gc", "--auto", "--quiet")
        self._git("commit-graph", "write", "--reachable", "--changed-paths")

    def loose_objects(self) -> int:
        """How many objects are stored loose (one file each) rather than in a pack."""
        out = self._git("count-objects").decode()  # "<count> objects, <size> kilobytes"
        return int(out.split()[0])

    def write_dirs(self) -> tuple[Path, ...]:
        """The folders a write creates files in: the branch's ref folder, all refs, the objects."""
        return ((self.path / self.ref).parent, self.path / "refs", self.path / "objects")

    # -- internals -------------------------------------------------------------------------

    def _read_trees(self, head: str | None, directories: set[str]) -> dict[str, Tree]:
        """The entries of each directory at `head` (a save's few go through the kept `cat-file`)."""
        if head is None:
            return {}
        ordered = sorted(directories)
        trees: dict[str, Tree] = {}
        for directory, found in zip(ordered, self._cat_objects([f"{head}:{d}" for d in ordered], max_bytes=_TREE_BYTES), strict=True):
            if found.kind == "missing":
                continue  # the directory does not exist yet
            if found.kind != "tree":
                raise StorageError(f"仓库中的 {directory} 不是目录")
            if found.data is None:
                raise StorageError(f"仓库中的目录 {directory} 过大")
            trees[directory] = parse_tree(found.data)
        return trees

    def _update_ref(self, new: str, old: str | None) -> bool:
        if self.remote is not None:  # compare-and-swap on the central ref, then the mirror follows
            return self.remote.publish(self.ref, new=new, old=old)
        if not kept.KEEPS:
            return self._run(["update-ref", "-m", "zhengai-docs", self.ref, new, old or ZERO], check=False).returncode == 0
        said = self._kept_ref_update.update(self.ref, new=new, old=old or ZERO)
        if said is None:
            return True
        fault = faults.from_git(said, store=faults.REPOSITORY, directories=self.write_dirs())
        if fault is not None:  # a disk that refuses writes is never a lost race
            raise fault
        return False

    def _git(self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
        return self._run(list(args), input=input, env=env).stdout

    def _environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        full_env = {**os.environ, "GIT_DIR": str(self.path), "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        full_env.pop("GIT_WORK_TREE", None)
        return full_env

    def _cat_objects(self, names: list[str], *, max_bytes: int = MAX_CONTENT_BYTES) -> list[GitObject]:
        """`git cat-file --batch`: a few names through the kept process, many through one of their own."""
        if cat_file.KEEPS and len(names) <= cat_file.KEPT_FOR:
            return self._kept_cat_file.read(names, max_bytes=max_bytes)
        return cat_file.read_streamed(names, environment=self._environment(), max_bytes=max_bytes, timeout=_GIT_TIMEOUT)

    def close(self) -> None:
        """End this process's kept git processes (a command or a test ends; the app closes)."""
        self._kept_cat_file.close()
        self._kept_ref_update.close()

    def _run(
        self, args: list[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            result = subprocess.run(
                ["git", "-c", "core.quotepath=off", *args],
                input=input,
                capture_output=True,
                env=self._environment(env),
                timeout=_GIT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StorageError(f"git {args[0]} 超时") from exc
        if result.returncode != 0 and args[0] in _WRITES:  # a disk that refuses writes is never a lost race
            fault = faults.from_git(result.stderr.decode(errors="replace"), store=faults.REPOSITORY, directories=self.write_dirs())
            if fault is not None:
                raise fault
        if check and result.returncode != 0:
            raise StorageError(f"git {args[0]} 失败：{result.stderr.decode(errors='replace').strip()}")
        return result

    def _parse_log(self, out: bytes, *, nonce: str) -> Iterator[CommitChanges]:
        """Records and fields are separated by markers that carry a random `nonce` chosen for
        this call: a commit message or author pushed from outside may contain any byte, but it
        cannot contain a marker it could not know."""
        record_mark, field_mark, end_mark = (f"{c}{nonce}" for c in (_RECORD, _FIELD, _END))
        for record in out.decode("utf-8", "surrogateescape").split(record_mark)[1:]:
            header, _, names = record.partition(end_mark)
            sha, name, email, dates, message = header.split(field_mark)
            tokens = [t for t in names.lstrip("\n\0").split("\0") if t]
            revision = Revision(
                commit=sha,
                author_name=_identity(name),
                author_email=_identity(email),
                date=_commit_date(dates),
                message=_MESSAGE_FORBIDDEN.sub("", _printable(message)).strip(),
            )
            yield CommitChanges(revision=revision, changes=tuple(_raw_changes(tokens)))


_RECORD, _FIELD, _END = "\x1e", "\x1f", "\x1d"


def _log_format(nonce: str) -> str:
    record, field, end = (f"%x{ord(c):02x}{nonce}" for c in (_RECORD, _FIELD, _END))
    return f"{record}%H{field}%an{field}%ae{field}%aI %cI{field}%B{end}"


def _printable(text: str) -> str:
    """Log text as it can be stored and shown: bytes that are not UTF-8 become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _identity(text: str) -> str:
    return _IDENTITY_CONTROLS.sub("", _printable(text)).strip()


def _commit_date(dates: str) -> dt.datetime:
    """The author date; a commit made by hand may carry one git cannot print (then the committer's)."""
    for value in dates.split(" "):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            continue
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _store_blob(writer: ObjectWriter, path: str, value: str | bytes | None, *, text: bool) -> str | None:
    """A changed file's new blob (None: deleted). `text`: `value` is text already checked as
    content and encoded; other bytes may only be a document's own files (attachments, pictures)."""
    if value is None:
        return None
    if isinstance(value, str) or (not text and owning_document(path) is None):
        raise StorageError(f"{path} 只能保存文本")
    return writer.store(b"blob", value)


def _entry_sha(trees: Mapping[str, Tree], path: str) -> str | None:
    directory, _, name = path.rpartition("/")
    entry = trees.get(directory, {}).get(name)
    return None if entry is None else entry.sha


def _raw_changes(tokens: list[str], *, files: bool = False) -> list[Change]:
    """`--raw -z` entries (info, path, info, path …) of managed files, as Changes."""
    changes = []
    for info, path in zip(tokens[0::2], tokens[1::2], strict=False):
        if is_content_path(path) or (files and owning_document(path) is not None):
            change = _raw_change(info, path)
            if change is not None:
                changes.append(change)
    return changes


def _raw_change(info: str, path: str) -> Change | None:
    """One entry, ':100644 100644 <old> <new> M', as a Change; a submodule (gitlink) is not a
    file, so it reads as absent, as `list_files` has it (None: nothing visible changed)."""
    old_mode, new_mode, _, new_blob, status = info.lstrip(":").split()
    was_file = old_mode not in ("000000", _GITLINK)
    if status[0] == "D" or new_mode == _GITLINK:
        return Change(path=path, status="D", blob=None) if was_file else None
    return Change(path=path, status="M" if was_file else "A", blob=new_blob)


def _content(found: GitObject) -> str:
    """The text of a blob as storage.text has it (usable, or UnusableText with the reason)."""
    if found.kind != "blob":
        return missing_object(found.kind)
    if found.data is None:
        return oversized(found.size)
    return decode_content(found.data)


def _clean_message(message: str) -> str:
    text = _MESSAGE_FORBIDDEN.sub("", message.replace("\r\n", "\n")).strip()
    if not text:
        raise StorageError("修订说明不能为空")
    return text + "\n"
